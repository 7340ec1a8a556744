"""What the coffee skill says: its catalogue ``T`` (context "coffee" of
bot/locale/<lang>/LC_MESSAGES/liaison.po); its weekdays, dates and lists come from Babel
(bot.i18n)."""

from __future__ import annotations

from bot.i18n import Catalog

T = Catalog("coffee")

N_STARTERS = 5

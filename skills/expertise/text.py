"""The expertise skill's wording: the chat answers (``TEXT``, context "expertise" of
bot/locale/<lang>/LC_MESSAGES/liaison.po), the one-line reason beside each person (``REASONS``,
context "expertise.reasons") and the month a reason names, from Babel."""

from __future__ import annotations

import datetime as dt

from bot.i18n import Catalog, month_name

TEXT = Catalog("expertise")

# The one-line reason shown beside each person, shared by the chat answer and `liaison ask`.
REASONS = Catalog("expertise.reasons")


def month_label(at: dt.datetime | None, *, lang: str, now: dt.datetime) -> str:
    """"March" this year, "March 2025" before."""
    if at is None:
        return ""
    month = month_name(lang, at.month)
    return month if at.year == now.year else f"{month} {at.year}"

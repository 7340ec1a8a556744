"""The expertise skill's catalogues: the chat answers (``TEXT``, context "expertise" of
bot/locale/<lang>/LC_MESSAGES/liaison.po) and the one-line reason beside each person (``REASONS``,
context "expertise.reasons", worded by ``ask.describe``)."""

from __future__ import annotations

from bot.i18n import Catalog

TEXT = Catalog("expertise")

# The one-line reason shown beside each person, shared by the chat answer and `liaison ask`.
REASONS = Catalog("expertise.reasons")

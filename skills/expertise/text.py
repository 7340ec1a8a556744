"""The expertise skill's user-facing wording, in English and French: the chat answers (``TEXT``),
the one-line reason beside each person (``REASONS``) and the month names they use."""

from __future__ import annotations

import datetime as dt

from bot.i18n import Catalog

TEXT = Catalog("expertise")

# The one-line reason shown beside each person, shared by the chat answer and `liaison ask`.
REASONS = Catalog("expertise.reasons")
MONTHS = {
    "en": "January February March April May June July August September October November December".split(),
    "fr": "janvier février mars avril mai juin juillet août septembre octobre novembre décembre".split(),
}


def month_label(at: dt.datetime | None, *, lang: str, now: dt.datetime) -> str:
    """"March" this year, "March 2025" before."""
    if at is None:
        return ""
    month = MONTHS.get(lang, MONTHS["en"])[at.month - 1]
    return month if at.year == now.year else f"{month} {at.year}"

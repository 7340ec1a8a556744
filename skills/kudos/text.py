"""What the kudos skill says, in English and French: the one catalogue of its wording, the month
names its views and digest use, and the few helpers that put words together (a list of names, a
month, the language a person reads)."""

from __future__ import annotations

from typing import Sequence

from bot.db.models import PersonRow
from bot.i18n import Catalog, normalise_locale

TEXT = Catalog("kudos")

MONTHS = {
    "en": ("January", "February", "March", "April", "May", "June", "July", "August", "September",
           "October", "November", "December"),
    "fr": ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre",
           "octobre", "novembre", "décembre"),
}


def month_name(key: str, lang: str) -> str:
    """A "YYYY-MM" month as people read it: "August 2026", "août 2026"."""
    year, month = key.split("-")
    return f"{MONTHS.get(lang, MONTHS['en'])[int(month) - 1]} {year}"


def join(items: Sequence[str], lang: str) -> str:
    """Names as a sentence lists them: "a, b and c", "a, b et c"."""
    items = list(items)
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} {TEXT.get(lang, 'and')} {items[-1]}"


def lang_of(row: PersonRow | None, fallback: str) -> str:
    """The language a person reads: their locale's, else ``fallback``."""
    return normalise_locale(row.locale if row is not None else None) or fallback

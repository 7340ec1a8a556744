"""What the kudos skill says: its catalogue (context "kudos" of bot/locale/<lang>/LC_MESSAGES/liaison.po)
and the few helpers that put words together (a list of names, a month, the language a person
reads), the names and lists from Babel."""

from __future__ import annotations

from typing import Sequence

from bot.db.models import PersonRow
from bot import i18n
from bot.i18n import Catalog, normalise_locale

TEXT = Catalog("kudos")

def month_name(key: str, lang: str) -> str:
    """A "YYYY-MM" month as people read it: "August 2026", "août 2026"."""
    year, month = key.split("-")
    return f"{i18n.month_name(lang, int(month))} {year}"


def join(items: Sequence[str], lang: str) -> str:
    """Names as a sentence lists them: "a, b and c", "a, b et c"."""
    return i18n.join_names(lang, items)


def lang_of(row: PersonRow | None, fallback: str) -> str:
    """The language a person reads: their locale's, else ``fallback``."""
    return normalise_locale(row.locale if row is not None else None) or fallback

"""The network report's words (chat, charts, the admin page and the CSV headers): the catalogue
"insights" of bot/locale/<lang>/LC_MESSAGES/liaison.po, and month labels from Babel."""

from __future__ import annotations

from bot.i18n import Catalog, month_name

T = Catalog("insights")


def month_label(label: str, lang: str) -> str:
    """"2026-11" -> "Nov 2026" / "nov. 2026"."""
    year, month = label.split("-")
    return f"{month_name(lang, int(month), 'abbreviated')} {year}"


def team_name(label: str, lang: str) -> str:
    return T.get(lang, "other") if label == "" else label

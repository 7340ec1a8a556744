"""Reading ``coffee ...``: the keywords in English and French, and ``parse``, which turns the
words after ``coffee`` into a ``Command`` (cadence, weekday, time, time zone, size, a date, a
snooze length, a named channel) or raises ``Malformed`` saying what is wrong. Pure: nothing is
written before a command is fully understood.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Mapping, Sequence
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.i18n import strip_accents, weekday_name
from bot.text import quote


# Keywords, compared without accents and in lower case. The value says which sub-command and,
# for French words, that the answer should be in French.
SUBCOMMANDS: Mapping[str, tuple[str, str | None]] = {
    "cadence": ("cadence", None), "rythme": ("cadence", "fr"), "frequence": ("cadence", "fr"),
    "size": ("size", None), "taille": ("size", "fr"),
    "pause": ("pause", None),
    "resume": ("resume", None), "reprendre": ("resume", "fr"), "unpause": ("resume", None),
    "run": ("run", None), "lancer": ("run", "fr"),
    "status": ("status", None), "statut": ("status", "fr"), "etat": ("status", "fr"),
    "stats": ("stats", None), "statistics": ("stats", None), "statistiques": ("stats", "fr"),
    "join": ("join", None), "rejoindre": ("join", "fr"), "participer": ("join", "fr"),
    "leave": ("leave", None), "quitter": ("leave", "fr"),
    "snooze": ("snooze", None), "veille": ("snooze", "fr"),
    "help": ("help", None), "aide": ("help", "fr"),
}
ADMIN_SUBCOMMANDS = frozenset({"cadence", "size", "pause", "resume", "run", "stats"})
# Subcommands anyone may write in a channel without mentioning the bot, when the whole message
# is the command ("coffee join"); an admin's, whatever they are.
EVERYONE_IN_CHANNEL = frozenset({"join", "leave", "snooze", "status", "help"})
CADENCES = {
    "weekly": "weekly", "hebdomadaire": "weekly", "hebdo": "weekly", "week": "weekly", "semaine": "weekly",
    "biweekly": "biweekly", "fortnightly": "biweekly", "bimensuel": "biweekly", "bimensuelle": "biweekly",
    "quinzaine": "biweekly", "bihebdo": "biweekly",
    "monthly": "monthly", "mensuel": "monthly", "mensuelle": "monthly", "month": "monthly", "mois": "monthly",
}
FRENCH_CADENCES = frozenset({"hebdomadaire", "hebdo", "semaine", "bimensuel", "bimensuelle", "quinzaine", "bihebdo",
                             "mensuel", "mensuelle", "mois"})
# Cadences said in several words (compared without accents, in lower case), with their language.
CADENCE_PHRASES: Mapping[tuple[str, ...], tuple[str, str | None]] = {
    ("every", "week"): ("weekly", None), ("once", "a", "week"): ("weekly", None),
    ("every", "other", "week"): ("biweekly", None), ("every", "two", "weeks"): ("biweekly", None),
    ("every", "2", "weeks"): ("biweekly", None), ("every", "second", "week"): ("biweekly", None),
    ("every", "month"): ("monthly", None), ("once", "a", "month"): ("monthly", None),
    ("toutes", "les", "semaines"): ("weekly", "fr"), ("chaque", "semaine"): ("weekly", "fr"),
    ("une", "fois", "par", "semaine"): ("weekly", "fr"),
    ("toutes", "les", "deux", "semaines"): ("biweekly", "fr"), ("toutes", "les", "2", "semaines"): ("biweekly", "fr"),
    ("une", "semaine", "sur", "deux"): ("biweekly", "fr"), ("tous", "les", "quinze", "jours"): ("biweekly", "fr"),
    ("tous", "les", "15", "jours"): ("biweekly", "fr"), ("tous", "les", "quatorze", "jours"): ("biweekly", "fr"),
    ("tous", "les", "14", "jours"): ("biweekly", "fr"),
    ("tous", "les", "mois"): ("monthly", "fr"), ("chaque", "mois"): ("monthly", "fr"),
    ("une", "fois", "par", "mois"): ("monthly", "fr"),
}
_EN_DAYS = [weekday_name("en", i).lower() for i in range(7)]
DAY_WORDS = {
    **{d: i for i, d in enumerate(_EN_DAYS)},
    **{weekday_name("fr", i).lower(): i for i in range(7)},
    **{d[:3]: i for i, d in enumerate(_EN_DAYS)},
    **{d + "s": i for i, d in enumerate(_EN_DAYS)},
}
FILLERS = frozenset({"on", "le", "les", "at", "a", "every", "chaque", "tous", "in", "dans", "the"})
_TIME = re.compile(r"^(\d{1,2})(?:[:h](\d{2})?)?$")
_SNOOZE_UNITS = {
    "week": 7, "weeks": 7, "semaine": 7, "semaines": 7, "wk": 7, "w": 7,
    "day": 1, "days": 1, "jour": 1, "jours": 1, "d": 1,
    "month": 30, "months": 30, "mois": 30,
}
_CHANNEL_REF = re.compile(r"^(?:<#([A-Z0-9]+)(?:\|([^>]*))?>|#([\w.-]+))$")


class Malformed(ValueError):
    """A command that cannot be read; ``key``/``values`` name the problem in the catalogue."""

    def __init__(self, key: str, **values: object) -> None:
        super().__init__(key)
        # The words are said back to the person: mentions and broadcasts (<!here>) as plain words.
        self.key = key
        self.values = {k: quote(v) if isinstance(v, str) else v for k, v in values.items()}
        self.lang: str | None = None


@dataclass(frozen=True)
class Command:
    sub: str
    lang: str | None = None
    cadence: str | None = None
    weekday: int | None = None
    time: tuple[int, int] | None = None
    tz: str | None = None
    size: int | None = None
    until: dt.date | None = None
    days: int | None = None
    channel: str | None = None  # "#name" or a channel id named in the command


def parse(text: str, *, max_snooze_weeks: int = 26) -> Command:
    """Read the arguments of ``coffee``. Raises Malformed with what is wrong (and, in its
    ``lang``, the language the words were in when it could tell)."""
    try:
        return _parse(text, max_snooze_weeks)
    except Malformed as bad:
        first = strip_accents(text.strip().split()[0].lower()) if text.strip() else ""
        bad.lang = SUBCOMMANDS.get(first, ("", None))[1]
        raise


def _parse(text: str, max_snooze_weeks: int) -> Command:
    raw = text.replace("\u2019", "'").strip().split()
    channel = None
    words: list[str] = []
    for w in raw:
        m = _CHANNEL_REF.match(w)
        if m:
            channel = m.group(1) or m.group(3)
        else:
            words.append(w)
    if not words:
        return Command("status", channel=channel)
    key = strip_accents(words[0].lower())
    if key not in SUBCOMMANDS:
        raise Malformed("bad_word", word=words[0])
    sub, lang = SUBCOMMANDS[key]
    rest = words[1:]
    low = [strip_accents(w.lower()) for w in rest]
    if sub == "cadence":
        return _parse_cadence(rest, low, lang, channel)
    if sub == "size":
        if len(low) != 1 or low[0] not in ("2", "3", "4"):
            raise Malformed("bad_size")
        return Command("size", lang, size=int(low[0]), channel=channel)
    if sub == "pause":
        if not low:
            return Command("pause", lang, channel=channel)
        if low[0] in ("until", "till") and len(low) == 2:
            lang = lang or "en"
        elif low[0] in ("jusqu'au", "jusquau", "jusqu'a", "jusqua") and len(low) == 2:
            lang = "fr"
        elif low[:2] == ["jusqu'", "au"] and len(low) == 3:
            lang, low = "fr", ["jusqu'au", low[2]]
        else:
            raise Malformed("bad_word", word=" ".join(rest))
        return Command("pause", lang, until=_parse_date(low[-1]), channel=channel)
    if sub == "run":
        if low not in ([], ["now"], ["maintenant"]):
            raise Malformed("bad_word", word=" ".join(rest))
        return Command("run", "fr" if low == ["maintenant"] else lang, channel=channel)
    if sub == "snooze":
        return Command("snooze", lang or _lang_of_words(low), days=_parse_snooze(low, max_snooze_weeks), channel=channel)
    if low:
        raise Malformed("bad_word", word=" ".join(rest))
    return Command(sub, lang, channel=channel)


def _lang_of_words(low: Sequence[str]) -> str | None:
    if any(w in ("semaine", "semaines", "jour", "jours", "mois") for w in low):
        return "fr"
    return None


def _cadence_words(low: Sequence[str]) -> tuple[str, str | None, int] | None:
    """The cadence the words start with: (cadence, its language when French, how many words)."""
    for n in range(max(map(len, CADENCE_PHRASES)), 1, -1):
        found = CADENCE_PHRASES.get(tuple(low[:n]))
        if found is not None:
            return (*found, n)
    if low and low[0] in CADENCES:
        return CADENCES[low[0]], "fr" if low[0] in FRENCH_CADENCES else None, 1
    return None


def _parse_cadence(rest: list[str], low: list[str], lang: str | None, channel: str | None) -> Command:
    found = _cadence_words(low)
    if found is None:
        raise Malformed("bad_cadence")
    cadence, said_in, n = found
    lang = said_in or lang
    weekday = time = tz = None
    prev = ""
    for word, key in zip(rest[n:], low[n:]):
        after_at, prev = prev in ("at", "a"), key
        if key in FILLERS:
            if key in ("le", "a", "chaque", "tous", "dans", "les"):
                lang = lang or "fr"
            continue
        if key in DAY_WORDS:
            if weekday is not None:
                raise Malformed("bad_word", word=word)
            weekday = DAY_WORDS[key]
            continue
        m = _TIME.match(key)
        if m and time is None:
            hour, minute = int(m.group(1)), int(m.group(2) or 0)
            # A bare number is an hour only after "at" / "à" ("at 10"); alone it could be anything.
            if hour > 23 or minute > 59 or (":" not in key and "h" not in key and not after_at):
                raise Malformed("bad_time", word=word)
            time = (hour, minute)
            continue
        if "/" in word or key in ("utc", "gmt"):
            if tz is not None:
                raise Malformed("bad_word", word=word)
            tz = "UTC" if key in ("utc", "gmt") else word
            try:
                ZoneInfo(tz)
            except (ZoneInfoNotFoundError, ValueError):
                raise Malformed("bad_tz", word=word) from None
            continue
        if key.isalpha() and len(key) > 2 and key[:3] in ("mon", "tue", "wed", "thu", "fri", "sat", "sun"):
            raise Malformed("bad_weekday", word=word)
        if re.match(r"^\d", key):
            raise Malformed("bad_time", word=word)
        raise Malformed("bad_word", word=word)
    return Command("cadence", lang, cadence=cadence, weekday=weekday, time=time, tz=tz, channel=channel)


def _parse_date(word: str) -> dt.date:
    for fmt in ("%Y-%m-%d", "%d/%m/%Y", "%d.%m.%Y"):
        try:
            return dt.datetime.strptime(word, fmt).date()
        except ValueError:
            continue
    raise Malformed("bad_date", word=word)


def _parse_snooze(low: list[str], max_weeks: int) -> int:
    # "2 weeks", "2weeks", "1 semaine", "10 days", "1 month"
    joined = " ".join(low)
    m = re.fullmatch(r"(\d{1,3})\s*([a-z]+)", joined)
    if not m or m.group(2) not in _SNOOZE_UNITS:
        raise Malformed("bad_snooze", max=max_weeks)
    days = int(m.group(1)) * _SNOOZE_UNITS[m.group(2)]
    if days < 1 or days > max_weeks * 7:
        raise Malformed("bad_snooze", max=max_weeks)
    return days

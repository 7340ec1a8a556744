"""User-facing text in English and French, and the choice of language.

The words live in one gettext catalogue per language, ``bot/locale/<lang>/LC_MESSAGES/liaison.po``
(read as text with Babel at first use, then cached). Entries are keyed: ``msgctxt`` names the
catalogue of one module or skill ("kudos"), ``msgid`` is the key, ``msgstr`` the text with
``str.format`` placeholders. An entry with ``msgid_plural`` has one text per plural form of the
language, chosen by Babel's CLDR plural rule from ``count``::

    TEXT = Catalog("kudos")
    ctx.t(TEXT, "received", count=n, name=...)   # "1 thanks received" / "3 thanks received"

A key missing in French falls back to English, so a half-translated skill still answers;
tests/unit/test_i18n.py fails when French does not cover English with the same placeholders.

Months, weekdays, dates and lists ("Alice, Bob et Chloé") come from Babel's CLDR data
(``month_name``, ``weekday_name``, ``format_date``, ``join_names``), never from tables of our own.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import string
import unicodedata
from importlib import resources
from importlib.resources.abc import Traversable
from typing import Iterable, Mapping

import babel
import babel.plural
from babel.dates import format_date as _babel_format_date
from babel.dates import format_datetime
from babel.dates import get_day_names, get_month_names
from babel.lists import format_list
from babel.messages.pofile import read_po

SUPPORTED = ("en", "fr")
DOMAIN = "liaison"
LOCALE_DIR: Traversable = resources.files("bot") / "locale"

# The bot's English joins lists without a serial comma ("Alice, Bob and Chloé"), which is CLDR's
# British pattern; American "en" would write "Alice, Bob, and Chloé".
_LIST_LOCALE = {"en": "en_GB"}
# CLDR plural categories in the order Babel numbers gettext's forms (msgstr[0], msgstr[1], ...).
_PLURAL_TAGS = ("zero", "one", "two", "few", "many", "other")

Text = str | tuple[str, ...]  # one text, or one per plural form
_NO_COUNT = object()


def _lang(lang: str | None) -> str:
    return lang if lang in SUPPORTED else "en"


def plural_index(lang: str, count: float) -> int:
    """Which msgstr[n] of a plural entry ``count`` takes in ``lang`` (Babel's CLDR rule, numbered
    as in the catalogue's Plural-Forms header)."""
    rule, tags = _plural_rule(_lang(lang))
    return tags.index(rule(abs(count)))


@functools.cache
def _plural_rule(lang: str) -> tuple[babel.plural.PluralRule, tuple[str, ...]]:
    rule = babel.Locale.parse(lang).plural_form
    return rule, tuple(t for t in _PLURAL_TAGS if t in rule.tags or t == "other")


@functools.cache
def load(lang: str, root: Traversable = LOCALE_DIR) -> Mapping[tuple[str, str], Text]:
    """The catalogue of ``lang`` under ``root``: (context, key) -> text, or the tuple of plural
    texts. Untranslated (empty) and fuzzy entries are left out, as gettext does."""
    path = root / lang / "LC_MESSAGES" / f"{DOMAIN}.po"
    if not path.is_file():
        return {}
    with path.open("rb") as f:
        catalog = read_po(f, locale=lang, domain=DOMAIN)
    table: dict[tuple[str, str], Text] = {}
    for message in catalog:
        if not message.id or message.fuzzy:
            continue
        key = message.id[0] if isinstance(message.id, tuple) else message.id
        text = tuple(message.string) if isinstance(message.string, (list, tuple)) else message.string
        if text and all(text):
            table[(message.context or "", key)] = text
    return table


class Catalog:
    """The texts of one context ("help", "kudos", …) of the catalogues, in every language.

    ``Catalog("kudos")`` reads nothing until first asked. The older inline form,
    ``Catalog(en={...}, fr={...})``, still answers, so that code written before the .po files
    runs; tests/unit/test_i18n.py fails on it and names the ``scripts/catalog_to_po.py`` command
    that moves it."""

    def __init__(self, name: str | None = None, /, *, en: Mapping[str, str] | None = None,
                 fr: Mapping[str, str] | None = None, root: Traversable = LOCALE_DIR) -> None:
        if (name is None) == (en is None):
            raise TypeError("Catalog(name) or Catalog(en={...}, fr={...})")
        self.name = name or ""
        self.root = root
        self._inline = None if en is None else {"en": dict(en), "fr": dict(fr or {})}

    def _table(self, lang: str) -> Mapping[tuple[str, str], Text]:
        if self._inline is not None:
            return {("", k): v for k, v in self._inline.get(lang, {}).items()}
        return load(lang, self.root)

    def lookup(self, lang: str, key: str) -> tuple[str, Text]:
        """(the language found, the raw entry: a tuple for a plural one); French falls back to
        English, and KeyError when English lacks the key too."""
        for found_lang in dict.fromkeys((_lang(lang), "en")):
            found = self._table(found_lang).get((self.name, key))
            if found is not None:
                return found_lang, found
        raise KeyError(f"no message {key!r} in catalogue {self.name!r}")

    def get(self, lang: str, key: str, /, *, count: object = _NO_COUNT, **values: object) -> str:
        """The text of ``key`` in ``lang`` with ``values`` filled in. For a plural entry a number
        ``count`` picks the form; ``count`` also fills ``{count}``. Without a number the last
        ("other") form is used."""
        found_lang, found = self.lookup(lang, key)
        if isinstance(found, tuple):
            index = plural_index(found_lang, count) if isinstance(count, (int, float)) else len(found) - 1
            found = found[min(index, len(found) - 1)]
        if count is not _NO_COUNT:
            values["count"] = count
        return found.format(**values) if values else found

    def keys(self, lang: str = "en") -> set[str]:
        return {k for (c, k) in self._table(_lang(lang)) if c == self.name}


def placeholders(text: str) -> set[str]:
    """The names of the ``{placeholders}`` of a str.format template ("{n:,}" -> "n")."""
    names = set()
    for _, field, _, _ in string.Formatter().parse(text):
        if field is not None:
            names.add(re.split(r"[.\[!:]", field, maxsplit=1)[0])
    return names


def month_name(lang: str, month: int, width: str = "wide") -> str:
    """1 -> "January" / "janvier" (width "abbreviated": "Jan" / "janv.")."""
    return get_month_names(width, context="format", locale=_lang(lang))[month]


def weekday_name(lang: str, day: int, width: str = "wide") -> str:
    """0 (Monday) -> "Monday" / "lundi"."""
    return get_day_names(width, context="format", locale=_lang(lang))[day]


def format_date(lang: str, when: dt.date, pattern: str = "long") -> str:
    """A date, or a datetime in its own time zone, in ``lang``: a CLDR width ("long") or pattern
    ("EEEE d MMMM", "MMM y", "EEEE d MMM, HH:mm")."""
    if isinstance(when, dt.datetime):
        return format_datetime(when, pattern, tzinfo=when.tzinfo, locale=_lang(lang))
    return _babel_format_date(when, pattern, locale=_lang(lang))


def join_names(lang: str, names: Iterable[str]) -> str:
    """["Alice", "Bob", "Chloé"] -> "Alice, Bob and Chloé" / "Alice, Bob et Chloé"."""
    items = list(names)
    return format_list(items, locale=_LIST_LOCALE.get(_lang(lang), _lang(lang))) if items else ""


def normalise_locale(locale: str | None) -> str | None:
    """"fr-CH", "fr_FR", "FR" -> "fr"; unknown or empty -> None."""
    if not locale:
        return None
    lang = re.split(r"[-_]", locale.strip().lower(), maxsplit=1)[0]
    return lang if lang in SUPPORTED else None


_FR_MARKERS = frozenset(
    "le la les un une des du de et est je tu il elle nous vous ils elles sont pour avec sur dans pas "
    "qui que quoi quel quelle quels comment pourquoi merci bonjour salut oui non ça ce cette ces mon ma "
    "mes ton ta tes son sa ses au aux connaît connait connais sait savez aide moi toi aussi très mais "
    "ou où donc car quand comme tout tous faire fait peux peut sais avez avons chez être avoir "
    "c'est j'ai qu'il n'est d'un d'une l'on".split()
)
_EN_MARKERS = frozenset(
    "the a an and is are i you he she we they for with on in not who what which how why thanks "
    "thank hello hi yes no this that my your his her our to of it knows know anyone about me "
    "be was were been have has had do does did can could would should will just there their "
    "from but or if when all any some get got use using it's i'm don't can't".split()
)
_WORDS = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)?", re.UNICODE)


def guess_language(text: str, default: str = "en") -> str:
    """English or French from function words, elisions and accents (no model needed). Short
    or ambiguous texts get ``default``."""
    words = [w.lower().replace("’", "'") for w in _WORDS.findall(text[:3000])]
    fr = en = 0.0
    for w in words:
        if w in _FR_MARKERS:
            fr += 1
        elif "'" in w and w.split("'")[0] in ("l", "d", "j", "qu", "c", "n", "s", "m", "t"):
            fr += 1
        if w in _EN_MARKERS:
            en += 1
    accents = sum(1 for ch in text[:3000] if ch in "éèêàçùâîôûœëïÉÈÀÇ")
    fr += min(accents, 4) * 0.5
    if fr > en:
        return "fr"
    if en > fr:
        return "en"
    return default


def strip_accents(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFD", text) if unicodedata.category(c) != "Mn")

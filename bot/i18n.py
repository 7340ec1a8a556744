"""User-facing text in English and French, one catalogue per module, and the choice of language.

A skill keeps all its strings in one ``Catalog`` at the top of its module; handlers ask for them
by key with ``ctx.t(CATALOG, "key", name=...)``. A key missing in French falls back to English,
so a half-translated skill still answers.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Mapping

SUPPORTED = ("en", "fr")


class Catalog:
    def __init__(self, *, en: Mapping[str, str], fr: Mapping[str, str] | None = None) -> None:
        self.by_lang: dict[str, Mapping[str, str]] = {"en": dict(en), "fr": dict(fr or {})}
        missing = set(self.by_lang["fr"]) - set(self.by_lang["en"])
        if missing:
            raise ValueError(f"French keys without English: {sorted(missing)}")

    def get(self, lang: str, key: str, /, **values: object) -> str:
        table = self.by_lang.get(lang) or self.by_lang["en"]
        template = table.get(key) or self.by_lang["en"][key]
        return template.format(**values) if values else template

    def missing_in(self, lang: str) -> set[str]:
        return set(self.by_lang["en"]) - set(self.by_lang.get(lang, {}))


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

"""The expertise skill's ``Routes`` (``ask.py`` and ``handlers.py`` declare their handlers on it)."""

from __future__ import annotations

from bot.router import Routes

from skills.expertise.nlp import LANGS
from skills.expertise.text import TEXT

routes = Routes(
    "expertise",
    help={lang: [TEXT.get(lang, "help_ask"), TEXT.get(lang, "help_declare"), TEXT.get(lang, "help_me")] for lang in LANGS},
)

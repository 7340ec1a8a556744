"""The privacy notice and the terms of use, served by the web app at GET /privacy and GET /terms
(the Teams app manifest links to both), and a short home page at GET / (its websiteUrl).

The texts ship in config/pages (``privacy.en.txt``, ``privacy.fr.txt``, ``terms.en.txt``,
``terms.fr.txt``): the first line is the title, paragraphs are separated by blank lines. A
deployment serves its own by naming a folder of files with the same names in
``[server] pages_dir``. The language is ``?lang=en|fr``, else the browser's Accept-Language,
else ``bot.default_language``.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from aiohttp import web

import config
from bot.config import ConfigError
from bot.i18n import SUPPORTED

PAGES = ("privacy", "terms")
_OTHER = {"en": ("fr", "Français"), "fr": ("en", "English")}
# The home page (the Teams manifest's websiteUrl): what the bot is, and the two pages.
_HOME = {
    "en": ("{name}\n\n{name} is this organisation's chat bot in Slack and Microsoft Teams: ask it who knows about a "
           "topic, thank a colleague, or join a random coffee. Talk to it in your chat app.\n\n"
           "Privacy notice: /privacy\n\nTerms of use: /terms"),
    "fr": ("{name}\n\n{name} est le bot de messagerie de cette organisation dans Slack et Microsoft Teams : "
           "demandez-lui qui s'y connaît sur un sujet, remerciez un collègue ou rejoignez un café tiré au sort. "
           "Parlez-lui dans votre messagerie.\n\nConfidentialité : /privacy\n\nConditions d'utilisation : /terms"),
}


def load_texts(pages_dir: str = "") -> dict[tuple[str, str], str]:
    """Every page in every language: {(page, lang): text}. A folder given in the settings must
    hold them all, so a missing translation stops the start rather than a visitor's request."""
    texts = {}
    for page in PAGES:
        for lang in SUPPORTED:
            name = f"{page}.{lang}.txt"
            source = Path(pages_dir) / name if pages_dir else config.file(f"pages/{name}")
            try:
                texts[(page, lang)] = source.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise ConfigError(f"server.pages_dir: cannot read {source} ({exc}); that folder needs "
                                  f"{', '.join(f'{p}.{lg}.txt' for p in PAGES for lg in SUPPORTED)}") from exc
    return texts


def choose_language(request: web.Request, default: str) -> str:
    wanted = request.query.get("lang", "").lower()
    if wanted in SUPPORTED:
        return wanted
    for part in request.headers.get("Accept-Language", "").split(","):
        lang = part.split(";")[0].strip().lower()[:2]
        if lang in SUPPORTED:
            return lang
    return default if default in SUPPORTED else "en"


def render(text: str, *, lang: str) -> str:
    """A small, self-contained HTML page from a text: title line, then paragraphs."""
    title, _, body = text.strip().partition("\n")
    paragraphs = [" ".join(p.split()) for p in body.split("\n\n") if p.strip()]
    other, label = _OTHER[lang]
    return (
        f'<!doctype html>\n<html lang="{lang}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title>"
        "<style>body{font-family:system-ui,sans-serif;max-width:42em;margin:2em auto;padding:0 1em;line-height:1.5}</style>"
        f"</head><body><h1>{html.escape(title)}</h1>\n"
        + "\n".join(f"<p>{html.escape(p)}</p>" for p in paragraphs)
        + f'\n<p><a href="?lang={other}" hreflang="{other}">{label}</a></p></body></html>\n'
    )


def add_routes(web_app: web.Application, app: Any) -> None:
    server = app.settings.server
    texts = load_texts(server.pages_dir)
    default = app.settings.bot.default_language

    def handler(page: str):  # noqa: ANN202
        async def serve(request: web.Request) -> web.Response:
            lang = choose_language(request, default)
            return web.Response(text=render(texts[(page, lang)], lang=lang), content_type="text/html",
                                headers={"Content-Language": lang, "Vary": "Accept-Language"})

        return serve

    for page in PAGES:
        web_app.router.add_get(f"/{page}", handler(page))
    for lang in SUPPORTED:
        texts[("home", lang)] = _HOME[lang].format(name=app.settings.bot.name)
    web_app.router.add_get("/", handler("home"))

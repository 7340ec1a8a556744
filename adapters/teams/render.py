"""Neutral markup (see bot/events.py) to the text and entities of a Teams message.

- ``<@ID>`` becomes ``<at>Name</at>`` plus a ``mention`` entity: Teams notifies the person only
  when the entity is there, and shows the name in the tag;
- ``<https://url|label>`` becomes the Markdown link ``[label](https://url)``, ``<https://url>``
  the bare URL;
- ``*bold*`` becomes ``**bold**`` (Teams reads Markdown, where one star is italic); ``_italic_``
  is already Markdown;
- a line break becomes a blank line, because Teams joins lines separated by a single newline.
"""

from __future__ import annotations

import html
import re
from typing import Any, Callable

_MENTION = re.compile(r"<@([^<>|\s]+)>")
_LINK = re.compile(r"<(https?://[^|<>\s]+)\|([^<>]+)>")
_BARE_LINK = re.compile(r"<(https?://[^|<>\s]+)>")
_BOLD = re.compile(r"(?<![\w*])\*(?=\S)([^*\n]+?)(?<=\S)\*(?![\w*])")


def render(text: str, name_of: Callable[[str], str]) -> tuple[str, list[dict[str, Any]]]:
    """The Teams text and mention entities for ``text`` in neutral markup."""
    entities: list[dict[str, Any]] = []
    seen: set[str] = set()

    def mention(found: re.Match[str]) -> str:
        ident = found.group(1)
        name = html.escape(name_of(ident) or ident, quote=False)
        tag = f"<at>{name}</at>"
        if ident not in seen:
            seen.add(ident)
            entities.append({"type": "mention", "text": tag, "mentioned": {"id": ident, "name": name}})
        return tag

    out = _LINK.sub(lambda m: f"[{m.group(2)}]({m.group(1)})", text)
    out = _BARE_LINK.sub(lambda m: m.group(1), out)
    out = _BOLD.sub(lambda m: f"**{m.group(1)}**", out)
    out = _MENTION.sub(mention, out)
    out = re.sub(r"\n+", "\n\n", out.strip("\n"))
    return out, entities

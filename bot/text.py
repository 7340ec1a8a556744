"""Text a person wrote, made safe for the bot to say back.

When the bot repeats what someone typed (the subject of a "who knows" question, the reason of a
thanks, a word it did not understand), the words must not notify anybody on the bot's behalf.
``quote`` turns every mention markup in such text into plain words:

- Slack specials: ``<!here>`` -> ``@here``, ``<!channel>`` -> ``@channel``, ``<!everyone>`` ->
  ``@everyone``, ``<!subteam^S123|@team>`` -> ``@team``, ``<!date^…|Feb 18>`` -> ``Feb 18``;
- user mentions in the neutral markup (``<@U123>``, ``<@U123|bob>``; Teams mentions arrive in
  the same form): ``@`` and the person's name when it is known, else the label or the id;
- Teams ``<at>Name</at>`` tags: ``@Name``.

Slack only notifies for the angle-bracket forms (the bot never sends ``link_names``), and Teams
only for ``<at>`` tags backed by a mention entity, which the Teams adapter builds from ``<@id>``
alone: the plain words that remain notify nobody. Channel links (``<#C123|general>``) and web
links are left as they are.

Every pattern here stops at the next ``<`` or ``>``, so the work is linear in the text.
"""

from __future__ import annotations

import re
from typing import Any, Callable

NameOf = Callable[[str], "str | None"]

# <!here>, <!here|here>, <!subteam^S123|@team>, <!date^1392734382^{date}|Feb 18>
_SPECIAL = re.compile(r"<!([^<>|]*)(?:\|([^<>]*))?>")
# <@U123>, <@U123|bob>, <@29:1abc…> (Teams ids, as the adapter writes them)
_USER = re.compile(r"<@([^<>|]*)(?:\|([^<>]*))?>")
_AT_TAG = re.compile(r"<at(?:\s[^<>]*)?>([^<>]*)</at\s*>", re.IGNORECASE)
_STRAY_AT = re.compile(r"</?at(?:\s[^<>]*)?>", re.IGNORECASE)


def _at(name: str) -> str:
    name = name.strip().lstrip("@").strip()
    return f"@{name}" if name else "@"


def _special(found: re.Match[str]) -> str:
    keyword, label = found.group(1), found.group(2)
    if label and label.strip():
        label = label.strip()
        # A date shows its fallback text as it is; a group or a broadcast reads as "@name".
        return label if keyword.startswith("date") else _at(label)
    return _at(keyword.split("^", 1)[0])


def quote(text: str | None, name_of: NameOf | None = None) -> str:
    """``text`` with every mention made plain words (see the module's docstring). ``name_of``
    gives a person's name from their id, when the caller can look it up."""
    if not text:
        return ""

    def user(found: re.Match[str]) -> str:
        ident, label = found.group(1).strip(), found.group(2)
        name = name_of(ident) if (name_of is not None and ident) else None
        return _at(name or label or ident)

    out = _SPECIAL.sub(_special, text)
    out = _USER.sub(user, out)
    out = _AT_TAG.sub(lambda m: _at(m.group(1)), out)
    return _STRAY_AT.sub("", out)


def directory_names(db: Any) -> NameOf:
    """``name_of`` for ``quote``: people's names from the directory of ``db``'s workspace."""
    from bot import people

    def name_of(user_id: str) -> str | None:
        row = people.get(db, user_id)
        return row.name if row is not None and row.name and row.name != row.user_id else None

    return name_of

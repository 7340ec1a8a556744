"""Who is thanked, and for what: the thanks patterns in English and French, the people a message
or a command names (platform mentions ``<@id>`` and typed ``@name``), the reason after them, and
the person row each name stands for.

A reason is read without emoji codes and cut to ``MAX_REASON`` characters; a typed name the bot
has not met yet is looked up once in the platform's directory.
"""

from __future__ import annotations

import re

from bot import people
from bot.context import SkillContext
from bot.db.models import PersonRow
from bot.ports import ChatError
from bot.router import MAX_MATCH_CHARS, compile_pattern, normalise
from bot.text import quote
from skills.kudos.text import TEXT, join

# A person named in a message: a platform mention (<@U123>, or <@U123|alice> from Slack slash
# commands) or a typed @name (slash commands and Teams send names as typed). The patterns are RE2
# syntax, matched in linear time (see bot/router.py): \pL is a letter of any script.
_WHO_ONE = r"(?:<@[^>\s]+>|@\pL[\pL\pN\pM_'.\-]*)"
_WHO = rf"(?P<who>{_WHO_ONE}(?:\s*(?:,|&|\band\b|\bet\b)?\s*{_WHO_ONE})*)"
_MENTION = re.compile(r"<@([^>|\s]+)(?:\|[^>]*)?>|@([^\W\d_][\w'.\-]*)")
_REASON_EN = r"(?:\s*[,:;!.–—-]*\s*(?:(?:for|on|with|about)\s+)?(?P<reason>[^\s.!?].*?))?"
_REASON_FR = r"(?:\s*[,:;!.–—-]*\s*(?:(?:pour|sur|avec|de|d'|d’)\s*)?(?P<reason>[^\s.!?].*?))?"
_THANK_EN = r"(?:(?:many|big|huge|special)\s+)?(?:thanks|thank\s+you|thx|ty|kudos|shout-?out|props)(?:\s+(?:so\s+much|a\s+lot|again))?"
_THANK_FR = (
    r"(?:un\s+)?(?:(?:grand|gros|immense|énorme|enorme)\s+)?(?:merci|kudos|bravo)"
    r"(?:\s+(?:beaucoup|encore|mille\s+fois|infiniment))?"
)

PATTERNS_EN = (
    rf"{_THANK_EN}(?:\s+to)?\s*,?\s+{_WHO}{_REASON_EN}",
    rf"{_WHO}\s*[,:]?\s*{_THANK_EN}{_REASON_EN}",
    rf"{_THANK_EN}\s+(?:for|on)\s+(?P<reason>[^\s.!?].*?)\s*[,:;–—-]?\s*{_WHO}",
)
PATTERNS_FR = (
    rf"{_THANK_FR}(?:\s+(?:à|a))?\s*,?\s+{_WHO}{_REASON_FR}",
    rf"{_WHO}\s*[,:]?\s*{_THANK_FR}{_REASON_FR}",
    rf"{_THANK_FR}\s+(?:pour|sur)\s+(?P<reason>[^\s.!?].*?)\s*[,:;–—-]?\s*{_WHO}",
)
# Command arguments: "@alice for …", "to @alice …", "à @bob pour …".
_ARGS = compile_pattern(
    rf"(?:(?:to|à|a)\s+)?{_WHO}(?:\s*[,:;!.–—-]*\s*(?:(?:for|on|with|about|pour|sur|avec|de|d'|d’)\s*)?"
    rf"(?P<reason>[^\s.!?].*?))?"
)
MAX_REASON = 500
_EMOJI = re.compile(r":[a-z0-9_+'\-]+:", re.IGNORECASE)
# The message patterns as the router applies them (the whole message, English first).
_WHOLE = tuple(compile_pattern(p) for p in (*PATTERNS_EN, *PATTERNS_FR))


def _plain(text: str | None) -> str:
    # What the patterns read: no emoji codes, whitespace runs as one space (as the router does).
    return normalise(_EMOJI.sub(" ", text or ""))


def parse_thanks(text: str) -> tuple[list[str], str] | None:
    """The people named at the start of command arguments (mention ids, or ``@name`` as typed)
    and the reason after them; None when the text names nobody."""
    m = _ARGS.fullmatch(_plain(text))
    if not m:
        return None
    return names_in(m.group("who")), clean_reason(m.group("reason"))


def names_in(who: str) -> list[str]:
    """Mentions in order, without repeats: user ids as ``<@id>``, typed names as ``@name``."""
    out: list[str] = []
    for m in _MENTION.finditer(who or ""):
        token = f"<@{m.group(1)}>" if m.group(1) else f"@{m.group(2)}"
        if token not in out:
            out.append(token)
    return out


def read_thanks(text: str) -> tuple[list[str], str] | None:
    """The people and the reason of a thanks message, read without its emoji codes (so that
    "merci @bob :pray:" has no reason, rather than "pray")."""
    plain = _plain(text)
    if len(plain) > MAX_MATCH_CHARS:
        return None
    for pattern in _WHOLE:
        m = pattern.fullmatch(plain)
        if m:
            return names_in(m.group("who")), clean_reason(m.groupdict().get("reason"))
    return None


def clean_reason(reason: str | None) -> str:
    """The reason as shown to the receiver: one line, without emoji codes or end punctuation."""
    reason = _EMOJI.sub(" ", reason or "")
    reason = re.sub(r"\s+", " ", reason).strip(" \t\n.,;:!?–—-")
    return reason[:MAX_REASON]


def mention(user_id: str) -> str:
    """A person as the platforms render them: ``<@id>``."""
    return f"<@{user_id}>"


def resolve(ctx: SkillContext, token: str) -> tuple[PersonRow | None, str | None]:
    """A person row for a mention or typed name, or the refusal to send."""
    if token.startswith("<@"):
        row = _by_mention(ctx, token[2:-1])
        if row is None:
            return None, ctx.t(TEXT, "unknown", name=quote(token))
        return row, None
    found_rows = _by_name(ctx, token)
    if not found_rows:
        return None, ctx.t(TEXT, "unknown", name=quote(token))
    if len(found_rows) > 1:
        return None, ctx.t(TEXT, "ambiguous", name=token, names=join([mention(r.user_id) for r in found_rows], ctx.lang))
    return found_rows[0], None


def _by_mention(ctx: SkillContext, user_id: str) -> PersonRow | None:
    row = people.get(ctx.db, user_id)
    if (row is None or row.name == row.user_id) and ctx.chat is not None:
        # Not met yet (or only by id): ask the platform, which also says whether it is a bot.
        try:
            found = ctx.chat.lookup_user(user_id)
        except ChatError as exc:
            ctx.log.warning("could not look up %s: %s", user_id, exc)
            found = None
        if found is not None:
            row = people.upsert(ctx.db, found)
            ctx.db.flush()
    return row


def _by_name(ctx: SkillContext, token: str) -> list[PersonRow]:
    name = token[1:]
    found_rows = people.find_by_name(ctx.db, name)
    if not found_rows and ctx.chat is not None:
        # Someone the bot has not met yet: look in the platform's directory once.
        try:
            directory = ctx.chat.list_users()
        except ChatError as exc:
            ctx.log.warning("could not list users to find %s: %s", token, exc)
            directory = []
        wanted = name.lower()
        matches = [p for p in directory if p.name.lower() == wanted or p.id.lower() == wanted]
        matches = matches or [p for p in directory if p.name.lower().split(" ")[0] == wanted]
        found_rows = [people.upsert(ctx.db, p) for p in matches if not p.is_bot or len(matches) == 1]
        ctx.db.flush()
    return found_rows

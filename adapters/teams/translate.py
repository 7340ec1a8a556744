"""Bot Framework activities (as the JSON dicts Teams posts) to neutral events: pure functions.

Nothing here talks to the network or the database, so every rule can be tested on a payload.

Identifiers:
- the workspace is the Teams tenant (``Workspace("teams", tenant_id)``);
- a person is their Bot Framework id (``29:…``), which is what mentions and 1:1 conversations use;
- a channel message arrives in the conversation ``19:…@thread.…;messageid=ROOT`` where ROOT is the
  id of the thread's first post: the neutral conversation is the channel (``19:…@thread.…``), the
  message id is ``ts``, and ``thread_ts`` is ROOT when the message is a reply in a thread.

Reactions: Teams sends ``like``, ``heart``, ``laugh``, ``surprised``, ``sad``, ``angry`` and, in
newer clients, types such as ``1f64f_foldedhands`` (code points, then a name). They become the
emoji names skills use (``like`` → ``+1``, ``1f64f_…`` → ``pray``); see ``reaction_name`` and
the ``[teams] reaction_names`` setting.
"""

from __future__ import annotations

import datetime as dt
import html
import re
from dataclasses import dataclass
from typing import Any, Iterable, Mapping
from urllib.parse import quote, urlencode

from bot.events import (
    ActionInvoked,
    Conversation,
    ConversationKind,
    MemberJoined,
    MemberLeft,
    MessageReceived,
    Person,
    ReactionAdded,
    Workspace,
)

PLATFORM = "teams"

# Keys of the data an Adaptive Card button carries back (see cards.py).
ACTION_KEY = "liaison_action"
VALUE_KEY = "liaison_value"

# The classic Teams reactions, by the name Slack (and so the skills) give the same emoji.
DEFAULT_REACTIONS: Mapping[str, str] = {
    "like": "+1",
    "heart": "heart",
    "laugh": "laughing",
    "surprised": "open_mouth",
    "sad": "cry",
    "angry": "angry",
}

# Newer Teams reactions are "<code points>_<name>"; the code point says which emoji it is.
_CODEPOINT_NAMES: Mapping[str, str] = {
    "1f64f": "pray",
    "1f44d": "+1",
    "2764": "heart",
    "1f602": "joy",
    "1f389": "tada",
    "1f44f": "clap",
    "1f4af": "100",
    "1f525": "fire",
    "1f44b": "wave",
    "1f4a1": "bulb",
}
_CODEPOINT_TYPE = re.compile(r"^([0-9a-f]{4,6})(?:[-_][0-9a-f]{4,6})*_([a-z0-9]+)$")

_THREAD_SUFFIX = re.compile(r";messageid=(\d+)$")
# Both stop at the next angle bracket: linear in the text, however many unclosed tags it holds.
_AT_TAG = re.compile(r"<at>([^<]*)</at>", re.IGNORECASE)
_HTML_TAG = re.compile(r"</?(?:p|div|span|br|b|i|strong|em)\b[^<>]*>", re.IGNORECASE)


class MalformedActivity(ValueError):
    """The body is not an activity Liaison can use; the message says what is missing."""


@dataclass(frozen=True)
class Envelope:
    """What every activity says about where it comes from, checked once."""

    type: str
    id: str
    workspace: Workspace
    conversation_id: str  # as Teams gives it (with ;messageid= in channel threads)
    conversation_type: str  # "personal", "groupChat", "channel"
    channel_id: str | None  # the channel, for channel conversations
    team_id: str | None
    team_name: str | None
    thread_root: str | None  # ROOT of ";messageid=ROOT"
    service_url: str
    sender: Person
    bot_id: str
    bot_name: str


def _obj(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _str(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def validate(body: Any) -> None:
    """Raise MalformedActivity unless ``body`` looks like an activity we can handle or ignore."""
    if not isinstance(body, Mapping):
        raise MalformedActivity("the body is not a JSON object")
    if not _str(body.get("type")):
        raise MalformedActivity("the activity has no type")
    if not _str(_obj(body.get("conversation")).get("id")):
        raise MalformedActivity("the activity has no conversation.id")
    if not _str(_obj(body.get("from")).get("id")):
        raise MalformedActivity("the activity has no from.id")
    if not _str(body.get("serviceUrl")):
        raise MalformedActivity("the activity has no serviceUrl")


def tenant_of(body: Mapping[str, Any]) -> str:
    conv = _obj(body.get("conversation"))
    data = _obj(body.get("channelData"))
    return _str(conv.get("tenantId")) or _str(_obj(data.get("tenant")).get("id")) or "unknown"


def envelope(body: Mapping[str, Any]) -> Envelope:
    """The common fields of a validated activity."""
    validate(body)
    conv = _obj(body.get("conversation"))
    data = _obj(body.get("channelData"))
    sender = _obj(body.get("from"))
    recipient = _obj(body.get("recipient"))
    conv_id = _str(conv.get("id"))
    conv_type = _str(conv.get("conversationType")) or ("groupChat" if conv.get("isGroup") else "personal")
    channel_id = None
    root = None
    if conv_type == "channel":
        found = _THREAD_SUFFIX.search(conv_id)
        root = found.group(1) if found else None
        channel_id = _str(_obj(data.get("channel")).get("id")) or _THREAD_SUFFIX.sub("", conv_id)
    team = _obj(data.get("team"))
    return Envelope(
        type=_str(body.get("type")),
        id=_str(body.get("id")),
        workspace=Workspace(PLATFORM, tenant_of(body)),
        conversation_id=conv_id,
        conversation_type=conv_type,
        channel_id=channel_id,
        team_id=_str(team.get("id")) or _str(data.get("teamsTeamId")) or None,
        team_name=_str(team.get("name")) or None,
        thread_root=root,
        service_url=_str(body.get("serviceUrl")),
        sender=person_of(sender, locale=_str(body.get("locale")) or None, tz=_client_timezone(body)),
        bot_id=_str(recipient.get("id")),
        bot_name=_str(recipient.get("name")),
    )


def person_of(account: Mapping[str, Any], *, locale: str | None = None, tz: str | None = None,
              team: str | None = None) -> Person:
    """A Teams ChannelAccount (or roster entry) as a neutral Person."""
    ident = _str(account.get("id"))
    email = _str(account.get("email")) or _str(account.get("userPrincipalName")) or None
    role = _str(account.get("role")).lower()
    return Person(
        id=ident,
        name=_str(account.get("name")),
        team=team,
        tz=tz,
        locale=locale,
        email=email,
        is_bot=ident.startswith("28:") or role == "bot",
    )


def _client_timezone(body: Mapping[str, Any]) -> str | None:
    for entity in body.get("entities") or ():
        if isinstance(entity, Mapping) and entity.get("type") == "clientInfo":
            tz = _str(entity.get("timezone"))
            if tz:
                return tz
    return None


def conversation_of(env: Envelope, *, name: str | None = None) -> Conversation:
    kind: ConversationKind
    if env.conversation_type == "channel":
        kind = "channel"
        ident = env.channel_id or env.conversation_id
    elif env.conversation_type == "personal":
        kind, ident = "dm", env.conversation_id
    else:
        kind, ident = "group", env.conversation_id
    return Conversation(id=ident, kind=kind, name=name)


def _parse_time(value: Any) -> dt.datetime | None:
    text = _str(value)
    if not text:
        return None
    try:
        # Teams sends 7 fractional digits at times; Python takes at most 6.
        text = re.sub(r"(\.\d{6})\d+", r"\1", text.replace("Z", "+00:00"))
        parsed = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.timezone.utc)


def message_link(*, channel_id: str, message_id: str, tenant_id: str, root_id: str | None = None) -> str:
    """A deep link that opens a channel message in Teams."""
    query = {"tenantId": tenant_id, "parentMessageId": root_id or message_id}
    return f"https://teams.microsoft.com/l/message/{quote(channel_id, safe='')}/{quote(message_id, safe='')}?{urlencode(query)}"


def clean_text(body: Mapping[str, Any], bot_id: str) -> tuple[str, tuple[str, ...], bool]:
    """The text in neutral markup, the people mentioned, and whether the bot was mentioned.

    The bot's own ``<at>…</at>`` is removed; a person's becomes ``<@ID>``. Teams puts the
    mention's exact text in the entity, so that is what is replaced (names may repeat).
    """
    text = body.get("text") if isinstance(body.get("text"), str) else ""
    mentions: list[str] = []
    addressed = False
    for entity in body.get("entities") or ():
        if not isinstance(entity, Mapping) or entity.get("type") != "mention":
            continue
        who = _obj(entity.get("mentioned"))
        ident = _str(who.get("id"))
        tag = entity.get("text") if isinstance(entity.get("text"), str) else ""
        if not ident:
            continue
        if ident == bot_id:
            addressed = True
            replacement = " "
        else:
            if ident not in mentions:
                mentions.append(ident)
            replacement = f"<@{ident}>"
        if tag and tag in text:
            text = text.replace(tag, replacement, 1)
        else:
            # The entity's text may differ from the message's (an "@" inside, say): fall back to
            # the first <at> tag naming the same person.
            name = _str(who.get("name"))
            for found in _AT_TAG.finditer(text):
                if found.group(1).lstrip("@").strip() == name:
                    text = text[: found.start()] + replacement + text[found.end():]
                    break
    # Any <at> left names nobody we know (no entity): keep the name as plain text.
    text = _AT_TAG.sub(lambda m: m.group(1), text)
    text = _HTML_TAG.sub(" ", text)
    text = html.unescape(text).replace("\xa0", " ")
    text = re.sub(r"[ \t]+", " ", text)
    text = "\n".join(line.strip() for line in text.splitlines()).strip()
    return text, tuple(mentions), addressed


def mentioned_people(body: Mapping[str, Any], bot_id: str) -> list[Person]:
    """The people a message mentions, with the names its mention entities give."""
    out: dict[str, Person] = {}
    for entity in body.get("entities") or ():
        if not isinstance(entity, Mapping) or entity.get("type") != "mention":
            continue
        who = _obj(entity.get("mentioned"))
        ident, name = _str(who.get("id")), _str(who.get("name"))
        if ident and ident != bot_id and not ident.startswith("28:") and ident not in out:
            out[ident] = Person(id=ident, name=name.lstrip("@"))
    return list(out.values())


def message(body: Mapping[str, Any]) -> MessageReceived | ActionInvoked:
    """A ``message`` activity: a message, or an Adaptive Card button press (``value``)."""
    env = envelope(body)
    if isinstance(body.get("value"), Mapping) and ACTION_KEY in body["value"]:
        return action(body)
    text, mentions, mentioned_bot = clean_text(body, env.bot_id)
    conv = conversation_of(env)
    # A thread reply's conversation names the thread's first post; a new post names itself.
    thread = env.thread_root if env.thread_root and env.thread_root != env.id else None
    addressed = conv.kind == "dm" or mentioned_bot
    permalink = None
    if conv.kind == "channel" and env.id:
        permalink = message_link(channel_id=conv.id, message_id=env.id, tenant_id=env.workspace.id, root_id=env.thread_root)
    return MessageReceived(
        workspace=env.workspace,
        conversation=conv,
        sender=env.sender,
        text=text,
        ts=env.id or env.conversation_id,
        event_id=env.id,
        thread_ts=thread,
        mentions=mentions,
        addressed=addressed,
        permalink=permalink,
        time=_parse_time(body.get("timestamp")),
        raw=body,
    )


def message_update(body: Mapping[str, Any]) -> MessageReceived | None:
    """``messageUpdate`` (edited) and ``messageDelete`` (soft-deleted) channel messages."""
    env = envelope(body)
    event_type = _str(_obj(body.get("channelData")).get("eventType"))
    deleted = env.type == "messageDelete" or event_type == "softDeleteMessage"
    edited = env.type == "messageUpdate" and event_type in ("", "editMessage")
    if not (deleted or edited):
        return None  # undelete and others: nothing to do
    received = message(body)
    if not isinstance(received, MessageReceived):
        return None
    return MessageReceived(
        workspace=received.workspace, conversation=received.conversation, sender=received.sender,
        text="" if deleted else received.text, ts=received.ts,
        event_id=f"{env.id}:{'deleted' if deleted else 'edited'}", thread_ts=received.thread_ts,
        mentions=received.mentions, addressed=False if deleted else received.addressed,
        edited=edited, deleted=deleted, permalink=received.permalink, time=received.time, raw=body,
    )


def action(body: Mapping[str, Any]) -> ActionInvoked:
    """An Adaptive Card button: ``Action.Submit`` (a message with ``value``) or
    ``Action.Execute`` (an ``invoke`` named ``adaptiveCard/action``)."""
    env = envelope(body)
    value = _obj(body.get("value"))
    if env.type == "invoke":
        value = _obj(_obj(value.get("action")).get("data"))
    action_id = _str(value.get(ACTION_KEY))
    if not action_id:
        raise MalformedActivity("the card action carries no liaison_action")
    raw_value = value.get(VALUE_KEY, "")
    return ActionInvoked(
        workspace=env.workspace,
        conversation=conversation_of(env),
        sender=env.sender,
        action_id=action_id,
        value=raw_value if isinstance(raw_value, str) else str(raw_value),
        event_id=f"{env.id}:{action_id}" if env.id else "",
        ts=_str(body.get("replyToId")) or None,
        raw=body,
    )


def reaction_name(kind: str, names: Mapping[str, str] | None = None) -> str:
    """The neutral emoji name of a Teams reaction type (``like`` → ``+1``)."""
    kind = kind.strip().lower()
    table = {**DEFAULT_REACTIONS, **(names or {})}
    if kind in table:
        return table[kind]
    found = _CODEPOINT_TYPE.match(kind)
    if found:
        return table.get(found.group(2)) or _CODEPOINT_NAMES.get(found.group(1)) or found.group(2)
    return kind


def reactions(body: Mapping[str, Any], names: Mapping[str, str] | None = None) -> list[ReactionAdded]:
    """``messageReaction`` with ``reactionsAdded``: one event per reaction. Teams does not say
    who wrote the message reacted to, so ``item_author`` stays None."""
    env = envelope(body)
    item = _str(body.get("replyToId"))
    if not item:
        return []
    out = []
    for entry in body.get("reactionsAdded") or ():
        if not isinstance(entry, Mapping) or not _str(entry.get("type")):
            continue
        name = reaction_name(_str(entry.get("type")), names)
        out.append(ReactionAdded(
            workspace=env.workspace, conversation=conversation_of(env), sender=env.sender, reaction=name,
            item_ts=item, item_author=None, event_id=f"{env.id}:{name}" if env.id else "", raw=body,
        ))
    return out


@dataclass(frozen=True)
class MembersChange:
    """A conversationUpdate, split: people who joined or left, and whether the bot itself was
    added to the conversation (its removal needs nothing: it is left out of ``left``)."""

    joined: tuple[MemberJoined, ...]
    left: tuple[MemberLeft, ...]
    bot_added: bool


def _members(body: Mapping[str, Any], key: str) -> Iterable[Mapping[str, Any]]:
    return [m for m in body.get(key) or () if isinstance(m, Mapping) and _str(m.get("id"))]


def members_change(body: Mapping[str, Any]) -> MembersChange:
    env = envelope(body)
    # Team-level events come on the team's own conversation (its General channel).
    conv = conversation_of(env, name=_str(_obj(body.get("conversation")).get("name")) or None)
    joined, left = [], []
    bot_added = False
    for m in _members(body, "membersAdded"):
        if _str(m.get("id")) == env.bot_id:
            bot_added = True
            continue
        who = person_of(m, team=env.team_name)
        joined.append(MemberJoined(env.workspace, conv, who, event_id=f"{env.id}:joined:{who.id}" if env.id else "", raw=body))
    for m in _members(body, "membersRemoved"):
        if _str(m.get("id")) == env.bot_id:
            continue
        who = person_of(m)
        left.append(MemberLeft(env.workspace, conv, who, event_id=f"{env.id}:left:{who.id}" if env.id else "", raw=body))
    return MembersChange(tuple(joined), tuple(left), bot_added)


def reference(body: Mapping[str, Any]) -> dict[str, Any]:
    """The ConversationReference of an activity's conversation, as stored for later messages
    (the Bot Framework's own shape, so it can be replayed with any Bot Framework SDK)."""
    env = envelope(body)
    conv = _obj(body.get("conversation"))
    conv_id = env.channel_id if env.conversation_type == "channel" and env.channel_id else env.conversation_id
    data = _obj(body.get("channelData"))
    name = _str(_obj(data.get("channel")).get("name")) or _str(conv.get("name")) or None
    return {
        "activityId": env.id or None,
        "user": {"id": env.sender.id, "name": env.sender.name or None},
        "bot": {"id": env.bot_id, "name": env.bot_name or None},
        "conversation": {
            "id": conv_id,
            "conversationType": env.conversation_type,
            "tenantId": env.workspace.id,
            "isGroup": bool(conv.get("isGroup")) or env.conversation_type != "personal",
            "name": name,
        },
        "channelId": _str(body.get("channelId")) or "msteams",
        "serviceUrl": env.service_url,
        "locale": _str(body.get("locale")) or None,
        "teamId": env.team_id,
        "teamName": env.team_name,
    }

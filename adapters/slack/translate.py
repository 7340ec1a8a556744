"""Slack payloads to neutral events: small pure functions, one per field, in the manner of
bolt's ``extract_*`` helpers, then one function per payload kind that assembles them.

Nothing here talks to Slack or to the database. ``bot_user_id`` (from auth.test) is passed in
where it matters: a mention of the bot makes a message *addressed* and is stripped from its text.
Functions return None for payloads the bot deliberately ignores (other bots' messages, channel
join notices, edits that do not change the text, …), so the listeners only forward what counts.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import replace
from typing import Any, Mapping

from bot.events import (
    ActionInvoked,
    CommandInvoked,
    Conversation,
    ConversationKind,
    HomeOpened,
    MemberJoined,
    MemberLeft,
    MessageReceived,
    Person,
    ReactionAdded,
    Workspace,
)

Payload = Mapping[str, Any]

# Message subtypes that carry something a person wrote; every other subtype (channel_join,
# channel_topic, bot_message, …) is a notice or another program speaking, and is ignored.
_PERSON_SUBTYPES = frozenset({None, "", "thread_broadcast", "file_share", "me_message"})
# A label stops at the next angle bracket: linear in the text, however many "<@U1|" it holds.
_MENTION = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^<>]*)?>")
_CHANNEL_TYPES: dict[str, ConversationKind] = {
    "channel": "channel",
    "group": "private",
    "im": "dm",
    "mpim": "group",
    "app_home": "dm",
    # member_joined_channel / member_left_channel say "C" (public) or "G" (private).
    "C": "channel",
    "G": "private",
}
# Events, and message subtypes (notices posted in the channel), after which what the bot knew
# of a channel (its name, whether it is public) may be wrong.
CHANNEL_CHANGE_EVENTS = frozenset({
    "channel_rename", "channel_archive", "channel_unarchive", "channel_deleted", "channel_left",
    "group_rename", "group_archive", "group_unarchive", "group_deleted", "group_left",
    "member_joined_channel", "member_left_channel",
})
_CHANNEL_CHANGE_SUBTYPES = frozenset({
    "channel_convert_to_private", "channel_convert_to_public", "channel_name", "channel_archive",
    "channel_unarchive", "group_name", "group_archive", "group_unarchive",
})
# Slash commands name the conversation instead of typing it.
_COMMAND_CHANNEL_NAMES: dict[str, ConversationKind] = {"directmessage": "dm", "privategroup": "private"}


# ---- fields ---------------------------------------------------------------------------------


def extract_team_id(body: Payload) -> str | None:
    """The workspace (team) id of any Slack request: events, slash commands, interactivity."""
    for candidate in (
        body.get("team_id"),
        (body.get("team") or {}).get("id") if isinstance(body.get("team"), Mapping) else body.get("team"),
        (body.get("event") or {}).get("team"),
        (body.get("user") or {}).get("team_id") if isinstance(body.get("user"), Mapping) else None,
    ):
        if isinstance(candidate, str) and candidate:
            return candidate
    for auth in body.get("authorizations") or ():
        if auth.get("team_id"):
            return str(auth["team_id"])
    return None


def extract_workspace(body: Payload) -> Workspace | None:
    team = extract_team_id(body)
    return Workspace("slack", team) if team else None


def extract_event_id(body: Payload) -> str:
    return str(body.get("event_id") or "")


def stated_kind(channel_id: str, channel_type: str | None = None) -> ConversationKind | None:
    """The conversation kind a payload states: its ``channel_type`` (message events, member
    events' "C"/"G"), else a D (direct) or G (private or group) id. None when it does not say:
    a private channel's id may start with C too, so a C id alone says nothing."""
    if isinstance(channel_type, str) and channel_type in _CHANNEL_TYPES:
        return _CHANNEL_TYPES[channel_type]
    if channel_id.startswith("D"):
        return "dm"
    if channel_id.startswith("G"):
        return "private"
    return None


def conversation_kind(channel_id: str, channel_type: str | None = None) -> ConversationKind:
    """Public channel, private channel, DM or group DM, as the payload states it; "private" when
    it does not say (fail closed: the adapter asks Slack, see ``with_channel``)."""
    return stated_kind(channel_id, channel_type) or "private"


def stated_kind_of(body: Payload) -> ConversationKind | None:
    """What any payload the listeners translate states about its conversation's kind (None:
    nothing; the channel must be looked up). The translators below decide with the same rules."""
    if body.get("command"):
        return _command_stated(str(body.get("channel_id") or ""), body.get("channel_name"))
    if body.get("type") == "block_actions":
        channel = body.get("channel") if isinstance(body.get("channel"), Mapping) else {}
        container = body.get("container") if isinstance(body.get("container"), Mapping) else {}
        return _command_stated(str(channel.get("id") or container.get("channel_id") or ""), channel.get("name"))
    event = body.get("event") if isinstance(body.get("event"), Mapping) else {}
    if event.get("type") == "reaction_added":
        item = event.get("item") if isinstance(event.get("item"), Mapping) else {}
        return stated_kind(str(item.get("channel") or ""))
    return stated_kind(str(event.get("channel") or ""), event.get("channel_type"))


def with_channel(event: Any, kind: ConversationKind, name: str | None, *, team_url: str | None = None) -> Any:
    """``event`` once Slack has said what its channel is (conversations.info): the kind applies
    only when the payload did not state one, the name when the event has none. A message keeps
    a permalink only in a public channel."""
    conv = getattr(event, "conversation", None)
    if conv is None:
        return event
    decided = stated_kind_of(event.raw or {}) or kind
    changes: dict[str, Any] = {"conversation": replace(conv, kind=decided, name=conv.name or name)}
    if isinstance(event, MessageReceived):
        public = decided == "channel" and not event.deleted
        link = event.permalink or permalink_for(team_url, conv.id, event.ts, event.thread_ts)
        changes["permalink"] = link if public else None
    return replace(event, **changes)


def changed_channel(body: Payload) -> str | None:
    """The id of the channel an event renames, archives, converts or changes the members of
    (``channel_rename`` names it in a channel object, the others by id); None for other events."""
    event = body.get("event") if isinstance(body.get("event"), Mapping) else {}
    kind = event.get("type")
    if kind == "message":
        if event.get("subtype") not in _CHANNEL_CHANGE_SUBTYPES:
            return None
    elif kind not in CHANNEL_CHANGE_EVENTS:
        return None
    channel = event.get("channel")
    if isinstance(channel, Mapping):
        channel = channel.get("id")
    return channel if isinstance(channel, str) and channel else None


def extract_mentions(text: str) -> tuple[str, ...]:
    """User ids mentioned in the text, in order, each once."""
    seen: dict[str, None] = {}
    for user_id in _MENTION.findall(text or ""):
        seen.setdefault(user_id, None)
    return tuple(seen)


def strip_mention(text: str, user_id: str | None) -> tuple[str, bool]:
    """The text without mentions of ``user_id``, and whether there was one."""
    if not user_id or not text:
        return text or "", False
    pattern = re.compile(rf"<@{re.escape(user_id)}(?:\|[^<>]*)?>[:,]?\s*")
    stripped, n = pattern.subn("", text)
    return re.sub(r"[ \t]{2,}", " ", stripped).strip(), n > 0


def ts_to_datetime(ts: str | None) -> dt.datetime | None:
    """Slack's "1596183880.004200" as an aware UTC datetime; None when absent or malformed."""
    try:
        return dt.datetime.fromtimestamp(float(ts), dt.timezone.utc) if ts else None
    except (TypeError, ValueError, OverflowError):
        return None


def permalink_for(team_url: str | None, channel_id: str, ts: str, thread_ts: str | None = None) -> str | None:
    """A message link built the way Slack builds them (so indexing needs no API call):
    ``https://team.slack.com/archives/C…/p1596183880004200`` (plus the thread for replies)."""
    if not team_url or not ts:
        return None
    link = f"{team_url.rstrip('/')}/archives/{channel_id}/p{ts.replace('.', '')}"
    if thread_ts and thread_ts != ts:
        link += f"?thread_ts={thread_ts}&cid={channel_id}"
    return link


def is_from_bot(message: Payload, bot_user_id: str | None = None) -> bool:
    """A message written by a program: any bot, or this bot itself."""
    if message.get("bot_id") or message.get("subtype") == "bot_message" or message.get("bot_profile"):
        return True
    return bool(bot_user_id) and message.get("user") == bot_user_id


def person_from_user(user: Payload, *, team_field: str = "title") -> Person:
    """A Person from a Slack user object (users.list, users.info, team_join, user_change).

    ``team_field`` names the profile field holding the team or department: a standard profile
    key such as "title", or a custom field id ("Xf…") when the profile carries its fields."""
    profile = user.get("profile") or {}
    name = (
        profile.get("real_name")
        or user.get("real_name")
        or profile.get("display_name")
        or user.get("name")
        or ""
    )
    team = profile.get(team_field)
    if not team and team_field.startswith("Xf"):
        team = ((profile.get("fields") or {}).get(team_field) or {}).get("value")
    return Person(
        id=str(user.get("id") or ""),
        name=str(name).strip(),
        team=(str(team).strip() or None) if team else None,
        tz=user.get("tz") or None,
        locale=user.get("locale") or None,
        email=profile.get("email") or None,
        is_bot=bool(user.get("is_bot") or user.get("is_app_user") or user.get("id") == "USLACKBOT"),
        is_admin=bool(user.get("is_admin") or user.get("is_owner") or user.get("is_primary_owner")),
    )


def is_active_human(user: Payload) -> bool:
    """Deleted accounts, bots and Slackbot are left out of the directory."""
    return not (user.get("deleted") or user.get("is_bot") or user.get("is_app_user") or user.get("id") == "USLACKBOT")


# ---- events ---------------------------------------------------------------------------------


def message_event(
    body: Payload,
    *,
    bot_user_id: str | None = None,
    team_url: str | None = None,
) -> MessageReceived | None:
    """A ``message`` event (channels, private channels, DMs, group DMs): new, edited, deleted.

    A DM to the bot or a message mentioning it is addressed to it (the mention is stripped).
    When the bot is mentioned in a channel, Slack sends both a ``message`` and an
    ``app_mention`` for the same (channel, ts); both translate to the same addressed message,
    so whichever arrives second is a duplicate for the dispatcher."""
    event = body.get("event") or {}
    ws = extract_workspace(body)
    channel = str(event.get("channel") or "")
    if ws is None or not channel:
        return None
    subtype = event.get("subtype")
    kind = conversation_kind(channel, event.get("channel_type"))
    conversation = Conversation(channel, kind)

    if subtype == "message_deleted":
        return _deletion(body, event, ws, conversation, bot_user_id)
    if subtype == "message_changed":
        return _edit(body, event, ws, conversation, bot_user_id, team_url)
    if subtype not in _PERSON_SUBTYPES or is_from_bot(event, bot_user_id) or not event.get("user"):
        return None
    ts = str(event.get("ts") or "")
    if not ts:
        return None
    text, mentioned = strip_mention(str(event.get("text") or ""), bot_user_id)
    thread_ts = event.get("thread_ts")
    return MessageReceived(
        workspace=ws,
        conversation=conversation,
        sender=Person(id=str(event["user"])),
        text=text,
        ts=ts,
        event_id=extract_event_id(body),
        thread_ts=thread_ts if thread_ts != ts else None,
        parent_user_id=event.get("parent_user_id"),
        mentions=extract_mentions(text),
        addressed=kind == "dm" or mentioned,
        permalink=permalink_for(team_url, channel, ts, thread_ts) if kind == "channel" else None,
        time=ts_to_datetime(ts),
        raw=body,
    )


def _deletion(body: Payload, event: Payload, ws: Workspace, conversation: Conversation,
              bot_user_id: str | None) -> MessageReceived | None:
    """``message_deleted``: the message that was deleted, marked so (None: not a person's)."""
    previous = event.get("previous_message") or {}
    ts = str(event.get("deleted_ts") or previous.get("ts") or "")
    user = previous.get("user")
    if not ts or not user or is_from_bot(previous, bot_user_id):
        return None
    return MessageReceived(
        workspace=ws, conversation=conversation, sender=Person(id=str(user)), text="", ts=ts,
        event_id=extract_event_id(body), thread_ts=previous.get("thread_ts"), deleted=True,
        time=ts_to_datetime(ts), raw=body,
    )


def _edit(body: Payload, event: Payload, ws: Workspace, conversation: Conversation, bot_user_id: str | None,
          team_url: str | None) -> MessageReceived | None:
    """``message_changed``: an edit of a channel message, which only refreshes the index."""
    channel, kind = conversation.id, conversation.kind
    current = event.get("message") or {}
    previous = event.get("previous_message") or {}
    # Link unfurls and reply counters also arrive as message_changed, with the same text.
    if is_from_bot(current, bot_user_id) or not current.get("user"):
        return None
    if current.get("text") == previous.get("text"):
        return None
    ts = str(current.get("ts") or previous.get("ts") or "")
    text, mentioned = strip_mention(str(current.get("text") or ""), bot_user_id)
    # An edit only refreshes the index: re-answering a corrected question would repeat the
    # answer, and edits in DMs are never indexed, so those are dropped.
    if not ts or mentioned or kind != "channel":
        return None
    thread_ts = current.get("thread_ts")
    return MessageReceived(
        workspace=ws, conversation=conversation, sender=Person(id=str(current["user"])), text=text, ts=ts,
        event_id=extract_event_id(body), thread_ts=thread_ts if thread_ts != ts else None,
        parent_user_id=current.get("parent_user_id"), mentions=extract_mentions(text), edited=True,
        permalink=permalink_for(team_url, channel, ts, thread_ts), time=ts_to_datetime(ts), raw=body,
    )


def app_mention_event(body: Payload, *, bot_user_id: str | None = None, team_url: str | None = None) -> MessageReceived | None:
    """``app_mention``: the bot was mentioned; always addressed, its mention stripped."""
    event = body.get("event") or {}
    if is_from_bot(event, bot_user_id) or event.get("subtype") not in _PERSON_SUBTYPES:
        return None
    message = message_event(body, bot_user_id=bot_user_id, team_url=team_url)
    if message is None:
        return None
    if not message.addressed:
        # The mention may name the bot by an id we do not know yet (auth.test not answered).
        text = _MENTION.sub("", message.text, count=1).strip()
        message = replace(message, text=text, addressed=True, mentions=extract_mentions(text))
    return message


def reaction_event(body: Payload) -> ReactionAdded | None:
    event = body.get("event") or {}
    item = event.get("item") or {}
    ws = extract_workspace(body)
    if ws is None or item.get("type") != "message" or not event.get("user") or not item.get("channel"):
        return None
    channel = str(item["channel"])
    return ReactionAdded(
        workspace=ws,
        conversation=Conversation(channel, conversation_kind(channel)),
        sender=Person(id=str(event["user"])),
        reaction=str(event.get("reaction") or ""),
        item_ts=str(item.get("ts") or ""),
        item_author=event.get("item_user"),
        event_id=extract_event_id(body),
        raw=body,
    )


def member_channel_event(body: Payload) -> MemberJoined | MemberLeft | None:
    """``member_joined_channel`` / ``member_left_channel``. Their ``channel_type`` is a letter
    ("C" public, "G" private)."""
    event = body.get("event") or {}
    ws = extract_workspace(body)
    if ws is None or not event.get("user") or not event.get("channel"):
        return None
    channel = str(event["channel"])
    kind = conversation_kind(channel, event.get("channel_type"))
    cls = MemberLeft if event.get("type") == "member_left_channel" else MemberJoined
    return cls(
        workspace=ws,
        conversation=Conversation(channel, kind),
        person=Person(id=str(event["user"])),
        event_id=extract_event_id(body),
        raw=body,
    )


def _command_stated(channel_id: str, channel_name: str | None) -> ConversationKind | None:
    if not isinstance(channel_name, str):
        return stated_kind(channel_id)
    if channel_name in _COMMAND_CHANNEL_NAMES:
        return _COMMAND_CHANNEL_NAMES[channel_name]
    if channel_name.startswith("mpdm-"):
        return "group"
    return stated_kind(channel_id)


def command_kind(channel_id: str, channel_name: str | None) -> ConversationKind:
    """The kind of a slash command's or a button's conversation ("private" when unsaid)."""
    return _command_stated(channel_id, channel_name) or "private"


def slash_command(body: Payload) -> CommandInvoked | None:
    """A slash command (``/whoknows kafka``): the command without its slash, and its text.
    The trigger id serves as event id, so a redelivered command is handled once."""
    ws = extract_workspace(body)
    command = str(body.get("command") or "").strip().lstrip("/").lower()
    channel = str(body.get("channel_id") or "")
    if ws is None or not command or not body.get("user_id") or not channel:
        return None
    name = body.get("channel_name")
    kind = command_kind(channel, name)
    text = str(body.get("text") or "")
    return CommandInvoked(
        workspace=ws,
        conversation=Conversation(channel, kind, name if kind in ("channel", "private") else None),
        sender=Person(id=str(body["user_id"])),
        command=command,
        text=text.strip(),
        event_id=f"command:{body.get('trigger_id')}" if body.get("trigger_id") else "",
        mentions=extract_mentions(text),
        raw=body,
    )


def block_action(body: Payload) -> ActionInvoked | None:
    """The first action of a ``block_actions`` payload (a button press)."""
    ws = extract_workspace(body)
    actions = body.get("actions") or []
    user = body.get("user") or {}
    if ws is None or not actions or not user.get("id"):
        return None
    action = actions[0]
    container = body.get("container") or {}
    channel = str((body.get("channel") or {}).get("id") or container.get("channel_id") or "")
    if not channel:
        return None
    name = (body.get("channel") or {}).get("name")
    kind = command_kind(channel, name)
    return ActionInvoked(
        workspace=ws,
        conversation=Conversation(channel, kind, name if kind in ("channel", "private") else None),
        sender=Person(id=str(user["id"])),
        action_id=str(action.get("action_id") or ""),
        value=str(action.get("value") or (action.get("selected_option") or {}).get("value") or ""),
        event_id=f"action:{channel}:{container.get('message_ts') or ''}:{user['id']}:{action.get('action_ts') or ''}",
        ts=container.get("message_ts") or (body.get("message") or {}).get("ts"),
        raw=body,
    )


def directory_user(body: Payload, *, team_field: str = "title") -> tuple[Person, bool] | None:
    """``team_join`` / ``user_change``: the person and whether they belong in the directory
    (False for a deactivated account or a bot)."""
    user = (body.get("event") or {}).get("user")
    if not isinstance(user, Mapping) or not user.get("id"):
        return None
    return person_from_user(user, team_field=team_field), is_active_human(user)


def home_opened(body: Payload) -> HomeOpened | None:
    """``app_home_opened`` on the Home tab (opening the Messages tab is not a home visit)."""
    event = body.get("event") or {}
    ws = extract_workspace(body)
    if ws is None or not event.get("user") or event.get("tab", "home") != "home":
        return None
    return HomeOpened(workspace=ws, sender=Person(id=str(event["user"])), event_id=extract_event_id(body), raw=body)

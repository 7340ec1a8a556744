"""The neutral event model: what the core and the skills know of a chat platform.

Adapters translate platform payloads into these frozen dataclasses and render the outbound ones
back. Nothing here knows Slack or Teams; the raw payload rides along on inbound events only so
that logs can show it.

Text conventions (neutral markup, rendered by each adapter):
- ``<@USER_ID>`` mentions a person of the same workspace;
- ``<https://url|label>`` is a link with a label;
- ``*bold*`` and ``_italic_`` as in Slack's mrkdwn; adapters translate for Teams and the console.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Literal, Mapping

ConversationKind = Literal["channel", "private", "dm", "group"]


@dataclass(frozen=True, slots=True)
class Workspace:
    """One installation: a Slack team or a Teams tenant. ``key`` is stored on every row."""

    platform: str  # "slack", "teams", "console"
    id: str  # Slack team id, Teams tenant id, console workspace name

    @property
    def key(self) -> str:
        return f"{self.platform}:{self.id}"

    @classmethod
    def from_key(cls, key: str) -> "Workspace":
        platform, _, ident = key.partition(":")
        return cls(platform, ident)


@dataclass(frozen=True, slots=True)
class Person:
    """Someone in the workspace, as the platform describes them."""

    id: str  # platform user id (Slack U…, Teams 29:… / AAD object id)
    name: str = ""
    team: str | None = None  # team or department, used to favour weak ties
    tz: str | None = None  # IANA time zone, e.g. "Europe/Zurich"
    locale: str | None = None  # "en", "fr", … when the platform knows it
    email: str | None = None
    is_bot: bool = False
    is_admin: bool = False  # workspace admin or owner, as the platform says


@dataclass(frozen=True, slots=True)
class Conversation:
    """Where something was said. Only ``kind == "channel"`` (public) is ever indexed."""

    id: str
    kind: ConversationKind = "channel"
    name: str | None = None


@dataclass(frozen=True, slots=True)
class MessageReceived:
    """A message someone wrote (new, edited or deleted).

    ``addressed`` is True when the message is for the bot: a DM to it, or a mention of it (the
    adapter strips the bot's own mention from ``text``). ``mentions`` holds the user ids
    mentioned in the text, in order.
    """

    workspace: Workspace
    conversation: Conversation
    sender: Person
    text: str
    ts: str  # platform message id (Slack ts, Teams activity id)
    event_id: str = ""
    thread_ts: str | None = None  # the thread's root message id, when in a thread
    parent_user_id: str | None = None  # who started the thread, when known
    mentions: tuple[str, ...] = ()
    addressed: bool = False
    edited: bool = False
    deleted: bool = False
    permalink: str | None = None
    time: dt.datetime | None = None
    raw: Mapping[str, Any] | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class CommandInvoked:
    """A command: a Slack slash command, or the same words typed to the bot anywhere."""

    workspace: Workspace
    conversation: Conversation
    sender: Person
    command: str  # without slash, lower case: "whoknows", "thanks", "coffee", "liaison"
    text: str  # the arguments
    event_id: str = ""
    thread_ts: str | None = None
    ts: str | None = None
    mentions: tuple[str, ...] = ()
    raw: Mapping[str, Any] | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class ReactionAdded:
    workspace: Workspace
    conversation: Conversation
    sender: Person  # who reacted
    reaction: str  # emoji name without colons ("pray")
    item_ts: str  # the message reacted to
    item_author: str | None  # user id of that message's author
    event_id: str = ""
    raw: Mapping[str, Any] | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class MemberJoined:
    workspace: Workspace
    conversation: Conversation
    person: Person
    event_id: str = ""
    raw: Mapping[str, Any] | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class MemberLeft:
    workspace: Workspace
    conversation: Conversation
    person: Person
    event_id: str = ""
    raw: Mapping[str, Any] | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class ActionInvoked:
    """A button pressed (Slack block_actions, Teams Adaptive Card submit)."""

    workspace: Workspace
    conversation: Conversation
    sender: Person
    action_id: str  # e.g. "coffee.met"
    value: str
    event_id: str = ""
    ts: str | None = None  # the message carrying the button
    raw: Mapping[str, Any] | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class ScheduledTick:
    """A scheduled job fired. ``job`` names the route; ``args`` are its stored arguments."""

    workspace: Workspace
    job: str
    fire_time: dt.datetime
    args: Mapping[str, Any] = field(default_factory=dict)
    event_id: str = ""


@dataclass(frozen=True, slots=True)
class HomeOpened:
    """Someone opened the bot's home (Slack's Home tab). Skills' ``home`` routes return text
    sections about that person; the adapter renders them."""

    workspace: Workspace
    sender: Person
    event_id: str = ""
    raw: Mapping[str, Any] | None = field(default=None, compare=False, repr=False)


# ---- outbound -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Button:
    label: str
    action_id: str
    value: str = ""
    style: Literal["default", "primary", "danger"] = "default"


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file sent with a message: a chart as PNG, say. Each adapter delivers it its platform's
    way (Slack: a file upload in the conversation; Teams: an inline image; the console: a file
    on disk whose path it prints)."""

    name: str  # file name, e.g. "network-activity.png"
    data: bytes = field(repr=False)
    title: str = ""  # what the file shows, in the reader's language
    mime: str = "image/png"


@dataclass(frozen=True, slots=True)
class Reply:
    """An answer in a conversation. ``ephemeral_to`` makes it visible to one person only
    (Slack ephemeral; Teams and the console fall back to a normal reply)."""

    conversation: Conversation
    text: str
    thread_ts: str | None = None
    ephemeral_to: str | None = None
    buttons: tuple[Button, ...] = ()
    files: tuple[Attachment, ...] = ()  # an ephemeral reply's files go to the person's DM


@dataclass(frozen=True, slots=True)
class DirectMessage:
    """A private message to one person, opening the 1:1 conversation when needed.

    ``key``, when set, names this message uniquely; the platform keeps it with the message where
    it can (Slack: message metadata), so a sender that never saw the platform's answer can ask
    whether the message got through (``ports.SentLookup``) instead of sending it twice."""

    user_id: str
    text: str
    buttons: tuple[Button, ...] = ()
    key: str | None = None
    files: tuple[Attachment, ...] = ()


@dataclass(frozen=True, slots=True)
class GroupMessage:
    """A message to a group of people together (Slack: a multi-person DM; Teams: one
    proactive 1:1 message to each member, since a bot cannot open a group chat). ``key`` as
    for DirectMessage."""

    user_ids: tuple[str, ...]
    text: str
    buttons: tuple[Button, ...] = ()
    key: str | None = None


Outbound = Reply | DirectMessage | GroupMessage


@dataclass(frozen=True, slots=True)
class Sent:
    """What the platform answered for one outbound message."""

    conversation_id: str
    ts: str | None = None

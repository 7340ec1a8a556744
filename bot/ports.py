"""What the core needs from the outside world, as small Protocols.

Each platform adapter implements ChatPort (SlackChat, TeamsChat, ConsoleChat); tests use the
real adapters against fake platforms on loopback. Clock is injected so schedules and decay can
be tested on a fixed time.
"""

from __future__ import annotations

import datetime as dt
from typing import Protocol, Sequence, runtime_checkable

from bot.events import Button, Outbound, Person, Sent, Workspace


@runtime_checkable
class ChatPort(Protocol):
    """Talking to one platform. All methods may raise ChatError."""

    platform: str

    async def send(self, workspace: Workspace, message: Outbound) -> Sent:
        """Deliver one outbound message (Reply, DirectMessage or GroupMessage)."""

    async def lookup_user(self, workspace: Workspace, user_id: str) -> Person | None:
        """The platform's view of a user, or None when the platform does not know them."""

    async def list_members(self, workspace: Workspace, conversation_id: str) -> Sequence[str]:
        """User ids of the members of a conversation (channel or team)."""

    async def list_users(self, workspace: Workspace) -> Sequence[Person]:
        """The workspace directory (humans and bots; callers filter)."""

    async def permalink(self, workspace: Workspace, conversation_id: str, ts: str) -> str | None:
        """A link to one message, when the platform has one."""

    async def update(self, workspace: Workspace, sent: Sent, text: str, buttons: Sequence[Button] = ()) -> None:
        """Replace a message the bot sent (``sent``, as ``send`` answered it) with ``text`` and
        ``buttons`` (none: its buttons go), e.g. "taken" in place of an offer's buttons."""


@runtime_checkable
class SentLookup(Protocol):
    """A ChatPort that can tell whether a keyed message (``GroupMessage.key``,
    ``DirectMessage.key``) already reached its conversation. A sender that stopped mid-post
    asks before posting again; a platform without it cannot tell, so such a message is not
    posted again (at most once)."""

    async def find_sent(self, workspace: Workspace, message: Outbound) -> Sent | None:
        """The message already posted with ``message.key``, or None when it is not there.
        Raises ChatError when the platform cannot be asked."""


class ChatError(Exception):
    """A platform refused or failed a call. ``retryable`` says whether trying later may help."""

    def __init__(self, message: str, *, retryable: bool = False) -> None:
        super().__init__(message)
        self.retryable = retryable


class Clock(Protocol):
    def now(self) -> dt.datetime:
        """The current time, timezone-aware (UTC)."""


class SystemClock:
    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.timezone.utc)


class FixedClock:
    """A clock for tests and the demo: stands still until moved."""

    def __init__(self, at: dt.datetime) -> None:
        if at.tzinfo is None:
            raise ValueError("FixedClock needs a timezone-aware datetime")
        self._now = at

    def now(self) -> dt.datetime:
        return self._now

    def advance(self, delta: dt.timedelta) -> None:
        self._now += delta

    def set(self, at: dt.datetime) -> None:
        self._now = at

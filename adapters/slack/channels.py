"""What Slack says about a channel — public or private, and its name — asked with
conversations.info and kept for a while per (workspace, channel).

Some events do not say what kind of conversation they come from: ``app_mention``,
``reaction_added``, slash commands and button presses in a channel. A private channel's id may
start with C like a public one's, so the id cannot tell. Those events are decided here, from the
platform, before anything from them is stored as public evidence or queued for indexing.

Privacy fails closed: a channel is public only when conversations.info answered and said
``is_private: false`` (and it is neither a DM nor a group DM). When Slack cannot be asked (an
error, a missing scope), the channel counts as private until the next try.

What was learnt is kept ``ttl`` seconds (``slack.channel_info_minutes``), a failure a shorter
while; renames, archives, conversions and membership changes forget it at once (see
``adapters.slack.inbound``).
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Mapping

from bot.events import ConversationKind

# How long a failed lookup keeps a channel private before Slack is asked again, in seconds.
FAILURE_SECONDS = 60.0


@dataclass(frozen=True)
class ChannelInfo:
    """A channel as the bot knows it. ``known`` is False when Slack could not be asked; the
    kind is then "private", so nothing from the channel is indexed or linked."""

    kind: ConversationKind
    name: str | None = None
    known: bool = True


UNKNOWN = ChannelInfo(kind="private", name=None, known=False)


def info_from(channel: Mapping[str, Any]) -> ChannelInfo:
    """The kind and name of a conversations.info ``channel`` object. Public only when Slack
    says so in as many words: a missing ``is_private`` is not a "no"."""
    name = channel.get("name")
    name = str(name) if isinstance(name, str) and name else None
    if channel.get("is_im"):
        return ChannelInfo("dm", None)
    if channel.get("is_mpim"):
        return ChannelInfo("group", name)
    if channel.get("is_private") is False and not channel.get("is_group"):
        return ChannelInfo("channel", name)
    return ChannelInfo("private", name)


class ChannelCache:
    """ChannelInfo per (workspace, channel), fetched on first use and kept ``ttl`` seconds.

    ``fetch(channel_id)`` returns the conversations.info ``channel`` object or raises; the
    cache turns a failure into ``UNKNOWN`` (kept ``failure_ttl`` seconds) and reports it to
    ``on_failure(channel_id, exc)``. Events arriving together for one channel share one call."""

    def __init__(
        self,
        fetch: Callable[[str], Awaitable[Mapping[str, Any]]],
        *,
        ttl: float,
        failure_ttl: float = FAILURE_SECONDS,
        on_failure: Callable[[str, Exception], None] | None = None,
        now: Callable[[], float] = time.monotonic,
        size: int = 10_000,
    ) -> None:
        self._fetch = fetch
        self.ttl = ttl
        self.failure_ttl = min(failure_ttl, ttl)
        self._on_failure = on_failure
        self._now = now
        self._size = size
        self._kept: OrderedDict[tuple[str, str], tuple[float, ChannelInfo]] = OrderedDict()
        self._pending: dict[tuple[str, str], asyncio.Future[ChannelInfo]] = {}

    async def get(self, workspace: str, channel_id: str) -> ChannelInfo:
        key = (workspace, channel_id)
        kept = self._kept.get(key)
        if kept is not None and kept[0] > self._now():
            return kept[1]
        pending = self._pending.get(key)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[ChannelInfo] = asyncio.get_running_loop().create_future()
        self._pending[key] = future
        try:
            info, ttl = await self._ask(channel_id)
            if self._pending.get(key) is future:  # not forgotten while Slack was asked
                self._keep(key, info, ttl)
            future.set_result(info)
            return info
        finally:
            if not future.done():
                future.set_result(UNKNOWN)
            if self._pending.get(key) is future:
                del self._pending[key]

    async def _ask(self, channel_id: str) -> tuple[ChannelInfo, float]:
        try:
            channel = await self._fetch(channel_id)
        except Exception as exc:  # noqa: BLE001 - any failure means "not known to be public"
            if self._on_failure is not None:
                self._on_failure(channel_id, exc)
            return UNKNOWN, self.failure_ttl
        return info_from(channel), self.ttl

    def _keep(self, key: tuple[str, str], info: ChannelInfo, ttl: float) -> None:
        self._kept[key] = (self._now() + ttl, info)
        self._kept.move_to_end(key)
        while len(self._kept) > self._size:
            self._kept.popitem(last=False)

    def forget(self, workspace: str, channel_id: str) -> None:
        """The channel changed (renamed, archived, converted, members came or went): ask again
        next time. A lookup in flight for it is not kept either."""
        self._kept.pop((workspace, channel_id), None)
        self._pending.pop((workspace, channel_id), None)

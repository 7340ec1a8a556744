"""Pacing: at most ``max_rate`` messages per ``period`` seconds per conversation.

Each conversation gets its own ``aiolimiter.AsyncLimiter`` (a leaky bucket), made on first use;
a turn also holds the conversation's lock, so one conversation's messages leave one at a time
and in the order they asked (the limiter alone would let two requests overlap on the wire).
Conversations do not wait for each other.

Slack posts about one message per second per conversation: ``Pacer(1, 1.0)``. Teams throttles
beyond 7 per second per conversation: ``Pacer(1, 1 / 7)`` spaces them a seventh of a second
apart, so no one-second window ever holds more than seven (a bucket of seven would let up to
thirteen through in the first second). A period of zero turns pacing off (tests).
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from contextlib import asynccontextmanager
from typing import AsyncIterator

from aiolimiter import AsyncLimiter


class Pacer:
    """Per-key limits; keys not used for a while are forgotten beyond ``remember`` of them."""

    def __init__(self, max_rate: float, period: float, *, remember: int = 10_000) -> None:
        if max_rate < 1:
            raise ValueError("max_rate must be at least 1")
        self.max_rate = max_rate
        self.period = period
        self._remember = remember
        self._keys: OrderedDict[str, tuple[asyncio.Lock, AsyncLimiter | None]] = OrderedDict()

    @classmethod
    def per_second(cls, count: int) -> "Pacer":
        """At most ``count`` in any one-second window, evenly spaced."""
        if count < 1:
            raise ValueError("per_second must be at least 1")
        return cls(1, 1.0 / count)

    def _entry(self, key: str) -> tuple[asyncio.Lock, AsyncLimiter | None]:
        entry = self._keys.get(key)
        if entry is None:
            limiter = AsyncLimiter(self.max_rate, self.period) if self.period > 0 else None
            entry = self._keys[key] = (asyncio.Lock(), limiter)
            self._forget_idle()
        self._keys.move_to_end(key)
        return entry

    def _forget_idle(self) -> None:
        for old in list(self._keys)[: max(0, len(self._keys) - self._remember)]:
            lock, limiter = self._keys[old]
            if not lock.locked() and (limiter is None or limiter.has_capacity(limiter.max_rate)):
                del self._keys[old]  # nothing waits and its bucket is empty: nothing to remember

    @asynccontextmanager
    async def turn(self, key: str) -> AsyncIterator[None]:
        """Wait until ``key`` may send, and send inside the block: the next message for the
        same key waits until the block is left and the limiter allows it."""
        lock, limiter = self._entry(key)
        async with lock:
            if limiter is not None:
                await limiter.acquire()
            yield

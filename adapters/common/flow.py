"""How an adapter orders what comes in and paces what goes out: ``Tasks`` (in) and ``Pacer`` (out).

In: background tasks an adapter keeps, and ordered dispatch per conversation.

A platform wants its answer quickly (Slack within 3 s, Teams within 15 s), so events are handled
after it in background tasks. ``Tasks`` keeps a reference to each (asyncio only keeps weak ones),
logs a failure with its traceback instead of losing it, and ``drain`` waits for all of them: at
shutdown, and in tests before they look at what was sent.

``in_order(key, coro)`` runs coroutines of one key (a conversation) one after the other, in the
order they were handed over: an edit never overtakes its message, answers stay in order. Other
keys go on meanwhile. Each task waits for the previous task of its key, so nothing is held but a
reference to the newest task of each busy conversation.

Out: pacing, at most ``max_rate`` messages per ``period`` seconds per conversation.

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
import logging
from collections import OrderedDict
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator, Coroutine

from aiolimiter import AsyncLimiter


class Tasks:
    """The background tasks of one adapter. ``failure`` is the log line of a task that raised."""

    def __init__(self, log: logging.Logger, failure: str) -> None:
        self._log = log
        self._failure = failure
        self._tasks: set[asyncio.Task] = set()
        self._last_of: dict[str, asyncio.Task] = {}  # per key: the newest task

    def __len__(self) -> int:
        return len(self._tasks)

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task:
        """Run ``coro`` now, in a task that is kept until it is done."""
        task = asyncio.get_running_loop().create_task(self._guard(coro))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def in_order(self, key: str | None, coro: Coroutine[Any, Any, Any]) -> asyncio.Task:
        """Run ``coro`` once every task handed over earlier with the same ``key`` is done (a
        None key: at once)."""
        previous = self._last_of.get(key) if key is not None else None
        task = self.spawn(self._after(previous, coro))
        if key is not None:
            self._last_of[key] = task

            def forget(done: asyncio.Task, key: str = key) -> None:
                if self._last_of.get(key) is done:
                    del self._last_of[key]

            task.add_done_callback(forget)
        return task

    @staticmethod
    async def _after(previous: asyncio.Task | None, coro: Coroutine[Any, Any, Any]) -> Any:
        try:
            if previous is not None:
                await asyncio.wait([previous])
        except BaseException:
            coro.close()  # cancelled while waiting its turn: it never starts
            raise
        return await coro

    async def _guard(self, coro: Coroutine[Any, Any, Any]) -> Any:
        try:
            return await coro
        except Exception:  # noqa: BLE001 - one failing event must not take the others down
            self._log.exception(self._failure)
            return None

    async def drain(self) -> None:
        """Wait until every task started so far (and those they start) is done."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)


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

"""Background tasks an adapter keeps, and ordered dispatch per conversation.

A platform wants its answer quickly (Slack within 3 s, Teams within 15 s), so events are handled
after it in background tasks. ``Tasks`` keeps a reference to each (asyncio only keeps weak ones),
logs a failure with its traceback instead of losing it, and ``drain`` waits for all of them: at
shutdown, and in tests before they look at what was sent.

``in_order(key, coro)`` runs coroutines of one key (a conversation) one after the other, in the
order they were handed over: an edit never overtakes its message, answers stay in order. Other
keys go on meanwhile. Each task waits for the previous task of its key, so nothing is held but a
reference to the newest task of each busy conversation.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Coroutine


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

"""A job an adapter runs every so many hours, in the background: the directory sync on Slack
(users.list), the roster sync on Teams (every team's members).

A failure is one log line and the loop goes on: the next run tries again. A period of zero (or
less) turns the loop off.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Awaitable, Callable


class Periodic:
    """``job`` every ``hours`` hours, from ``start`` until ``stop``; ``immediately``: the first
    run comes at once rather than after the first period."""

    def __init__(self, name: str, job: Callable[[], Awaitable[Any]], *, hours: float, log: logging.Logger,
                 failure: str, immediately: bool = True) -> None:
        self.name = name
        self._job = job
        self._seconds = hours * 3600
        self._log = log
        self._failure = failure  # "%s" is the exception, "%.0f" the hours
        self._immediately = immediately
        self._task: asyncio.Task | None = None

    @property
    def running(self) -> bool:
        return self._task is not None

    def start(self) -> None:
        if self._seconds > 0 and self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._loop(), name=self.name)

    async def _loop(self) -> None:
        if not self._immediately:
            await asyncio.sleep(self._seconds)
        while True:
            try:
                await self._job()
            except Exception as exc:  # noqa: BLE001 - e.g. the database is away: try at the next run
                self._log.warning(self._failure, exc, self._seconds / 3600)
            await asyncio.sleep(self._seconds)

    def cancel(self) -> None:
        """Stop the loop without waiting for it (from a handler, say)."""
        if self._task is not None:
            self._task.cancel()
            self._task = None

    async def stop(self) -> None:
        """Stop the loop and wait until it has stopped."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            try:
                await task
            except (asyncio.CancelledError, Exception):  # noqa: BLE001 - it is being stopped
                pass

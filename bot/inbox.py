"""The inbox: events acknowledged to their platform, kept until they are handled.

A platform stops delivering an event once it got its 200 (Slack never delivers it again). So an
adapter writes the event here first and acknowledges it only once the row is committed; the
dispatcher deletes the row in the same transaction that records the event in ``events_seen``
(and queues a channel message for indexing). A process killed in between leaves the row, and
the next one hands it to the dispatcher again (``due``); a running process does the same with a
row older than the adapter's replay delay (its process died, or the database failed while it
was handled). ``events_seen`` makes a second handling stop at once when the first got as far as
recording, so each event is recorded and routed once; an answer whose event was recorded just
before a crash is not sent again.

Rows are written by a thread of their own, the rows of every request waiting at that moment in
one transaction (a group commit): requests that arrive while a transaction commits go into the
next one, so an acknowledgement waits about one commit whatever the load, and never for the
pool threads that handlers and their database work use.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Collection

from sqlalchemy import func, insert, select

from bot.db import Database
from bot.db.models import InboxItem
from bot.events import (
    ActionInvoked,
    CommandInvoked,
    Conversation,
    HomeOpened,
    MemberJoined,
    MemberLeft,
    MessageReceived,
    Person,
    ReactionAdded,
    Workspace,
)

log = logging.getLogger("liaison.inbox")

# An event handed out again this many times without being handled is dropped, with an error line.
MAX_ATTEMPTS = 5
# Rows written in one transaction at most.
BATCH_MAX = 500

EVENT_TYPES: dict[str, type] = {cls.__name__: cls for cls in (
    MessageReceived, CommandInvoked, ReactionAdded, MemberJoined, MemberLeft, ActionInvoked, HomeOpened)}
_NESTED: dict[str, type] = {"workspace": Workspace, "conversation": Conversation, "sender": Person, "person": Person}


class InboxUnavailable(RuntimeError):
    """The event could not be written; it must not be acknowledged."""


def encode(event: Any) -> dict[str, Any]:
    """A neutral event as JSON-ready data (its raw payload left out)."""
    data: dict[str, Any] = {"type": type(event).__name__}
    for f in dataclasses.fields(event):
        if f.name == "raw":
            continue
        value = getattr(event, f.name)
        if f.name in _NESTED and value is not None:
            value = {g.name: getattr(value, g.name) for g in dataclasses.fields(value)}
        elif isinstance(value, dt.datetime):
            value = value.isoformat()
        elif isinstance(value, tuple):
            value = list(value)
        data[f.name] = value
    return data


def decode(data: dict[str, Any]) -> Any:
    """The event ``encode`` wrote. Raises ValueError for data it cannot read."""
    try:
        cls = EVENT_TYPES[data["type"]]
        kwargs: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            if f.name not in data:
                continue
            value = data[f.name]
            if f.name in _NESTED and value is not None:
                value = _NESTED[f.name](**value)
            elif f.name == "time" and value is not None:
                value = dt.datetime.fromisoformat(value)
            elif f.name == "mentions":
                value = tuple(value)
            kwargs[f.name] = value
        return cls(**kwargs)
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"not an inbox event ({type(exc).__name__}: {exc})") from None


def _user_of(event: Any) -> str | None:
    who = getattr(event, "sender", None) or getattr(event, "person", None)
    return who.id[:64] if who is not None else None


@dataclass(frozen=True)
class Pending:
    """A row handed out again: its id (for the dispatcher to delete), the event, the meta."""

    id: int
    event: Any
    meta: dict[str, Any] | None


class Inbox:
    def __init__(self, db: Database, *, batch_max: int = BATCH_MAX) -> None:
        self.db = db
        self.batch_max = batch_max
        self._waiting: list[tuple[dict[str, Any], asyncio.Future]] = []
        self._writing = False
        self._writer: asyncio.Task | None = None
        self._executor: ThreadPoolExecutor | None = None

    async def put(self, event: Any, meta: dict[str, Any] | None = None) -> int:
        """Write ``event`` and return its row id once committed. Raises InboxUnavailable."""
        loop = asyncio.get_running_loop()
        row = {"workspace": event.workspace.key, "user_id": _user_of(event), "event": encode(event), "meta": meta}
        done: asyncio.Future = loop.create_future()
        self._waiting.append((row, done))
        if not self._writing:
            self._writing = True
            self._writer = loop.create_task(self._write_waiting(), name="inbox-writer")
        # Shielded: a request given up by its client still gets its row (handled later, once).
        return await asyncio.shield(done)

    async def _write_waiting(self) -> None:
        loop = asyncio.get_running_loop()
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="inbox")
        try:
            while self._waiting:
                batch, self._waiting = self._waiting[: self.batch_max], self._waiting[self.batch_max :]
                try:
                    ids = await loop.run_in_executor(self._executor, self._insert, [row for row, _ in batch])
                except Exception as exc:  # noqa: BLE001 - every waiting request is told
                    error = InboxUnavailable(f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
                    for _, done in batch:
                        if not done.done():
                            done.set_exception(error)
                    continue
                for (_, done), row_id in zip(batch, ids):
                    if not done.done():
                        done.set_result(row_id)
        finally:
            self._writing = False

    def _insert(self, rows: list[dict[str, Any]]) -> list[int]:
        """One transaction, one statement (Core: a third of the ORM's time); the ids in order."""
        now = dt.datetime.now(dt.timezone.utc)  # the wall clock, which the adapters' replay compares with
        stmt = insert(InboxItem).returning(InboxItem.id, sort_by_parameter_order=True)
        with self.db.engine.begin() as conn:
            return [row[0] for row in conn.execute(stmt, [{**row, "received_at": now, "attempts": 0} for row in rows])]

    def due(self, prefix: str, *, before: dt.datetime, exclude: Collection[int] = (), limit: int = 500) -> list[Pending]:
        """Rows of workspaces ``prefix…`` received before ``before`` and not in ``exclude`` (being
        handled in this process), oldest first, each counted as one more attempt. Rows past
        MAX_ATTEMPTS or unreadable are dropped with an error line."""
        out: list[Pending] = []
        with self.db.session(None) as s:
            ids = s.scalars(
                select(InboxItem.id)
                .where(InboxItem.workspace.like(prefix + "%"), InboxItem.received_at < before)
                .order_by(InboxItem.id)
                .limit(limit + min(len(exclude), 20000))
            ).all()
            chosen = [i for i in ids if i not in exclude][:limit]
            if not chosen:
                return out
            for row in s.scalars(select(InboxItem).where(InboxItem.id.in_(chosen)).order_by(InboxItem.id)):
                row.attempts += 1
                try:
                    event = decode(row.event)
                except ValueError as exc:
                    log.error("inbox: dropped event %d of %s, which cannot be read (%s)", row.id, row.workspace, exc)
                    s.delete(row)
                    continue
                if row.attempts > MAX_ATTEMPTS:
                    log.error("inbox: dropped a %s of %s after %d attempts to handle it; the log lines before say why",
                              type(event).__name__, row.workspace, MAX_ATTEMPTS)
                    s.delete(row)
                    continue
                out.append(Pending(row.id, event, row.meta))
        return out

    def count(self, prefix: str) -> int:
        with self.db.session(None) as s:
            return s.scalar(select(func.count()).select_from(InboxItem).where(InboxItem.workspace.like(prefix + "%"))) or 0

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=False)
            self._executor = None

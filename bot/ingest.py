"""The ingestion worker: takes queued public-channel messages and hands them, per workspace and
in batches, to the skills' ingest handlers (the expertise index), off the request path.

A batch is handled in one transaction that also deletes its queue rows, so a crash mid-batch
loses nothing (the rows are still there) and a batch is never applied twice. One transaction at
a time applies a workspace's messages: it holds the workspace's lock (``hold_workspace``: a
transaction-level advisory lock on PostgreSQL, the database's write lock on SQLite) from before
it reads the batch until it commits. The batch is read under that lock, so a message another
worker applied meanwhile, or a version it replaced, is never applied again; and erasing a
person ("forget me", "stop indexing me") takes the same lock, so it either waits for a batch in
flight and then erases what it wrote, or comes first and the batch finds the person's rows gone
and their tombstone in place.
"""

from __future__ import annotations

import asyncio
import logging
import time
import zlib
from dataclasses import dataclass, replace
from itertools import groupby
from typing import Any, Sequence

from sqlalchemy import Integer, any_, bindparam, delete, func, select, text, tuple_, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from bot.db import Database
from bot.db.bulk import PlannerStatistics, chunks
from bot.db.models import IngestItem, PersonRow
from bot.events import Workspace

log = logging.getLogger("liaison.ingest")

# The first key of the two-key PostgreSQL advisory locks that let one worker at a time apply a
# workspace's messages ("LI"); the second is a hash of the workspace. (Two-key and one-key
# advisory locks never conflict, so this cannot meet the scheduler's or the migrations' locks.)
_PG_WORKSPACE_LOCK = 0x4C49


def _workspace_lock_key(ws: str) -> int:
    """A workspace's key as a signed 32-bit integer."""
    key = zlib.crc32(ws.encode("utf-8"))
    return key - (1 << 32) if key >= (1 << 31) else key


def hold_workspace(session: Session, *, wait: bool = True) -> bool:
    """Take the lock under which the session's workspace's queued messages are applied, until
    the session's transaction ends. False when ``wait`` is off and another transaction holds it.

    On PostgreSQL it is a transaction-level advisory lock per workspace. SQLite has one writer at
    a time: a write statement (this one changes nothing) takes the database's write lock now,
    waiting up to the busy timeout, instead of at the transaction's first real write, so what
    the transaction reads from here on is what it writes against."""
    ws = session.info.get("workspace")
    if ws is None:
        raise ValueError("hold_workspace needs a session scoped to one workspace")
    conn = session.connection()
    if conn.dialect.name == "postgresql":
        fn = "pg_advisory_xact_lock" if wait else "pg_try_advisory_xact_lock"
        got = conn.execute(text(f"SELECT {fn}(:a, :b)"), {"a": _PG_WORKSPACE_LOCK, "b": _workspace_lock_key(ws)}).scalar()
        return wait or bool(got)
    conn.execute(text(f"UPDATE {IngestItem.__tablename__} SET attempts = attempts WHERE 1 = 0"))
    return True


@dataclass(frozen=True)
class QueuedMessage:
    """One message as the ingest handlers see it (a detached copy of its queue row)."""

    id: int
    workspace: str
    op: str  # "upsert" or "delete"
    conversation_id: str
    conversation_name: str | None
    ts: str
    thread_ts: str | None
    parent_user_id: str | None
    user_id: str
    text: str
    mentions: tuple[str, ...]
    permalink: str | None
    message_time: Any

    @classmethod
    def of(cls, row: Any) -> "QueuedMessage":
        """From a queue row (an IngestItem or a row of its table)."""
        return cls(
            row.id, row.workspace, row.op, row.conversation_id, row.conversation_name, row.ts, row.thread_ts,
            row.parent_user_id, row.user_id, row.text or "", tuple(row.mentions or ()), row.permalink, row.message_time,
        )


def screen(session: Session, items: Sequence[QueuedMessage]) -> list[QueuedMessage]:
    """What of a batch the skills may see, read under the workspace's lock: nothing written by
    someone who opted out or was erased since the message was queued, and no link to an erased
    person (another person's reply in their thread loses its thread's author; a mention of them
    is dropped)."""
    from bot.privacy import forgotten

    authors = {m.user_id for m in items}
    named = {u for m in items for u in (m.parent_user_id, *m.mentions) if u}
    gone = forgotten(session, authors | named, indexing=True)
    opted_out: set[str] = set()
    for chunk in chunks(sorted(authors - gone), 500):
        opted_out.update(session.scalars(select(PersonRow.user_id).where(
            PersonRow.user_id.in_(chunk), PersonRow.indexing_opt_out.is_(True))))
    out = []
    for m in items:
        if m.user_id in gone or m.user_id in opted_out:
            continue
        if m.parent_user_id in gone or gone.intersection(m.mentions):
            m = replace(m, parent_user_id=None if m.parent_user_id in gone else m.parent_user_id,
                        mentions=tuple(u for u in m.mentions if u not in gone))
        out.append(m)
    if len(out) < len(items):
        log.info("%d queued messages of people who opted out or were erased were dropped unread",
                 len(items) - len(out))
    return out


class IngestWorker:
    """Drains the ingestion queue into the skills' indexes, a batch at a time. On PostgreSQL it
    refreshes the planner statistics as the index grows (``PlannerStatistics``: after
    ``analyze_after`` messages, then at four times as many)."""

    def __init__(self, app: Any, *, analyze_after: int = 5000) -> None:
        self.app = app
        self.db: Database = app.db
        self.settings = app.settings.ingest
        self.processed = 0
        self.failed = 0
        self.last_batch_at: float | None = None
        self.statistics = PlannerStatistics(self.db, "indexing", first=analyze_after)

    @property
    def handlers(self) -> list:
        return self.app.router.of_kind("ingest")

    def pending(self) -> int:
        with self.db.session(None) as s:
            return s.scalar(
                select(func.count()).select_from(IngestItem).where(IngestItem.attempts < self.settings.max_attempts)
            ) or 0

    def run_once(self, limit: int | None = None) -> int:
        """Process one batch (synchronously; call it in a thread). Returns messages done."""
        limit = limit or self.settings.batch_size
        with self.db.session(None) as s:
            # Which rows, not what they hold: each workspace's rows are read in full once, under
            # its lock (see _apply).
            Q = IngestItem.__table__
            q = (select(Q.c.id, Q.c.workspace).where(Q.c.attempts < self.settings.max_attempts)
                 .order_by(Q.c.workspace, Q.c.id).limit(limit))
            if self.db.dialect == "postgresql":
                q = q.with_for_update(skip_locked=True)
            rows = s.connection().execute(q).all()
            if not rows:
                return 0
        done = 0
        for ws, group in groupby(rows, key=lambda r: r.workspace):
            done += self._apply(ws, [r.id for r in group])
        self.last_batch_at = time.time()
        self.statistics.wrote(done)
        return done

    def _apply(self, ws: str, ids: list[int]) -> int:
        try:
            with self.db.session(ws) as s:
                Q = IngestItem.__table__
                if not self._hold(s, ws):
                    return 0
                # The batch as it is queued now: another worker may have applied some of it, or a
                # newer version may have replaced a message, since it was read.
                pg = self.db.dialect == "postgresql"
                # On PostgreSQL the ids go as one array parameter: a thousand separate ones make a
                # statement the driver takes longer to prepare than the server to run.
                by_id = Q.c.id == any_(bindparam("ids", ids, type_=ARRAY(Integer))) if pg else Q.c.id.in_(ids)
                current = {r.id: r for r in s.connection().execute(select(Q).where(by_id))}
                items = [QueuedMessage.of(current[i]) for i in ids if i in current]
                if not items:
                    return 0
                wanted = screen(s, items)
                if wanted:
                    self._handle(s, ws, wanted)
                # The messages screened out leave the queue with the others, unread.
                self._dequeue(s, ws, items)
            self.processed += len(items)
            return len(items)
        except Exception as exc:  # noqa: BLE001 - the batch stays queued and is retried
            self.failed += len(ids)
            log.exception("ingestion of %d messages in %s failed; they stay queued and will be retried "
                          "(up to %d attempts)", len(ids), ws, self.settings.max_attempts)
            with self.db.session(ws) as s:
                s.execute(
                    update(IngestItem)
                    .where(IngestItem.id.in_(ids))
                    .values(attempts=IngestItem.attempts + 1, last_error=f"{type(exc).__name__}: {exc}"[:2000])
                )
            if len(ids) > 1:
                # Retry one by one, so one bad message does not hold back the others.
                return sum(self._apply(ws, [i]) for i in ids if self._still_queued(ws, i))
            return 0

    def _handle(self, s: Session, ws: str, items: list[QueuedMessage]) -> None:
        from bot.context import SkillContext

        ctx = SkillContext(
            workspace=Workspace.from_key(ws), event=None, db=s, settings=self.app.settings,
            clock=self.app.clock, chat=None, router=self.app.router, services=self.app.services,
            log=log,
        )
        for route in self.handlers:
            route.handler(items, ctx)

    def _dequeue(self, s: Session, ws: str, items: list[QueuedMessage]) -> None:
        """Delete the queue rows of a batch, only those not changed since they were read: an
        edit that arrived meanwhile (same id, new text or op) stays queued and is applied by the
        next batch. The rows are found by their ids (the primary key), not by a scan."""
        Q = IngestItem.__table__
        if self.db.dialect == "postgresql":
            # One statement, with the versions just applied as three arrays.
            s.connection().exec_driver_sql(
                f"DELETE FROM {Q.name} AS q USING unnest(%(ids)s::int8[], %(ops)s::text[], %(texts)s::text[]) "
                "AS v(id, op, text) WHERE q.workspace = %(ws)s AND q.id = v.id AND q.op = v.op "
                "AND coalesce(q.text, '') = v.text",
                {"ws": ws, "ids": [m.id for m in items], "ops": [m.op for m in items], "texts": [m.text for m in items]})
            return
        # One statement per 500 rows: (id, op, text) IN (the versions just applied).
        for chunk in range(0, len(items), 500):
            versions = [(m.id, m.op, m.text) for m in items[chunk : chunk + 500]]
            s.connection().execute(delete(Q).where(
                Q.c.id.in_([v[0] for v in versions]),
                tuple_(Q.c.id, Q.c.op, func.coalesce(Q.c.text, "")).in_(versions)))

    def _hold(self, s: Session, ws: str) -> bool:
        """The workspace's lock for this batch, or False (the batch stays queued) when another
        worker holds it or the database stays busy past its timeout."""
        try:
            if hold_workspace(s, wait=False):
                return True
            log.debug("another worker is applying messages of %s; they stay queued for it", ws)
        except OperationalError as exc:
            if self.db.dialect != "sqlite":
                raise
            log.warning("the database stayed busy while the worker waited to apply messages of %s (%s); "
                        "they stay queued and the next poll tries again", ws, str(exc).splitlines()[0])
        return False

    def _still_queued(self, ws: str, item_id: int) -> bool:
        with self.db.session(ws) as s:
            row = s.get(IngestItem, item_id)
            return row is not None and row.attempts < self.settings.max_attempts

    def drain(self, *, progress=None) -> int:  # noqa: ANN001
        """Process until the queue is empty (imports, the demo, tests)."""
        total = 0
        while True:
            n = self.run_once()
            if n == 0 and self.pending() == 0:
                return total
            if n == 0:
                return total  # only failing rows left
            total += n
            if progress is not None:
                progress(total)

    def prune_events_seen(self) -> int:
        """Forget event ids older than database.events_seen_days (retries come within minutes)."""
        import datetime as dt

        from bot.db.models import EventSeen

        cutoff = self.app.clock.now() - dt.timedelta(days=self.app.settings.database.events_seen_days)
        with self.db.session(None) as s:
            return s.execute(delete(EventSeen).where(EventSeen.seen_at < cutoff)).rowcount or 0

    async def run_forever(self, stop: asyncio.Event) -> None:
        last_prune = 0.0
        log.info("ingestion worker started (batch %d, poll every %.1fs)", self.settings.batch_size, self.settings.poll_seconds)
        while not stop.is_set():
            try:
                if time.monotonic() - last_prune > 3600:
                    last_prune = time.monotonic()
                    pruned = await asyncio.to_thread(self.prune_events_seen)
                    if pruned:
                        log.info("forgot %d event ids older than %d days", pruned, self.app.settings.database.events_seen_days)
                n = await asyncio.to_thread(self.run_once)
            except Exception:  # noqa: BLE001 - e.g. the database went away; keep the worker alive
                log.exception("ingestion worker could not read the queue; retrying in %.0fs", 5 * self.settings.poll_seconds)
                n = 0
                await asyncio.sleep(4 * self.settings.poll_seconds)
            if n == 0:
                try:
                    await asyncio.wait_for(stop.wait(), timeout=self.settings.poll_seconds)
                except asyncio.TimeoutError:
                    pass

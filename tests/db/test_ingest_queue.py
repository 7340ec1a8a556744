"""The durable ingestion queue: batches per workspace, nothing lost on failure, text not kept."""

from __future__ import annotations

import io
import threading

from sqlalchemy import func, select

from adapters.console.chat import ConsoleChat
from bot.db.models import IngestItem
from bot.dispatch import Dispatcher
from bot.ingest import IngestWorker
from bot.router import Router, Routes
from tests.conftest import WS, message, person

ALICE = person("U1", "Alice Martin")


class Recorder:
    def __init__(self) -> None:
        self.batches: list[list] = []
        self.fail_on: str | None = None

    def routes(self) -> Routes:
        r = Routes("recorder")

        @r.ingest()
        def ingest(batch, ctx):  # noqa: ANN001
            for m in batch:
                if self.fail_on and self.fail_on in m.text:
                    raise ValueError(f"cannot analyse {m.ts}")
            self.batches.append([(m.workspace, m.op, m.text) for m in batch])

        return r


def build(make_app, database_url, recorder, max_attempts=2):  # noqa: ANN001, ANN201
    chat = ConsoleChat(people={"U1": ALICE}, channels={}, out=io.StringIO())
    app = make_app(database_url=database_url, chats={"console": chat}, ingest={"batch_size": 2, "max_attempts": max_attempts})
    router = Router()
    router.include(recorder.routes())
    app.router = router  # the worker reads the app's router
    app.dispatcher = Dispatcher(router=router, db=app.db, chats={"console": chat}, clock=app.clock, settings=app.settings)
    return app


def queued(app) -> list[str]:  # noqa: ANN001
    with app.db.session(None) as s:
        return s.scalars(select(IngestItem.text).order_by(IngestItem.id)).all()


async def test_batches_are_applied_once_and_the_text_is_dropped(make_app, database_url) -> None:  # noqa: ANN001
    rec = Recorder()
    app = build(make_app, database_url, rec)
    for text in ("one", "two", "three"):
        await app.dispatcher.handle(message(ALICE, text))
    worker = IngestWorker(app)
    assert worker.drain() == 3
    assert [len(b) for b in rec.batches] == [2, 1]
    assert queued(app) == [] and worker.pending() == 0
    assert worker.run_once() == 0 and len(rec.batches) == 2


async def test_a_failing_message_stays_queued_and_does_not_block_the_others(make_app, database_url, caplog) -> None:  # noqa: ANN001
    rec = Recorder()
    rec.fail_on = "poison"
    app = build(make_app, database_url, rec)
    for text in ("good one", "poison pill"):
        await app.dispatcher.handle(message(ALICE, text))
    worker = IngestWorker(app)
    worker.drain()
    assert [t for b in rec.batches for (_, _, t) in b] == ["good one"]
    with app.db.session(None) as s:
        row = s.scalars(select(IngestItem)).one()
    assert row.text == "poison pill" and row.attempts == 2 and "cannot analyse" in row.last_error
    assert "stay queued" in caplog.text
    assert worker.pending() == 0  # set aside after max_attempts, still visible for an operator


async def test_a_crash_mid_batch_loses_nothing(make_app, database_url) -> None:  # noqa: ANN001
    rec = Recorder()
    rec.fail_on = "two"
    app = build(make_app, database_url, rec, max_attempts=5)
    for text in ("one", "two"):
        await app.dispatcher.handle(message(ALICE, text))
    IngestWorker(app).run_once(limit=2)  # the batch fails, then is retried one by one
    rec.fail_on = None  # the cause is fixed; the next worker run picks the rest up
    IngestWorker(app).drain()
    applied = [t for b in rec.batches for (_, _, t) in b]
    assert sorted(applied) == ["one", "two"] and queued(app) == []


async def test_batches_never_mix_workspaces(make_app, database_url) -> None:  # noqa: ANN001
    from bot.events import Workspace

    rec = Recorder()
    app = build(make_app, database_url, rec)
    other = Workspace("console", "globex")
    await app.dispatcher.handle(message(ALICE, "acme text"))
    await app.dispatcher.handle(message(ALICE, "globex text", ws=other))
    assert IngestWorker(app).drain() == 2
    # batch_size is 2, so only the workspace boundary can have split them: one batch each.
    assert sorted(rec.batches) == [[(WS.key, "upsert", "acme text")], [(other.key, "upsert", "globex text")]]


async def test_an_edit_that_arrives_while_its_batch_runs_stays_queued(make_app, database_url) -> None:  # noqa: ANN001
    import dataclasses

    rec = Recorder()
    app = build(make_app, database_url, rec)
    first = message(ALICE, "Kafka partitions", ts="1762070400.000100")
    other = message(ALICE, "Redis cluster")
    await app.dispatcher.handle(first)
    await app.dispatcher.handle(other)
    edit = dataclasses.replace(first, text="Kafka partitions and consumer groups", edited=True, event_id="EvEdit")
    edited_during: list[bool] = []
    request = threading.Thread(target=lambda: edited_during.append(app.dispatcher.backfill(edit)))

    def ingest_and_edit(batch, ctx):  # noqa: ANN001
        rec.batches.append([(m.workspace, m.op, m.text) for m in batch])
        if not request.is_alive() and not edited_during:
            # The request path records the edit while this batch is being applied: on PostgreSQL
            # it commits now; on SQLite (one writer at a time) it waits for the batch to commit.
            request.start()
            if app.db.dialect == "postgresql":
                request.join()

    r = Routes("editor")
    r.ingest()(ingest_and_edit)
    router = Router()
    router.include(r)
    app.router = router
    worker = IngestWorker(app)
    assert worker.run_once() == 2
    request.join()
    assert edited_during == [True]
    # The batch's other message is gone; the edited one waits for the next batch.
    assert queued(app) == ["Kafka partitions and consumer groups"]
    assert worker.drain() == 1
    assert rec.batches[-1] == [(WS.key, "upsert", "Kafka partitions and consumer groups")]
    assert queued(app) == []


async def test_a_processed_batch_leaves_no_text_behind_even_for_deletions(make_app, database_url) -> None:  # noqa: ANN001
    import dataclasses

    rec = Recorder()
    app = build(make_app, database_url, rec)
    first = message(ALICE, "Kafka partitions")
    await app.dispatcher.handle(first)
    await app.dispatcher.handle(dataclasses.replace(first, text="", deleted=True, event_id="EvDel"))
    worker = IngestWorker(app)
    assert worker.drain() == 1
    assert rec.batches == [[(WS.key, "delete", "")]]
    assert queued(app) == [] and worker.pending() == 0


async def test_a_batch_read_before_another_worker_applied_it_is_not_applied_again(make_app, database_url) -> None:  # noqa: ANN001
    import dataclasses

    rec = Recorder()
    app = build(make_app, database_url, rec)
    first = message(ALICE, "Kafka partitions", ts="1762070400.000300")
    await app.dispatcher.handle(first)
    # Worker B reads the batch (which rows: their ids)...
    with app.db.session(None) as s:
        stale = [r.id for r in s.connection().execute(select(IngestItem.__table__.c.id))]
    assert len(stale) == 1
    # ...the message is edited, and worker A applies the new version first.
    assert app.dispatcher.backfill(dataclasses.replace(first, text="Kafka partitions and consumer groups", edited=True, event_id="EvEdit3"))
    assert IngestWorker(app).drain() == 1
    # B's batch is read again under its lock: nothing of it is queued any more, nothing is applied.
    assert IngestWorker(app)._apply(WS.key, stale) == 0
    assert [t for b in rec.batches for (_, _, t) in b] == ["Kafka partitions and consumer groups"]
    assert queued(app) == []


async def test_one_worker_at_a_time_applies_a_workspace_on_postgresql(make_app, pg_url) -> None:  # noqa: ANN001
    from sqlalchemy import create_engine, text

    from bot.ingest import _PG_WORKSPACE_LOCK, _workspace_lock_key

    rec = Recorder()
    app = build(make_app, pg_url, rec)
    for t in ("one", "two"):
        await app.dispatcher.handle(message(ALICE, t))
    other_worker = create_engine(pg_url)
    try:
        with other_worker.connect() as conn:
            # Another worker is applying this workspace's messages (it holds the lock in its transaction).
            conn.execute(text("SELECT pg_advisory_xact_lock(:a, :b)"), {"a": _PG_WORKSPACE_LOCK, "b": _workspace_lock_key(WS.key)})
            assert IngestWorker(app).run_once() == 0
            assert queued(app) == ["one", "two"] and rec.batches == []
            conn.rollback()  # its transaction ends, and the lock with it
        assert IngestWorker(app).drain() == 2
        assert sorted(t for b in rec.batches for (_, _, t) in b) == ["one", "two"] and queued(app) == []
    finally:
        other_worker.dispose()

"""A database that is locked or gone: a clear reply and log line, and nothing already stored is lost."""

from __future__ import annotations

import io
import sqlite3

from sqlalchemy import func, select

from adapters.console.chat import ConsoleChat
from bot.db import Database
from bot.db.models import IngestItem
from bot.dispatch import Dispatcher
from tests.conftest import WS, dm, message, person

ALICE = person("U1", "Alice Martin", locale="en")


async def test_a_locked_sqlite_database(make_app, tmp_path, caplog) -> None:  # noqa: ANN001
    path = tmp_path / "locked.db"
    out = io.StringIO()
    chat = ConsoleChat(people={"U1": ALICE}, channels={}, out=out)
    app = make_app(database_url=f"sqlite:///{path}", chats={"console": chat}, database={"sqlite_busy_timeout_ms": 100})
    first = message(ALICE, "Kafka retention is seven days")
    assert (await app.dispatcher.handle(first)).queued

    blocker = sqlite3.connect(path, timeout=0.1)
    blocker.execute("BEGIN IMMEDIATE")  # another writer holds the lock
    try:
        second = message(ALICE, "Terraform state moved to S3")
        outcome = await app.dispatcher.handle(second)
        assert outcome.status == "db_error" and "locked" in outcome.error
        assert "database" in caplog.text and "DATABASE_URL" in caplog.text
    finally:
        blocker.rollback()
        blocker.close()

    # Nothing stored before was lost, and the platform's retry of the failed event now works.
    assert (await app.dispatcher.handle(second)).queued
    with app.db.session(WS.key) as s:
        texts = sorted(s.scalars(select(IngestItem.text)).all())
    assert texts == ["Kafka retention is seven days", "Terraform state moved to S3"]


async def test_a_database_that_is_gone(make_app, pg_url) -> None:  # noqa: ANN001
    out = io.StringIO()
    chat = ConsoleChat(people={"U1": ALICE}, channels={}, out=out)
    app = make_app(database_url=pg_url, chats={"console": chat})
    assert (await app.dispatcher.handle(message(ALICE, "Kafka retention is seven days"))).queued

    gone = Database("postgresql://postgres@127.0.0.1:1/nowhere")  # nothing listens there
    d = Dispatcher(router=app.router, db=gone, chats={"console": chat}, clock=app.clock, settings=app.settings)
    outcome = await d.handle(dm(ALICE, "help"))
    assert outcome.status == "db_error"
    assert "can't reach my database" in out.getvalue()
    assert gone.ping() is not None
    gone.dispose()

    with app.db.session(WS.key) as s:
        assert s.scalar(select(func.count()).select_from(IngestItem)) == 1

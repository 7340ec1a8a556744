"""On PostgreSQL the worker has the server refresh its planner statistics as the index grows
(``IngestWorker(analyze_after=…)``): without them a table grown from empty may be read by the
wrong index, message by message. On SQLite nothing is run."""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy import text

from bot.ingest import IngestWorker
from tests.conftest import message, person


def last_analyze(app) -> object:  # noqa: ANN001
    with app.db.session(None) as s:
        return s.execute(text("SELECT last_analyze FROM pg_stat_user_tables WHERE relname = 'expertise_messages'")).scalar()


def test_the_worker_analyzes_once_it_has_indexed_enough_then_at_four_times_as_many(make_app, database_url: str,
                                                                                     caplog) -> None:  # noqa: ANN001
    app = make_app(database_url=database_url)
    pg = app.db.dialect == "postgresql"
    alice, bob = person("UALICE", "Alice"), person("UBOB", "Bob")
    for i in range(6):
        root = message(alice, f"How do we size Kafka partitions for topic {i}?")
        for event in (root, message(bob, "Start from the consumer count, then measure the lag", thread_ts=root.ts)):
            assert asyncio.run(app.dispatcher.handle(event)).queued
    if pg:
        assert last_analyze(app) is None
    worker = IngestWorker(app, analyze_after=4)
    with caplog.at_level(logging.INFO, logger="liaison.db"):
        assert worker.drain() == 12
    said = [r.getMessage() for r in caplog.records if "planner statistics" in r.getMessage()]
    if not pg:
        assert said == []
        return
    assert last_analyze(app) is not None
    # 12 indexed in batches: analyzed once past 4, and the next time is four times further.
    assert len(said) == 1 and said[0].startswith("refreshed PostgreSQL's planner statistics after indexing 12 messages")
    assert said[0].endswith("next after 48")

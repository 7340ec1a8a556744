"""Migrations and workspace isolation, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect, select

from bot.db import Base, CrossWorkspaceError, Database, WorkspaceScoped
from bot.db.migrate import pending, upgrade
from bot.db.models import PersonRow
import bot.db.schema  # noqa: F401 - every model


def test_migrations_create_every_table_and_run_once(database_url) -> None:  # noqa: ANN001
    db = Database(database_url)
    try:
        assert pending(db)
        assert upgrade(db) is True
        assert not pending(db) and upgrade(db) is False
        tables = set(inspect(db.engine).get_table_names())
        assert set(Base.metadata.tables) <= tables
    finally:
        db.dispose()


def test_every_table_carries_its_workspace() -> None:
    global_tables = {"installations", "apscheduler_jobs"}
    for mapper in Base.registry.mappers:
        table = mapper.class_.__tablename__
        if table in global_tables or table.startswith("scheduler_"):
            continue
        assert issubclass(mapper.class_, WorkspaceScoped), f"{table} has no workspace column"


def test_every_column_naming_a_person_is_declared_for_erasure() -> None:
    for mapper in Base.registry.mappers:
        cls = mapper.class_
        declared = set(getattr(cls, "__person_columns__", ()))
        for col in mapper.columns:
            if col.name == "user_id" or col.name.endswith("_user_id") or col.name in ("giver_id", "receiver_id"):
                assert col.name in declared, f"{cls.__tablename__}.{col.name} is not in __person_columns__"


def test_sessions_see_only_their_workspace(database_url) -> None:  # noqa: ANN001
    db = Database(database_url)
    upgrade(db)
    try:
        with db.session("slack:T1") as s:
            s.add(PersonRow(user_id="U1", name="Alice (T1)"))
        with db.session("slack:T2") as s:
            s.add(PersonRow(user_id="U1", name="Alice (T2)"))
        with db.session("slack:T1") as s:
            assert s.scalars(select(PersonRow.name)).all() == ["Alice (T1)"]
            # Even an explicit filter on the other workspace finds nothing.
            assert s.scalars(select(PersonRow).where(PersonRow.workspace == "slack:T2")).all() == []
        with pytest.raises(CrossWorkspaceError):
            with db.session("slack:T1") as s:
                s.add(PersonRow(workspace="slack:T2", user_id="U9", name="intruder"))
        with db.session(None) as s:
            assert sorted(s.scalars(select(PersonRow.workspace)).all()) == ["slack:T1", "slack:T2"]
    finally:
        db.dispose()


def test_sqlite_runs_in_wal_mode(sqlite_url) -> None:  # noqa: ANN001
    from sqlalchemy import text

    db = Database(sqlite_url)
    with db.engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
    db.dispose()


def test_processes_starting_together_migrate_once(database_url) -> None:  # noqa: ANN001
    import concurrent.futures

    dbs = [Database(database_url) for _ in range(3)]
    try:
        with concurrent.futures.ThreadPoolExecutor(3) as pool:
            applied = list(pool.map(upgrade, dbs))
        assert sorted(applied) == [False, False, True]
        assert not pending(dbs[0])
    finally:
        for db in dbs:
            db.dispose()

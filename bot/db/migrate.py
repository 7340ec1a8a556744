"""Alembic migrations, run from code: ``liaison db upgrade`` and the automatic upgrade that
``liaison serve`` and ``liaison demo`` do on a fresh SQLite file.

Each feature's migration descends from the core revision, so the history may have several
heads; ``upgrade`` goes to all of them.
"""

from __future__ import annotations

import contextlib
import logging
import os
from pathlib import Path
from typing import Iterator

try:
    import fcntl
except ImportError:  # pragma: no cover - not on Windows; migrate one process at a time there
    fcntl = None  # type: ignore[assignment]

from sqlalchemy import text

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from bot.db import Database, redact

log = logging.getLogger(__name__)
MIGRATIONS = Path(__file__).with_name("migrations")


def alembic_config(db: Database) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", db.url.replace("%", "%%"))
    cfg.attributes["engine"] = db.engine
    return cfg


def current_heads(db: Database) -> set[str]:
    with db.engine.connect() as conn:
        return set(MigrationContext.configure(conn).get_current_heads())


# The heads of the migration scripts, by the scripts' names, sizes and times: reading them runs
# every script, the most of a start-up's schema check, and they seldom change while a process runs.
_SCRIPT_HEADS: dict[tuple, frozenset[str]] = {}


def script_heads(db: Database) -> frozenset[str]:
    """The newest revisions of the migration scripts, read again only when the scripts change."""
    with os.scandir(MIGRATIONS / "versions") as entries:
        key = tuple(sorted((e.name, e.stat().st_size, e.stat().st_mtime_ns) for e in entries if e.name.endswith(".py")))
    heads = _SCRIPT_HEADS.get(key)
    if heads is None:
        heads = frozenset(ScriptDirectory.from_config(alembic_config(db)).get_heads())
        _SCRIPT_HEADS.clear()
        _SCRIPT_HEADS[key] = heads
    return heads


def pending(db: Database) -> bool:
    return current_heads(db) != set(script_heads(db))


# Any fixed number: the PostgreSQL advisory lock that serialises migrations.
_PG_MIGRATION_LOCK = 7_316_402


@contextlib.contextmanager
def _migration_lock(db: Database) -> Iterator[None]:
    """One process migrates at a time (a web replica and a worker often start together); the
    others wait, then find nothing left to do."""
    if db.dialect == "postgresql":
        with db.engine.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _PG_MIGRATION_LOCK})
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _PG_MIGRATION_LOCK})
                conn.commit()
        return
    path = db.engine.url.database
    if db.dialect != "sqlite" or not path or path == ":memory:" or fcntl is None:
        yield
        return
    with open(f"{path}.migrate-lock", "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def upgrade(db: Database) -> bool:
    """Bring the schema to the newest revision. Returns True when anything was applied."""
    # The check is inside the lock too: on a fresh SQLite file, the first connection switches
    # the file to WAL mode, which another process's migration would make fail as "locked".
    with _migration_lock(db):
        if not pending(db):
            return False  # already there, or another process migrated while this one waited
        log.info("migrating database %s to the newest schema", redact(db.url))
        command.upgrade(alembic_config(db), "heads")
    return True

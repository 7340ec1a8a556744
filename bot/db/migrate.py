"""Alembic migrations, run from code: ``liaison db upgrade`` and the automatic upgrade that
``liaison serve`` and ``liaison demo`` do on a fresh SQLite file.

Each feature's migration descends from the core revision, so the history may have several
heads; ``upgrade`` goes to all of them.
"""

from __future__ import annotations

import logging
from pathlib import Path

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


def pending(db: Database) -> bool:
    script = ScriptDirectory.from_config(alembic_config(db))
    return current_heads(db) != set(script.get_heads())


def upgrade(db: Database) -> bool:
    """Bring the schema to the newest revision. Returns True when anything was applied."""
    if not pending(db):
        return False
    log.info("migrating database %s to the newest schema", redact(db.url))
    command.upgrade(alembic_config(db), "heads")
    return True

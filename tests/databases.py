"""The test databases, made cheaply without changing what a test sees.

PostgreSQL: ``DROP DATABASE`` forces a checkpoint (one to several seconds on a busy disk) while
``CREATE DATABASE`` takes a fraction of that. So a test's database is not dropped when it ends:
it is emptied (its schemas dropped and ``public`` made again, as a new database has it) and kept
as a spare, which the next test gets under a new name. A migrated copy is a new database, so the
spares grow by one per test that gets one: beyond a few, they are dropped in the background, a
batch at a time (drops that wait at the same time share one checkpoint), so that the end of the
run drops only the last few instead of waiting for a checkpoint per batch of a hundred or more.

Migrated copies: a test that builds the app on a new, empty database gets a copy of one migrated
per test process (``CREATE DATABASE … TEMPLATE``, or a file copy for SQLite) in place of running
every migration again; it is exactly what migrating would give. A database that a test connected
to or wrote to first is left alone, and bootstrap migrates it as before.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.pool import NullPool

from bot.db import Database
from bot.db.migrate import upgrade

# The objects a test can have made: anything outside PostgreSQL's own schemas.
_USER_OBJECTS = ("SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                 "WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'")
_USER_SCHEMAS = ("SELECT nspname FROM pg_namespace WHERE nspname NOT IN ('pg_catalog', 'information_schema') "
                 "AND nspname NOT LIKE 'pg_toast%' AND nspname NOT LIKE 'pg_temp%'")


def migrate(url: str) -> None:
    """Bring ``url`` to the newest schema, as ``bootstrap(migrate=True)`` does."""
    db = Database(url)
    try:
        upgrade(db)
    finally:
        db.dispose()


class SqliteTemplate:
    """A migrated SQLite file, made on first use, copied to a path that does not exist yet."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.path: Path | None = None

    def copy_to(self, path: str) -> None:
        if self.path is None:
            self.path = self.folder / "template.db"
            migrate(f"sqlite:///{self.path}")
        shutil.copyfile(self.path, path)


# Spares kept for the next tests; beyond that, a batch of DROP_BATCH is dropped in the background.
SPARES_KEPT = 4
DROP_BATCH = 8


class PgDatabases:
    """The databases of one test process on one PostgreSQL server."""

    def __init__(self, server: str) -> None:
        self.server = server
        self.admin: Engine = create_engine(server, isolation_level="AUTOCOMMIT")
        # Drops get a connection each (no pool to wait for): they wait on a checkpoint together.
        self.dropper: Engine = create_engine(server, isolation_level="AUTOCOMMIT", poolclass=NullPool)
        self.spares: list[str] = []
        self._spares_lock = threading.Lock()
        self._background: ThreadPoolExecutor | None = None
        self._dropping: list = []  # the futures of the background batches
        self.template: str | None = None
        self.untouched: dict[str, str] = {}  # url -> name, for the databases handed out and unused

    def url(self, name: str) -> str:
        return make_url(self.server).set(database=name).render_as_string(hide_password=False)

    def _sql(self, sql: str, **params: str) -> None:
        with self.admin.connect() as conn:
            conn.execute(text(sql), params)

    def _create(self, name: str, template: str | None = None) -> None:
        """A new database ``name``: a spare renamed, or made (from ``template`` if given)."""
        if template is None:
            while (spare := self._take_spare()) is not None:
                if self._rename(spare, name):
                    return
                self._sql(f'DROP DATABASE IF EXISTS "{spare}" WITH (FORCE)')
        self._sql(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))

    def _take_spare(self) -> str | None:
        with self._spares_lock:
            return self.spares.pop() if self.spares else None

    def _keep_spare(self, name: str) -> None:
        """Keep ``name`` as a spare; once there are too many, drop a batch in the background."""
        with self._spares_lock:
            self.spares.append(name)
            if len(self.spares) < SPARES_KEPT + DROP_BATCH:
                return
            batch, self.spares[:DROP_BATCH] = self.spares[:DROP_BATCH], []
        if self._background is None:
            self._background = ThreadPoolExecutor(max_workers=1, thread_name_prefix="drop-spares")
        self._dropping.append(self._background.submit(self._drop, batch))

    def _drop(self, names: list[str]) -> None:
        """Drop ``names`` together, each on its own connection."""
        def drop(name: str) -> None:
            with self.dropper.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

        if names:
            with ThreadPoolExecutor(max_workers=len(names)) as pool:
                list(pool.map(drop, names))

    def _rename(self, old: str, new: str) -> bool:
        """Rename once the last connection to ``old`` has gone (a terminated one takes a moment)."""
        deadline = time.monotonic() + 5
        while True:
            try:
                self._sql(f'ALTER DATABASE "{old}" RENAME TO "{new}"')
                return True
            except Exception:  # noqa: BLE001 - "being accessed by other users": wait, then give up
                if time.monotonic() > deadline:
                    return False
                time.sleep(0.05)

    def fresh(self) -> str:
        """A new, empty database's URL."""
        name = f"liaison_t_{uuid.uuid4().hex[:12]}"
        self._create(name)
        url = self.url(name)
        self.untouched[url] = name
        return url

    def give_back(self, url: str) -> None:
        """The test is over: empty its database and keep it as a spare (or drop it if it cannot be
        emptied to what a new database is)."""
        name = make_url(url).database
        self.untouched.pop(url, None)
        self._sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n", n=name)
        engine = create_engine(url, isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as conn:
                for schema in conn.execute(text(_USER_SCHEMAS)).scalars().all():
                    conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
                conn.execute(text("CREATE SCHEMA public AUTHORIZATION pg_database_owner"))
                conn.execute(text("GRANT USAGE ON SCHEMA public TO PUBLIC"))
                conn.execute(text(f'ALTER DATABASE "{name}" RESET ALL'))
                empty = conn.execute(text(_USER_OBJECTS)).scalar() == 0
        except Exception:  # noqa: BLE001 - whatever it holds, the slow way is always right
            empty = False
        finally:
            engine.dispose()
        if empty:
            self._keep_spare(name)
        else:
            self._sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def migrated_copy(self, url: str) -> None:
        """Make ``url`` a copy of the migrated template, if it is still new, empty and unused."""
        name = self.untouched.pop(url, None)
        if name is None or not self._empty_and_unused(url, name):
            return
        if self.template is None:
            template = f"liaison_tmpl_{uuid.uuid4().hex[:12]}"
            self._sql(f'CREATE DATABASE "{template}"')
            migrate(self.url(template))
            self.template = template
        spare = f"liaison_t_{uuid.uuid4().hex[:12]}"
        if self._rename(name, spare):
            self._keep_spare(spare)
        else:
            self._sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self._create(name, template=self.template)

    def _empty_and_unused(self, url: str, name: str) -> bool:
        engine = create_engine(url)
        try:
            with engine.connect() as conn:
                objects = conn.execute(text(_USER_OBJECTS)).scalar()
                others = conn.execute(text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = :n AND pid <> pg_backend_pid()"
                ), {"n": name}).scalar()
        finally:
            engine.dispose()
        return objects == 0 and others == 0

    def close(self) -> None:
        """Drop the spares left and the template, together (each drop waits for a checkpoint, and
        drops that wait at the same time share one), once the background batches are done."""
        if self._background is not None:
            self._background.shutdown(wait=True)
        with self._spares_lock:
            names, self.spares = [*self.spares, *([self.template] if self.template else [])], []
        self._drop(names)
        self.admin.dispose()
        self.dropper.dispose()
        for batch in self._dropping:
            batch.result()  # a batch that failed says so here, after everything else is dropped


def is_new_sqlite_file(url: str) -> str | None:
    """The path of a SQLite URL whose file does not exist yet, else None."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return None
    path = parsed.database
    if not path or path == ":memory:" or os.path.exists(path):
        return None
    return path

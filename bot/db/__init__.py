"""Storage: SQLAlchemy 2 engine and sessions, with every query held inside one workspace.

Nothing is created at import time: ``Database(url)`` builds the engine when asked. SQLite files
run in WAL mode with a busy timeout; PostgreSQL is the production store.

Workspace isolation: every model that carries a ``workspace`` column derives from
``WorkspaceScoped``. A session opened with ``db.session(workspace)`` adds
``WHERE workspace = :ws`` to every ORM SELECT, UPDATE and DELETE on such models (SQLAlchemy's
``with_loader_criteria``), and refuses to flush a row of another workspace. So a skill cannot
read or change another workspace's rows even by mistake.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Iterator

from sqlalchemy import String, create_engine, event, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, ORMExecuteState, Session, mapped_column, sessionmaker, with_loader_criteria

log = logging.getLogger(__name__)


# Columns holding a user, conversation or channel id: Teams ids run to about 150 characters
# ("29:…" users, "a:…" 1:1 conversations), Slack ids to about 12.
ID_LENGTH = 255


class Base(DeclarativeBase):
    pass


class WorkspaceScoped:
    """Mixin for rows that belong to one workspace (``platform:team``)."""

    workspace: Mapped[str] = mapped_column(String(96), index=True)


def column_length(column: object) -> int | None:
    """The most characters a String column holds (``PersonRow.name`` -> 200); None: no limit."""
    return getattr(getattr(column, "type", None), "length", None)


def fit(column: object, value: str | None) -> str | None:
    """``value`` as it can be stored in ``column``: NUL characters (which PostgreSQL text cannot
    hold) removed and cut to the column's length, read from the model."""
    if value is None:
        return None
    value = value.replace("\x00", "")
    length = column_length(column)
    return value[:length].rstrip() if length is not None and len(value) > length else value


class CrossWorkspaceError(RuntimeError):
    """A session of one workspace tried to write a row of another."""


def _scope_queries(state: ORMExecuteState) -> None:
    ws = state.session.info.get("workspace")
    if ws is None or state.is_column_load or state.is_relationship_load:
        return
    if state.is_select or state.is_update or state.is_delete:
        state.statement = state.statement.options(
            with_loader_criteria(WorkspaceScoped, lambda cls: cls.workspace == ws, include_aliases=True)
        )


def _check_flush(session: Session, flush_context, instances) -> None:  # noqa: ANN001
    ws = session.info.get("workspace")
    if ws is None:
        return
    for obj in (*session.new, *session.dirty):
        if isinstance(obj, WorkspaceScoped):
            if getattr(obj, "workspace", None) is None:
                obj.workspace = ws
            elif obj.workspace != ws:
                raise CrossWorkspaceError(f"a {type(obj).__name__} of workspace {obj.workspace!r} in a session of {ws!r}")


def _sqlite_pragmas(busy_timeout_ms: int):  # noqa: ANN202
    def on_connect(dbapi_conn, _record) -> None:  # noqa: ANN001
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")  # first: the WAL switch may wait
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    return on_connect


def normalise_url(url: str) -> str:
    """Accept the URLs people paste (``postgres://``, ``postgresql://``) and use psycopg 3."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


_DRIVERS = {"sqlite": "pysqlite", "postgresql": "psycopg"}
_EXAMPLES = "postgresql://user:password@host:5432/liaison or sqlite:///liaison.db"


def check_url(url: str) -> None:
    """Refuse, with a ConfigError saying what to write instead, a URL Liaison cannot use: not a
    URL, another database (mysql://…) or another driver than the one installed."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    from bot.config import ConfigError

    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ConfigError(f"the database URL is not a URL Liaison understands; set DATABASE_URL to {_EXAMPLES}") from None
    backend, driver = parsed.get_backend_name(), parsed.get_driver_name()
    if backend not in _DRIVERS:
        raise ConfigError(f"the database URL names {backend}, which Liaison does not run on; set DATABASE_URL to "
                          f"PostgreSQL or SQLite: {_EXAMPLES}")
    if driver != _DRIVERS[backend]:
        raise ConfigError(f"the database URL asks for the driver {driver}, which Liaison does not use; write it without "
                          f"'+{driver}' ({_EXAMPLES})")


def redact(url: str) -> str:
    """The URL without its password, for logs."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


class Database:
    """One engine and its session factory."""

    def __init__(self, url: str, *, echo: bool = False, busy_timeout_ms: int = 5000) -> None:
        self.url = normalise_url(url)
        check_url(self.url)
        kwargs: dict = {"echo": echo, "future": True}
        if self.url.startswith("sqlite"):
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": busy_timeout_ms / 1000}
        else:
            kwargs.update(pool_pre_ping=True, pool_size=5, max_overflow=10)
        self.engine: Engine = create_engine(self.url, **kwargs)
        if self.dialect == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas(busy_timeout_ms))
        self._factory = sessionmaker(self.engine, expire_on_commit=False)
        event.listen(self._factory, "do_orm_execute", _scope_queries)
        event.listen(self._factory, "before_flush", _check_flush)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextlib.contextmanager
    def session(self, workspace: str | None) -> Iterator[Session]:
        """A transaction scoped to one workspace (``None``: unscoped, for maintenance jobs
        that work across workspaces, such as the ingestion worker's queue polling)."""
        s = self._factory()
        s.info["workspace"] = workspace
        try:
            yield s
            s.commit()
        except BaseException:
            s.rollback()
            raise
        finally:
            s.close()

    def ping(self) -> str | None:
        """None when the database answers, else what went wrong (for /healthz)."""
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            return None
        except Exception as exc:  # noqa: BLE001 - reported, not raised
            return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"

    def dispose(self) -> None:
        self.engine.dispose()

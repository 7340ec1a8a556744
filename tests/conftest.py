"""Shared fixtures: databases (SQLite and PostgreSQL), the app built by the real bootstrap, and
small builders for neutral events.

PostgreSQL: LIAISON_TEST_POSTGRES_URL (default postgresql://postgres@127.0.0.1:5432/test). Each
test that asks for it gets a fresh database, dropped afterwards. Where no server answers, those
tests are skipped — except under CI=true, where a missing PostgreSQL fails them.

Speed, without changing what a test sees: the databases are made and migrated cheaply (see
tests/databases.py). An app whose NLP settings match an earlier test's gets that test's pipelines,
as any second app in a process does (skills/expertise/nlp.py; the topics do not depend on what
was analysed before, tests/unit/test_nlp.py).
"""

from __future__ import annotations

import datetime as dt
import io
import os
from typing import Any, Callable, Iterator

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bot.app.bootstrap import App, bootstrap
from bot.config import load_settings
from bot.events import Conversation, MessageReceived, Person, Workspace
from bot.ports import FixedClock
from tests.databases import PgDatabases, SqliteTemplate, is_new_sqlite_file
from tests.schedule import arrange, worker_count

PG_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
T0 = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.timezone.utc)  # a Monday
WS = Workspace("console", "acme")


def pytest_collection_modifyitems(config, items) -> None:  # noqa: ANN001
    """The slow tests first, spread over the xdist workers (tests/schedule.py)."""
    items[:] = arrange(items, lambda item: item.nodeid, worker_count())


def _pg_base_url() -> str:
    from bot.db import normalise_url

    return normalise_url(os.environ.get("LIAISON_TEST_POSTGRES_URL", PG_DEFAULT))


@pytest.fixture(scope="session")
def pg_server() -> str:
    """The PostgreSQL server URL, or skip (fail under CI=true) when none answers."""
    url = _pg_base_url()
    try:
        engine = create_engine(url, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
    except Exception as exc:  # noqa: BLE001
        message = f"PostgreSQL not reachable at {make_url(url).render_as_string(hide_password=True)}: {exc}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message + " (CI=true: the database tests must run on PostgreSQL)")
        pytest.skip(message)
    return url


# This process's PostgreSQL databases (tests/databases.py), once a test has asked for one.
_PG: list[PgDatabases] = []


@pytest.fixture(scope="session")
def pg_databases(pg_server: str) -> Iterator[PgDatabases]:
    databases = PgDatabases(pg_server)
    _PG.append(databases)
    yield databases
    _PG.remove(databases)
    databases.close()


@pytest.fixture
def pg_url(pg_databases: PgDatabases) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test."""
    url = pg_databases.fresh()
    try:
        yield url
    finally:
        pg_databases.give_back(url)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> SqliteTemplate:  # noqa: ANN001
    return SqliteTemplate(tmp_path_factory.mktemp("migrated"))


def _migrated_copy(url: str, sqlite: SqliteTemplate) -> None:
    """Put a migrated copy in place of ``url`` when it is still a new, empty database: what
    migrating it would give, in a fraction of the time. Any other database is left alone (bootstrap
    then migrates it, or finds it up to date)."""
    path = is_new_sqlite_file(url)
    if path is not None:
        sqlite.copy_to(path)
    for databases in _PG:
        databases.migrated_copy(url)


@pytest.fixture
def sqlite_url(tmp_path) -> str:  # noqa: ANN001
    return f"sqlite:///{tmp_path / 'liaison.db'}"


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request) -> str:  # noqa: ANN001
    """Runs the test once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        return request.getfixturevalue("sqlite_url")
    return request.getfixturevalue("pg_url")


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(T0)


@pytest.fixture
def make_settings(sqlite_url: str) -> Callable[..., Any]:
    """Settings from config/default.toml with a test database and optional overrides."""

    def make(database_url: str | None = None, env: dict[str, str] | None = None, **overrides: dict) -> Any:
        environ = {"DATABASE_URL": database_url or sqlite_url, **(env or {})}
        return load_settings(environ, overrides=overrides or None)

    return make


@pytest.fixture
def make_app(make_settings, clock, sqlite_template) -> Iterator[Callable[..., App]]:  # noqa: ANN001
    """Build the app with the real bootstrap: ``make_app(database_url=..., chats=..., **overrides)``."""
    built: list[App] = []

    def make(*, database_url: str | None = None, chats: dict | None = None, platforms=(), skills=None,
             env: dict[str, str] | None = None, clock_=None, **overrides: dict) -> App:  # noqa: ANN001
        settings = make_settings(database_url, env, **overrides)
        _migrated_copy(settings.database_url, sqlite_template)
        kwargs: dict[str, Any] = {}
        if skills is not None:
            kwargs["skills"] = skills
        app = bootstrap(settings, clock=clock_ or clock, platforms=platforms, chats=chats or {}, migrate=True, **kwargs)
        built.append(app)
        return app

    yield make
    for app in built:
        app.close()


# ---- event builders -------------------------------------------------------------------------


def person(user_id: str, name: str | None = None, **kw: Any) -> Person:
    return Person(id=user_id, name=name or user_id.title(), **kw)


_counter = iter(range(1, 10**9))


def message(
    sender: Person,
    text: str,
    *,
    channel: str = "C-GENERAL",
    kind: str = "channel",
    channel_name: str | None = "general",
    ts: str | None = None,
    thread_ts: str | None = None,
    addressed: bool = False,
    ws: Workspace = WS,
    **kw: Any,
) -> MessageReceived:
    n = next(_counter)
    ts = ts or f"{1762070400 + n}.{n % 1000000:06d}"
    return MessageReceived(
        workspace=ws,
        conversation=Conversation(id=channel, kind=kind, name=channel_name),  # type: ignore[arg-type]
        sender=sender,
        text=text,
        ts=ts,
        event_id=kw.pop("event_id", f"Ev{n:08d}"),
        thread_ts=thread_ts,
        addressed=addressed,
        **kw,
    )


def dm(sender: Person, text: str, **kw: Any) -> MessageReceived:
    return message(sender, text, channel=f"D-{sender.id}", kind="dm", channel_name=None, addressed=True, **kw)


@pytest.fixture
def console_out() -> io.StringIO:
    return io.StringIO()

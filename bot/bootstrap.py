"""The composition root: builds the whole bot from Settings. Production (`liaison serve`,
`liaison worker`), the console, the demo and the tests all call ``bootstrap``.

This is the only module that knows both the skills and the adapters: skills are included in the
router here, and each platform adapter is built here when its settings are present.
"""

from __future__ import annotations

import importlib
import logging
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping, Protocol

from bot.config import Settings, load_settings
from bot.db import Database, redact
from bot.db.migrate import pending, upgrade
from bot.dispatch import Dispatcher
from bot.ports import ChatPort, Clock, SystemClock
from bot.router import Router
from bot.services import Services

log = logging.getLogger("liaison")

# The skills, in the order their help appears. Each module exposes ``routes`` (a Routes) and may
# expose ``services(app) -> {name: factory}`` (shared services, built on first use).
SKILLS: tuple[str, ...] = ("skills.help", "skills.expertise", "skills.kudos", "skills.coffee", "skills.insights",
                           "skills.routing")


class PlatformAdapter(Protocol):
    """What bootstrap needs from a platform package (adapters/<platform>/__init__.py: build)."""

    platform: str
    chat: ChatPort

    def add_routes(self, web: Any) -> None: ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


class SchemaNotReady(RuntimeError):
    pass


@dataclass
class App:
    settings: Settings
    db: Database
    router: Router
    dispatcher: Dispatcher
    clock: Clock
    services: Services
    adapters: dict[str, PlatformAdapter] = field(default_factory=dict)
    worker: Any = None  # set by bot.worker when the worker runs in this process
    scheduler: Any = None

    def add_chat(self, platform: str, chat: ChatPort) -> None:
        self.dispatcher.chats[platform] = chat

    def close(self) -> None:
        self.db.dispose()


def build_router(skills: Iterable[str] = SKILLS) -> Router:
    router = Router()
    for name in skills:
        router.include(importlib.import_module(name).routes)
    return router


def wanted_platforms(settings: Settings) -> list[str]:
    """The platforms whose secrets are set. Any one of a platform's secrets counts, so that one
    set without the others stops the start with a message naming the missing one, instead of a
    bot that silently runs without that platform."""
    s = settings.secrets
    out = []
    if s.slack_bot_token or s.slack_signing_secret or s.slack_app_token:
        out.append("slack")
    if s.microsoft_app_id or s.microsoft_app_password or s.teams_no_auth:
        out.append("teams")
    return out


def bootstrap(
    settings: Settings | None = None,
    *,
    clock: Clock | None = None,
    platforms: Iterable[str] | None = None,
    chats: Mapping[str, ChatPort] | None = None,
    skills: Iterable[str] = SKILLS,
    migrate: bool | None = None,
) -> App:
    """Build the bot.

    ``platforms``: adapters to build (default: those whose secrets are set).
    ``chats``: extra ChatPorts by platform (the console, or a test's).
    ``migrate``: run migrations now (default: for SQLite when database.auto_migrate_sqlite);
    otherwise a database that is behind stops the start with a clear message.
    """
    settings = settings or load_settings()
    db = Database(settings.database_url, busy_timeout_ms=settings.database.sqlite_busy_timeout_ms)
    if migrate is None:
        migrate = db.dialect == "sqlite" and settings.database.auto_migrate_sqlite
    if migrate:
        upgrade(db)
    elif pending(db):
        raise SchemaNotReady(
            f"the database {redact(db.url)} is not at the newest schema; run `liaison db upgrade` first"
        )
    clock = clock or SystemClock()
    router = build_router(skills)
    services = Services()
    dispatcher = Dispatcher(router=router, db=db, chats=dict(chats or {}), clock=clock, settings=settings, services=services)
    app = App(settings=settings, db=db, router=router, dispatcher=dispatcher, clock=clock, services=services)
    for name in skills:
        module = importlib.import_module(name)
        declare: Callable[[App], Mapping[str, Callable[[], Any]]] | None = getattr(module, "services", None)
        if declare is not None:
            for service_name, factory in declare(app).items():
                services.register(service_name, factory)
    for platform in (wanted_platforms(settings) if platforms is None else platforms):
        adapter = importlib.import_module(f"adapters.{platform}").build(app)
        app.adapters[platform] = adapter
        app.add_chat(platform, adapter.chat)
    log.info(
        "Liaison ready: database %s (%s), skills %s, platforms %s",
        redact(db.url), db.dialect, ", ".join(r.skill for r in router.skills), ", ".join(app.adapters) or "none",
    )
    return app

"""The composition root: builds the whole bot from Settings. Production (`liaison serve`,
`liaison worker`), the console, the demo and the tests all call ``bootstrap``.

This is the only module that names both the skills and the adapters, each by an import of its
module: the skills are included in the router here, the shared services (the scheduler, the
language pipelines, the expertise index) are built here, and each platform adapter is built here
when its settings are present.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, Callable, Iterable, Mapping, Protocol

from bot import scheduler
from bot.config import Settings, load_settings
from bot.db import Database, redact
from bot.db.migrate import pending, upgrade
from bot.dispatch import Dispatcher
from bot.ports import ChatPort, Clock, SystemClock
from bot.router import Router
from bot.context import Services
from skills import coffee, expertise, insights, kudos, routing
from skills import help as help_skill

log = logging.getLogger("liaison")

# The skills, in the order their help appears. Each module exposes ``routes`` (a Routes) and may
# expose ``services(app) -> {name: factory}`` (shared services, built on first use).
SKILLS: tuple[ModuleType, ...] = (help_skill, expertise, kudos, coffee, insights, routing)


def _slack(app: "App") -> "PlatformAdapter":
    from adapters import slack  # imported when wanted: the Slack SDKs load only for a Slack bot

    return slack.build(app)


def _teams(app: "App") -> "PlatformAdapter":
    from adapters import teams  # likewise botbuilder, only for a Teams bot

    return teams.build(app)


# The platform adapters, by the name ``platforms=`` and the settings use.
PLATFORMS: dict[str, Callable[["App"], "PlatformAdapter"]] = {"slack": _slack, "teams": _teams}


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
    worker: Any = None  # set by bot.app.runtime when the worker runs in this process
    scheduler: Any = None

    def add_chat(self, platform: str, chat: ChatPort) -> None:
        self.dispatcher.chats[platform] = chat

    def close(self) -> None:
        self.db.dispose()


def build_router(skills: Iterable[ModuleType] = SKILLS) -> Router:
    router = Router()
    for module in skills:
        router.include(module.routes)
    return router


def shared_services(app: "App", skills: Iterable[ModuleType]) -> None:
    """The services the core and several skills use, built here rather than by one skill, so a
    skill works whichever others are enabled: the scheduler always (it fires every skill's jobs:
    the kudos digest needs no coffee), the language pipelines and the expertise index with the
    expertise skill (without it, thanks go out without topics, as before)."""
    sched_cfg = app.settings.section("scheduler", scheduler.SchedulerSettings)
    app.services.register("scheduler", lambda: scheduler.Scheduler(app, settings=sched_cfg))
    if expertise not in skills:
        return
    from skills.expertise.model import ExpertiseSettings
    from skills.expertise.nlp import Nlp, NlpSettings
    from skills.expertise.ask import ExpertiseService

    nlp_settings = app.settings.section("nlp", NlpSettings)
    expertise_settings = app.settings.section("expertise", ExpertiseSettings)

    def make_nlp() -> Nlp:
        nlp = Nlp(nlp_settings, default_language=app.settings.bot.default_language).load_all()
        log.info("nlp loaded: %s", nlp.description)
        return nlp

    app.services.register("nlp", make_nlp)
    app.services.register(
        "expertise", lambda: ExpertiseService(settings=expertise_settings, nlp=app.services.get("nlp"), db=app.db))


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
    skills: Iterable[ModuleType] = SKILLS,
    migrate: bool | None = None,
) -> App:
    """Build the bot.

    ``skills``: the skill modules to include (default: every skill, ``SKILLS``).
    ``platforms``: adapters to build, by name (default: those whose secrets are set).
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
    skills = tuple(skills)
    router = build_router(skills)
    services = Services()
    dispatcher = Dispatcher(router=router, db=db, chats=dict(chats or {}), clock=clock, settings=settings, services=services)
    app = App(settings=settings, db=db, router=router, dispatcher=dispatcher, clock=clock, services=services)
    shared_services(app, skills)
    for module in skills:
        declare: Callable[[App], Mapping[str, Callable[[], Any]]] | None = getattr(module, "services", None)
        if declare is not None:
            for service_name, factory in declare(app).items():
                services.register(service_name, factory)
    for platform in (wanted_platforms(settings) if platforms is None else platforms):
        if platform not in PLATFORMS:
            raise ValueError(f"no platform adapter {platform!r} (known: {', '.join(PLATFORMS)})")
        adapter = PLATFORMS[platform](app)
        app.adapters[platform] = adapter
        app.add_chat(platform, adapter.chat)
    log.info(
        "Liaison ready: database %s (%s), skills %s, platforms %s",
        redact(db.url), db.dialect, ", ".join(r.skill for r in router.skills), ", ".join(app.adapters) or "none",
    )
    return app

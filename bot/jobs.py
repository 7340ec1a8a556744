"""The jobs skills schedule: cron jobs of the registry (``register_cron``) and the jobs of a
provider (``register_provider`` listing ``JobSpec``s), kept per app. ``bot.scheduler`` fires them
(and re-exports these names: skills write ``from bot import scheduler``). Two kinds of jobs:

- **Cron jobs of the registry**, one per job name, fired once per active workspace. A skill
  registers them when the app is built, from its ``services(app)`` function, with a cron
  expression taken from its own settings::

      from bot import scheduler

      def services(app):
          s = app.settings.section("kudos", KudosSettings)
          scheduler.register_cron(app, "kudos.digest", s.digest_cron, timezone="UTC")
          return {}

      @routes.schedule("kudos.digest")
      def digest(tick, ctx): ...   # tick.workspace is the workspace it runs for

  ``register_cron`` checks the expression at once (a bad one stops the start with a clear
  message). The tick's ``args`` hold ``{"spec": ...}``.

- **Jobs of a provider**: ``register_provider(app, fn)`` where ``fn(db) -> Iterable[JobSpec]``
  lists the jobs that should exist now (the coffee skill: one per programme, from its cadence).
  The scheduler reconciles the job store with them at start, every ``sync_seconds`` and when a
  handler calls ``request_sync()``: a new job is added, a job whose trigger changed is
  rescheduled from now, a job no longer listed is removed, and an unchanged job keeps its next
  run time — which is how a round missed while the worker was down is still known.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.triggers.cron import CronTrigger

from bot.db import Database

REGISTRY_SERVICE = "scheduler.registry"


@dataclass(frozen=True)
class CronJob:
    job: str
    cron: str
    timezone: str = "UTC"
    grace_seconds: int | None = None


@dataclass(frozen=True)
class JobSpec:
    """One job a provider wants to exist, for one workspace.

    ``trigger`` holds CronTrigger fields (``day_of_week``, ``hour``, ``minute``, ``day``, …) and
    ``timezone``; two specs with equal fields are the same schedule."""

    id: str
    job: str
    workspace: str
    trigger: Mapping[str, Any]
    args: Mapping[str, Any] = field(default_factory=dict)
    grace_seconds: int | None = None

    @property
    def spec(self) -> str:
        return json.dumps(dict(self.trigger), sort_keys=True, default=str)


@dataclass
class Registry:
    crons: dict[str, CronJob] = field(default_factory=dict)
    providers: list[Callable[[Database], Iterable[JobSpec]]] = field(default_factory=list)


@dataclass(frozen=True)
class ScheduledJob:
    """A job as it is stored (for ``status`` and tests)."""

    id: str
    job: str
    workspace: str | None
    next_run_time: dt.datetime | None
    spec: str


def registry(app: Any) -> Registry:
    """The app's registry of scheduled jobs (created on first use, whatever the skill order)."""
    if REGISTRY_SERVICE not in app.services:
        app.services.provide(REGISTRY_SERVICE, Registry())
    return app.services.get(REGISTRY_SERVICE)


def parse_timezone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {name!r}; use an IANA name such as Europe/Zurich") from exc


def register_cron(app: Any, job: str, cron: str, *, timezone: str = "UTC", grace_seconds: int | None = None) -> None:
    """Fire ``job`` (a ``@routes.schedule(job)`` name) on the crontab ``cron`` (5 fields,
    ``"0 9 1 * *"``), once per active workspace. Raises ValueError for a bad expression."""
    try:
        CronTrigger.from_crontab(cron, timezone=parse_timezone(timezone))
    except ValueError as exc:
        raise ValueError(f"the schedule of {job!r} is not a valid cron expression ({cron!r}): {exc}") from exc
    registry(app).crons[job] = CronJob(job, cron, timezone, grace_seconds)


def register_provider(app: Any, provider: Callable[[Database], Iterable[JobSpec]]) -> None:
    """Add a function listing the per-workspace jobs that should exist (see module docstring)."""
    registry(app).providers.append(provider)


def scheduled_job(**_kwargs: Any) -> None:
    """The callable stored with every job. The Scheduler fires jobs itself (as ScheduledTick),
    so this is never called; it exists because APScheduler stores a reference to a function."""
    raise RuntimeError("scheduled jobs are fired by bot.scheduler.Scheduler, not called directly")


def cron_trigger(spec: CronJob) -> CronTrigger:
    return CronTrigger.from_crontab(spec.cron, timezone=parse_timezone(spec.timezone))


def spec_trigger(spec: JobSpec) -> CronTrigger:
    fields = dict(spec.trigger)
    tz = parse_timezone(str(fields.pop("timezone", "UTC")))
    return CronTrigger(timezone=tz, **fields)

"""The scheduler: fires the skills' scheduled jobs (coffee rounds, follow-ups, kudos digests) as
``ScheduledTick`` events through the dispatcher, exactly like any other event.

It is APScheduler 3 (``AsyncIOScheduler``) with its SQLAlchemy job store in the bot's own
database (table ``scheduler_jobs``), so the schedule survives a restart. Two kinds of jobs:

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

A job's next run time moves on only once its run has been handled (the handler returned and
its work is committed). Until then the stored job stays due: if the process firing it dies
mid-run (kill -9, a lost machine), the next leader finds it due and runs it again, and a handler
that fails because the database is away is tried again ``leader_poll_seconds`` later. So every
job must be idempotent, and they are: a coffee round is unique per programme and period, its
intros are claimed group by group, a digest is unique per person and month.

Missed runs: when a leader starts (the worker comes back, or a standby takes over), a job whose
run time passed fires **once** (runs are coalesced) if the last missed time is within the job's
grace period, with one log line saying it is caught up; beyond the grace period it is skipped
and logged. Either way its next run time then moves to the future, so it never fires twice.

One process fires jobs: on PostgreSQL the scheduler that holds a session-level advisory lock is
the leader, the others wait and try again every ``leader_poll_seconds`` (so one takes over when
the leader stops; a killed leader's connection closes and its lock goes with it). On SQLite run
a single worker.

Time comes from the app's Clock (not the wall clock), so tests move a FixedClock and call
``run_due()``; in production the APScheduler timer wakes the scheduler up when the next job is
due and at least every ``sync_seconds``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.schedulers.base import STATE_PAUSED
from apscheduler.triggers.cron import CronTrigger
from sqlalchemy import func, select, text

from bot.db import Database
from bot.db.models import Installation, PersonRow
from bot.db.scheduler import JOBS_TABLE
from bot.events import ScheduledTick, Workspace

log = logging.getLogger("liaison.scheduler")

REGISTRY_SERVICE = "scheduler.registry"
# The advisory lock that elects the one process firing jobs ("LIAISON" in a 63-bit integer).
DEFAULT_LOCK_KEY = 0x4C4941495341


@dataclass(frozen=True)
class SchedulerSettings:
    """The ``[scheduler]`` section of the settings."""

    enabled: bool = True
    sync_seconds: float = 60.0
    leader_poll_seconds: float = 30.0
    misfire_grace_seconds: int = 3600
    lock_key: int = DEFAULT_LOCK_KEY


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


@dataclass(frozen=True)
class _Fire:
    """One run to fire: ``due`` is the stored next run time it was collected at (the job is
    advanced to ``after`` once the run is handled, unless the job changed meanwhile)."""

    job_id: str
    job: str
    workspace: str | None
    fire_time: dt.datetime
    args: Mapping[str, Any]
    spec: str
    due: dt.datetime
    after: dt.datetime | None


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


def _cron_trigger(spec: CronJob) -> CronTrigger:
    return CronTrigger.from_crontab(spec.cron, timezone=parse_timezone(spec.timezone))


def _spec_trigger(spec: JobSpec) -> CronTrigger:
    fields = dict(spec.trigger)
    tz = parse_timezone(str(fields.pop("timezone", "UTC")))
    return CronTrigger(timezone=tz, **fields)


class _SharedEngineJobStore(SQLAlchemyJobStore):
    """The job store on the app's engine, which it must not dispose of when the scheduler stops."""

    def shutdown(self) -> None:
        pass


class _ClockedScheduler(AsyncIOScheduler):
    """APScheduler's asyncio scheduler whose job processing is the owner's (on the app's clock)."""

    def __init__(self, owner: "Scheduler", **options: Any) -> None:
        super().__init__(**options)
        self._owner = owner

    def _process_jobs(self) -> float | None:  # noqa: D401 - APScheduler hook
        if self.state == STATE_PAUSED or self._owner._aps is not self:
            return None  # paused, or a wake-up queued just before this scheduler was stopped
        return self._owner._on_wakeup()


class Scheduler:
    """The ``scheduler`` service: ``await start()`` in the worker, ``await stop()`` at the end."""

    def __init__(self, app: Any, *, settings: SchedulerSettings) -> None:
        self.app = app
        self.settings = settings
        self.is_leader = False
        self._aps: _ClockedScheduler | None = None
        self._lock_conn: Any = None
        self._standby: asyncio.Task | None = None
        self._tasks: set[asyncio.Task] = set()
        self._last_sync = 0.0
        self._sync_requested = False
        self._stopping = False
        self._running: set[str] = set()  # ids of the jobs fired and not yet handled

    # ---- lifecycle ----------------------------------------------------------------------------

    async def start(self) -> None:
        if not self.settings.enabled:
            log.info("scheduler disabled by settings (scheduler.enabled = false); no job will fire here")
            return
        self._stopping = False
        if not await self.try_lead():
            log.info("another worker holds the scheduler lock; this one stands by and retries every %.0fs",
                     self.settings.leader_poll_seconds)
            self._standby = asyncio.create_task(self._stand_by(), name="scheduler-standby")

    async def stop(self) -> None:
        self._stopping = True
        if self._standby is not None:
            self._standby.cancel()
            try:
                await self._standby
            except asyncio.CancelledError:
                pass
            self._standby = None
        await self._step_down()

    async def try_lead(self) -> bool:
        """Become the process that fires jobs, if no other holds the lock. True when leader."""
        if self.is_leader:
            return True
        if not await asyncio.to_thread(self._acquire_lock):
            return False
        aps = _ClockedScheduler(self, timezone=dt.timezone.utc, job_defaults={"coalesce": True, "max_instances": 1})
        aps.add_jobstore(_SharedEngineJobStore(engine=self.app.db.engine, tablename=JOBS_TABLE), "default")
        # Paused until the missed jobs have run, so the catch-up happens once, here, awaited.
        aps.start(paused=True)
        self._aps = aps
        self.is_leader = True
        log.info("this worker fires scheduled jobs (%s)", "advisory lock held" if self.app.db.dialect == "postgresql" else "SQLite: single worker")
        self.sync()
        await self.run_due(catching_up=True)
        aps.resume()
        return True

    async def _stand_by(self) -> None:
        while not self._stopping:
            await asyncio.sleep(self.settings.leader_poll_seconds)
            try:
                if await self.try_lead():
                    return
            except Exception:  # noqa: BLE001 - e.g. the database is away; try again later
                log.exception("could not try to take over the scheduler; retrying in %.0fs", self.settings.leader_poll_seconds)

    async def _step_down(self, *, lock_lost: bool = False) -> None:
        """Stop firing jobs. A graceful stop lets the runs in progress finish and record their
        jobs' next run times first; after a lost lock another leader may already fire them, so
        nothing more is written to the job store (the runs left due are run again there)."""
        aps = self._aps
        if aps is not None and not lock_lost:
            if aps.running:
                aps.pause()
            await self.idle()
        self._aps = None
        self.is_leader = False
        if aps is not None and aps.running:
            aps.shutdown(wait=False)
            await asyncio.sleep(0)  # AsyncIOScheduler shuts down on the next turn of the loop
        await self.idle()
        self._running.clear()
        await asyncio.to_thread(self._release_lock)

    async def idle(self) -> None:
        """Wait until the jobs fired in the background have finished."""
        while True:
            pending = [t for t in self._tasks if t is not asyncio.current_task() and not t.done()]
            if not pending:
                return
            await asyncio.gather(*pending, return_exceptions=True)

    # ---- leader election ----------------------------------------------------------------------

    def _acquire_lock(self) -> bool:
        if self.app.db.dialect != "postgresql":
            return True
        conn = self.app.db.engine.connect()
        try:
            got = bool(conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": self.settings.lock_key}).scalar())
            conn.commit()
        except Exception:
            conn.invalidate()
            conn.close()
            raise
        if not got:
            conn.close()
            return False
        self._lock_conn = conn
        return True

    def _release_lock(self) -> None:
        conn, self._lock_conn = self._lock_conn, None
        if conn is None:
            return
        try:
            conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": self.settings.lock_key})
            conn.commit()
            conn.close()
        except Exception:  # noqa: BLE001 - closing the connection for good releases the lock too
            conn.invalidate()
            conn.close()

    def _lock_alive(self) -> bool:
        if self._lock_conn is None:
            return self.app.db.dialect != "postgresql"
        try:
            self._lock_conn.execute(text("SELECT 1"))
            self._lock_conn.commit()
            return True
        except Exception:  # noqa: BLE001 - a lost connection means a lost lock
            return False

    # ---- jobs ---------------------------------------------------------------------------------

    def request_sync(self) -> None:
        """Reconcile the jobs soon (a programme changed). Safe from any thread; a no-op in a
        process that is not the leader (the leader reconciles every ``sync_seconds``)."""
        self._sync_requested = True
        if self._aps is not None and self._aps.running:
            self._aps.wakeup()

    def sync(self) -> None:
        """Make the job store match the registry and the providers (see module docstring)."""
        if self._aps is None:
            return
        reg = registry(self.app)
        now = self.app.clock.now()
        desired: dict[str, tuple[str, str | None, Mapping[str, Any], str, CronTrigger, int | None]] = {}
        for c in reg.crons.values():
            desired[f"cron:{c.job}"] = (c.job, None, {}, f"crontab:{c.cron}@{c.timezone}", _cron_trigger(c), c.grace_seconds)
        for provider in reg.providers:
            for s in provider(self.app.db):
                try:
                    desired[s.id] = (s.job, s.workspace, dict(s.args), s.spec, _spec_trigger(s), s.grace_seconds)
                except ValueError as exc:
                    log.error("job %s has an invalid schedule and is not scheduled: %s", s.id, exc)
        existing = {j.id: j for j in self._aps.get_jobs()}
        for job_id, (job, ws, args, spec, trigger, grace) in desired.items():
            kwargs = {"job": job, "workspace": ws, "args": args, "spec": spec}
            grace = self.settings.misfire_grace_seconds if grace is None else grace
            first = trigger.get_next_fire_time(None, now)
            current = existing.get(job_id)
            if current is None:
                if first is not None:
                    self._aps.add_job(scheduled_job, trigger=trigger, id=job_id, name=job, kwargs=kwargs,
                                      next_run_time=first, misfire_grace_time=grace, replace_existing=True)
                    log.info("scheduled %s (%s); first run %s", job_id, spec, first.isoformat())
            elif current.kwargs.get("spec") != spec:
                # A new cadence starts from now; the old schedule's pending run is dropped.
                self._aps.modify_job(job_id, trigger=trigger, kwargs=kwargs, next_run_time=first, misfire_grace_time=grace)
                log.info("rescheduled %s (%s); next run %s", job_id, spec, first.isoformat() if first else "never")
            elif current.kwargs != kwargs or current.misfire_grace_time != grace:
                self._aps.modify_job(job_id, kwargs=kwargs, misfire_grace_time=grace)
        for job_id in existing.keys() - desired.keys():
            self._aps.remove_job(job_id)
            log.info("removed job %s (no longer wanted)", job_id)
        self._last_sync = time.monotonic()
        self._sync_requested = False

    def jobs(self) -> list[ScheduledJob]:
        """The stored jobs (only in the leader; [] elsewhere)."""
        if self._aps is None:
            return []
        return [
            ScheduledJob(j.id, j.kwargs.get("job", j.name), j.kwargs.get("workspace"), j.next_run_time, j.kwargs.get("spec", ""))
            for j in self._aps.get_jobs()
        ]

    async def run_due(self, *, catching_up: bool = False) -> list[Any]:
        """Fire every job due at the clock's time and wait for them; returns the dispatcher's
        Outcomes (one per workspace a job ran for). Does nothing unless leader.
        ``catching_up``: this leader has just started, so a due job is one that no worker ran
        (or whose previous leader stopped mid-run); each is logged as caught up."""
        if self._aps is None:
            return []
        fires = self._collect_due(self.app.clock.now(), catching_up=catching_up)
        outcomes: list[Any] = []
        for f in fires:
            outcomes.extend(await self._fire(f))
        return outcomes

    def _collect_due(self, now: dt.datetime, *, catching_up: bool = False) -> list[_Fire]:
        """The runs to fire now (at most one per job: missed runs are coalesced; one missed
        beyond its grace period is skipped and its job advanced at once). A job being run is
        not collected again; the others are advanced when their run has been handled."""
        assert self._aps is not None
        fires: list[_Fire] = []
        store = self._aps._lookup_jobstore("default")  # noqa: SLF001 - the one store we added
        for job in store.get_due_jobs(now):
            if job.id in self._running:
                continue
            times: list[dt.datetime] = []
            t = job.next_run_time
            while t is not None and t <= now:
                times.append(t)
                t = job.trigger.get_next_fire_time(t, now)
            if not times:
                continue
            last = times[-1]
            late = (now - last).total_seconds()
            if job.misfire_grace_time is not None and late > job.misfire_grace_time:
                log.warning("job %s was due at %s and missed by %.0f s (more than its grace of %d s); "
                            "skipped, next run %s", job.id, last.isoformat(), late, job.misfire_grace_time,
                            t.isoformat() if t else "never")
                self._advance(job.id, job.next_run_time, t)
                continue
            if catching_up:
                log.info("job %s was due at %s and did not complete (no worker ran, or the previous one stopped "
                         "mid-run); catching up now, %.0f s late%s", job.id, last.isoformat(), late,
                         f", once for {len(times)} missed runs" if len(times) > 1 else "")
            elif len(times) > 1:
                log.info("job %s missed %d runs while no worker ran; running it once", job.id, len(times))
            kw = job.kwargs
            fires.append(_Fire(job.id, kw["job"], kw.get("workspace"), last, kw.get("args") or {}, kw.get("spec", ""),
                               job.next_run_time, t))
            self._running.add(job.id)
        return fires

    def _advance(self, job_id: str, due: dt.datetime, after: dt.datetime | None) -> None:
        """Move a job from the run time ``due`` to ``after`` (remove it when it has none), unless
        it changed meanwhile (a new cadence, removed)."""
        if self._aps is None:
            return
        job = self._aps.get_job(job_id)
        if job is None or job.next_run_time != due:
            return
        if after is None:
            self._aps.remove_job(job_id)
        else:
            self._aps.modify_job(job_id, next_run_time=after)

    async def _fire(self, f: _Fire) -> list[Any]:
        outcomes: list[Any] = []
        handled = False
        try:
            workspaces = [f.workspace] if f.workspace else await asyncio.to_thread(self._workspaces)
            for ws in workspaces:
                tick = ScheduledTick(
                    workspace=Workspace.from_key(ws), job=f.job, fire_time=f.fire_time,
                    args={**f.args, "spec": f.spec}, event_id=f"tick:{f.job}:{ws}:{f.fire_time.isoformat()}",
                )
                outcomes.append(await self.app.dispatcher.handle(tick))
            handled = not any(o.status == "db_error" for o in outcomes)
        finally:
            self._finish(f, handled)
        return outcomes

    def _finish(self, f: _Fire, handled: bool) -> None:
        """After a run: advance its job, or (the database was away, the run was cancelled) leave
        it due and let it fire again ``leader_poll_seconds`` later."""
        if handled and self._aps is not None:
            try:
                self._advance(f.job_id, f.due, f.after)
            except Exception:  # noqa: BLE001 - left due: it runs again (jobs are idempotent)
                log.exception("job %s ran but its next run time could not be stored; it will run again", f.job_id)
                handled = False
        if handled:
            self._running.discard(f.job_id)
            self._wake()
            return
        log.warning("job %s did not complete (the database was unavailable, or the run was interrupted); it stays "
                    "due and runs again in %.0f s", f.job_id, self.settings.leader_poll_seconds)

        def retry() -> None:
            self._running.discard(f.job_id)
            self._wake()

        asyncio.get_running_loop().call_later(self.settings.leader_poll_seconds, retry)

    def _wake(self) -> None:
        if self._aps is not None and self._aps.running:
            self._aps.wakeup()

    def _workspaces(self) -> list[str]:
        """Workspaces a registry cron job runs for: installed ones and ones with people, minus
        uninstalled ones."""
        with self.app.db.session(None) as s:
            inactive = set(s.scalars(select(Installation.workspace).where(Installation.active.is_(False))))
            found = set(s.scalars(select(Installation.workspace).where(Installation.active.is_(True))))
            found |= set(s.scalars(select(PersonRow.workspace).distinct()))
        return sorted(found - inactive)

    # ---- the APScheduler timer --------------------------------------------------------------------

    def _on_wakeup(self) -> float:
        """Runs on the event loop when APScheduler's timer fires: keep the lock, reconcile when
        due, fire due jobs in the background; returns seconds until the next wake-up."""
        try:
            if time.monotonic() - self._last_sync >= self.settings.sync_seconds or self._sync_requested:
                if not self._lock_alive():
                    log.error("lost the scheduler lock (database connection dropped); standing by")
                    self._spawn(self._lose_lead())
                    return self.settings.leader_poll_seconds
                self.sync()
            now = self.app.clock.now()
            for f in self._collect_due(now):
                self._spawn(self._fire(f))
            nxt = self._next_run_time()
            wait = self.settings.sync_seconds
            if nxt is not None:
                wait = min(wait, max(0.0, (nxt - now).total_seconds()))
            return wait
        except Exception:  # noqa: BLE001 - keep the timer alive; the database may be back soon
            log.exception("scheduler could not process jobs; retrying in %.0fs", self.settings.leader_poll_seconds)
            return self.settings.leader_poll_seconds

    def _next_run_time(self) -> dt.datetime | None:
        """The earliest next run time of the jobs not being run (a job being run stays due in
        the store until it has been handled)."""
        if self._aps is None:
            return None
        store = self._aps._lookup_jobstore("default")  # noqa: SLF001 - the one store we added
        col = store.jobs_t.c
        query = select(func.min(col.next_run_time)).where(col.next_run_time.is_not(None))
        if self._running:
            query = query.where(col.id.not_in(sorted(self._running)))
        with store.engine.connect() as conn:
            ts = conn.execute(query).scalar()
        return None if ts is None else dt.datetime.fromtimestamp(ts, dt.timezone.utc)

    async def _lose_lead(self) -> None:
        await self._step_down(lock_lost=True)
        if not self._stopping:
            self._standby = asyncio.create_task(self._stand_by(), name="scheduler-standby")

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

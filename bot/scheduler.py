"""The scheduler: fires the skills' scheduled jobs (coffee rounds, follow-ups, kudos digests) as
``ScheduledTick`` events through the dispatcher, exactly like any other event.

It is APScheduler 3 (``AsyncIOScheduler``) with its SQLAlchemy job store in the bot's own
database (table ``scheduler_jobs``), so the schedule survives a restart. The jobs are the
registry's cron jobs and the providers' jobs (``bot.jobs``, re-exported here); the scheduler
reconciles the job store with them at start, every ``sync_seconds`` and on ``request_sync()``.

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

Time comes from the app's Clock (not the wall clock). Jobs fire on one path, production's and
the tests' alike: the leader's timer task (``_timer``) wakes up when the next job is due, at least
every ``sync_seconds``, and whenever it is woken (``request_sync``, a run that ended,
``run_due``); each pass keeps the lock, reconciles when due, and starts the due runs. Tests move a
FixedClock and ``await run_due()``, which wakes that task and waits for the runs its pass started.

APScheduler is used through its public API only: the job store (``SQLAlchemyJobStore``) holds the
jobs and their next run times, reached through a scheduler that stays paused (``start(paused=True)``,
then ``add_job``, ``modify_job``, ``remove_job``, ``get_jobs``), and the cron triggers compute the
run times (``get_next_fire_time``). APScheduler's own job processing never runs: it would move a
job's next run time before the run, and a crash mid-run would then lose the run.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from dataclasses import dataclass
from typing import Any, Mapping

from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from sqlalchemy import select, text

from bot.db.models import Installation, PersonRow
from bot.db.scheduler import JOBS_TABLE
from bot.events import ScheduledTick, Workspace
from bot.jobs import (REGISTRY_SERVICE, CronJob, JobSpec, Registry, ScheduledJob, cron_trigger,  # skills use
                      parse_timezone, register_cron, register_provider, registry, scheduled_job, spec_trigger)

__all__ = ["REGISTRY_SERVICE", "CronJob", "JobSpec", "Registry", "ScheduledJob", "Scheduler", "SchedulerSettings",
           "parse_timezone", "register_cron", "register_provider", "registry"]

log = logging.getLogger("liaison.scheduler")

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


class _SharedEngineJobStore(SQLAlchemyJobStore):
    """The job store on the app's engine, which it must not dispose of when the scheduler stops."""

    def shutdown(self) -> None:
        pass


class Scheduler:
    """The ``scheduler`` service: ``await start()`` in the worker, ``await stop()`` at the end."""

    def __init__(self, app: Any, *, settings: SchedulerSettings) -> None:
        self.app = app
        self.settings = settings
        self.is_leader = False
        self._aps: AsyncIOScheduler | None = None  # the job store's front: always paused
        self._timer_task: asyncio.Task | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._woken = asyncio.Event()
        self._waiters: list[asyncio.Future] = []  # run_due calls waiting for the next pass
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
        aps = AsyncIOScheduler(timezone=dt.timezone.utc, job_defaults={"coalesce": True, "max_instances": 1})
        aps.add_jobstore(_SharedEngineJobStore(engine=self.app.db.engine, tablename=JOBS_TABLE), "default")
        # Paused for good: APScheduler keeps the jobs, the timer task below fires them.
        aps.start(paused=True)
        self._aps = aps
        self.is_leader = True
        self._loop = asyncio.get_running_loop()
        log.info("this worker fires scheduled jobs (%s)", "advisory lock held" if self.app.db.dialect == "postgresql" else "SQLite: single worker")
        self._last_sync = 0.0  # the first pass reconciles, then catches up what is due
        self._timer_task = asyncio.create_task(self._timer(), name="scheduler-timer")
        await self.run_due()  # the catch-up happens once, here, awaited
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
        timer, self._timer_task = self._timer_task, None
        if timer is not None and timer is not asyncio.current_task():
            timer.cancel()
            await asyncio.gather(timer, return_exceptions=True)
        if aps is not None and not lock_lost:
            await self.idle()
        self._aps = None
        self.is_leader = False
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_result([])
        self._waiters.clear()
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
        self._wake()

    def sync(self) -> None:
        """Make the job store match the registry and the providers (see module docstring)."""
        if self._aps is None:
            return
        reg = registry(self.app)
        now = self.app.clock.now()
        desired: dict[str, tuple[str, str | None, Mapping[str, Any], str, CronTrigger, int | None]] = {}
        for c in reg.crons.values():
            desired[f"cron:{c.job}"] = (c.job, None, {}, f"crontab:{c.cron}@{c.timezone}", cron_trigger(c), c.grace_seconds)
        for provider in reg.providers:
            for s in provider(self.app.db):
                try:
                    desired[s.id] = (s.job, s.workspace, dict(s.args), s.spec, spec_trigger(s), s.grace_seconds)
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

    async def run_due(self) -> list[Any]:
        """Wake the timer task, and wait for the runs its pass starts (every job due at the
        clock's time) to be handled; returns the dispatcher's Outcomes (one per workspace a job
        ran for). Does nothing unless leader."""
        if self._aps is None or self._timer_task is None:
            return []
        pass_done: asyncio.Future = asyncio.get_running_loop().create_future()
        self._waiters.append(pass_done)
        self._wake()
        started: list[asyncio.Task] = await pass_done
        outcomes: list[Any] = []
        for result in await asyncio.gather(*started, return_exceptions=True):
            if isinstance(result, BaseException):
                raise result
            outcomes.extend(result)
        return outcomes

    def _collect_due(self, jobs: list[Any], now: dt.datetime, *, catching_up: bool = False) -> list[_Fire]:
        """The runs to fire now among the stored ``jobs`` (at most one per job: missed runs are
        coalesced; one missed beyond its grace period is skipped and its job advanced at once).
        A job being run is not collected again; the others are advanced when their run has
        been handled. ``catching_up``: this leader has just started, so a due job is one that no
        worker ran (or whose previous leader stopped mid-run); each is logged as caught up."""
        fires: list[_Fire] = []
        for job in jobs:
            if job.id in self._running or job.next_run_time is None or job.next_run_time > now:
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

    async def _fire_in_order(self, fires: list[_Fire]) -> list[Any]:
        """The runs one pass found due, one after another in the order they fell due (a
        restarted leader resumes a round before the sweep looks at its groups); a job that
        falls due meanwhile starts in a later pass, alongside. A run that raises leaves the
        ones after it due, to fire again ``leader_poll_seconds`` later."""
        outcomes: list[Any] = []
        for i, f in enumerate(fires):
            try:
                outcomes.extend(await self._fire(f))
            except BaseException:
                for rest in fires[i + 1:]:
                    self._finish(rest, False)
                raise
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
        """Wake the timer task up now (from any thread)."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._woken.set)

    def _workspaces(self) -> list[str]:
        """Workspaces a registry cron job runs for: installed ones and ones with people, minus
        uninstalled ones."""
        with self.app.db.session(None) as s:
            inactive = set(s.scalars(select(Installation.workspace).where(Installation.active.is_(False))))
            found = set(s.scalars(select(Installation.workspace).where(Installation.active.is_(True))))
            found |= set(s.scalars(select(PersonRow.workspace).distinct()))
        return sorted(found - inactive)

    # ---- the timer: the one firing path ----------------------------------------------------------

    async def _timer(self) -> None:
        """The leader's loop: one pass, then sleep until the next job is due (at most
        ``sync_seconds``) or until woken. The first pass, right after taking the lead, catches up."""
        catching_up = True
        while True:
            self._woken.clear()
            waiters, self._waiters = self._waiters, []
            started: list[asyncio.Task] = []
            try:
                wait = self._pass(started, catching_up=catching_up)
            finally:
                for waiter in waiters:
                    if not waiter.done():
                        waiter.set_result(started)
            catching_up = False
            # Not asyncio.wait_for: before Python 3.12 it can swallow the cancellation that stops
            # this task when the wake-up comes at the same moment.
            alarm = asyncio.get_running_loop().call_later(wait, self._woken.set)
            try:
                await self._woken.wait()
            finally:
                alarm.cancel()

    def _pass(self, started: list[asyncio.Task], *, catching_up: bool) -> float:
        """Keep the lock, reconcile when due, start the due runs in the background (their task
        appended to ``started``); returns seconds until the next pass."""
        try:
            if time.monotonic() - self._last_sync >= self.settings.sync_seconds or self._sync_requested:
                if not self._lock_alive():
                    log.error("lost the scheduler lock (database connection dropped); standing by")
                    self._spawn(self._lose_lead())
                    return self.settings.leader_poll_seconds
                self.sync()
            now = self.app.clock.now()
            jobs = self._aps.get_jobs() if self._aps is not None else []
            fires = self._collect_due(jobs, now, catching_up=catching_up)
            if fires:
                started.append(self._spawn(self._fire_in_order(fires)))
            waiting = [j.next_run_time for j in jobs if j.next_run_time is not None and j.id not in self._running]
            wait = self.settings.sync_seconds
            if waiting:
                wait = min(wait, max(0.0, (min(waiting) - now).total_seconds()))
            return wait
        except Exception:  # noqa: BLE001 - keep the timer alive; the database may be back soon
            log.exception("scheduler could not process jobs; retrying in %.0fs", self.settings.leader_poll_seconds)
            return self.settings.leader_poll_seconds

    async def _lose_lead(self) -> None:
        await self._step_down(lock_lost=True)
        if not self._stopping:
            self._standby = asyncio.create_task(self._stand_by(), name="scheduler-standby")

    def _spawn(self, coro: Any) -> asyncio.Task:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

"""The scheduler on a fixed clock: jobs in the database, cadence changes, restarts, missed rounds
(once within the grace period, skipped beyond it, never twice), the registry of cron jobs, and
the PostgreSQL leader election (two workers on one database make one round).

Time never passes by itself here: tests move the FixedClock and call ``run_due()``, the same
code the APScheduler timer runs in production.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import pytest
from sqlalchemy import func, select

from adapters.console.chat import ConsoleChat
from bot import scheduler
from bot.db.coffee import CoffeeRound
from bot.events import GroupMessage, ScheduledTick
from tests.conftest import WS
from tests.skills.test_coffee import ADMINS, HR, make_chat, say

from skills.coffee.calendar import utc
from skills.coffee.jobs import ROUND_JOB, job_spec
from skills.coffee.settings import CoffeeSettings

UTC = dt.timezone.utc
MONDAY_10 = dt.datetime(2026, 11, 2, 10, 0, tzinfo=UTC)  # the fixture clock starts at 09:00 that Monday


def round_job(app: Any) -> scheduler.ScheduledJob:
    (job,) = [j for j in app.services.get("scheduler").jobs() if j.job == ROUND_JOB]
    return job


def rounds(app: Any) -> list[tuple[str, dt.datetime]]:
    with app.db.session(WS.key) as s:
        return [(r.period, utc(r.scheduled_for)) for r in s.scalars(select(CoffeeRound).order_by(CoffeeRound.id))]


def intros(chat: ConsoleChat) -> list[GroupMessage]:
    return [m for _, m in chat.sent if isinstance(m, GroupMessage)]


async def started(app: Any) -> Any:
    s = app.services.get("scheduler")
    await s.start()
    return s


async def stopped(s: Any) -> None:
    await s.idle()
    await s.stop()


def test_register_cron_rejects_a_bad_expression(make_app) -> None:  # noqa: ANN001
    app = make_app()
    with pytest.raises(ValueError, match="not a valid cron expression"):
        scheduler.register_cron(app, "kudos.digest", "every month")
    with pytest.raises(ValueError, match="unknown time zone"):
        scheduler.register_cron(app, "kudos.digest", "0 9 1 * *", timezone="Mars/Base")


async def test_registry_jobs_are_stored_and_fire_for_each_workspace(make_app, database_url, clock) -> None:  # noqa: ANN001
    chat = make_chat()
    app = make_app(database_url=database_url, chats={"console": chat}, **ADMINS)
    await say(app, HR, "status")  # the workspace now has people
    s = await started(app)
    try:
        names = {j.id: j for j in s.jobs()}
        assert "cron:coffee.sweep" in names and "cron:kudos.digest" in names
        # */15 was due at 09:00, the start time: it ran at start; the next is at 09:15.
        assert names["cron:coffee.sweep"].next_run_time == dt.datetime(2026, 11, 2, 9, 15, tzinfo=UTC)
        clock.advance(dt.timedelta(minutes=20))
        outcomes = await s.run_due()
        # One workspace: each due cron fires once for it (routing's sweep runs every 5 minutes,
        # so it is due too; 20 minutes late, it runs once, not four times).
        assert sorted((o.route, o.status) for o in outcomes) == [("coffee.sweep", "ok"), ("routing.sweep", "ok")]
        assert {j.id: j for j in s.jobs()}["cron:coffee.sweep"].next_run_time == dt.datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
        assert await s.run_due() == []
    finally:
        await stopped(s)


async def test_cadence_schedules_and_a_change_reschedules(make_app, database_url, clock) -> None:  # noqa: ANN001
    app = make_app(database_url=database_url, chats={"console": make_chat()}, **ADMINS)
    s = await started(app)
    try:
        await say(app, HR, "cadence weekly on monday at 10:00 UTC")
        s.sync()
        assert round_job(app).next_run_time == MONDAY_10
        # The command nudges the scheduler of its own process, which reconciles at once.
        await say(app, HR, "cadence biweekly on friday at 15:30 Europe/Zurich")
        assert round_job(app).next_run_time == dt.datetime(2026, 11, 6, 14, 30, tzinfo=UTC)
        # A programme's round job fires at its time and makes the round; the second weekly fire
        # of a fortnight makes none.
        clock.set(dt.datetime(2026, 11, 6, 14, 31, tzinfo=UTC))
        await s.run_due()
        clock.set(dt.datetime(2026, 11, 13, 14, 31, tzinfo=UTC))
        await s.run_due()
        clock.set(dt.datetime(2026, 11, 20, 14, 31, tzinfo=UTC))
        await s.run_due()
        periods = [p for p, _ in rounds(app)]
        assert len(periods) == 2 and len(set(periods)) == 2
    finally:
        await stopped(s)


async def test_the_schedule_survives_a_restart_and_a_missed_round_runs_once(make_app, database_url, clock) -> None:  # noqa: ANN001
    chat = make_chat()
    first = make_app(database_url=database_url, chats={"console": chat}, **ADMINS)
    s1 = await started(first)
    await say(first, HR, "cadence weekly on monday at 10:00 UTC")
    s1.sync()
    await stopped(s1)
    first.close()

    # The worker was down at 10:00 and comes back at 13:00, within the 24 h grace.
    clock.set(dt.datetime(2026, 11, 2, 13, 0, tzinfo=UTC))
    chat.sent.clear()
    second = make_app(database_url=database_url, chats={"console": chat}, **ADMINS)
    s2 = await started(second)  # catches up at start
    await s2.idle()
    assert rounds(second) == [("2026-W45", MONDAY_10)]
    assert len(intros(chat)) == 3
    assert round_job(second).next_run_time == MONDAY_10 + dt.timedelta(days=7)
    assert await s2.run_due() == []
    await stopped(s2)
    second.close()

    # Another restart the same day: nothing runs again.
    third = make_app(database_url=database_url, chats={"console": chat}, **ADMINS)
    s3 = await started(third)
    await s3.idle()
    assert rounds(third) == [("2026-W45", MONDAY_10)]
    assert len(intros(chat)) == 3
    # The next week's round runs on time.
    clock.set(MONDAY_10 + dt.timedelta(days=7, seconds=1))
    await s3.run_due()
    assert [p for p, _ in rounds(third)] == ["2026-W45", "2026-W46"]
    await stopped(s3)


async def test_a_round_missed_beyond_the_grace_period_is_skipped(make_app, database_url, clock) -> None:  # noqa: ANN001
    chat = make_chat()
    first = make_app(database_url=database_url, chats={"console": chat}, **ADMINS)
    s1 = await started(first)
    await say(first, HR, "cadence weekly on monday at 10:00 UTC")
    s1.sync()
    await stopped(s1)

    clock.set(dt.datetime(2026, 11, 3, 12, 0, tzinfo=UTC))  # 26 h late; the grace is 24 h
    second = make_app(database_url=database_url, chats={"console": chat}, **ADMINS)
    s2 = await started(second)
    await s2.idle()
    assert rounds(second) == []
    assert round_job(second).next_run_time == MONDAY_10 + dt.timedelta(days=7)
    await stopped(s2)


async def test_weeks_of_missed_rounds_run_once(make_app, database_url, clock) -> None:  # noqa: ANN001
    chat = make_chat()
    first = make_app(database_url=database_url, chats={"console": chat}, **ADMINS)
    s1 = await started(first)
    await say(first, HR, "cadence weekly on monday at 10:00 UTC")
    s1.sync()
    await stopped(s1)

    # Down for three weeks, back two hours after the third missed Monday round.
    clock.set(MONDAY_10 + dt.timedelta(days=14, hours=2))
    second = make_app(database_url=database_url, chats={"console": chat}, **ADMINS)
    s2 = await started(second)
    await s2.idle()
    assert rounds(second) == [("2026-W47", MONDAY_10 + dt.timedelta(days=14))]
    await stopped(s2)


async def test_a_paused_programme_skips_its_rounds_until_the_date(make_app, database_url, clock) -> None:  # noqa: ANN001
    app = make_app(database_url=database_url, chats={"console": make_chat()}, **ADMINS)
    s = await started(app)
    try:
        await say(app, HR, "cadence weekly on monday at 10:00 UTC")
        await say(app, HR, "pause until 2026-11-10")
        s.sync()
        clock.set(MONDAY_10 + dt.timedelta(minutes=1))
        await s.run_due()
        assert rounds(app) == []
        clock.set(MONDAY_10 + dt.timedelta(days=7, minutes=1))
        await s.run_due()
        assert rounds(app) == []  # Monday 9 Nov is still before the 10th
        clock.set(MONDAY_10 + dt.timedelta(days=14, minutes=1))
        await s.run_due()
        assert [p for p, _ in rounds(app)] == ["2026-W47"]
    finally:
        await stopped(s)


async def test_a_tick_on_an_old_schedule_does_nothing(make_app, database_url, clock) -> None:  # noqa: ANN001
    # A web process changed the cadence; the worker has not reconciled yet and fires the old job.
    app = make_app(database_url=database_url, chats={"console": make_chat()}, **ADMINS)
    await say(app, HR, "cadence weekly on monday at 10:00 UTC")
    old = job_spec(_programme(app), CoffeeSettings()).spec
    await say(app, HR, "cadence weekly on friday at 10:00 UTC")
    outcome = await app.dispatcher.handle(
        ScheduledTick(WS, ROUND_JOB, MONDAY_10, {"programme_id": _programme(app).id, "spec": old}))
    assert outcome.status == "ok" and rounds(app) == []


def _programme(app: Any) -> Any:
    from bot.db.coffee import CoffeeProgramme

    with app.db.session(WS.key) as s:
        return s.scalars(select(CoffeeProgramme)).one()


async def test_two_ticks_at_once_make_one_round(make_app, database_url, clock) -> None:  # noqa: ANN001
    # Even if two processes fired the same job, the unique (programme, period) key holds.
    chat = make_chat()
    a = make_app(database_url=database_url, chats={"console": chat}, **ADMINS)
    b = make_app(database_url=database_url, chats={"console": chat}, **ADMINS)
    await say(a, HR, "cadence weekly on monday at 10:00 UTC")
    p = _programme(a)
    spec = job_spec(p, CoffeeSettings()).spec
    clock.set(MONDAY_10)
    tick = ScheduledTick(WS, ROUND_JOB, MONDAY_10, {"programme_id": p.id, "spec": spec})
    await asyncio.gather(a.dispatcher.handle(tick), b.dispatcher.handle(tick))
    with a.db.session(WS.key) as s:
        assert s.scalar(select(func.count()).select_from(CoffeeRound)) == 1
    assert len(intros(chat)) == 3


async def test_two_workers_on_postgresql_elect_one_and_make_one_round(make_app, pg_url, clock) -> None:  # noqa: ANN001
    chat = make_chat()
    a = make_app(database_url=pg_url, chats={"console": chat}, **ADMINS)
    b = make_app(database_url=pg_url, chats={"console": chat}, **ADMINS)
    sa, sb = await started(a), await started(b)
    try:
        assert (sa.is_leader, sb.is_leader) == (True, False)
        assert await sb.try_lead() is False
        await say(b, HR, "cadence weekly on monday at 10:00 UTC")  # said through the other process
        sa.sync()
        clock.set(MONDAY_10 + dt.timedelta(minutes=5))
        await asyncio.gather(sa.run_due(), sb.run_due())
        await sa.idle()
        assert rounds(a) == [("2026-W45", MONDAY_10)]
        assert len(intros(chat)) == 3

        # The leader stops; the other takes over and the schedule goes on from the database.
        await stopped(sa)
        assert await sb.try_lead() is True
        assert round_job(b).next_run_time == MONDAY_10 + dt.timedelta(days=7)
        clock.set(MONDAY_10 + dt.timedelta(days=7, minutes=5))
        await sb.run_due()
        assert [p for p, _ in rounds(b)] == ["2026-W45", "2026-W46"]
    finally:
        await stopped(sa)
        await stopped(sb)


async def test_scheduler_disabled_fires_nothing(make_app, database_url, clock) -> None:  # noqa: ANN001
    app = make_app(database_url=database_url, chats={"console": make_chat()}, scheduler={"enabled": False}, **ADMINS)
    s = await started(app)
    assert s.is_leader is False and s.jobs() == []
    await say(app, HR, "cadence weekly on monday at 10:00 UTC")
    clock.set(MONDAY_10 + dt.timedelta(minutes=5))
    assert await s.run_due() == []
    assert rounds(app) == []
    await stopped(s)


async def test_a_job_moves_on_only_once_its_run_is_handled(make_app, database_url, clock) -> None:  # noqa: ANN001
    # While a round is being paired (the platform is slow to list the channel), its job is still
    # due in the database: a leader that died here would leave it to the next one.
    class SlowChat(ConsoleChat):
        def __init__(self, **kw: Any) -> None:
            super().__init__(**kw)
            self.asking, self.answer = asyncio.Event(), asyncio.Event()

        async def list_members(self, workspace, conversation_id):  # noqa: ANN001, ANN201
            self.asking.set()
            await self.answer.wait()
            return await super().list_members(workspace, conversation_id)

    chat = make_chat(chat_cls=SlowChat)
    app = make_app(database_url=database_url, chats={"console": chat}, **ADMINS)
    s = await started(app)
    try:
        await say(app, HR, "cadence weekly on monday at 10:00 UTC")
        s.sync()
        clock.set(MONDAY_10 + dt.timedelta(minutes=5))
        running = asyncio.create_task(s.run_due())
        await chat.asking.wait()
        assert round_job(app).next_run_time == MONDAY_10 and rounds(app) == []
        assert await s.run_due() == []  # not fired twice meanwhile
        chat.answer.set()
        await running
        assert rounds(app) == [("2026-W45", MONDAY_10)]
        assert round_job(app).next_run_time == MONDAY_10 + dt.timedelta(days=7)
    finally:
        chat.answer.set()
        await stopped(s)

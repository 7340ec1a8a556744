"""A round whose leader dies is run by the next one: real worker processes on one database, the
leader killed with SIGKILL at the worst moment — it has taken the round's job and is asking Slack
who is in the channel (a fake Slack that holds that call open), before anything is committed.

PostgreSQL: a standby worker is waiting on the advisory lock and takes over. SQLite: the same
worker is started again. Either way: exactly one round, every group introduced once, the job
moved on to next week, and one log line saying the round was caught up.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from bot.db.coffee import CoffeeProgramme
from bot.db.scheduler import SchedulerJob
from tests.db.workers import Worker, coffee_setup, fake_slack, group_count, intros_by_channel, rounds, until, worker_env


def _job_next_run(app, job_id: str) -> float | None:  # noqa: ANN001
    with app.db.session(None) as s:
        return s.scalar(select(SchedulerJob.next_run_time).where(SchedulerJob.id == job_id))


async def test_the_leader_killed_mid_round_still_gives_exactly_one_round(make_app, database_url, tmp_path) -> None:  # noqa: ANN001
    fake = await fake_slack().start()
    workers: list[Worker] = []
    try:
        app, due = await coffee_setup(make_app, database_url, fake)
        (programme_id,) = {r.id for r in _programmes(app)}
        job_id = f"coffee.round:slack:T0LIAISON:{programme_id}"
        env = worker_env(database_url, fake, tmp_path)
        asking = fake.hold("conversations.members")  # the round's first call to Slack

        leader = await Worker(env, "leader").start()
        workers.append(leader)
        await leader.wait_for("this worker fires scheduled jobs")
        await until(lambda: asking.reached.is_set(), timeout=60, what="the leader to start the round")
        if app.db.dialect == "postgresql":
            standby = await Worker(env, "standby").start()
            workers.append(standby)
            await standby.wait_for("another worker holds the scheduler lock")
        await leader.kill()
        assert rounds(app) == []  # nothing of the round was committed
        if app.db.dialect != "postgresql":
            standby = await Worker(env, "restarted").start()  # SQLite: a single worker, started again
            workers.append(standby)

        await standby.wait_for("this worker fires scheduled jobs")
        # The round's job was still due: the new leader runs it, says so once, and only then
        # moves the job to next week.
        nxt = (due + dt.timedelta(days=7)).timestamp()
        await until(lambda: rounds(app) and _job_next_run(app, job_id) == nxt, timeout=60,
                    what="the new leader to run the round and move its job to next week")
        caught_up = await standby.wait_for(f"job {job_id} was due at {due.isoformat()} and did not complete")
        assert "catching up now" in caught_up

        (rnd,) = rounds(app)
        assert rnd.scheduled_for.replace(tzinfo=dt.timezone.utc) == due and rnd.intros_done_at is not None
        assert group_count(app) == rnd.groups == 4
        intros = intros_by_channel(fake)
        assert len(intros) == 4 and all(len(keys) == 1 for keys in intros.values())
        announced = [m for m in fake.history.get("C0COFFEE", []) if "groups are out" in (m.get("text") or "")]
        assert len(announced) == 1
        assert standby.count(f"job {job_id} was due at") == 1
    finally:
        for w in workers:
            await w.stop()
        await fake.stop()


def _programmes(app):  # noqa: ANN001, ANN202
    with app.db.session(None) as s:
        return s.scalars(select(CoffeeProgramme)).all()

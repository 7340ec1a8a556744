"""The monthly kudos digest fired by the real scheduler on a fixed clock: registered from the
skill's settings, due on the first of the month at 09:00 UTC, sent once."""

from __future__ import annotations

import asyncio
import datetime as dt
import io

import pytest

from adapters.console.chat import ConsoleChat
from bot.events import DirectMessage, ScheduledTick
from bot.scheduler import Scheduler, SchedulerSettings, registry
from tests.conftest import WS, message, person

ALICE = person("U0ALICE", "Alice Martin", tz="Europe/Zurich", locale="en")
BRUNO = person("U0BRUNO", "Bruno Leroy", tz="Europe/Paris", locale="fr")


@pytest.fixture
def chat() -> ConsoleChat:
    return ConsoleChat(people={p.id: p for p in (ALICE, BRUNO)}, channels={"C-GENERAL": [ALICE.id, BRUNO.id]},
                       channel_names={"C-GENERAL": "general"}, out=io.StringIO())


def digests(outcomes: list) -> list:
    return [o for o in outcomes if o.route == "kudos.monthly_digest"]


def test_the_digest_is_registered_from_the_settings(make_app, chat) -> None:  # noqa: ANN001
    app = make_app(chats={"console": chat}, kudos={"digest_cron": "30 7 2 * *"})
    job = registry(app).crons["kudos.digest"]
    assert (job.cron, job.timezone) == ("30 7 2 * *", "UTC")


def test_no_digest_job_when_the_digest_is_off(make_app, chat) -> None:  # noqa: ANN001
    app = make_app(chats={"console": chat}, kudos={"digest_enabled": False})
    assert "kudos.digest" not in registry(app).crons


def test_a_bad_cron_stops_the_start_with_a_clear_message(make_app, chat) -> None:  # noqa: ANN001
    with pytest.raises(ValueError, match="the schedule of 'kudos.digest' is not a valid cron expression"):
        make_app(chats={"console": chat}, kudos={"digest_cron": "every month"})


async def test_the_scheduler_sends_the_digest_once_on_the_first_of_the_month(make_app, database_url, chat, clock) -> None:  # noqa: ANN001
    app = make_app(database_url=database_url, chats={"console": chat})
    await app.dispatcher.handle(message(ALICE, "thanks <@U0BRUNO> for the Kafka fix"))
    scheduler = Scheduler(app, settings=SchedulerSettings())
    await scheduler.start()
    try:
        # Other skills' jobs (coffee's) may run too: look at the digest only.
        clock.set(dt.datetime(2026, 11, 30, 23, 59, tzinfo=dt.timezone.utc))
        assert digests(await scheduler.run_due()) == []
        outcome_time = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.timezone.utc)
        clock.set(outcome_time)
        [outcome] = digests(await scheduler.run_due())
        clock.set(dt.datetime(2026, 12, 1, 9, 5, tzinfo=dt.timezone.utc))
        assert digests(await scheduler.run_due()) == []
    finally:
        await scheduler.stop()

    assert outcome.route == "kudos.monthly_digest"
    assert [(m.user_id, m.text) for m in outcome.outbound if isinstance(m, DirectMessage)] == [
        (BRUNO.id, "🙏 Votre aide a été remerciée une fois en novembre 2026, sur Kafka. Merci de partager ce que vous savez !")
    ]
    # A second fire of the same month (a restart that replays the job) sends nothing.
    replay = await app.dispatcher.handle(ScheduledTick(workspace=WS, job="kudos.digest", fire_time=outcome_time))
    assert replay.outbound == []


async def test_the_digest_fires_with_coffee_disabled(make_app, database_url, chat, clock) -> None:  # noqa: ANN001
    """The scheduler is the app's, not the coffee skill's: a bot without coffee (here, without
    expertise either) still sends the digest, from the scheduler the worker starts."""
    from bot.app.runtime import start_worker, stop_worker
    from skills import help as help_skill
    from skills import kudos

    app = make_app(database_url=database_url, chats={"console": chat}, skills=(help_skill, kudos))
    assert set(registry(app).crons) == {"kudos.digest"} and not registry(app).providers  # no coffee job
    await app.dispatcher.handle(message(ALICE, "thanks <@U0BRUNO> for the Kafka fix"))
    stop = asyncio.Event()
    tasks = await start_worker(app, stop)
    try:
        assert app.scheduler is app.services.get("scheduler") and app.scheduler.is_leader
        clock.set(dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.timezone.utc))
        [outcome] = digests(await app.scheduler.run_due())
    finally:
        stop.set()
        await stop_worker(app, tasks)
    [dm] = [m for m in outcome.outbound if isinstance(m, DirectMessage)]
    assert dm.user_id == BRUNO.id
    assert dm.text.startswith("🙏 Votre aide a été remerciée une fois en novembre 2026")

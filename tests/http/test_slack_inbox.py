"""The inbox at the wire: Slack gets its 200 only once the event is stored; an event a process
left in the inbox when it died is handled once by the next one; an event that cannot be stored
is answered 503, so that Slack delivers it again."""

from __future__ import annotations

import asyncio
import sqlite3

from sqlalchemy import func, select

from bot.db.models import EventSeen, InboxItem, IngestItem
from bot.events import Conversation, MessageReceived, Person, Workspace
from bot.inbox import Inbox
from tests.http.fake_slack import TEAM_ID, FakeSlack, channel_message, running_bot, slack_user

WS = Workspace("slack", TEAM_ID)


def _users() -> list[dict]:
    return [slack_user("U0CAM", "Camille Durand"), slack_user("U0ADA", "Ada Lovelace")]


async def _outcomes(bot, n: int) -> list:  # noqa: ANN001
    for _ in range(400):  # the replay runs in the adapter's own task
        if len(bot.outcomes) >= n:
            break
        await asyncio.sleep(0.05)
    await bot.settle()
    return bot.outcomes


def _count(app, model) -> int:  # noqa: ANN001
    with app.db.session(None) as s:
        return s.scalar(select(func.count()).select_from(model)) or 0


async def test_events_a_dead_process_left_in_the_inbox_are_handled_once_at_start(make_app, database_url) -> None:  # noqa: ANN001
    # What a process had stored and acknowledged when it was killed: a DM to the bot and a
    # channel message to index.
    left = make_app(database_url=database_url)
    inbox = Inbox(left.db)
    await inbox.put(MessageReceived(workspace=WS, conversation=Conversation("D0CAM", "dm"), sender=Person("U0CAM"),
                                    text="help", ts="1762070401.000100", event_id="EvLeft1", addressed=True))
    await inbox.put(MessageReceived(workspace=WS, conversation=Conversation("C0GENERAL", "channel"), sender=Person("U0ADA"),
                                    text="the kafka consumer lag is fixed", ts="1762070402.000100", event_id="EvLeft2"))
    inbox.close()

    fake = FakeSlack(users=_users())
    async with running_bot(make_app, fake, database_url=database_url) as bot:
        outcomes = await _outcomes(bot, 2)
        assert sorted((o.status, o.queued) for o in outcomes) == [("ok", False), ("ok", True)]
        assert _count(bot.app, InboxItem) == 0
        assert _count(bot.app, IngestItem) == 1
    [answer] = fake.calls("chat.postMessage")
    assert answer["channel"] == "D0CAM" and "Here is what you can ask me" in answer["text"]

    again = FakeSlack(users=_users())
    async with running_bot(make_app, again, database_url=database_url) as bot:
        await bot.adapter.replay(before=_now())
        await bot.settle()
        assert bot.outcomes == []  # nothing left, nothing handled twice
    assert again.calls("chat.postMessage") == []


def _now():  # noqa: ANN202
    from bot.db.models import utcnow

    return utcnow()


async def test_an_event_that_cannot_be_stored_gets_503_and_its_redelivery_is_handled_once(make_app, tmp_path) -> None:  # noqa: ANN001
    url = f"sqlite:///{tmp_path / 'locked.db'}"
    fake = FakeSlack(users=_users())
    async with running_bot(make_app, fake, database_url=url, database={"sqlite_busy_timeout_ms": 200}) as bot:
        event = channel_message("U0CAM", "help", "1762070403.000100", channel="D0CAM", channel_type="im")
        blocker = sqlite3.connect(tmp_path / "locked.db", isolation_level=None)
        blocker.execute("BEGIN EXCLUSIVE")  # another program holds the database
        try:
            refused = await bot.event(event, event_id="EvLock1")
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()
        assert refused.status == 503
        await bot.settle()
        assert bot.outcomes == []  # nothing was handled: Slack will deliver it again
        retried = await bot.event(event, event_id="EvLock1", retry_num=1)
        assert retried.status == 200
        await bot.settle()
        with bot.app.db.session(None) as s:
            seen = s.scalars(select(EventSeen.key)).all()
        assert _count(bot.app, InboxItem) == 0
    assert [o.status for o in bot.outcomes] == ["ok"]
    assert len(fake.calls("chat.postMessage")) == 1
    assert sorted(seen) == ["event:EvLock1", "msg:D0CAM:1762070403.000100"]


async def test_an_event_stalled_in_the_inbox_of_a_running_process_is_handled_after_the_replay_delay(make_app, sqlite_url) -> None:  # noqa: ANN001
    fake = FakeSlack(users=_users())
    async with running_bot(make_app, fake, database_url=sqlite_url, slack={"min_seconds_between_messages": 0.0,
                                                                          "inbox_replay_seconds": 1.0}) as bot:
        # Stored, but its handling never started (as when the database failed under it).
        stalled = Inbox(bot.app.db)
        await stalled.put(MessageReceived(workspace=WS, conversation=Conversation("D0CAM", "dm"), sender=Person("U0CAM"),
                                          text="help", ts="1762070405.000100", event_id="EvStalled", addressed=True))
        stalled.close()
        outcomes = await _outcomes(bot, 1)
        assert [o.status for o in outcomes] == ["ok"]
        assert _count(bot.app, InboxItem) == 0
    assert [c["channel"] for c in fake.calls("chat.postMessage")] == ["D0CAM"]

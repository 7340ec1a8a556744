"""The inbox on SQLite and PostgreSQL: events go in whole, come back in order, and one that
keeps failing (or cannot be read) is dropped after a few attempts instead of coming back forever."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging

from sqlalchemy import delete, select, update

from bot.db.models import InboxItem, utcnow
from bot.events import (
    ActionInvoked, CommandInvoked, Conversation, MemberJoined, MemberLeft, MessageReceived, Person, ReactionAdded, Workspace,
)
from bot.inbox import MAX_ATTEMPTS, Inbox, decode, encode

WS = Workspace("slack", "T0LIAISON")
CHANNEL = Conversation("C0GENERAL", "channel", "general")


def _events() -> list:
    cam = Person("U0CAM", "Camille Durand", team="People", tz="Europe/Paris", locale="fr-FR", is_admin=True)
    return [
        MessageReceived(workspace=WS, conversation=CHANNEL, sender=cam, text="merci <@U0ADA> pour kafka", ts="1762070401.000100",
                        event_id="Ev1", thread_ts="1762070400.000100", parent_user_id="U0ADA", mentions=("U0ADA",),
                        permalink="https://acme.slack.com/archives/C0GENERAL/p1762070401000100",
                        time=dt.datetime(2026, 11, 2, 9, 0, 1, tzinfo=dt.timezone.utc)),
        MessageReceived(workspace=WS, conversation=CHANNEL, sender=Person("U0ADA"), text="", ts="1762070402.000100", deleted=True),
        CommandInvoked(workspace=WS, conversation=Conversation("D0CAM", "dm"), sender=cam, command="whoknows", text="kafka",
                       event_id="command:1.2.3", mentions=()),
        ReactionAdded(workspace=WS, conversation=CHANNEL, sender=cam, reaction="pray", item_ts="1762070401.000100",
                      item_author="U0ADA", event_id="Ev3"),
        MemberJoined(workspace=WS, conversation=Conversation("C0COFFEE", "channel"), person=Person("U0BOB"), event_id="Ev4"),
        MemberLeft(workspace=WS, conversation=Conversation("G0PRIV", "private"), person=Person("U0BOB"), event_id="Ev5"),
        ActionInvoked(workspace=WS, conversation=Conversation("D0CAM", "dm"), sender=cam, action_id="coffee.met", value="7",
                      event_id="action:x", ts="1762070403.000100"),
    ]


def test_every_event_kind_comes_back_equal() -> None:
    for event in _events():
        assert decode(encode(event)) == event


async def test_events_come_back_in_order_except_those_being_handled(make_app, database_url) -> None:  # noqa: ANN001
    app = make_app(database_url=database_url)
    inbox = Inbox(app.db)
    ids = await asyncio.gather(*(inbox.put(e, {"response_url": "https://hooks.slack.com/commands/T/1"} if i == 2 else None)
                                 for i, e in enumerate(_events())))
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    other = Workspace("teams", "tenant")
    await inbox.put(MessageReceived(workspace=other, conversation=CHANNEL, sender=Person("29:x"), text="hi", ts="a"))
    later = utcnow() + dt.timedelta(seconds=1)
    due = inbox.due("slack:", before=later, exclude={ids[1]})
    assert [p.id for p in due] == [i for i in ids if i != ids[1]]
    assert [p.event for p in due] == [e for i, e in enumerate(_events()) if i != 1]
    assert due[1].meta == {"response_url": "https://hooks.slack.com/commands/T/1"}
    assert inbox.due("slack:", before=utcnow() - dt.timedelta(hours=1)) == []  # none that old
    assert inbox.count("slack:") == len(ids) and inbox.count("teams:") == 1
    # An id names one event only: once every row is handled (deleted), the next one is new.
    with app.db.session(None) as s:
        s.execute(delete(InboxItem))
    assert await inbox.put(_events()[0]) > max(ids) + 1
    inbox.close()


async def test_an_event_that_keeps_failing_is_dropped_with_an_error_line(make_app, database_url, caplog) -> None:  # noqa: ANN001
    app = make_app(database_url=database_url)
    inbox = Inbox(app.db)
    [first, *_] = _events()
    row_id = await inbox.put(first)
    unreadable = await inbox.put(first)
    inbox.close()
    with app.db.session(None) as s:
        s.execute(update(InboxItem).where(InboxItem.id == unreadable).values(event={"type": "Gone"}))
    later = utcnow() + dt.timedelta(seconds=1)
    with caplog.at_level(logging.ERROR, logger="liaison.inbox"):
        for attempt in range(MAX_ATTEMPTS):
            assert [p.id for p in inbox.due("slack:", before=later)] == [row_id], attempt
        assert inbox.due("slack:", before=later) == []
    with app.db.session(None) as s:
        assert s.scalars(select(InboxItem.id)).all() == []
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 2
    assert "cannot be read" in messages[0] and f"after {MAX_ATTEMPTS} attempts" in messages[1]

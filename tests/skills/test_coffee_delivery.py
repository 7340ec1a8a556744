"""Coffee intros group by group, each under its own claim: a sender that stops mid-post holds
back only its own group, and whoever takes that group over asks the platform whether the message
got through before posting it again (at most once where the platform cannot tell).

In-process, on the console ChatPort (which keeps what it sent, so it can answer that question)
and a port that cannot tell; the same on Slack's wire and with real processes killed mid-post is
in tests/http/test_slack_delivery.py and tests/db/test_coffee_failover.py.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any, Sequence

import pytest
from sqlalchemy import select, update

from adapters.console.chat import ConsoleChat
from bot.config import ConfigError
from bot.db.coffee import CoffeeGroup, CoffeeProgramme, CoffeeRound
from bot.events import GroupMessage, Outbound, Person, Reply, ScheduledTick, Sent, Workspace
from bot.ports import SentLookup
from tests.conftest import WS
from tests.skills.test_coffee import ADMINS, ALEX, ANNA, BEA, BORIS, CARL, CORA, HR, OUTSIDER, group_messages, make_chat, say, start_programme

from skills.coffee.jobs import ROUND_JOB, SWEEP_JOB, job_spec
from skills.coffee.settings import CoffeeSettings

EIGHT = (HR, ANNA, ALEX, BEA, BORIS, CARL, CORA, OUTSIDER)  # four groups of two
OTHER_SENDER = "other-host:4242:0badcafe"


class DiesAfterPosting(ConsoleChat):
    """The platform takes the ``die_at``-th group message, then the sender dies before it hears
    back (an unexpected error in the middle of the post)."""

    die_at: int | None = None

    async def send(self, workspace: Workspace, message: Outbound) -> Sent:
        sent = await super().send(workspace, message)
        if isinstance(message, GroupMessage) and self.die_at is not None:
            self.die_at -= 1
            if self.die_at == 0:
                self.die_at = None
                raise RuntimeError("worker killed mid-post")
        return sent


class CannotTell:
    """A platform that cannot say which messages got through (Teams' Bot Connector has no
    history a bot can read): the console's port without ``find_sent``."""

    platform = "console"

    def __init__(self, inner: ConsoleChat) -> None:
        self.inner = inner

    async def send(self, workspace: Workspace, message: Outbound) -> Sent:
        return await self.inner.send(workspace, message)

    async def lookup_user(self, workspace: Workspace, user_id: str) -> Person | None:
        return await self.inner.lookup_user(workspace, user_id)

    async def list_members(self, workspace: Workspace, conversation_id: str) -> Sequence[str]:
        return await self.inner.list_members(workspace, conversation_id)

    async def list_users(self, workspace: Workspace) -> Sequence[Person]:
        return await self.inner.list_users(workspace)

    async def permalink(self, workspace: Workspace, conversation_id: str, ts: str) -> str | None:
        return None


def groups(app: Any) -> list[CoffeeGroup]:
    with app.db.session(WS.key) as s:
        return s.scalars(select(CoffeeGroup).order_by(CoffeeGroup.number)).all()


def intros_per_group(chat: ConsoleChat) -> dict[frozenset[str], int]:
    out: dict[frozenset[str], int] = {}
    for m in group_messages(chat):
        out[frozenset(m.user_ids)] = out.get(frozenset(m.user_ids), 0) + 1
    return out


def undo_intros(app: Any, *, claimed: int, until: dt.datetime) -> None:
    """As if the round's intros were never recorded and another sender holds group ``claimed``."""
    with app.db.session(WS.key) as s:
        s.execute(update(CoffeeGroup).values(intro_sent_at=None, intro_attempts=0, conversation_id=None))
        s.execute(update(CoffeeGroup).where(CoffeeGroup.number == claimed)
                  .values(sending_by=OTHER_SENDER, sending_until=until))
        s.execute(update(CoffeeRound).values(intros_done_at=None))


async def sweep(app: Any, clock: Any) -> None:
    outcome = await app.dispatcher.handle(ScheduledTick(WS, SWEEP_JOB, clock.now()))
    assert outcome.status == "ok", outcome


def test_the_console_and_slack_can_tell_what_got_through() -> None:
    from adapters.slack.chat import SlackChat

    assert issubclass(ConsoleChat, SentLookup) and issubclass(SlackChat, SentLookup)
    assert not isinstance(CannotTell(make_chat()), SentLookup)


async def test_a_sender_dying_after_its_post_landed_gives_no_second_intro(make_app, database_url, clock) -> None:  # noqa: ANN001
    chat = make_chat(EIGHT, chat_cls=DiesAfterPosting)
    app = make_app(database_url=database_url, chats={"console": chat}, **ADMINS)
    await start_programme(app)
    chat.sent.clear()
    chat.die_at = 2
    outcome, _ = await say(app, HR, "run now")
    assert outcome.status == "error"  # the sender "died" after the second intro reached its group
    assert len(group_messages(chat)) == 2
    # Its group was left in doubt, not waiting for a claim to run out: the sweep (same clock)
    # asks first, finds that intro there, records it, and sends the two others.
    await sweep(app, clock)
    counts = intros_per_group(chat)
    assert sorted(counts.values()) == [1, 1, 1, 1]
    assert sorted(u for pair in counts for u in pair) == sorted(p.id for p in EIGHT)
    rows = groups(app)
    assert all(g.intro_sent_at is not None and g.sending_by is None for g in rows)
    assert [g.intro_attempts for g in rows] == [1, 1, 1, 1]


async def test_the_others_go_at_once_and_the_held_group_is_taken_over_when_its_claim_runs_out(
        make_app, database_url, clock, caplog) -> None:  # noqa: ANN001
    chat = make_chat(EIGHT)
    app = make_app(database_url=database_url, chats={"console": chat}, coffee={"claim_seconds": 0.5}, **ADMINS)
    await start_programme(app)
    await say(app, HR, "run now")
    rows = groups(app)
    held_key = f"coffee.intro.{rows[1].id}"
    # Another sender posted group 1's intro (it reached the group) and died before recording it;
    # nothing else was recorded.
    chat.sent[:] = [(c, m) for c, m in chat.sent if getattr(m, "key", None) == held_key]
    undo_intros(app, claimed=1, until=clock.now() + dt.timedelta(seconds=0.5))
    caplog.set_level(logging.INFO, logger="liaison.skills.coffee")

    await sweep(app, clock)  # the claim is still running on this clock: group 1 waits, no other does
    assert len(group_messages(chat)) == 4
    assert [g.intro_sent_at is not None for g in groups(app)] == [True, False, True, True]

    clock.advance(dt.timedelta(seconds=1))  # that sender's claim ran out without a mark
    await sweep(app, clock)
    assert sorted(intros_per_group(chat).values()) == [1, 1, 1, 1]  # asked, found, not posted again
    rows = groups(app)
    assert rows[1].intro_sent_at is not None and rows[1].sending_by is None
    assert rows[1].conversation_id == [c for c, m in chat.sent if m.key == held_key][0]
    assert sum("had got through before its sender stopped" in r.getMessage() for r in caplog.records) == 1
    with app.db.session(WS.key) as s:
        assert s.scalars(select(CoffeeRound)).one().intros_done_at is not None


async def test_a_group_whose_sender_keeps_its_claim_alive_is_left_to_it(make_app, database_url, clock) -> None:  # noqa: ANN001
    chat = make_chat(EIGHT)
    app = make_app(database_url=database_url, chats={"console": chat}, coffee={"claim_seconds": 0.5}, **ADMINS)
    await start_programme(app)
    await say(app, HR, "run now")
    chat.sent.clear()
    undo_intros(app, claimed=0, until=clock.now() + dt.timedelta(seconds=0.5))
    await sweep(app, clock)
    assert len(group_messages(chat)) == 3
    row = groups(app)[0]
    assert (row.intro_sent_at, row.sending_by) == (None, OTHER_SENDER)


async def test_an_interrupted_post_a_platform_cannot_check_is_not_sent_again(make_app, database_url, clock, caplog) -> None:  # noqa: ANN001
    console = make_chat(EIGHT)
    app = make_app(database_url=database_url, chats={"console": CannotTell(console)}, **ADMINS)
    await start_programme(app)
    await say(app, HR, "run now")
    assert len(group_messages(console)) == 4
    console.sent.clear()
    undo_intros(app, claimed=2, until=clock.now() - dt.timedelta(seconds=1))  # its sender died
    caplog.set_level(logging.WARNING, logger="liaison.skills.coffee")
    await sweep(app, clock)
    assert len(group_messages(console)) == 3  # at most once: group 2 may have had it
    rows = groups(app)
    assert rows[2].intro_sent_at is None and rows[2].intro_attempts == CoffeeSettings().intro_max_attempts
    assert "cannot tell whether it got through" in rows[2].intro_error
    assert sum("not sent again (at most once)" in r.getMessage() for r in caplog.records) == 1
    with app.db.session(WS.key) as s:
        assert s.scalars(select(CoffeeRound)).one().intros_done_at is not None  # nothing left to try
    await sweep(app, clock)
    assert len(group_messages(console)) == 3


async def test_a_scheduled_round_fired_again_resumes_its_intros_and_is_announced_once(make_app, database_url, clock) -> None:  # noqa: ANN001
    chat = make_chat(EIGHT)
    app = make_app(database_url=database_url, chats={"console": chat}, **ADMINS)
    await start_programme(app)
    with app.db.session(WS.key) as s:
        p = s.scalars(select(CoffeeProgramme)).one()
        pid, spec = p.id, job_spec(p, CoffeeSettings()).spec
    monday_10 = dt.datetime(2026, 11, 2, 10, 0, tzinfo=dt.timezone.utc)
    clock.set(monday_10)
    tick = ScheduledTick(WS, ROUND_JOB, monday_10, {"programme_id": pid, "spec": spec})
    first = await app.dispatcher.handle(tick)
    announced = [m for m in first.outbound if isinstance(m, Reply)]
    assert len(announced) == 1 and len(group_messages(chat)) == 4
    # The process that ran it stopped before recording two intros; the job fires again.
    with app.db.session(WS.key) as s:
        s.execute(update(CoffeeGroup).where(CoffeeGroup.number >= 2).values(intro_sent_at=None, intro_attempts=0))
        s.execute(update(CoffeeRound).values(intros_done_at=None))
    chat.sent[:] = [(c, m) for c, m in chat.sent if not isinstance(m, GroupMessage) or m.key in
                    {f"coffee.intro.{g.id}" for g in groups(app) if g.number < 2}]
    again = await app.dispatcher.handle(tick)
    assert [m for m in again.outbound if isinstance(m, Reply)] == []  # announced once
    assert sorted(intros_per_group(chat).values()) == [1, 1, 1, 1]
    with app.db.session(WS.key) as s:
        rnd = s.scalars(select(CoffeeRound)).one()
        assert rnd.intros_done_at is not None and rnd.announced_at is not None


def test_a_claim_time_that_is_not_positive_stops_the_start(make_app) -> None:  # noqa: ANN001
    with pytest.raises(ConfigError, match="coffee.claim_seconds must be more than 0"):
        make_app(coffee={"claim_seconds": 0})

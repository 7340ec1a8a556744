"""The dispatcher end to end on a real database (SQLite and PostgreSQL): idempotency, the
ingestion queue and privacy, admin checks, error replies and bad input."""

from __future__ import annotations

import io
import sqlite3

import pytest
from sqlalchemy import func, select

from adapters.console.chat import ConsoleChat
from bot.db.models import EventSeen, IngestItem, PersonRow
from bot.dispatch import Dispatcher, reply
from bot.events import CommandInvoked, Conversation, Person, Reply
from bot.router import Router, Routes
from tests.conftest import WS, dm, message, person

ALICE = person("U1", "Alice Martin", team="Data", locale="en")
BRUNO = person("U2", "Bruno Roy", team="Mobile", locale="fr")
HR = person("U3", "Hana Ruiz", team="People")
BOT = Person("B1", "Deploy Bot", is_bot=True)


def make_skill() -> Routes:
    r = Routes("t")

    @r.message(en=r"ping", fr=r"coucou")
    def ping(event, ctx):  # noqa: ANN001
        return reply(ctx, "pong" if ctx.lang == "en" else "salut")

    @r.command("secret", admin=True)
    def secret(event, ctx):  # noqa: ANN001
        return reply(ctx, "the admin page")

    @r.message(en=r"break")
    def broken(event, ctx):  # noqa: ANN001
        ctx.db.add(PersonRow(user_id="GHOST", name="should not be saved"))
        ctx.db.flush()
        raise RuntimeError("boom")

    return r


@pytest.fixture
def setup(make_app, database_url):  # noqa: ANN001
    out = io.StringIO()
    chat = ConsoleChat(people={p.id: p for p in (ALICE, BRUNO, HR)}, channels={}, out=out)
    app = make_app(database_url=database_url, chats={"console": chat}, bot={"hr_admins": ["U3"]})
    router = Router()
    router.include(make_skill())
    d = Dispatcher(router=router, db=app.db, chats={"console": chat}, clock=app.clock, settings=app.settings)
    return app, d, chat


def count(app, model, *where) -> int:  # noqa: ANN001
    with app.db.session(WS.key) as s:
        return s.scalar(select(func.count()).select_from(model).where(*where))


async def test_a_retried_event_is_handled_once(setup) -> None:  # noqa: ANN001
    app, d, chat = setup
    event = dm(ALICE, "ping")
    first, second = await d.handle(event), await d.handle(event)
    assert first.status == "ok" and second.status == "duplicate"
    assert [m.text for _, m in chat.sent] == ["pong"]


async def test_the_same_message_under_a_new_event_id_is_a_duplicate(setup) -> None:  # noqa: ANN001
    app, d, chat = setup
    a = message(ALICE, "Kafka retention is 7 days", ts="1762000000.000100", event_id="Ev1")
    b = message(ALICE, "Kafka retention is 7 days", ts="1762000000.000100", event_id="Ev2")
    assert (await d.handle(a)).queued
    assert (await d.handle(b)).status == "duplicate"
    assert count(app, IngestItem) == 1


async def test_public_messages_are_queued_and_nothing_else(setup) -> None:  # noqa: ANN001
    app, d, chat = setup
    assert (await d.handle(message(ALICE, "Kafka lag is back to normal"))).queued
    assert not (await d.handle(message(ALICE, "secret plans", channel="G1", kind="private"))).queued
    assert not (await d.handle(message(ALICE, "dm text", channel="D1", kind="dm"))).queued
    assert not (await d.handle(message(ALICE, "group text", channel="M1", kind="group"))).queued
    assert not (await d.handle(message(BOT, "deployed v1.2"))).queued
    with app.db.session(WS.key) as s:
        texts = s.scalars(select(IngestItem.text)).all()
    assert texts == ["Kafka lag is back to normal"]


async def test_opted_out_people_are_not_queued(setup) -> None:  # noqa: ANN001
    app, d, chat = setup
    await d.handle(dm(BRUNO, "coucou"))
    with app.db.session(WS.key) as s:
        s.scalars(select(PersonRow).where(PersonRow.user_id == "U2")).one().indexing_opt_out = True
    assert not (await d.handle(message(BRUNO, "Terraform plan is green"))).queued


async def test_edits_replace_the_queued_text_and_deletes_replace_the_op(setup) -> None:  # noqa: ANN001
    app, d, chat = setup
    await d.handle(message(ALICE, "Kafka lag", ts="1762000001.000100"))
    await d.handle(message(ALICE, "Kafka consumer lag fixed", ts="1762000001.000100", edited=True))
    with app.db.session(WS.key) as s:
        row = s.scalars(select(IngestItem)).one()
        assert (row.op, row.text) == ("upsert", "Kafka consumer lag fixed")
    await d.handle(message(ALICE, "", ts="1762000001.000100", deleted=True))
    with app.db.session(WS.key) as s:
        row = s.scalars(select(IngestItem)).one()
        assert (row.op, row.text) == ("delete", "")


async def test_language_follows_the_pattern_that_matched(setup) -> None:  # noqa: ANN001
    app, d, chat = setup
    await d.handle(dm(ALICE, "coucou"))
    assert chat.sent[-1][1].text == "salut"


async def test_admin_routes_refuse_others_and_change_nothing(setup) -> None:  # noqa: ANN001
    app, d, chat = setup
    conv = Conversation("C1", "channel", "general")
    refused = await d.handle(CommandInvoked(WS, conv, ALICE, command="secret", text="", event_id="c1"))
    assert refused.status == "refused"
    msg = chat.sent[-1][1]
    assert isinstance(msg, Reply) and msg.ephemeral_to == "U1" and "HR admins" in msg.text
    allowed = await d.handle(CommandInvoked(WS, conv, HR, command="secret", text="", event_id="c2"))
    assert allowed.status == "ok" and chat.sent[-1][1].text == "the admin page"
    boss = person("U9", "Boss", is_admin=True)
    assert (await d.handle(CommandInvoked(WS, conv, boss, command="secret", text="", event_id="c3"))).status == "ok"


async def test_a_failing_handler_gets_an_apology_and_saves_nothing(setup, caplog) -> None:  # noqa: ANN001
    app, d, chat = setup
    outcome = await d.handle(dm(ALICE, "break"))
    assert outcome.status == "error" and "RuntimeError: boom" in outcome.error
    assert "something went wrong" in chat.sent[-1][1].text and "reference" in chat.sent[-1][1].text
    assert count(app, PersonRow, PersonRow.user_id == "GHOST") == 0
    assert "failed" in caplog.text


async def test_unknown_empty_and_huge_messages(setup) -> None:  # noqa: ANN001
    app, d, chat = setup
    assert (await d.handle(dm(ALICE, "what is the meaning of life"))).status == "unknown"
    assert "help" in chat.sent[-1][1].text
    await d.handle(dm(ALICE, "   "))
    assert "help" in chat.sent[-1][1].text
    huge = "kafka " * 10_000  # 60,000 characters
    refused = await d.handle(dm(ALICE, huge))
    assert refused.status == "refused" and "too long" in chat.sent[-1][1].text
    queued = await d.handle(message(ALICE, huge))
    assert queued.queued
    with app.db.session(WS.key) as s:
        stored = s.scalars(select(IngestItem.text)).one()
    assert len(stored) == app.settings.ingest.max_text_chars


async def test_unknown_users_are_added_to_the_directory(setup) -> None:  # noqa: ANN001
    app, d, chat = setup
    stranger = Person("U77")  # no name: the dispatcher asks the platform, which does not know them
    outcome = await d.handle(dm(stranger, "ping"))
    assert outcome.status == "ok"
    with app.db.session(WS.key) as s:
        row = s.scalars(select(PersonRow).where(PersonRow.user_id == "U77")).one()
    assert row.name == "U77"


async def test_the_sender_is_looked_up_when_the_event_has_only_an_id(setup) -> None:  # noqa: ANN001
    app, d, chat = setup
    await d.handle(dm(Person("U2"), "coucou"))
    with app.db.session(WS.key) as s:
        row = s.scalars(select(PersonRow).where(PersonRow.user_id == "U2")).one()
    assert (row.name, row.team) == ("Bruno Roy", "Mobile")

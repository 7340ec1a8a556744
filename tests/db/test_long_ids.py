"""Teams ids are long: a user is "29:" and about 110 characters, a 1:1 conversation "a:" and
about 140, a channel "19:…@thread.tacv2". Every column holding a user or conversation id takes
them whole, on SQLite and PostgreSQL (which refuses a value longer than its column)."""

from __future__ import annotations

import io
from typing import Any

from sqlalchemy import inspect, select

from adapters.console.chat import ConsoleChat
from bot.db import Base, Database
from bot.db.expertise import ExpertiseMessage
from bot.db.kudos import KudosRow
from bot.db.migrate import upgrade
from bot.db.models import PersonRow
from bot.events import CommandInvoked, Conversation
from bot.ingest import IngestWorker
import bot.db.schema  # noqa: F401 - every model
from tests.conftest import WS, message, person

# Shaped like the ids of real Teams activities (same prefixes and lengths).
LONG_USER_A = "29:1" + "pQ7vXk2Lr9sT0bW4yZ8cN3mF6hJ1dG5aE" * 3 + "qR7"   # 106 characters
LONG_USER_B = "29:1" + "Hs3Kd9Lm2Qp7Wx4Zc8Vb1Nf6Jg5Ty0Ru" * 3 + "aB2"
LONG_CHANNEL = "19:" + "4e2f6c1b9a8d47e3b5c0d2f1a6e9b8c7" + "@thread.tacv2;messageid=1762070400123"
ID_COLUMNS = ("user_id", "parent_user_id", "giver_id", "receiver_id", "user_a", "user_b",
              "conversation_id", "channel_id")


def test_every_id_column_takes_a_teams_id_whole(database_url) -> None:  # noqa: ANN001
    db = Database(database_url)
    try:
        upgrade(db)
        inspector = inspect(db.engine)
        short = []
        # SQLite keeps the declared VARCHAR(64) of old tables in its schema text but never enforces
        # a length (the second test stores the long ids there); PostgreSQL enforces it.
        enforced = db.engine.dialect.name != "sqlite"
        for table in Base.metadata.tables:
            for col in inspector.get_columns(table):
                length = getattr(col["type"], "length", None)
                if enforced and col["name"] in ID_COLUMNS and length is not None and length < 255:
                    short.append(f"{table}.{col['name']} ({length})")
        assert short == []
        for table in Base.metadata.tables.values():
            for col in table.columns:
                if col.name in ID_COLUMNS:
                    assert getattr(col.type, "length", None) in (None, 255), f"{table.name}.{col.name}"
    finally:
        db.dispose()


async def test_a_teams_conversation_is_stored_with_its_long_ids(make_app, database_url) -> None:  # noqa: ANN001
    alice = person(LONG_USER_A, "Alice Martin", team="Data", locale="en")
    bruno = person(LONG_USER_B, "Bruno Roy", team="Mobile", locale="en")
    chat = ConsoleChat(people={alice.id: alice, bruno.id: bruno}, channels={LONG_CHANNEL: [alice.id, bruno.id]},
                       channel_names={LONG_CHANNEL: "platform"}, out=io.StringIO())
    app = make_app(database_url=database_url, chats={"console": chat})

    question = message(alice, "How do we rotate the Kafka certificates on the staging cluster?",
                       channel=LONG_CHANNEL, channel_name="platform")
    answer = message(bruno, "Run the cert-rotate job in the Kafka operator, then restart the brokers one by one.",
                     channel=LONG_CHANNEL, channel_name="platform", thread_ts=question.ts)
    for event in (question, answer):
        outcome = await app.dispatcher.handle(event)
        assert outcome.status == "ok", outcome
    IngestWorker(app).drain()
    thanks = CommandInvoked(workspace=WS, conversation=Conversation(LONG_CHANNEL, "channel", "platform"), sender=alice,
                            command="thanks", text=f"<@{bruno.id}> for the Kafka certificates", event_id="EvLong1")
    outcome = await app.dispatcher.handle(thanks)
    assert outcome.status == "ok", outcome

    with app.db.session(WS.key) as s:
        people: dict[str, Any] = {r.user_id: r for r in s.scalars(select(PersonRow))}
        stored = s.execute(select(ExpertiseMessage.user_id, ExpertiseMessage.conversation_id,
                                  ExpertiseMessage.parent_user_id).order_by(ExpertiseMessage.id)).all()
        kudos = s.execute(select(KudosRow.giver_id, KudosRow.receiver_id, KudosRow.conversation_id)).all()
    assert {LONG_USER_A, LONG_USER_B} <= set(people)
    assert (LONG_USER_B, LONG_CHANNEL, LONG_USER_A) in stored
    assert kudos == [(LONG_USER_A, LONG_USER_B, LONG_CHANNEL)]

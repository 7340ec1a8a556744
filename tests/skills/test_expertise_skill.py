"""The expertise skill end to end, through the real bootstrap and dispatcher: channel messages
go through the queue and the worker into the index; questions, privacy commands and
declarations are answered in English and French."""

from __future__ import annotations


import pytest
from sqlalchemy import String, func, select

from bot.db import Base
from bot.db.expertise import ExpertiseEvidence
from bot.db.models import IngestItem
from bot.events import CommandInvoked, Conversation
from bot.ingest import IngestWorker
from tests.skills.expertise_company import ALICE, BOB, CAROL, DAN, indexed, run, said
from tests.conftest import WS, dm, message

@pytest.fixture
def app(make_app, database_url):  # noqa: ANN001, ANN201
    return indexed(make_app, database_url, "Kafka consumer groups rebalance when a pod restarts")


def test_who_knows_lists_the_answerer_with_a_reason_and_marks_other_teams(app) -> None:  # noqa: ANN001
    out = said(run(app, dm(CAROL, "who knows Kafka?")))
    assert "Bob Keller" in out and "Dan Ito" in out
    assert out.index("Bob Keller") < out.index("Dan Ito")
    assert "Platform, outside your team" in out
    assert "(Data)" in out  # Dan is in Carol's team: named, not marked as outside
    assert "answered 1 question about" in out and "#general" in out
    assert "Carol" not in out


def test_who_knows_in_french_and_as_a_command(app) -> None:  # noqa: ANN001
    out = said(run(app, dm(CAROL, "qui connaît Kafka ?")))
    assert out.startswith("Les personnes qui s'y connaissent en *Kafka*")
    assert "a répondu à 1 question sur" in out and "hors de votre équipe" in out
    out = said(run(app, dm(CAROL, "qui s'y connaît en terraform ?")))
    assert "Dan Ito" in out
    # The answer names the subject without its article.
    out = said(run(app, dm(CAROL, "qui connaît les partitions Kafka ?")))
    assert out.startswith("Les personnes qui s'y connaissent en *partitions Kafka*") and "Bob Keller" in out
    assert said(run(app, dm(ALICE, "who knows the Kafka partitions?"))).startswith("People who know about *Kafka partitions*")
    assert said(run(app, dm(ALICE, "who knows LA logistics?"))).count("*LA logistics*") == 1
    cmd = CommandInvoked(workspace=WS, conversation=Conversation("C-GENERAL", "channel", "general"), sender=ALICE,
                         command="whoknows", text="kafka", event_id="Ev-cmd-1")
    out = said(run(app, cmd))
    assert "Bob Keller" in out and "Alice" not in out


def test_anyone_familiar_with_is_understood(app) -> None:  # noqa: ANN001
    assert "Dan Ito" in said(run(app, dm(ALICE, "anyone familiar with terraform?")))


def test_nobody_known_says_so_and_suggests_where_to_ask(app) -> None:  # noqa: ANN001
    out = said(run(app, dm(ALICE, "who knows quantum chromodynamics?")))
    assert "I don't know anyone for *quantum chromodynamics* yet" in out
    assert "for example #general" in out
    assert "Bob Keller" in out  # someone who often helps others, as a pointer
    out = said(run(app, dm(BOB, "who knows?")))
    assert out == "Who knows what? Tell me the topic, e.g. *who knows Kafka?*"
    assert "Donnez-moi le sujet" in said(run(app, dm(CAROL, "qui connaît ?")))


def test_dms_and_private_channels_never_reach_the_index(app) -> None:  # noqa: ANN001
    assert not run(app, message(BOB, "Zookeeper quorum internals", kind="private", channel="G1", channel_name="secret")).queued
    assert not run(app, message(BOB, "Zookeeper snapshots", kind="dm", channel="D1", channel_name=None)).queued
    assert not run(app, message(BOB, "Zookeeper in a group DM", kind="group", channel="M1", channel_name=None)).queued
    IngestWorker(app).drain()
    with app.db.session(WS.key) as s:
        assert s.scalar(select(func.count()).select_from(IngestItem)) == 0
        assert s.scalar(select(func.count()).select_from(ExpertiseEvidence).where(ExpertiseEvidence.topic_key.like("zookeeper%"))) == 0
    assert "I don't know anyone for *zookeeper*" in said(run(app, dm(ALICE, "who knows zookeeper?")))


def test_what_do_you_know_about_me_and_forget_topic(app) -> None:  # noqa: ANN001
    out = said(run(app, dm(DAN, "what do you know about me?")))
    assert "Here is what I hold about you" in out and "*kafka*" in out.lower() and "terraform" in out.lower()
    out = said(run(app, dm(DAN, "forget topic terraform")))
    assert out.startswith("Done: I forgot *terraform*")
    assert "terraform" not in said(run(app, dm(DAN, "what do you know about me?"))).lower()
    assert "I don't know anyone for *terraform*" in said(run(app, dm(ALICE, "who knows terraform?")))
    assert "nothing to forget" in said(run(app, dm(DAN, "forget topic cobol")))
    out = said(run(app, dm(CAROL, "que sais-tu de moi ?")))
    assert out.startswith("Je ne sais encore rien de vous")


def test_what_do_you_know_about_me_lists_telling_topics_before_ones_everybody_shares(app) -> None:  # noqa: ANN001
    # Everyone mentions errors; Dan mentions them more often than Kafka, which few people know.
    for who in (ALICE, BOB, CAROL):
        assert run(app, message(who, "Another deploy error")).queued
    for _ in range(2):
        assert run(app, message(DAN, "Another deploy error")).queued
    IngestWorker(app).drain()
    lines = [line for line in said(run(app, dm(DAN, "what do you know about me?"))).lower().splitlines() if line.startswith("•")]
    kafka = next(i for i, line in enumerate(lines) if "*kafka*" in line)
    deploy = next(i for i, line in enumerate(lines) if "*deploy*" in line and "wrote 2×" in line)
    assert kafka < deploy
    assert not any("*error*" in line for line in lines[:kafka])


def test_stop_and_start_indexing(app) -> None:  # noqa: ANN001
    out = said(run(app, dm(BOB, "stop indexing me")))
    assert out.startswith("Done: I won't index your messages")
    assert "Bob" not in said(run(app, dm(CAROL, "who knows kafka?")))
    assert not run(app, message(BOB, "Kafka Connect sinks")).queued  # opted out: not even queued
    assert "already opted out" in said(run(app, dm(BOB, "stop indexing me")))
    assert said(run(app, dm(BOB, "start indexing me"))).startswith("Welcome back")
    assert run(app, message(BOB, "Kafka Streams joins")).queued
    IngestWorker(app).drain()
    assert "Bob Keller" in said(run(app, dm(CAROL, "who knows kafka?")))
    assert said(run(app, dm(CAROL, "arrête de m'indexer"))).startswith("C'est fait")


def test_forget_me_erases_every_row_naming_the_person(app) -> None:  # noqa: ANN001
    out = said(run(app, dm(BOB, "forget me")))
    assert out.startswith("Done: I erased everything I held about you")
    with app.db.session(None) as s:
        for table in Base.metadata.sorted_tables:
            cols = [c for c in table.columns if isinstance(c.type, String)]
            for c in cols:
                n = s.scalar(select(func.count()).select_from(table).where(c == "UBOB"))
                assert n == 0, f"{table.name}.{c.name} still names the person"
    assert "Bob" not in said(run(app, dm(CAROL, "who knows kafka?")))
    assert said(run(app, dm(DAN, "oublie-moi"))).startswith("C'est fait : j'ai effacé")


def test_after_forget_me_nothing_is_indexed_until_the_person_asks_again(app) -> None:  # noqa: ANN001
    from bot.db.coffee import CoffeeTie

    thread = message(BOB, "Kafka Streams or plain consumers for the billing events?")
    assert run(app, thread).queued
    IngestWorker(app).drain()
    out = said(run(app, dm(BOB, "forget me")))
    assert "I don't index your messages" in out and "*start indexing me*" in out
    assert not run(app, message(BOB, "Kafka Streams joins need co-partitioned topics")).queued
    assert "You have opted out" in said(run(app, dm(BOB, "what do you know about me?")))
    assert "already opted out" in said(run(app, dm(BOB, "stop indexing me")))
    # Others still reply in his thread and name him: their messages are indexed, without him.
    assert run(app, message(CAROL, f"Kafka Streams state stores, as <@{BOB.id}> said", thread_ts=thread.ts,
                            parent_user_id=BOB.id, mentions=(BOB.id,))).queued
    IngestWorker(app).drain()
    with app.db.session(None) as s:
        for table in Base.metadata.sorted_tables:
            if table.name.startswith("expertise_") or table.name in ("ingest_queue", "coffee_ties"):
                for c in [c for c in table.columns if isinstance(c.type, String)]:
                    assert s.scalar(select(func.count()).select_from(table).where(c == BOB.id)) == 0, c
        assert s.scalars(select(CoffeeTie)).all() == []
    assert "Carol Dupont" in said(run(app, dm(DAN, "who knows kafka streams?")))
    assert "Bob" not in said(run(app, dm(DAN, "who knows kafka streams?")))

    assert said(run(app, dm(BOB, "start indexing me"))).startswith("Welcome back")
    assert run(app, message(BOB, "Kafka Streams joins need co-partitioned topics")).queued
    IngestWorker(app).drain()
    assert "Bob Keller" in said(run(app, dm(DAN, "who knows kafka streams?")))


def test_declaring_expertise_in_english_and_french(app) -> None:  # noqa: ANN001
    out = said(run(app, dm(ALICE, "I know Airflow")))
    assert out.startswith("Thanks! I noted that you know about *airflow*")
    assert "Alice Martin" in said(run(app, dm(BOB, "who knows airflow?")))
    assert "says they know airflow" in said(run(app, dm(BOB, "who knows airflow?")))
    out = said(run(app, dm(CAROL, "je connais Figma")))
    assert out.startswith("Merci ! J'ai noté que vous vous y connaissez en *figma*")
    assert "Carol Dupont" in said(run(app, dm(BOB, "who knows figma?")))


def test_an_edited_message_is_reindexed_and_a_deleted_one_dropped(app) -> None:  # noqa: ANN001
    original = message(ALICE, "Grafana alerts for the billing service")
    run(app, original)
    IngestWorker(app).drain()
    assert "Alice Martin" in said(run(app, dm(BOB, "who knows grafana?")))
    from dataclasses import replace

    run(app, replace(original, text="Prometheus alerts for the billing service", edited=True, event_id="Ev-edit"))
    IngestWorker(app).drain()
    assert "I don't know anyone for *grafana*" in said(run(app, dm(BOB, "who knows grafana?")))
    assert "Alice Martin" in said(run(app, dm(BOB, "who knows prometheus?")))
    run(app, replace(original, text="", deleted=True, event_id="Ev-del"))
    IngestWorker(app).drain()
    assert "I don't know anyone for *prometheus*" in said(run(app, dm(BOB, "who knows prometheus?")))

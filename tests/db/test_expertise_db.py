"""The expertise tables on SQLite and PostgreSQL: the migration creates them, workspaces stay
apart, aggregates stay in step with the evidence, and the eraser finds every person column."""

from __future__ import annotations

import datetime as dt
from typing import Iterator

import pytest
from sqlalchemy import func, inspect, select

from bot.db import Database
from bot.db.expertise import ExpertiseEvidence, ExpertiseMessage, ExpertisePerson, ExpertiseScore, ExpertiseTopic
from bot.db.migrate import upgrade
from bot.expertise import (
    EvidenceRef,
    ExpertiseService,
    ExpertiseSettings,
    IncomingMessage,
    forget_all_evidence,
    record_evidence,
)
from bot.nlp import Nlp, Topic
from bot.privacy import forget_person

NOW = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.timezone.utc)


@pytest.fixture(scope="module")
def nlp() -> Nlp:
    return Nlp().load_all()


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    upgrade(database)
    yield database
    database.dispose()


def m(user: str, text: str, ts: str, thread: str | None = None) -> IncomingMessage:
    return IncomingMessage("upsert", "C1", "dev", ts, thread, None, user, text, None, NOW - dt.timedelta(days=2))


def test_migration_creates_the_tables_with_their_unique_keys(db: Database) -> None:
    insp = inspect(db.engine)
    tables = set(insp.get_table_names())
    assert {"expertise_messages", "expertise_evidence", "expertise_scores", "expertise_people", "expertise_topics"} <= tables
    uniques = {u["name"] for u in insp.get_unique_constraints("expertise_evidence")}
    assert "uq_expertise_evidence" in uniques


def test_person_columns_are_declared_for_the_eraser() -> None:
    for model in (ExpertiseMessage, ExpertiseEvidence, ExpertiseScore, ExpertisePerson):
        person_like = {c.name for c in model.__table__.columns if c.name.endswith("user_id")}
        assert person_like <= set(model.__person_columns__), model.__tablename__
    assert not hasattr(ExpertiseTopic, "__person_columns__")  # topics name no one


def test_workspaces_do_not_see_each_other(db: Database, nlp: Nlp) -> None:
    service = ExpertiseService(settings=ExpertiseSettings(), nlp=nlp)
    with db.session("slack:T1") as s:
        service.ingest(s, [m("UA", "Kafka partitions", "1.1")], now=NOW)
    with db.session("slack:T2") as s:
        service.ingest(s, [m("UB", "Kafka retention", "1.1")], now=NOW)  # same channel id and ts, other workspace
    for ws, who in (("slack:T1", "UA"), ("slack:T2", "UB")):
        with db.session(ws) as s:
            _, experts = service.ask(s, text="kafka", asker=None, now=NOW)
            assert [e.user_id for e in experts if e.matched] == [who]


def test_aggregates_follow_the_evidence_through_edits_and_erasure(db: Database, nlp: Nlp) -> None:
    service = ExpertiseService(settings=ExpertiseSettings(), nlp=nlp)
    ws = "slack:T1"
    with db.session(ws) as s:
        service.ingest(s, [m("UA", "How do Helm charts work?", "5.1"), m("UB", "Helm charts are templates", "5.2", "5.1")], now=NOW)
        record_evidence(s, user_id="UB", topics=[Topic("helm", "Helm", "en")], kind="thanked", at=NOW, ref=EvidenceRef("C1", "5.9"))
    with db.session(ws) as s:
        helm = s.scalars(select(ExpertiseTopic).where(ExpertiseTopic.key == "helm")).one()
        assert helm.people_n == 2
        row = s.scalars(select(ExpertiseScore).where(ExpertiseScore.user_id == "UB", ExpertiseScore.topic_key == "helm")).one()
        assert (row.answered_n, row.thanked_n) == (1, 1)
        person = s.scalars(select(ExpertisePerson).where(ExpertisePerson.user_id == "UB")).one()
        assert (person.messages_n, person.answers_n) == (1, 1)
    with db.session(ws) as s:
        forget_all_evidence(s, user_id="UB")
        counts = forget_person(s, "UB")
    with db.session(ws) as s:
        assert s.scalars(select(ExpertiseTopic).where(ExpertiseTopic.key == "helm")).one().people_n == 1
        for model in (ExpertiseEvidence, ExpertiseScore, ExpertisePerson, ExpertiseMessage):
            assert s.scalar(select(func.count()).select_from(model).where(model.user_id == "UB")) == 0
        assert s.scalar(select(func.count()).select_from(ExpertiseMessage).where(ExpertiseMessage.parent_user_id == "UB")) == 0
    assert isinstance(counts, dict)


def test_a_batch_with_a_message_and_its_edit_keeps_the_last_version(db: Database, nlp: Nlp) -> None:
    service = ExpertiseService(settings=ExpertiseSettings(), nlp=nlp)
    with db.session("slack:T1") as s:
        service.ingest(s, [m("UA", "Redis cluster", "7.1"), m("UA", "Postgres replica", "7.1")], now=NOW)
    with db.session("slack:T1") as s:
        keys = set(s.scalars(select(ExpertiseEvidence.topic_key)))
    assert "postgres" in keys and "redis" not in keys

"""The expertise tables on SQLite and PostgreSQL: the migration creates them, workspaces stay
apart, aggregates stay in step with the evidence, and the eraser finds every person column."""

from __future__ import annotations

import datetime as dt
from typing import Iterator

import pytest
from sqlalchemy import func, insert, inspect, select

from bot.db import Base, Database
from bot.db.expertise import ExpertiseEvidence, ExpertiseMessage, ExpertisePerson, ExpertiseScore, ExpertiseTopic
from bot.db.migrate import upgrade
from skills.expertise.evidence import record_evidence
from skills.expertise.index import IncomingMessage
from skills.expertise.model import EvidenceRef, ExpertiseSettings
from skills.expertise.personal import forget_all_evidence
from skills.expertise.ask import ExpertiseService
from skills.expertise.nlp import Nlp, NlpSettings
from skills.expertise.topics import Topic
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


def test_one_person_in_two_workspaces_gets_each_workspaces_directory_and_links(db: Database, nlp: Nlp) -> None:
    # The same user id in two workspaces (as with a shared Slack Enterprise Grid user): each
    # answer reads that workspace's directory row, prior and evidence links, and nothing else.
    from bot.db.models import PersonRow

    service = ExpertiseService(settings=ExpertiseSettings(), nlp=nlp)
    for ws, team, opted_out in (("slack:T1", "Data", False), ("slack:T2", "Mobile", True)):
        with db.session(ws) as s:
            s.add(PersonRow(user_id="UA", name=f"Ann of {ws}", team=team, indexing_opt_out=opted_out))
            s.add(PersonRow(user_id="UQ", name="Quinn", team="Sales"))
    for ws in ("slack:T1", "slack:T2"):
        with db.session(ws) as s:
            link = f"https://{ws[6:]}.example/C1/2.2"
            service.ingest(s, [m("UQ", "Kafka lag again?", "2.1"),
                               IncomingMessage("upsert", "C1", "dev", "2.2", "2.1", None, "UA", "Kafka: add consumers to the group, one per partition", link,
                                               NOW - dt.timedelta(days=2))], now=NOW)
    with db.session("slack:T1") as s:
        _, experts = service.ask(s, text="kafka", asker="UQ", now=NOW)
    ann = next(e for e in experts if e.user_id == "UA")
    assert (ann.name, ann.team, ann.outside_team, ann.questions) == ("Ann of slack:T1", "Data", True, 1)
    assert [link.permalink for link in ann.links] == ["https://T1.example/C1/2.2"]
    with db.session("slack:T2") as s:
        _, experts = service.ask(s, text="kafka", asker="UQ", now=NOW)
    assert "UA" not in [e.user_id for e in experts]  # opted out in T2 only


def test_aggregates_follow_the_evidence_through_edits_and_erasure(db: Database, nlp: Nlp) -> None:
    service = ExpertiseService(settings=ExpertiseSettings(), nlp=nlp)
    ws = "slack:T1"
    with db.session(ws) as s:
        service.ingest(s, [m("UA", "How do Helm charts work?", "5.1"), m("UB", "Helm charts are templates rendered with your values file", "5.2", "5.1")], now=NOW)
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


def snapshot(db: Database, ws: str) -> dict[str, list]:
    """Everything the index holds in a workspace, without row ids."""
    out: dict[str, list] = {}
    with db.session(ws) as s:
        for model in (ExpertiseMessage, ExpertiseEvidence, ExpertiseScore, ExpertisePerson, ExpertiseTopic):
            cols = [c for c in model.__table__.columns if c.name != "id"]
            rows = s.execute(select(*cols)).all()
            out[model.__tablename__] = sorted(
                tuple(round(v, 9) if isinstance(v, float) else v for v in r) for r in rows)
    return out


def test_ingesting_the_same_messages_again_changes_nothing(db: Database, nlp: Nlp) -> None:
    service = ExpertiseService(settings=ExpertiseSettings(), nlp=nlp)
    batch = [m("UA", "How do I tune Kafka consumer lag?", "8.1"), m("UB", "Kafka consumer lag: add partitions", "8.2", "8.1"),
             m("UC", "Postgres vacuum settings", "8.3")]
    with db.session("slack:T1") as s:
        service.ingest(s, batch, now=NOW)
        record_evidence(s, user_id="UB", topics=[Topic("kafka", "Kafka", "en")], kind="thanked", at=NOW, ref=EvidenceRef("C1", "8.9"))
    before = snapshot(db, "slack:T1")
    for again in (batch, batch[1:], batch[::-1]):
        with db.session("slack:T1") as s:
            service.ingest(s, again, now=NOW)
        assert snapshot(db, "slack:T1") == before
    with db.session("slack:T1") as s:
        record_evidence(s, user_id="UB", topics=[Topic("kafka", "Kafka", "en")], kind="thanked", at=NOW, ref=EvidenceRef("C1", "8.9"))
    assert snapshot(db, "slack:T1") == before
    assert before["expertise_people"] and before["expertise_scores"]


def test_an_edit_replaces_the_evidence_and_a_deletion_drops_it(db: Database, nlp: Nlp) -> None:
    service = ExpertiseService(settings=ExpertiseSettings(), nlp=nlp)
    ws = "slack:T1"
    with db.session(ws) as s:
        service.ingest(s, [m("UA", "Redis cluster failover", "9.1"), m("UB", "Redis sentinel", "9.2")], now=NOW)
    with db.session(ws) as s:
        service.ingest(s, [m("UA", "Postgres replica lag", "9.1")], now=NOW)  # the edit of 9.1
    with db.session(ws) as s:
        keys = set(s.scalars(select(ExpertiseEvidence.topic_key).where(ExpertiseEvidence.user_id == "UA")))
        assert "postgres" in keys and "redis" not in keys
        assert s.scalar(select(func.count()).select_from(ExpertiseScore).where(
            ExpertiseScore.user_id == "UA", ExpertiseScore.topic_key == "redis")) == 0
        assert s.scalars(select(ExpertiseTopic.people_n).where(ExpertiseTopic.key == "redis")).one() == 1  # UB still
        assert s.scalars(select(ExpertisePerson.messages_n).where(ExpertisePerson.user_id == "UA")).one() == 1
    deletion = IncomingMessage("delete", "C1", "dev", "9.1", None, None, "UA", "", None, None)
    with db.session(ws) as s:
        assert service.ingest(s, [deletion], now=NOW) == 0
    with db.session(ws) as s:
        for model in (ExpertiseEvidence, ExpertiseScore, ExpertiseMessage):
            assert s.scalar(select(func.count()).select_from(model).where(model.user_id == "UA")) == 0
        assert s.scalars(select(ExpertisePerson.messages_n).where(ExpertisePerson.user_id == "UA")).one() == 0
        assert s.scalars(select(ExpertiseTopic.people_n).where(ExpertiseTopic.key == "postgres")).one() == 0
    with db.session(ws) as s:
        service.ingest(s, [deletion], now=NOW)  # deleting twice changes nothing
    with db.session(ws) as s:
        assert s.scalar(select(func.count()).select_from(ExpertiseEvidence)) > 0  # UB's message stays


def test_thanks_for_a_message_survive_its_edit_but_not_its_deletion(db: Database, nlp: Nlp) -> None:
    service = ExpertiseService(settings=ExpertiseSettings(), nlp=nlp)
    ws = "slack:T1"
    with db.session(ws) as s:
        service.ingest(s, [m("UA", "thanks for the Kafka help", "10.1")], now=NOW)
        record_evidence(s, user_id="UB", topics=[Topic("kafka", "Kafka", "en")], kind="thanked", at=NOW, ref=EvidenceRef("C1", "10.1"))
    with db.session(ws) as s:
        service.ingest(s, [m("UA", "thanks a lot for the Kafka help", "10.1")], now=NOW)
    with db.session(ws) as s:
        row = s.scalars(select(ExpertiseScore).where(ExpertiseScore.user_id == "UB", ExpertiseScore.topic_key == "kafka")).one()
        assert row.thanked_n == 1
    with db.session(ws) as s:
        service.ingest(s, [IncomingMessage("delete", "C1", "dev", "10.1", None, None, "UA", "", None, None)], now=NOW)
    with db.session(ws) as s:
        assert s.scalar(select(func.count()).select_from(ExpertiseEvidence)) == 0
        assert s.scalar(select(func.count()).select_from(ExpertiseScore)) == 0
        assert s.scalars(select(ExpertiseTopic.people_n).where(ExpertiseTopic.key == "kafka")).one() == 0


def test_a_failed_batch_leaves_the_index_as_it_was(db: Database, nlp: Nlp) -> None:
    service = ExpertiseService(settings=ExpertiseSettings(), nlp=nlp)
    with db.session("slack:T1") as s:
        service.ingest(s, [m("UA", "Terraform modules", "11.1")], now=NOW)
    before = snapshot(db, "slack:T1")
    with pytest.raises(RuntimeError):
        with db.session("slack:T1") as s:
            service.ingest(s, [m("UA", "Ansible roles", "11.1"), m("UB", "Terraform state", "11.2")], now=NOW)
            raise RuntimeError("the worker died before the commit")
    assert snapshot(db, "slack:T1") == before


def test_the_index_is_only_written_through_a_workspace_session(db: Database, nlp: Nlp) -> None:
    service = ExpertiseService(settings=ExpertiseSettings(), nlp=nlp)
    with db.session(None) as s, pytest.raises(ValueError, match="scoped to one workspace"):
        service.ingest(s, [m("UA", "Kafka", "12.1")], now=NOW)


def test_the_index_is_only_read_through_a_workspace_session(db: Database, nlp: Nlp) -> None:
    # Its reads name the workspace in their SQL: an unscoped session would read every workspace.
    service = ExpertiseService(settings=ExpertiseSettings(), nlp=nlp)
    with db.session("slack:T1") as s:
        service.ingest(s, [m("UA", "Kafka partitions", "13.1")], now=NOW)
    with db.session(None) as s, pytest.raises(ValueError, match="read through a session scoped to one workspace"):
        service.ask(s, text="kafka", asker=None, now=NOW)


def _stored(db: Database, table: str, ws: str) -> list[tuple]:
    """The stored values of a workspace's rows, in insertion order, without id and workspace;
    on SQLite with each value's storage class."""
    with db.engine.connect() as conn:
        cols = [c.name for c in Base.metadata.tables[table].columns if c.name not in ("id", "workspace")]
        wanted = cols + ([f"typeof({c})" for c in cols] if db.dialect == "sqlite" else [])
        mark = "?" if db.dialect == "sqlite" else "%(ws)s"
        params = (ws,) if db.dialect == "sqlite" else {"ws": ws}
        return [tuple(r) for r in conn.exec_driver_sql(
            f"SELECT {', '.join(wanted)} FROM {table} WHERE workspace = {mark} ORDER BY id", params)]


def test_bulk_writes_store_values_as_sqlalchemy_does(db: Database) -> None:
    # The index writes its rows in bulk (the driver's executemany on SQLite, COPY and JSON on
    # PostgreSQL): times with and without a time zone or microseconds, booleans, floats and
    # NULLs must be stored as an insert through SQLAlchemy stores them, and read back the same.
    from bot.db.bulk import bulk
    from skills.expertise.columns import EVIDENCE_COLS, MESSAGE_COLS, PERSON_COLS, SCORE_COLS, TOPIC_COLS

    utc, plus2 = dt.timezone.utc, dt.timezone(dt.timedelta(hours=2))
    times = [dt.datetime(2017, 6, 26, 9, 25, 14, 841904, tzinfo=utc), dt.datetime(2017, 6, 26, 11, 25, 14, tzinfo=plus2),
             dt.datetime(2017, 6, 26, 9, 25, 14, 5), None]
    floats = [0.1, 1 / 3, 1e-300, 123456789.123456789, -2.5, 1]
    tables = {
        "expertise_messages": (MESSAGE_COLS, "", [
            (None, "C1", name, f"{i}.1", thread, parent, "UA", answer, at or times[0], link, thread is None)
            for i, (name, thread, parent, answer, at, link) in enumerate([
                ("dev", None, None, False, times[0], None), (None, "0.1", "UB", True, times[1], "https://x/1"),
                ("dev", "0.1", None, False, times[2], None)])]),
        "expertise_evidence": (EVIDENCE_COLS, "", [
            (None, "UA", f"topic {i}", "wrote", w, at or times[1], "C1" if i % 2 else "", f"{i}.1" if i % 2 else "", None, None)
            for i, (w, at) in enumerate(zip(floats, times * 2))]),
        "expertise_scores": (SCORE_COLS, "ON CONFLICT (workspace, user_id, topic_key) DO NOTHING", [
            (None, "UA", f"topic {i}", at, f, i, 0, 1, 0, f, 0.0, f * 3, 0.5) for i, (f, at) in enumerate(zip(floats, times * 2))]),
        "expertise_people": (PERSON_COLS, "ON CONFLICT (workspace, user_id) DO NOTHING", [
            (None, f"U{i}", i, 1, f, at) for i, (f, at) in enumerate(zip(floats, times * 2))]),
        "expertise_topics": (TOPIC_COLS, "ON CONFLICT (workspace, key) DO NOTHING", [
            (None, f"topic {i}", f"Topic {i} ’é", "fr", 0) for i in range(3)]),
    }
    for name, (cols, conflict, rows) in tables.items():
        table = Base.metadata.tables[name]
        with db.session("slack:FAST") as s:
            bulk(s.connection(), table, cols, [("slack:FAST", *r[1:]) for r in rows], conflict=conflict)
        with db.session("slack:ORM") as s:
            s.connection().execute(insert(table), [dict(zip(cols, ("slack:ORM", *r[1:]))) for r in rows])
        fast, orm = _stored(db, name, "slack:FAST"), _stored(db, name, "slack:ORM")
        assert fast == orm and len(fast) == len(rows), name
    with db.session("slack:FAST") as s:
        back = s.execute(select(ExpertiseScore.last_at, ExpertiseScore.strength).order_by(ExpertiseScore.id)).all()
    assert [r.strength for r in back] == [float(f) for f in floats]
    written = (times * 2)[: len(floats)]
    if db.dialect == "sqlite":  # SQLAlchemy keeps the wall-clock time there, without its zone
        written = [t.replace(tzinfo=None) if t else None for t in written]
    assert [_utc(r.last_at) for r in back] == [_utc(t) for t in written]


def _utc(at: dt.datetime | None) -> dt.datetime | None:
    """A stored time as the index reads it (naive on SQLite means UTC), in UTC."""
    if at is None:
        return None
    return (at if at.tzinfo else at.replace(tzinfo=dt.timezone.utc)).astimezone(dt.timezone.utc)


def test_bulk_upserts_return_every_row_however_many(db: Database) -> None:
    # More rows than SQLite takes parameters in one statement: the upsert's RETURNING still
    # gives one row per row, inserted or updated.
    from bot.db.bulk import bulk
    from skills.expertise.columns import SCORE_COLS

    table = ExpertiseScore.__table__
    rows = [("slack:T1", f"U{i % 7}", f"topic {i}", NOW, 1.0, 1, 0, 0, 0, 1.0, 0.0, 0.0, 0.0) for i in range(3000)]
    conflict = "ON CONFLICT (workspace, user_id, topic_key) DO UPDATE SET wrote_n = expertise_scores.wrote_n + EXCLUDED.wrote_n"
    for expected in (1, 2):
        with db.session("slack:T1") as s:
            returned = bulk(s.connection(), table, SCORE_COLS, rows, conflict=conflict, returning="user_id, topic_key, wrote_n")
        assert sorted(returned) == sorted((u, k, expected) for _, u, k, *_ in rows)


def test_the_migrations_give_the_expertise_tables_the_indexes_of_their_models(db: Database) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from bot.db.schema import metadata

    # Column types are compared where the database enforces them: SQLite keeps the VARCHAR(64)
    # of tables made before ids were widened (0008_wide_ids) but never enforces a length, so
    # widening there would only rebuild every table.
    sqlite = db.engine.dialect.name == "sqlite"
    with db.engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": not sqlite}), metadata)
    assert [d for d in differences if "expertise_" in repr(d)] == []
    insp = inspect(db.engine)
    for table in ("expertise_messages", "expertise_evidence", "expertise_scores", "expertise_people", "expertise_topics"):
        # Every index starts with the workspace: none on the workspace alone.
        indexes = [ix["column_names"] for ix in insp.get_indexes(table)]
        assert all(cols[0] == "workspace" and cols != ["workspace"] for cols in indexes), table


def test_the_workspace_counts_follow_its_people_through_ingestion_opt_out_and_erasure(db: Database, nlp: Nlp) -> None:
    # A question weighs topics by how many people the index holds and measures time up to its
    # latest activity; both are kept in one row (expertise_counts) instead of counted per
    # question, and must equal what counting expertise_people gives at every step.
    from bot.db.expertise import ExpertiseCounts
    from skills.expertise.model import aware
    from skills.expertise.ranking import index_size
    from skills.expertise.writer import count_again

    service = ExpertiseService(settings=ExpertiseSettings(), nlp=nlp)
    ws = "slack:T1"

    def kept_and_counted() -> tuple[tuple, tuple]:
        with db.session(ws) as s:
            kept = s.execute(select(ExpertiseCounts.people_n, ExpertiseCounts.last_at)).one()
            counted = s.execute(select(func.count(), func.max(ExpertisePerson.last_at)).select_from(ExpertisePerson)).one()
            assert index_size(s, NOW + dt.timedelta(days=9)) == (aware(counted[1]), counted[0])
        return tuple(kept), tuple(counted)

    late = IncomingMessage("upsert", "C1", "dev", "9.4", None, None, "UD", "Terraform state locking", None, NOW)
    steps = [
        [m("UA", "How do Helm charts work?", "9.1"), m("UB", "Helm charts are templates with values", "9.2", "9.1")],
        [m("UB", "Helm charts are templates with values files", "9.2", "9.1"), m("UC", "Kafka partitions", "9.3")],
        [late, m("UA", "Helm values again", "9.5")],
        [IncomingMessage("delete", "C1", "dev", "9.3", None, None, "UC", "", None, None)],
    ]
    for batch in steps:
        with db.session(ws) as s:
            service.ingest(s, batch, now=NOW)
        kept, counted = kept_and_counted()
        assert kept == counted
    assert kept[0] == 4 and kept[1] is not None
    with db.session(ws) as s:
        forget_all_evidence(s, user_id="UD")  # opting out: the latest person goes
    kept, counted = kept_and_counted()
    assert kept == counted and kept[0] == 3
    with db.session(ws) as s:
        forget_person(s, "UB")
        count_again(s)  # as the "forget me" handler does after the eraser
    kept, counted = kept_and_counted()
    assert kept == counted and kept[0] == 2


def test_a_topic_first_seen_through_a_lower_case_alias_takes_its_name_form_later(db: Database) -> None:
    # "k8s" gives the topic "kubernetes" with nothing to say how the name is written; when a
    # later message writes "Kubernetes", answers show that form (in a later batch, and within
    # one batch), and a later lower-case or alias form does not bring the key back.
    service = ExpertiseService(settings=ExpertiseSettings(), nlp=Nlp(NlpSettings(synonyms={"k8s": "kubernetes"})).load_all())
    display = lambda s, key: s.scalar(select(ExpertiseTopic.display).where(ExpertiseTopic.key == key))  # noqa: E731
    with db.session("slack:T1") as s:
        service.ingest(s, [m("UA", "The k8s staging cluster is full again", "1.1")], now=NOW)
        assert display(s, "kubernetes") == "kubernetes"
    with db.session("slack:T1") as s:
        service.ingest(s, [m("UB", "We upgrade Kubernetes next week", "1.2")], now=NOW)
        service.ingest(s, [m("UC", "the k8s upgrade went fine", "1.3")], now=NOW)
        assert display(s, "kubernetes") == "Kubernetes"
        _, experts = service.ask(s, text="who knows kubernetes?", asker=None, now=NOW)
        assert experts and {e.topic for e in experts if e.matched} == {"Kubernetes"}
    with db.session("slack:T2") as s:
        service.ingest(s, [m("UA", "k8s pods keep restarting", "1.1"), m("UB", "a Kubernetes pod restarts", "1.2")], now=NOW)
        assert display(s, "kubernetes") == "Kubernetes"

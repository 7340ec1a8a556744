"""Ranking on small hand-made workspaces: answerers beat askers, recent beats old, thanked beats
silent; the asker and people who opted out are never listed; re-indexing changes nothing."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Iterator

import pytest
from sqlalchemy import func, select

from bot.db import Database
from bot.db.expertise import ExpertisePerson, ExpertiseEvidence, ExpertiseScore, ExpertiseTopic
from bot.db.migrate import upgrade
from bot.db.models import PersonRow
from skills.expertise.evidence import record_evidence, thread_topics
from skills.expertise.index import IncomingMessage
from skills.expertise.model import EvidenceRef, ExpertiseSettings
from skills.expertise.ask import ExpertiseService, describe
from skills.expertise.nlp import Nlp, NlpSettings
from skills.expertise.topics import Topic

NOW = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.timezone.utc)
WS = "console:acme"
_ts = itertools.count(1)


@pytest.fixture(scope="module")
def nlp() -> Nlp:
    return Nlp(NlpSettings(synonyms={"k8s": "kubernetes"})).load_all()


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    """Each ranking test runs on SQLite and on PostgreSQL (whose reads take other paths)."""
    database = Database(database_url)
    upgrade(database)
    yield database
    database.dispose()


@pytest.fixture
def service(nlp: Nlp) -> ExpertiseService:
    return ExpertiseService(settings=ExpertiseSettings(), nlp=nlp)


def msg(user: str, text: str, *, ts: str | None = None, thread: str | None = None, days_ago: float = 1,
        op: str = "upsert", channel: str = "C1") -> IncomingMessage:
    return IncomingMessage(
        op=op, conversation_id=channel, conversation_name="eng", ts=ts or f"{1700000000 + next(_ts)}.000100",
        thread_ts=thread, parent_user_id=None, user_id=user, text=text,
        permalink=f"https://chat.example/{channel}/{ts}" if ts else None,
        message_time=NOW - dt.timedelta(days=days_ago),
    )


def ingest(db: Database, service: ExpertiseService, *messages: IncomingMessage) -> None:
    with db.session(WS) as s:
        service.ingest(s, list(messages), now=NOW)


def ask(db: Database, service: ExpertiseService, text: str, asker: str | None = "UASK", **kw) -> list[str]:
    with db.session(WS) as s:
        _, experts = service.ask(s, text=text, asker=asker, now=NOW, **kw)
        return [e.user_id for e in experts if e.matched]


def test_an_answerer_beats_a_mere_asker(db: Database, service: ExpertiseService) -> None:
    ingest(db, service,
           msg("UALICE", "How do I reduce Kafka consumer lag on the orders topic?", ts="100.1"),
           msg("UBOB", "Raise max.poll.records and add partitions", ts="100.2", thread="100.1"))
    ranking = ask(db, service, "kafka consumer lag")
    assert ranking[0] == "UBOB"
    assert ranking.index("UALICE") > 0


def test_recent_evidence_beats_old_evidence(db: Database, service: ExpertiseService) -> None:
    ingest(db, service,
           msg("UOLD", "Terraform modules for the network", days_ago=1500),
           msg("UOLD", "Terraform state locking explained", days_ago=1400),
           msg("UNEW", "Terraform plan for staging is ready", days_ago=3))
    assert ask(db, service, "terraform")[:2] == ["UNEW", "UOLD"]


def test_thanked_beats_silent(db: Database, service: ExpertiseService, nlp: Nlp) -> None:
    ingest(db, service, msg("UEVE", "The Grafana dashboards moved"), msg("UFAY", "Grafana alert rules are noisy"))
    with db.session(WS) as s:
        record_evidence(s, user_id="UFAY", topics=nlp.topics("grafana"), kind="thanked", at=NOW,
                        ref=EvidenceRef("C1", "555.1", "https://chat.example/thanks"))
    assert ask(db, service, "grafana")[0] == "UFAY"


def test_the_asker_and_opted_out_people_are_never_listed(db: Database, service: ExpertiseService) -> None:
    ingest(db, service, msg("UASK", "Airflow sensors everywhere"), msg("UOPT", "Airflow DAG tips"),
           msg("UOK", "Airflow scheduler tuning"))
    with db.session(WS) as s:
        s.add(PersonRow(user_id="UOPT", name="Opt Out", indexing_opt_out=True))
    with db.session(WS) as s:
        _, experts = service.ask(s, text="airflow", asker="UASK", now=NOW)
    listed = [e.user_id for e in experts]
    assert "UOK" in listed
    assert "UASK" not in listed and "UOPT" not in listed


def test_reindexing_the_same_message_changes_nothing(db: Database, service: ExpertiseService) -> None:
    m = msg("UBOB", "Postgres vacuum settings", ts="200.1")
    ingest(db, service, m)
    with db.session(WS) as s:
        before = [(r.user_id, r.topic_key, r.wrote_n, round(r.wrote_s, 6)) for r in s.scalars(select(ExpertiseScore).order_by(ExpertiseScore.topic_key))]
        ev = s.scalar(select(func.count()).select_from(ExpertiseEvidence))
    ingest(db, service, m)
    ingest(db, service, m, m)
    with db.session(WS) as s:
        after = [(r.user_id, r.topic_key, r.wrote_n, round(r.wrote_s, 6)) for r in s.scalars(select(ExpertiseScore).order_by(ExpertiseScore.topic_key))]
        assert s.scalar(select(func.count()).select_from(ExpertiseEvidence)) == ev
    assert before == after and before


def test_an_edit_replaces_the_old_topics_and_a_delete_drops_them(db: Database, service: ExpertiseService) -> None:
    ingest(db, service, msg("UBOB", "Kafka retention policy", ts="300.1"))
    assert ask(db, service, "kafka") == ["UBOB"]
    ingest(db, service, msg("UBOB", "Redis eviction policy", ts="300.1"))
    assert ask(db, service, "kafka") == []
    assert ask(db, service, "redis") == ["UBOB"]
    ingest(db, service, msg("UBOB", "", ts="300.1", op="delete"))
    assert ask(db, service, "redis") == []
    with db.session(WS) as s:
        assert s.scalar(select(func.count()).select_from(ExpertiseEvidence)) == 0
        assert s.scalar(select(func.count()).select_from(ExpertiseScore)) == 0
        # No one holds "redis" any more: the topic no longer counts anyone.
        assert s.scalar(select(ExpertiseTopic.people_n).where(ExpertiseTopic.key == "redis")) == 0


def test_recording_the_same_thanks_twice_counts_once(db: Database, nlp: Nlp) -> None:
    ref = EvidenceRef("C9", "900.1")
    with db.session(WS) as s:
        for _ in range(3):
            record_evidence(s, user_id="UX", topics=nlp.topics("kubernetes"), kind="thanked", at=NOW, ref=ref)
        record_evidence(s, user_id="UX", topics=nlp.topics("kubernetes"), kind="declared", at=NOW)
        record_evidence(s, user_id="UX", topics=nlp.topics("k8s"), kind="declared", at=NOW)
    with db.session(WS) as s:
        row = s.scalars(select(ExpertiseScore).where(ExpertiseScore.topic_key == "kubernetes")).one()
        assert (row.thanked_n, row.declared_n) == (1, 1)


def test_an_unknown_kind_is_refused(db: Database) -> None:
    with db.session(WS) as s, pytest.raises(ValueError, match="unknown evidence kind"):
        record_evidence(s, user_id="UX", topics=[Topic("kafka", "Kafka", "en")], kind="liked", at=NOW)


def test_unknown_topics_fall_back_to_general_helpers(db: Database, service: ExpertiseService) -> None:
    ingest(db, service, msg("UQ", "Where is the coffee machine manual?", ts="400.1"),
           msg("UHELP", "Second floor, next to the printer", ts="400.2", thread="400.1"))
    with db.session(WS) as s:
        _, experts = service.ask(s, text="quantum chromodynamics", asker="UX", now=NOW)
    assert experts and not any(e.matched for e in experts)
    assert experts[0].user_id == "UHELP"
    assert describe(experts[0], lang="en", now=NOW) == "often helps others (answered 1 question)"


def test_thread_topics_are_those_of_the_first_message(db: Database, service: ExpertiseService) -> None:
    ingest(db, service, msg("UA", "Helm chart upgrade fails", ts="500.1"), msg("UB", "check the values file", ts="500.2", thread="500.1"))
    with db.session(WS) as s:
        keys = {t.key for t in thread_topics(s, conversation_id="C1", thread_ts="500.1")}
        assert "helm" in keys and "value" not in keys
        assert thread_topics(s, conversation_id="C1", thread_ts="999.9") == []


def test_reason_line_says_what_where_and_when(db: Database, service: ExpertiseService) -> None:
    ingest(db, service,
           msg("UA", "Kafka partitions question?", ts="600.1"),
           msg("UB", "Kafka partitions: use the key", ts="600.2", thread="600.1"),
           msg("UA2", "More Kafka partitions trouble?", ts="601.1"),
           msg("UB", "Kafka again: rebalance the consumer group after the deploy", ts="601.2", thread="601.1", days_ago=0.5))
    with db.session(WS) as s:
        _, experts = service.ask(s, text="kafka", asker="UA", now=NOW)
    top = experts[0]
    assert top.user_id == "UB"
    line = describe(top, lang="en", now=NOW)
    assert line.startswith("answered 2 questions about") and "#eng" in line and "November" in line
    assert describe(top, lang="fr", now=NOW).startswith("a répondu à 2 questions sur")
    assert [link.permalink for link in top.links] == ["https://chat.example/C1/601.2", "https://chat.example/C1/600.2"]


def test_several_replies_in_one_thread_are_one_question_answered(db: Database, service: ExpertiseService) -> None:
    # Three helpful replies in two threads: two questions answered, in the index as in the
    # reason line; the second reply in a thread counts as writing about the topic.
    ingest(db, service,
           msg("UA", "Kafka partitions question?", ts="610.1"),
           msg("UB", "Kafka partitions: use the key", ts="610.2", thread="610.1"),
           msg("UB", "and Kafka keeps the order per partition", ts="610.3", thread="610.1"),
           msg("UA2", "Kafka consumer lag again?", ts="611.1"),
           msg("UB", "Kafka lag: add consumers", ts="611.2", thread="611.1"))
    with db.session(WS) as s:
        _, experts = service.ask(s, text="kafka", asker="UA", now=NOW)
        assert s.scalar(select(ExpertiseScore.answered_n).where(ExpertiseScore.user_id == "UB",
                                                                ExpertiseScore.topic_key == "kafka")) == 2
        assert s.scalar(select(ExpertisePerson.answers_n).where(ExpertisePerson.user_id == "UB")) == 2
    top = experts[0]
    assert (top.user_id, top.counts["answered"], top.questions, top.questions_all) == ("UB", 2, 2, True)
    assert describe(top, lang="en", now=NOW).lower().startswith("answered 2 questions about kafka in #eng")
    assert describe(top, lang="fr", now=NOW).lower().startswith("a répondu à 2 questions sur kafka")
    with db.session(WS) as s:
        _, bare = service.ask(s, text="kafka", asker="UA", now=NOW, details=False)
    assert bare[0].questions is None and describe(bare[0], lang="en", now=NOW).startswith("answered 2 questions")


def test_a_prolific_answerer_is_said_to_have_answered_at_least_the_questions_counted(db: Database, service: ExpertiseService) -> None:
    # 70 threads answered: more than an answer reads for its links, so the reason line counts
    # the threads of the latest answers only, and says "at least".
    messages = []
    for i in range(70):
        root = f"{800 + i}.1"
        messages += [msg("UA", f"Kafka question {i}?", ts=root, days_ago=80 - i),
                     msg("UB", "Kafka: use the key and check the lag", ts=f"{800 + i}.2", thread=root, days_ago=80 - i)]
    ingest(db, service, *messages)
    with db.session(WS) as s:
        _, experts = service.ask(s, text="kafka", asker="UA", now=NOW)
    top = experts[0]
    assert (top.user_id, top.counts["answered"], top.questions_all) == ("UB", 70, False)
    assert 50 <= top.questions < 70
    line = describe(top, lang="en", now=NOW).lower()
    assert line.startswith(f"answered at least {top.questions} questions about kafka"), line
    assert describe(top, lang="fr", now=NOW).lower().startswith(f"a répondu à au moins {top.questions} questions sur kafka")


def _people(db: Database, **teams: str) -> None:
    with db.session(WS) as s:
        for user_id, team in teams.items():
            s.add(PersonRow(user_id=user_id, name=user_id.title(), team=team))


def _answers(user: str, topic: str, n: int, *, days_ago: float, asker: str = "UQ") -> list[IncomingMessage]:
    out = []
    for i in range(n):
        root = f"{7000 + next(_ts)}.000100"
        out.append(msg(asker, f"How do we fix {topic} problem number {i}?", ts=root, days_ago=days_ago))
        out.append(msg(user, f"{topic} works again after the change", thread=root, days_ago=days_ago))
    return out


def _crowd(db: Database, service: ExpertiseService, n: int = 20) -> None:
    """Colleagues talking about other things, so that a topic few people discuss is telling."""
    subjects = ["payroll", "roadmap", "hiring", "invoices", "budget"]
    ingest(db, service, *(msg(f"UCROWD{i}", f"Notes about the {subjects[i % len(subjects)]} review", days_ago=20) for i in range(n)))


def test_much_stronger_evidence_beats_a_busier_colleague_from_another_team(db: Database, service: ExpertiseService) -> None:
    # The asker's teammate answered seven Kafka questions a month ago; someone from another team,
    # busy helping lately with other things, mentioned Kafka once. Being around and outside the
    # team is a bonus, not a substitute for knowing.
    _people(db, UCAM="Data", ULUKAS="Data", UYUKI="Design")
    _crowd(db, service)
    ingest(db, service, *_answers("ULUKAS", "Kafka", 7, days_ago=35))
    ingest(db, service, msg("UYUKI", "Lunch at the Kafka museum was fun", days_ago=1),
           *_answers("UYUKI", "Figma", 6, days_ago=1, asker="UDES"))
    with db.session(WS) as s:
        _, experts = service.ask(s, text="Kafka", asker="UCAM", now=NOW)
    matched = [e for e in experts if e.matched]
    assert [e.user_id for e in matched][:2] == ["ULUKAS", "UYUKI"]
    assert matched[1].outside_team and not matched[0].outside_team


def test_outside_the_askers_team_breaks_a_tie(db: Database, service: ExpertiseService) -> None:
    _people(db, UASKER="Data", UAAA="Data", UZZZ="Design")
    _crowd(db, service)
    # The same evidence at the same times: only the team differs (ids would otherwise decide).
    ingest(db, service, *_answers("UAAA", "Grafana", 2, days_ago=3), *_answers("UZZZ", "Grafana", 2, days_ago=3))
    with db.session(WS) as s:
        _, experts = service.ask(s, text="grafana", asker="UASKER", now=NOW)
    assert [e.user_id for e in experts if e.matched][:2] == ["UZZZ", "UAAA"]
    assert experts[0].outside_team and experts[0].score > experts[1].score


def test_people_who_helped_lately_come_first_when_no_topic_is_known(db: Database, service: ExpertiseService) -> None:
    ingest(db, service, *_answers("UOLD", "Printer", 6, days_ago=200), *_answers("UNEW", "Badge", 2, days_ago=2))
    with db.session(WS) as s:
        _, experts = service.ask(s, text="quantum chromodynamics", asker="UX", now=NOW)
    ranking = [e.user_id for e in experts]
    assert ranking[0] == "UNEW" and "UOLD" in ranking
    # Newly indexed answers count at once: the service reads helpfulness again after ingesting.
    ingest(db, service, *_answers("UOLD", "Printer", 6, days_ago=1))
    with db.session(WS) as s:
        _, experts = service.ask(s, text="quantum chromodynamics", asker="UX", now=NOW)
    assert experts[0].user_id == "UOLD"


def test_an_erased_person_is_not_suggested_from_kept_helpfulness(db: Database, service: ExpertiseService) -> None:
    from skills.expertise.personal import forget_all_evidence

    ingest(db, service, *_answers("UGONE", "Badge", 3, days_ago=1), *_answers("USTAY", "Printer", 1, days_ago=5))
    with db.session(WS) as s:
        service.ask(s, text="anything", asker="UX", now=NOW)  # helpfulness is now kept
        forget_all_evidence(s, user_id="UGONE")
    with db.session(WS) as s:
        _, experts = service.ask(s, text="anything", asker="UX", now=NOW)
    assert "UGONE" not in [e.user_id for e in experts] and "USTAY" in [e.user_id for e in experts]


def test_each_person_shown_gets_the_links_of_their_own_evidence(db: Database, service: ExpertiseService) -> None:
    # The links of everyone shown are read together: each must keep their own.
    ingest(db, service,
           msg("UQ1", "How do I size the Kafka partitions?", ts="700.1"),
           msg("UKAF", "Twelve partitions per broker is plenty", ts="700.2", thread="700.1"),
           msg("UQ2", "Any tips for Grafana alert rules?", ts="701.1"),
           msg("UGRA", "Use recording rules and a for: clause", ts="701.2", thread="701.1"))
    with db.session(WS) as s:
        _, experts = service.ask(s, text="who knows kafka and grafana?", asker="UASK", now=NOW)
    links = {e.user_id: [link.permalink for link in e.links] for e in experts if e.matched}
    assert links["UKAF"] == ["https://chat.example/C1/700.2"]
    assert links["UGRA"] == ["https://chat.example/C1/701.2"]
    assert {e.user_id: e.topic for e in experts if e.user_id in ("UKAF", "UGRA")} == {"UKAF": "Kafka", "UGRA": "Grafana"}


def test_the_reason_line_leads_with_what_ranked_the_person(db: Database, service: ExpertiseService) -> None:
    # UHELP answered Kafka once but helps others every day; UOLD answered Kafka three times,
    # months ago. With a ranking that weighs recent help most (as a workspace may learn), the
    # reason of each says first what puts them where they are.
    from skills.expertise.model import FEATURES, Model, store

    ingest(db, service, *[
        m for i in range(3) for m in (
            msg("UQ", f"Kafka offsets question {i}?", ts=f"800.{i}", days_ago=120),
            msg("UOLD", f"Kafka offsets: commit them after processing, batch {i}", ts=f"800.{i}1", thread=f"800.{i}", days_ago=120))
    ], msg("UQ", "Kafka lag question?", ts="810.1", days_ago=2),
        msg("UHELP", "Kafka lag: add consumers to the group", ts="810.2", thread="810.1", days_ago=2),
        *[m for i in range(4) for m in (
            msg("UQ", f"Airflow question {i}?", ts=f"82{i}.1", days_ago=1),
            msg("UHELP", f"Airflow: clear the task and rerun the DAG {i}", ts=f"82{i}.2", thread=f"82{i}.1", days_ago=1))])
    weights = {"relevance": 1.0, "recent": 3.0}
    with db.session(WS) as s:
        store(s, Model(weights=tuple(weights.get(f, 0.0) for f in FEATURES), examples=100, learned=True), now=NOW)
    with db.session(WS) as s:
        _, experts = ExpertiseService(settings=ExpertiseSettings(), nlp=service.nlp).ask(s, text="kafka", asker="UASK", now=NOW)
    by_id = {e.user_id: e for e in experts}
    assert [e.user_id for e in experts][:2] == ["UHELP", "UOLD"]
    helper, old = describe(by_id["UHELP"], lang="en", now=NOW), describe(by_id["UOLD"], lang="en", now=NOW)
    assert helper.startswith("helps others a lot lately; answered 1 question about kafka"), helper
    assert old.lower().startswith("answered 3 questions about kafka") and "lately" not in old
    assert describe(by_id["UHELP"], lang="fr", now=NOW).startswith("aide beaucoup les autres ces temps-ci")


def test_what_another_process_indexed_counts_at_once(db: Database, nlp: Nlp) -> None:
    # The web process keeps a snapshot of the index for a few minutes; the worker, another
    # process, indexes a whole team meanwhile: how many people know a topic is read per question.
    web, worker = ExpertiseService(settings=ExpertiseSettings(), nlp=nlp), ExpertiseService(settings=ExpertiseSettings(), nlp=nlp)
    ingest(db, worker, msg("UFIRST", "Redis eviction policies"))
    assert ask(db, web, "redis") == ["UFIRST"]
    ingest(db, worker, *[m for i in range(10) for m in (
        msg("UQ", f"Kafka retention question {i}?", ts=f"900.{i}"),
        msg(f"UK{i}", f"Kafka retention: set it per topic ({i})", ts=f"900.{i}1", thread=f"900.{i}"))])
    assert len(ask(db, web, "kafka")) >= 3


def test_an_expired_snapshot_is_read_again_without_a_question_waiting(db: Database, nlp: Nlp) -> None:
    import dataclasses
    import time

    web = ExpertiseService(settings=dataclasses.replace(ExpertiseSettings(), helpers_refresh_seconds=0.0), nlp=nlp, db=db)
    worker = ExpertiseService(settings=ExpertiseSettings(), nlp=nlp)
    with db.session(WS) as s:
        first = web.snapshot(s, now=NOW)
    assert "UHELP" not in first.helping
    ingest(db, worker, msg("UQ", "Kafka lag question?", ts="950.1"), msg("UHELP", "Add consumers to the group, one per partition", ts="950.2", thread="950.1"))
    with db.session(WS) as s:
        assert web.snapshot(s, now=NOW) is first  # expired: the kept copy answers, a thread reads the new one
    deadline = time.monotonic() + 20
    while True:
        with db.session(WS) as s:
            if "UHELP" in web.snapshot(s, now=NOW).helping:
                break
        assert time.monotonic() < deadline, "the snapshot was never read again"
        time.sleep(0.05)


def test_what_the_asker_says_next_decides_a_borderline_reply(db: Database, service: ExpertiseService) -> None:
    # A short reply the asker thanks is an answer; a few words the asker asks again after are
    # not; a short reply the asker never answers stays what it was alone (not help).
    ingest(db, service,
           msg("UA", "Terraform plan wants to recreate the bucket?", ts="720.1"),
           msg("UB", "Pin the terraform provider.", ts="720.2", thread="720.1"),
           msg("UA", "Works, thanks!", ts="720.3", thread="720.1"),
           msg("UA2", "Terraform state lock stuck again?", ts="721.1"),
           msg("UC", "Restart the terraform runner on the CI box.", ts="721.2", thread="721.1"),
           msg("UA2", "Still stuck after a restart, any other idea?", ts="721.3", thread="721.1"),
           msg("UA3", "Terraform import for the DNS zone?", ts="722.1"),
           msg("UD", "Import the terraform zone.", ts="722.2", thread="722.1"))
    with db.session(WS) as s:
        answers = dict(s.execute(select(ExpertisePerson.user_id, ExpertisePerson.answers_n)).all())
    assert (answers.get("UB"), answers.get("UC"), answers.get("UD")) == (1, 0, 0)

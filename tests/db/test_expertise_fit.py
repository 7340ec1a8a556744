"""Each workspace learns its who-knows ranking from its own answered threads: fitted in the
worker (scheduled, and after an import), stored per workspace, read by questions; below a
minimum of examples the default ranks. On SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from typing import Iterator

import pytest
from sqlalchemy import select

from bot.db import Database
from bot.db.expertise import ExpertiseModel
from bot.db.migrate import upgrade
from bot.events import ScheduledTick
from skills.expertise.index import IncomingMessage
from skills.expertise.model import DEFAULT, FEATURES, ExpertiseSettings
from skills.expertise.ask import ExpertiseService
from bot.ingest import IngestWorker
from skills.expertise.nlp import Nlp
from skills.expertise.ranker_fit import FitSettings, examples, fit_workspace
from tests.conftest import WS as WORKSPACE
from tests.conftest import message, person

NOW = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.timezone.utc)
WS = "console:acme"
TOPICS = ["kafka", "terraform", "postgres", "grafana", "redis"]


@pytest.fixture(scope="module")
def nlp() -> Nlp:
    return Nlp().load_all()


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    upgrade(database)
    yield database
    database.dispose()


def history(threads: int) -> list[IncomingMessage]:
    """A workspace where each topic has its own helper, and one very chatty person writes about
    everything and never helps: who answers a question is who helped on its topic before."""
    out = []
    for i in range(threads):
        topic = TOPICS[i % len(TOPICS)]
        at = NOW - dt.timedelta(days=threads - i)
        root = f"{1000 + i}.1"
        out.append(IncomingMessage("upsert", "C1", "eng", root, None, None, f"UASK{i % 7}",
                                   f"How do we fix the {topic} outage in staging?", None, at))
        out.append(IncomingMessage("upsert", "C1", "eng", f"{1000 + i}.2", root, None, "UCHATTY",
                                   "+1, same here :sweat_smile:", None, at))
        out.append(IncomingMessage("upsert", "C1", "eng", f"{1000 + i}.3", root, None, f"U{topic.upper()}",
                                   f"For {topic}, restart the {topic} workers and check the staging config first", None,
                                   at + dt.timedelta(minutes=5)))
        out.append(IncomingMessage("upsert", "C1", "eng", f"{1000 + i}.4", None, None, "UCHATTY",
                                   f"Random thoughts about {topic} and {TOPICS[(i + 3) % 5]} today", None, at))
    return out


def test_a_workspace_learns_its_ranking_from_its_answered_threads(db: Database, nlp: Nlp) -> None:
    service = ExpertiseService(settings=ExpertiseSettings(), nlp=nlp)
    with db.session(WS) as s:
        service.ingest(s, history(60), now=NOW)
    with db.session(WS) as s:
        data = examples(s)
        model = fit_workspace(s, now=NOW)
    # The first thread of each topic is not an example: nobody could have been known to help on
    # it before it (what its helper did in it, or later, is not used to describe them).
    assert len(data) == 60 - len(TOPICS) and all(any(ys) for _, ys in data)
    assert model.learned and model.examples == 55
    w = dict(zip(FEATURES, model.weights))
    assert w["relevance"] > 0 and w["relevance"] > w["messages"]
    with db.session(WS) as s:
        stored = s.scalars(select(ExpertiseModel)).one()
        assert stored.examples == 55 and json.loads(stored.model)["learned"] is True
        _, experts = service.ask(s, text="kafka", asker="UASK1", now=NOW)
    assert experts[0].user_id == "UKAFKA" and experts[0].reason == "relevance"
    assert "UCHATTY" not in [e.user_id for e in experts[:1]]


def test_below_the_minimum_of_examples_the_default_ranks(db: Database, nlp: Nlp) -> None:
    service = ExpertiseService(settings=ExpertiseSettings(), nlp=nlp)
    with db.session(WS) as s:
        service.ingest(s, history(10), now=NOW)
    with db.session(WS) as s:
        model = fit_workspace(s, now=NOW, settings=FitSettings(min_examples=30))
        assert model == DEFAULT and not model.learned
        assert json.loads(s.scalars(select(ExpertiseModel.model)).one())["learned"] is False
        _, experts = service.ask(s, text="terraform", asker="UASK1", now=NOW)
    assert experts[0].user_id == "UTERRAFORM"


def test_the_daily_fit_runs_in_the_worker_through_the_dispatcher(make_app, database_url: str) -> None:  # noqa: ANN001
    app = make_app(database_url=database_url)
    alice, bob = person("UALICE", "Alice"), person("UBOB", "Bob")
    root = message(alice, "How do we size Kafka partitions?")
    for event in [root, message(bob, "Start from the consumer count, then measure the lag per partition", thread_ts=root.ts)]:
        assert asyncio.run(app.dispatcher.handle(event)).queued
    IngestWorker(app).drain()
    outcome = asyncio.run(app.dispatcher.handle(ScheduledTick(workspace=WORKSPACE, job="expertise.fit", fire_time=NOW)))
    assert outcome.status == "ok" and outcome.route == "expertise.fit_ranking"
    with app.db.session(WORKSPACE.key) as s:
        row = s.scalars(select(ExpertiseModel)).one()
    assert row.examples == 0 and json.loads(row.model)["learned"] is False  # nothing to learn from: the default


def racket_thread(root: str, days_ago: float) -> list[IncomingMessage]:
    """A thread as the racket channel has them: a question, a bystander's "+1", an answer, and
    the asker's thanks in their own thread."""
    at = NOW - dt.timedelta(days=days_ago)
    return [
        IncomingMessage("upsert", "C1", "general", root, None, None, "UASKER",
                        "How do I make raco pick up my local collection?", None, at),
        IncomingMessage("upsert", "C1", "general", f"{root}1", root, None, "UBYSTANDER", "+1, same here", None,
                        at + dt.timedelta(minutes=1)),
        IncomingMessage("upsert", "C1", "general", f"{root}2", root, None, "UHELPER",
                        "Run `raco pkg install --link ./mycollection` and restart DrRacket", None, at + dt.timedelta(minutes=2)),
        IncomingMessage("upsert", "C1", "general", f"{root}3", root, None, "UASKER", "That was it, thanks!", None,
                        at + dt.timedelta(minutes=3)),
    ]


def test_replies_in_others_threads_lately_are_counted_alike_by_questions_and_by_the_fit(db: Database, nlp: Nlp) -> None:
    # Every reply in someone else's thread counts, help or not ("+1" too), each reply once;
    # not the asker's replies in their own thread, nor replies older than RECENT_DAYS.
    from skills.expertise.model import RECENT_DAYS
    from skills.expertise.ranker_fit import _State
    from skills.expertise.ranking import index_snapshot

    service = ExpertiseService(settings=ExpertiseSettings(), nlp=nlp)
    history = racket_thread("500.1", days_ago=RECENT_DAYS + 10) + racket_thread("600.1", 3) + racket_thread("700.1", 2)
    with db.session(WS) as s:
        service.ingest(s, history, now=NOW)
    with db.session(WS) as s:
        replying = index_snapshot(s, now=NOW).replying
    assert replying == {"UBYSTANDER": 2, "UHELPER": 2}

    state = _State(half_life_days=365.0)
    for m in history:
        parent = "UASKER" if m.thread_ts else None
        state.message(m.message_time.timestamp(), m.user_id, False, parent)
    at = NOW.timestamp()
    assert {u: state.person(u, "UOTHER", at, {}).replies_recent for u in ("UBYSTANDER", "UHELPER", "UASKER")} == {
        "UBYSTANDER": 2, "UHELPER": 2, "UASKER": 0}


def test_a_workspace_that_learns_recent_replies_ranks_and_explains_by_them(db: Database, nlp: Nlp) -> None:
    # UOLDHAND answered raco questions more often, but months ago; UHELPER replies in others'
    # threads every day lately. A ranking on relevance alone puts UOLDHAND first; one that also
    # weighs replies lately (as the racket channels learn) puts UHELPER first, and says why.
    from skills.expertise.model import Model, store
    from skills.expertise.ask import describe

    service = ExpertiseService(settings=ExpertiseSettings(), nlp=nlp)
    history = [m for i in range(3) for m in racket_thread(f"{800 + i}.1", days_ago=5 - i)]
    for i in range(6):
        at = NOW - dt.timedelta(days=90 + i)
        history += [IncomingMessage("upsert", "C1", "general", f"{900 + i}.1", None, None, "UASKER",
                                    f"Which raco flag rebuilds the docs of collection {i}?", None, at),
                    IncomingMessage("upsert", "C1", "general", f"{900 + i}.2", f"{900 + i}.1", None, "UOLDHAND",
                                    "Use `raco setup --doc-index` to rebuild the raco documentation index", None,
                                    at + dt.timedelta(minutes=2))]
    with db.session(WS) as s:
        service.ingest(s, history, now=NOW)

    def ranked(weights: dict[str, float]) -> list:
        with db.session(WS) as s:
            store(s, Model(weights=tuple(weights.get(f, 0.0) for f in FEATURES), examples=100, learned=True), now=NOW)
        with db.session(WS) as s:
            return ExpertiseService(settings=ExpertiseSettings(), nlp=nlp).ask(s, text="who knows raco?", asker="UNEW", now=NOW)[1]

    assert [e.user_id for e in ranked({"relevance": 1.0})][:2] == ["UOLDHAND", "UHELPER"]
    experts = ranked({"relevance": 1.0, "replies_recent": 2.0})
    assert [e.user_id for e in experts][:2] == ["UHELPER", "UOLDHAND"]
    assert experts[0].reason == "replies_recent"
    assert describe(experts[0], lang="en", now=NOW).startswith("replies in others' threads a lot lately; answered 3 questions")
    assert describe(experts[0], lang="fr", now=NOW).startswith("répond beaucoup dans les fils des autres ces temps-ci")
    # French typography: a space before the semicolon that joins the two reasons.
    assert describe(experts[0], lang="fr", now=NOW).startswith("répond beaucoup dans les fils des autres ces temps-ci ; a répondu à 3")

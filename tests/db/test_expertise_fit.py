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
from skills.expertise.model import ExpertiseSettings
from skills.expertise.ask import ExpertiseService
from bot.ingest import IngestWorker
from skills.expertise.nlp import Nlp
from skills.expertise.ranker import DEFAULT, FEATURES
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

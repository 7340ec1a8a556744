""""forget me" while the worker applies a batch: whatever the interleaving, once the queue has
drained no row names the person, and every other person's rows are what they would have been.

The app is built by the real bootstrap with one more skill, this module: its ingest handler is a
checkpoint inside the worker's real batch (its transaction, its lock), where the test holds the
batch while "forget me" is handled by the real dispatcher on another thread.
"""

from __future__ import annotations

import asyncio
import sys
import threading
from collections import Counter
from typing import Any

import pytest
from sqlalchemy import JSON, String, Text, cast, func, select

from bot.app.bootstrap import SKILLS
from bot.db import Base
from bot.db.coffee import CoffeeTie
from bot.db.expertise import ExpertiseEvidence, ExpertiseMessage, ExpertiseScore, ExpertiseTopic
from bot.db.kudos import KudosRow
from bot.db.models import IngestItem
from bot.events import Workspace
from bot.ingest import IngestWorker
from bot.router import Routes
from tests.conftest import dm, message, person

ALICE = person("UALICE", "Alice Martin", team="Data", locale="en")
BOB = person("UBOB", "Bob Keller", team="Platform", locale="en")
CAROL = person("UCAROL", "Carol Dupont", team="Data", locale="en")

SUBJECTS = ["Kafka partitions", "Terraform modules", "Postgres replicas", "Grafana alerts", "Helm charts",
            "Redis eviction", "Airflow sensors", "Spark shuffles", "Envoy retries", "Vault leases"]


class Checkpoint:
    """Holds the worker inside batch number ``hold`` until ``release`` is set."""

    def __init__(self) -> None:
        self.reset(None)

    def reset(self, hold: int | None) -> None:
        self.hold, self.calls = hold, 0
        self.reached, self.release = threading.Event(), threading.Event()

    def __call__(self, batch: Any, ctx: Any) -> None:
        n, self.calls = self.calls, self.calls + 1
        if n == self.hold:
            self.reached.set()
            self.release.wait(timeout=60)


CHECKPOINT = Checkpoint()
# This module is a skill: bootstrap includes its routes like any other's.
routes = Routes("erasure_checkpoint")
routes.ingest()(CHECKPOINT)


def workload(ws: Workspace) -> list[Any]:
    """Channel messages of three people: Alice's threads, Bob's replies in them (some naming
    her), Bob's and Carol's own messages (some naming each other, some naming Alice), and
    thanks between all three."""
    events: list[Any] = []
    for who in (BOB, CAROL):
        events.append(message(who, f"{SUBJECTS[0]} notes from {who.name}", ws=ws))
    roots = []
    for i in range(12):
        root = message(ALICE, f"How do we tune {SUBJECTS[i % 10]} for the orders service?", ws=ws)
        roots.append(root)
        events.append(root)
    for i, root in enumerate(roots):
        mentions = (ALICE.id,) if i % 3 == 0 else ()
        events.append(message(BOB, f"{SUBJECTS[i % 10]}: measure first, then change one setting", ws=ws,
                              thread_ts=root.ts, parent_user_id=ALICE.id, mentions=mentions))
    for i in range(10):
        events.append(message(BOB, f"Runbook for {SUBJECTS[(i + 3) % 10]} is in the wiki, cc <@{ALICE.id}>", ws=ws,
                              mentions=(ALICE.id,) if i % 2 else ()))
        events.append(message(CAROL, f"{SUBJECTS[(i + 5) % 10]} dashboards updated, <@{BOB.id}> please review", ws=ws,
                              mentions=(BOB.id,)))
    events += [
        message(ALICE, f"thanks <@{BOB.id}> for the Kafka partitions fix", ws=ws, mentions=(BOB.id,)),
        message(CAROL, f"thanks <@{ALICE.id}> for the Spark shuffles tips", ws=ws, mentions=(ALICE.id,)),
        message(BOB, f"thanks <@{CAROL.id}> for the Grafana alerts review", ws=ws, mentions=(CAROL.id,)),
    ]
    return events


def handle(app: Any, event: Any) -> Any:
    return asyncio.run(app.dispatcher.handle(event))


def naming(app: Any, ws: str, user_id: str) -> dict[str, int]:
    """Rows of the workspace that name ``user_id`` anywhere in their text columns, by table."""
    found: dict[str, int] = {}
    with app.db.session(None) as s:
        for table in Base.metadata.sorted_tables:
            if "workspace" not in table.c:
                continue
            cols = [c for c in table.columns if isinstance(c.type, (String, Text, JSON))]
            for c in cols:
                n = s.scalar(select(func.count()).select_from(table).where(
                    table.c.workspace == ws, cast(c, Text).like(f"%{user_id}%")))
                if n:
                    found[f"{table.name}.{c.name}"] = n
    return found


def evidence_of(app: Any, ws: str, user_id: str, *, texts_of: set[str] | None = None) -> Counter:
    """(topic, kind) of a person's evidence, optionally only from some of their messages."""
    with app.db.session(ws) as s:
        rows = s.execute(select(ExpertiseEvidence.topic_key, ExpertiseEvidence.kind, ExpertiseEvidence.ts)
                         .where(ExpertiseEvidence.user_id == user_id)).all()
    return Counter((t, k) for t, k, ts in rows if texts_of is None or ts in texts_of)


def check_topic_counts(app: Any, ws: str) -> None:
    """Each topic's count of people is the number of people with evidence for it."""
    with app.db.session(ws) as s:
        people = dict(s.execute(select(ExpertiseScore.topic_key, func.count(func.distinct(ExpertiseScore.user_id)))
                                .group_by(ExpertiseScore.topic_key)).all())
        for key, n in s.execute(select(ExpertiseTopic.key, ExpertiseTopic.people_n)):
            assert n == people.get(key, 0), key


def run_workload(app: Any, ws: Workspace) -> dict[str, set[str]]:
    """Dispatch the workload; returns the ts of Bob's replies in Alice's threads and of Bob's
    own messages."""
    events = workload(ws)
    for event in events:
        handle(app, event)
    bob = [e for e in events if e.sender.id == BOB.id]
    return {"replies": {e.ts for e in bob if e.thread_ts}, "own": {e.ts for e in bob if not e.thread_ts}}


@pytest.fixture(params=["checkpoint first", "checkpoint last"])
def app(request, make_app, database_url):  # noqa: ANN001, ANN201
    """The checkpoint runs before the index's handler (the batch is read, nothing written yet) or
    after it (the batch's evidence is written, not committed)."""
    this = sys.modules[__name__]
    skills = (this, *SKILLS) if request.param == "checkpoint first" else (*SKILLS, this)
    return make_app(database_url=database_url, skills=skills, ingest={"batch_size": 16})


# Where "forget me" happens: before the worker starts, inside batch 0, 1 or 3 (of 4), or after
# the queue has drained.
INTERLEAVINGS = ["before", 0, 1, 3, "after"]


def test_forget_me_during_ingestion_leaves_nothing_of_the_person_and_all_of_the_others(app) -> None:  # noqa: ANN001
    control = Workspace("console", "control")
    ts = run_workload(app, control)
    CHECKPOINT.reset(None)
    IngestWorker(app).drain()
    expected_carol = evidence_of(app, control.key, CAROL.id)
    expected_bob_own = evidence_of(app, control.key, BOB.id, texts_of=ts["own"])
    expected_bob_thanked = Counter({k: n for k, n in evidence_of(app, control.key, BOB.id).items() if k[1] == "thanked"})
    assert expected_carol and expected_bob_own and expected_bob_thanked
    check_topic_counts(app, control.key)
    for i, when in enumerate(INTERLEAVINGS):
        ws = Workspace("console", f"erase{i}")
        ts = run_workload(app, ws)
        erase_during_ingestion(app, ws, when)
        assert naming(app, ws.key, ALICE.id) == {}, when
        with app.db.session(ws.key) as s:
            assert s.scalar(select(func.count()).select_from(IngestItem)) == 0
            messages = s.execute(select(ExpertiseMessage.user_id, ExpertiseMessage.ts, ExpertiseMessage.parent_user_id)).all()
            kudos = s.execute(select(KudosRow.giver_id, KudosRow.receiver_id)).all()
            ties = s.execute(select(CoffeeTie.user_a, CoffeeTie.user_b, CoffeeTie.interactions)).all()
        # Every message of Bob and Carol is indexed, Bob's replies without their thread's author.
        assert Counter(u for u, _, _ in messages) == {BOB.id: 24, CAROL.id: 12}, when
        assert {t for u, t, _ in messages if u == BOB.id} == ts["replies"] | ts["own"]
        assert {p for _, _, p in messages} == {None}
        assert evidence_of(app, ws.key, CAROL.id) == expected_carol, when
        assert evidence_of(app, ws.key, BOB.id, texts_of=ts["own"]) == expected_bob_own, when
        bob_thanked = Counter({k: n for k, n in evidence_of(app, ws.key, BOB.id).items() if k[1] == "thanked"})
        assert bob_thanked == expected_bob_thanked, when
        with app.db.session(ws.key) as s:
            bob_replies = s.scalar(select(func.count(func.distinct(ExpertiseEvidence.ts))).where(
                ExpertiseEvidence.user_id == BOB.id, ExpertiseEvidence.ts.in_(ts["replies"])))
        assert bob_replies == 12, when
        assert kudos == [(BOB.id, CAROL.id)], when
        assert ties == [(BOB.id, CAROL.id, 11.0)], when
        check_topic_counts(app, ws.key)


def erase_during_ingestion(app: Any, ws: Workspace, when: Any) -> None:
    worker = IngestWorker(app)
    out: list[str] = []

    def forget() -> None:
        out.append("\n".join(m.text for m in handle(app, dm(ALICE, "forget me", ws=ws)).outbound))

    if when == "before":
        forget()
    CHECKPOINT.reset(when if isinstance(when, int) else None)
    draining = threading.Thread(target=worker.drain)
    draining.start()
    if isinstance(when, int):
        assert CHECKPOINT.reached.wait(timeout=60), "the worker never reached the batch"
        erasing = threading.Thread(target=forget)
        erasing.start()
        erasing.join(timeout=0.5)  # its chance to run while the batch is held (it waits for the batch's lock)
        CHECKPOINT.release.set()
        erasing.join()
    draining.join()
    if when == "after":
        forget()
    worker.drain()  # whatever was queued meanwhile
    assert out and out[0].startswith("Done: I erased everything I held about you"), out


def index_rows(app: Any, ws: str, user_id: str) -> int:
    with app.db.session(ws) as s:
        return sum(s.scalar(select(func.count()).select_from(m).where(m.user_id == user_id)) or 0
                   for m in (ExpertiseEvidence, ExpertiseMessage, ExpertiseScore))


def test_a_message_queued_before_its_author_opted_out_is_not_indexed(make_app, database_url) -> None:  # noqa: ANN001
    app = make_app(database_url=database_url)
    ws = Workspace("console", "acme")
    assert handle(app, message(BOB, "Kafka partitions: measure the lag first", ws=ws)).queued
    assert handle(app, message(CAROL, "Kafka consumer groups rebalance on deploys", ws=ws)).queued
    assert "I won't index your messages" in handle(app, dm(BOB, "stop indexing me", ws=ws)).outbound[0].text
    IngestWorker(app).drain()
    assert index_rows(app, ws.key, BOB.id) == 0
    assert index_rows(app, ws.key, CAROL.id) > 0
    with app.db.session(ws.key) as s:
        assert s.scalar(select(func.count()).select_from(IngestItem)) == 0


def test_a_message_queued_as_its_author_was_forgotten_is_not_indexed(make_app, database_url) -> None:  # noqa: ANN001
    # A request that read the directory just before "forget me" committed still queues the
    # message: the worker finds the tombstone and drops it, and the mention of her too.
    app = make_app(database_url=database_url)
    ws = Workspace("console", "acme")
    handle(app, dm(ALICE, "forget me", ws=ws))
    late = [message(ALICE, "Kafka partitions: measure the lag first", ws=ws),
            message(CAROL, f"Kafka consumer groups, ask <@{ALICE.id}>", ws=ws, mentions=(ALICE.id,))]
    with app.db.session(ws.key) as s:
        for m in late:
            s.add(IngestItem(conversation_id=m.conversation.id, ts=m.ts, user_id=m.sender.id, text=m.text,
                             mentions=list(m.mentions), op="upsert"))
    IngestWorker(app).drain()
    assert naming(app, ws.key, ALICE.id) == {}
    assert index_rows(app, ws.key, CAROL.id) > 0

"""The small company the expertise skill's end-to-end tests index: four people, a Kafka thread
that Bob answers, and one message of Dan's that each test file chooses."""

from __future__ import annotations

import asyncio
from typing import Any, Callable

from bot.ingest import IngestWorker
from tests.conftest import message, person

ALICE = person("UALICE", "Alice Martin", team="Data", locale="en")
BOB = person("UBOB", "Bob Keller", team="Platform", locale="en")
CAROL = person("UCAROL", "Carol Dupont", team="Data", locale="fr")
DAN = person("UDAN", "Dan Ito", team="Data", locale="en")


def run(app: Any, event: Any) -> Any:
    return asyncio.run(app.dispatcher.handle(event))


def said(outcome: Any) -> str:
    return "\n".join(m.text for m in outcome.outbound)


def indexed(make_app: Callable[..., Any], database_url: str, dan_says: str) -> Any:
    """The app with Alice's Kafka question, Bob's answer in its thread, ``dan_says`` and Dan's
    Terraform note queued and indexed by the worker."""
    app = make_app(database_url=database_url)
    root = message(ALICE, "How do we size Kafka partitions for the orders topic?")
    for event in [
        root,
        message(BOB, "Kafka partitions: start from the consumer count, then measure lag", thread_ts=root.ts),
        message(DAN, dan_says),
        message(DAN, "Terraform modules for the VPC are in the infra repo"),
    ]:
        assert run(app, event).queued
    IngestWorker(app).drain()
    return app

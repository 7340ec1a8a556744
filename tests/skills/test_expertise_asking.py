""""Who knows X?" understood as people ask it, through the real bootstrap and dispatcher: the
ways people phrase it in English and French, misspelt topics ("did you mean"), and words that
are no topic never shown in "what do you know about me?"."""

from __future__ import annotations

import datetime as dt

import pytest

from skills.expertise.evidence import record_evidence
from bot.ingest import IngestWorker
from skills.expertise.topics import Topic
from tests.skills.expertise_company import ALICE, CAROL, DAN, indexed, run, said
from tests.conftest import WS, dm, message

@pytest.fixture
def app(make_app, database_url):  # noqa: ANN001, ANN201
    return indexed(make_app, database_url, "Kubernetes pods restart when the liveness probe fails")


@pytest.mark.parametrize("question", [
    "who can help me with Kafka?",
    "who's the Kafka expert?",
    "who’s our Kafka person?",
    "does anyone here know about Kafka?",
    "can anyone help me with Kafka?",
    "I'm looking for someone who knows Kafka",
    "is there a Kafka expert here?",
    "any Kafka experts around?",
    "who's good with Kafka?",
])
def test_english_ways_of_asking_find_who_knows(app, question) -> None:  # noqa: ANN001
    out = said(run(app, dm(CAROL, question)))
    assert out.startswith("People who know about *Kafka*"), out
    assert "Bob Keller" in out


@pytest.mark.parametrize("question", [
    "je cherche quelqu'un qui maîtrise Kafka",
    "qui peut m'aider avec Kafka ?",
    "qui pourrait m’aider sur Kafka ?",
    "est-ce que quelqu'un peut m'aider avec Kafka ?",
    "qui est l'expert Kafka ?",
    "tu connais quelqu'un qui s'y connaît en Kafka ?",
    "y a-t-il quelqu'un qui connaît Kafka ?",
    "je cherche une experte en Kafka",
])
def test_french_ways_of_asking_find_who_knows(app, question) -> None:  # noqa: ANN001
    out = said(run(app, dm(CAROL, question)))
    assert out.startswith("Les personnes qui s'y connaissent en *Kafka*"), out
    assert "Bob Keller" in out


def test_a_misspelt_topic_is_corrected_with_did_you_mean(app) -> None:  # noqa: ANN001
    out = said(run(app, dm(ALICE, "who knows kubernets?")))
    lines = out.splitlines()
    assert lines[0] == "I don't know anyone for *kubernets*. Did you mean *kubernetes*?"
    assert lines[1] == "People who know about *kubernetes*:"
    assert "Dan Ito" in out
    out = said(run(app, dm(CAROL, "qui connaît terrafrom ?")))
    assert out.startswith("Je ne connais personne pour *terrafrom*. Vouliez-vous dire *terraform* ?")
    assert "Dan Ito" in out
    out = said(run(app, dm(ALICE, "who can help me with kafak?")))
    assert "Did you mean *Kafka*?" in out and "Bob Keller" in out


def test_a_word_far_from_every_topic_is_not_corrected(app) -> None:  # noqa: ANN001
    out = said(run(app, dm(ALICE, "who knows kotlin?")))
    assert "Did you mean" not in out
    assert out.startswith("I don't know anyone for *kotlin* yet")
    # A known topic is never corrected into another one.
    assert "Did you mean" not in said(run(app, dm(ALICE, "who knows terraform?")))


def test_words_that_are_no_topic_are_never_held_about_someone(app) -> None:  # noqa: ANN001
    for text in [
        "Utilise un `LazyVStack` dans une `ScrollView` si tu as des cellules custom. "
        "Sorry, in English: LazyVStack, and no GeometryReader inside rows.",
        "Merci pour ton aide sur Airflow, le DAG de facturation tourne enfin en moins de 20 min.",
        "The Postgres upgrade is Saturday. Expect a ~5 min read-only window.",
    ]:
        assert run(app, message(CAROL, text)).queued
    IngestWorker(app).drain()
    out = said(run(app, dm(CAROL, "que sais-tu de moi ?"))).lower()
    topics = {line.split("*")[1] for line in out.splitlines() if line.startswith("•")}
    assert {"lazyvstack", "airflow", "postgres"} <= topics, topics
    assert not topics & {"and", "no", "and no", "min", "tourne", "facturation tourne"}, topics


def test_evidence_indexed_before_the_rules_changed_is_not_shown(app) -> None:  # noqa: ANN001
    at = dt.datetime(2025, 1, 6, tzinfo=dt.timezone.utc)
    with app.db.session(WS.key) as s:
        record_evidence(s, user_id=DAN.id, kind="wrote", at=at, topics=[
            Topic("and", "and", "fr"), Topic("and no", "and no", "fr"), Topic("tourne", "tourne", "fr"),
            Topic("min", "min", "en"), Topic("grafana", "Grafana", "en"),
        ])
        s.commit()
    out = said(run(app, dm(DAN, "what do you know about me?")))
    shown = {line.split("*")[1] for line in out.splitlines() if line.startswith("•")}
    assert {"Grafana", "kubernetes", "terraform"} <= shown, shown
    assert not shown & {"and", "and no", "tourne", "min"}, shown

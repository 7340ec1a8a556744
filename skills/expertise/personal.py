"""What the index holds about one person, and the person's control over it: "what do you know about
me?" (``held_about``, ``count_held``), "forget topic X", "stop indexing me" and the expertise
part of "forget me" (``take_back_evidence``), each keeping the topic counts right."""

from __future__ import annotations

from typing import Any, Sequence

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from bot.db.expertise import ExpertiseEvidence, ExpertiseMessage, ExpertisePerson, ExpertiseScore, ExpertiseTopic

from skills.expertise.model import KINDS, ExpertiseSettings, HeldTopic, topic_weight
from skills.expertise.writer import Writer, count_again
from skills.expertise.evidence import remove_evidence_rows
from skills.expertise.ranking import evidence_details

def held_about(session: Session, *, user_id: str, limit: int = 15, settings: ExpertiseSettings | None = None) -> list[HeldTopic]:
    """What the index holds about one person, the topics they would be found for first: their
    evidence on each topic times how telling the topic is in the workspace (the weight a
    question gives it: a topic most people share, like "error" or "new", comes after one few
    people know, like "kafka", for the same evidence)."""
    settings = settings or ExpertiseSettings()
    rows = session.execute(
        select(ExpertiseScore, ExpertiseTopic.display, ExpertiseTopic.people_n)
        .join(ExpertiseTopic, (ExpertiseTopic.key == ExpertiseScore.topic_key) & (ExpertiseTopic.workspace == ExpertiseScore.workspace))
        .where(ExpertiseScore.user_id == user_id)
    ).all()
    people = max(session.scalar(select(func.count()).select_from(ExpertisePerson)) or 0, 1)

    def order(r: Any) -> tuple[float, str]:
        score, _, df = r
        strength = sum(settings.weight(k) * (getattr(score, f"{k}_n") or 0) for k in KINDS)
        return -strength * max(topic_weight(people, df), 1e-6), score.topic_key

    rows = sorted(rows, key=order)[:limit]
    found = evidence_details(session, [(user_id, score.topic_key) for score, _, _ in rows], 1)
    return [
        HeldTopic(
            key=score.topic_key, display=display,
            counts={k: getattr(score, f"{k}_n") or 0 for k in KINDS if getattr(score, f"{k}_n")},
            last_at=score.last_at, links=found[(user_id, score.topic_key)].links,
        )
        for score, display, _ in rows
    ]


def count_held(session: Session, *, user_id: str) -> tuple[int, int]:
    """(topics, evidence rows) held about a person."""
    topics = session.scalar(select(func.count()).select_from(ExpertiseScore).where(ExpertiseScore.user_id == user_id)) or 0
    rows = session.scalar(select(func.count()).select_from(ExpertiseEvidence).where(ExpertiseEvidence.user_id == user_id)) or 0
    return topics, rows


def forget_topic(session: Session, *, user_id: str, keys: Sequence[str], settings: ExpertiseSettings | None = None) -> int:
    """Remove one person's evidence for some topics. Returns evidence rows removed."""
    writer = Writer(session, settings or ExpertiseSettings())
    rows = session.scalars(select(ExpertiseEvidence).where(ExpertiseEvidence.user_id == user_id, ExpertiseEvidence.topic_key.in_(list(keys)))).all()
    remove_evidence_rows(writer, rows)
    writer.finish()
    return len(rows)


def take_back_evidence(session: Session, *, user_id: str, settings: ExpertiseSettings | None = None) -> int:
    """Remove every piece of a person's evidence, keeping the topic counts right (before the
    general eraser deletes the rest). It first takes the workspace's ingestion lock, so a batch
    in flight commits before the evidence is read, and none starts until the caller commits."""
    from bot.ingest import hold_workspace

    hold_workspace(session)
    writer = Writer(session, settings or ExpertiseSettings())
    rows = session.scalars(select(ExpertiseEvidence).where(ExpertiseEvidence.user_id == user_id)).all()
    remove_evidence_rows(writer, rows)
    writer.finish()
    return len(rows)


def forget_all_evidence(session: Session, *, user_id: str, settings: ExpertiseSettings | None = None) -> int:
    """Remove everything the index holds about a person, keeping the topic counts right
    (opting out). Returns evidence rows removed."""
    n = take_back_evidence(session, user_id=user_id, settings=settings)
    session.execute(delete(ExpertiseScore).where(ExpertiseScore.user_id == user_id))
    session.execute(delete(ExpertisePerson).where(ExpertisePerson.user_id == user_id))
    session.execute(delete(ExpertiseMessage).where(ExpertiseMessage.user_id == user_id))
    session.flush()
    count_again(session)
    return n

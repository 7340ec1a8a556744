"""What other skills may ask of the expertise skill. Kudos records "thanked" evidence and finds
who wrote a message; coffee asks which topic a group shares. Nothing outside skills/expertise
reads the expertise tables: it goes through these functions."""

from __future__ import annotations

from collections import defaultdict
from typing import Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.db.expertise import ExpertiseMessage, ExpertiseScore, ExpertiseTopic
from bot.db.models import IngestItem
from skills.expertise.evidence import known_keys, record_evidence, thread_topics
from skills.expertise.model import EvidenceRef, ExpertiseSettings

__all__ = [
    "EvidenceRef", "ExpertiseSettings", "author_of", "known_keys", "record_evidence", "shared_topics",
    "thread_topics",
]

# A topic shared by more than this share of the indexed people ("team", "meeting") starts no
# conversation, so it is never offered as a group's starter.
STARTER_MAX_SHARE = 0.15


def author_of(session: Session, conversation_id: str, ts: str) -> str | None:
    """Who wrote a message, when the platform does not say (Teams reactions name only the
    reactor): the index knows the authors of the public messages it has seen or queued."""
    found = session.scalar(select(ExpertiseMessage.user_id).where(
        ExpertiseMessage.conversation_id == conversation_id, ExpertiseMessage.ts == ts))
    return found or session.scalar(select(IngestItem.user_id).where(
        IngestItem.conversation_id == conversation_id, IngestItem.ts == ts))


def _chunks(items: Sequence[str], n: int = 500):
    for i in range(0, len(items), n):
        yield items[i:i + n]


def shared_topics(session: Session, groups: Sequence[Sequence[str]], *, max_share: float = STARTER_MAX_SHARE) -> dict[int, str]:
    """Group number -> a topic every member has evidence for in the expertise index, when the
    index knows one that is not common to most people (the one they are jointly strongest on)."""
    ids = sorted({u for g in groups for u in g})
    scores: dict[str, dict[str, float]] = defaultdict(dict)
    for chunk in _chunks(ids):
        q = select(
            ExpertiseScore.user_id, ExpertiseScore.topic_key,
            ExpertiseScore.wrote_s + ExpertiseScore.answered_s + ExpertiseScore.thanked_s + ExpertiseScore.declared_s,
        ).where(ExpertiseScore.user_id.in_(chunk))
        for uid, key, score in session.execute(q):
            if score and score > 0:
                scores[uid][key] = float(score)
    common_by_group = {}
    for i, g in enumerate(groups):
        common = set.intersection(*(set(scores.get(u, {})) for u in g)) if g else set()
        if common:
            common_by_group[i] = common
    if not common_by_group:
        return {}
    known = session.scalar(select(func.count(func.distinct(ExpertiseScore.user_id)))) or 0
    limit = max(2, int(known * max_share))
    keys = sorted(set().union(*common_by_group.values()))
    topics: dict[str, tuple[str, int]] = {}
    for chunk in _chunks(keys):
        for key, display, n in session.execute(
            select(ExpertiseTopic.key, ExpertiseTopic.display, ExpertiseTopic.people_n).where(ExpertiseTopic.key.in_(chunk))
        ):
            topics[key] = (display or key, n or 0)
    out: dict[int, str] = {}
    for i, common in common_by_group.items():
        rare = sorted(k for k in common if k in topics and topics[k][1] <= limit)
        if rare:
            best = max(rare, key=lambda k: min(scores[u][k] for u in groups[i]))
            out[i] = topics[best][0]
    return out

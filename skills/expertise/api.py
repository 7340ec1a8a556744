"""What other skills may ask of the expertise skill. Kudos records "thanked" evidence and finds
who wrote a message; coffee asks which topic a group shares. Nothing outside skills/expertise
reads the expertise tables: it goes through these functions."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from typing import Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.db.bulk import chunks
from bot.db.expertise import ExpertiseMessage, ExpertiseScore, ExpertiseTopic
from bot.db.models import IngestItem
from skills.expertise.evidence import known_keys, record_evidence, thread_topics
from skills.expertise.model import EvidenceRef, ExpertiseSettings
from skills.expertise.topics import Topic

__all__ = [
    "Answer", "EvidenceRef", "ExpertiseSettings", "ThreadPresence", "answers_between", "author_of", "known_keys",
    "record_answered", "record_evidence", "shared_topics", "thread_presence_before", "thread_topics",
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


def shared_topics(session: Session, groups: Sequence[Sequence[str]], *, max_share: float = STARTER_MAX_SHARE) -> dict[int, str]:
    """Group number -> a topic every member has evidence for in the expertise index, when the
    index knows one that is not common to most people (the one they are jointly strongest on)."""
    ids = sorted({u for g in groups for u in g})
    scores: dict[str, dict[str, float]] = defaultdict(dict)
    for chunk in chunks(ids):
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
    for chunk in chunks(keys):
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


def record_answered(session: Session, *, user_id: str, topics: Sequence[Sequence[str]], at: dt.datetime,
                    weight: float, ref: EvidenceRef, settings: ExpertiseSettings | None = None) -> None:
    """Record that ``user_id`` answered a question on ``topics`` (``(key, display, lang)``
    triples, as a who-knows answer found them): "answered" evidence of ``weight``. Recording the
    same reference again replaces the earlier record (a repeated click counts once)."""
    record_evidence(session, user_id=user_id, topics=[Topic(k, d, lang) for k, d, lang in topics], kind="answered",
                    at=at, weight=weight, ref=ref, settings=settings)


# ---- for the network report (skills/insights): who wrote in which public thread, no text ----


def _utc(at: dt.datetime) -> dt.datetime:
    """Stored times as aware UTC (SQLite hands back naive datetimes; every stored time is UTC)."""
    return at.replace(tzinfo=dt.timezone.utc) if at.tzinfo is None else at.astimezone(dt.timezone.utc)


@dataclass(frozen=True)
class ThreadPresence:
    """When one person first and last wrote in one public thread."""

    thread: tuple[str, str]  # (conversation id, thread root ts)
    user_id: str
    first: dt.datetime
    last: dt.datetime


@dataclass(frozen=True)
class Answer:
    """A reply in a thread someone else started."""

    user_id: str
    asker_id: str
    at: dt.datetime


def thread_presence_before(s: Session, before: dt.datetime) -> list[ThreadPresence]:
    """Per public thread and person, the first and last message before ``before`` (a message
    outside any thread is its own thread, so a reply meets its root)."""
    rows = s.execute(select(ExpertiseMessage.conversation_id, ExpertiseMessage.thread_ts, ExpertiseMessage.ts,
                            ExpertiseMessage.user_id, ExpertiseMessage.at)
                     .where(ExpertiseMessage.at < before))
    seen: dict[tuple[tuple[str, str], str], list[dt.datetime]] = {}
    for conv, thread_ts, ts, user_id, at in rows:
        key = ((conv, thread_ts or ts), user_id)
        at = _utc(at)
        span = seen.get(key)
        if span is None:
            seen[key] = [at, at]
        else:
            span[0], span[1] = min(span[0], at), max(span[1], at)
    return [ThreadPresence(thread, user, first, last) for (thread, user), (first, last) in seen.items()]


def answers_between(s: Session, start: dt.datetime, end: dt.datetime) -> list[Answer]:
    """Replies in someone else's thread written in [start, end)."""
    rows = s.execute(select(ExpertiseMessage.user_id, ExpertiseMessage.parent_user_id, ExpertiseMessage.at)
                     .where(ExpertiseMessage.answer.is_(True), ExpertiseMessage.at >= start, ExpertiseMessage.at < end))
    return [Answer(u, p or "", _utc(at)) for u, p, at in rows]

"""What the expertise index is made of, shared by its modules: the settings, the kinds of evidence,
the values an answer carries (``Expert``, ``Link``, ``HeldTopic``), and time (evidence decays
from ``EPOCH`` with a half-life)."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from typing import Iterable, Mapping, Sequence

from sqlalchemy.orm import Session

KINDS = ("wrote", "answered", "thanked", "declared")
EPOCH = dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc)
DAY = 86400.0


@dataclass(frozen=True)
class ExpertiseSettings:
    """The [expertise] section of the settings (see config/default.toml)."""

    half_life_days: float = 365.0
    weight_wrote: float = 0.1
    weight_answered: float = 3.0
    weight_thanked: float = 5.0
    weight_declared: float = 4.0
    question_weight: float = 0.3
    thread_topic_weight: float = 1.0
    helpers_refresh_seconds: float = 300.0
    fit_cron: str = "17 3 * * *"
    fit_min_examples: int = 30
    fit_max_examples: int = 3000
    fit_c: float = 0.0001
    fit_drop: tuple[str, ...] = ("recent_week",)
    max_experts: int = 5
    min_experts: int = 3
    links_per_person: int = 2
    candidates_per_topic: int = 300
    # "Ask them for me" (skills/routing): who is asked, how often, when.
    route_to: int = 3
    route_weekly_cap: int = 3
    not_me_days: int = 90
    route_timeout_hours: float = 24.0
    route_work_hours: str = "09:00-18:00"
    route_work_days: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri")
    route_answered_weight: float = 4.5
    route_thanks_after_hours: float = 24.0

    def weight(self, kind: str) -> float:
        return float(getattr(self, f"weight_{kind}"))


@dataclass(frozen=True)
class EvidenceRef:
    """Where a piece of evidence comes from (no text: only the reference)."""

    conversation_id: str
    ts: str
    permalink: str | None = None
    conversation_name: str | None = None


@dataclass(frozen=True)
class Link:
    conversation_id: str
    ts: str
    permalink: str | None
    conversation_name: str | None
    kind: str
    at: dt.datetime


@dataclass(frozen=True)
class Expert:
    """One person in an answer, with what the reason line and the links are made of."""

    user_id: str
    name: str
    team: str | None
    score: float
    matched: bool  # False: ranked by general helpfulness only (no query topic is known)
    outside_team: bool
    topic: str | None  # display form of the topic that counts most for this person
    counts: Mapping[str, int] = field(default_factory=dict)  # on that topic, by kind
    channel: str | None = None
    last_at: dt.datetime | None = None
    answers: int = 0  # answers in others' threads, all topics
    links: tuple[Link, ...] = ()
    helps_lately: bool = False  # recent help to others counts in the rank (said in the reason)
    # Threads started by others in which the person answered about the topic (None: not read;
    # counts["answered"] counts replies, often several per thread).
    questions: int | None = None
    questions_all: bool = True  # False: ``questions`` counts the latest answers only ("at least")
    reason: str = "relevance"  # the ranking's feature that counts most for this person
    pair: int = 0  # threads of the asker this person helped in


@dataclass(frozen=True)
class HeldTopic:
    key: str
    display: str
    counts: Mapping[str, int]
    last_at: dt.datetime | None
    links: tuple[Link, ...]


def aware(at: dt.datetime) -> dt.datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=dt.timezone.utc)


def growth(at: dt.datetime, half_life_days: float) -> float:
    """2^((at − EPOCH)/half-life): evidence stored with this factor decays by itself when read
    with the reciprocal factor of "now"."""
    days = (aware(at) - EPOCH).total_seconds() / DAY
    return 2.0 ** (days / max(half_life_days, 1e-6))


def ts_time(ts: str) -> dt.datetime | None:
    """A Slack-style "1494517568.512661" timestamp as a datetime (None if it is not one)."""
    try:
        return dt.datetime.fromtimestamp(float(ts), tz=dt.timezone.utc)
    except (TypeError, ValueError, OverflowError, OSError):
        return None


def topic_weight(people: int, people_with_topic: int | None) -> float:
    """How telling a topic is in a workspace of ``people`` indexed people (an inverse document
    frequency): high for a topic few of them know, near zero for one nearly all share."""
    df = max(people_with_topic or 0, 1)
    return math.log(1.0 + (people - df + 0.5) / (df + 0.5))


def chunks(items: Sequence[str], n: int) -> Iterable[Sequence[str]]:
    for i in range(0, len(items), n):
        yield items[i : i + n]


def workspace_of(session: Session) -> str:
    """The workspace a session is scoped to; the index is read, like written, only within one."""
    ws = session.info.get("workspace")
    if not ws:
        raise ValueError("the expertise index is read through a session scoped to one workspace")
    return ws

"""What the expertise index is made of, shared by its modules, in this order: the settings, the
kinds of evidence, the values an answer carries (``Expert``, ``Link``, ``HeldTopic``), time
(evidence decays from ``EPOCH`` with a half-life); then the ranking each workspace learns from
its own answered threads: its features, the linear ``Model`` and its ``DEFAULT``, ``fit`` (on
scikit-learn, imported only when fitting: the worker fits, in ``ranker_fit.py``) and its storage
(``store``, ``load``: the JSON of a ``Model`` per workspace).

The ranking. Every past thread whose first message asks something and that got help is an
example: the question's topics, the people who could have been asked then (the candidates a
question would read), and who really helped. Each (question, candidate) pair is described by a few features,
all computed from what was known *before* the thread (a chronological sweep), so a helper's
later answers never explain their earlier ones:

- ``relevance``: BM25 of the question's topics over the candidate's help (the topics of their
  helpful replies and of the questions they answered, recent help counting more than old:
  the index's evidence half-life), weighted by how telling each topic is,
  divided by the question's total weight (so a question with many words does not favour people
  who wrote many words);
- ``topic_wrote``: the same over what they wrote in channels;
- ``thanked`` and ``declared``: thanks received on the topics, topics declared ("I know X");
- ``threads``: log of the distinct threads they answered for others (any topic);
- ``recent`` and ``recent_week``: log of the threads they answered in the last ``RECENT_DAYS``
  days, and in the last ``WEEK_DAYS`` (a fit may leave the second out: ``fit(..., drop=…)``);
- ``replies_recent``: log of their replies in others' threads in the last ``RECENT_DAYS`` days,
  help or not (the "most replies" signal, recent: in a channel where a few people answer nearly
  everything, who takes part in others' threads lately is who answers next);
- ``idle``: log of the days since their last message;
- ``messages``: log of their messages;
- ``pair``: log of the asker's threads they helped in before;
- ``cross_team``: 1 when asker and candidate are in different teams.

The worker fits a logistic regression on pairs (a helper against a non-helper of the same
question: which one helped?) with scikit-learn, and stores the weights per workspace as JSON
(``expertise_models``); a question only computes the features of its candidates and a dot
product. With fewer than ``min_examples`` examples a workspace uses ``DEFAULT``, set by hand
from what the features mean (relevance first, then distinct threads answered), not fitted to
any workspace. The BM25 constants are the usual k1 = 1.2, b = 0.75.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
from dataclasses import dataclass, field
from typing import Mapping, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.db.expertise import ExpertiseModel

KINDS = ("wrote", "answered", "thanked", "declared")
EPOCH = dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc)
DAY = 86400.0
log = logging.getLogger("liaison.expertise.fit")


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


KIND_INDEX = {kind: i for i, kind in enumerate(KINDS)}
# How much each kind of evidence counts when a question picks its candidates: the index's default
# weights, fixed, so that a fit and the questions it ranks pick the same people whatever the
# settings say; and how many candidates it picks by that (and as many of the people who answered
# the most threads).
STRENGTH = tuple(ExpertiseSettings().weight(kind) for kind in KINDS)
CANDIDATES = 50


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


def workspace_of(session: Session) -> str:
    """The workspace a session is scoped to; the index is read, like written, only within one."""
    ws = session.info.get("workspace")
    if not ws:
        raise ValueError("the expertise index is read through a session scoped to one workspace")
    return ws


# The ranking each workspace learns (the module docstring says what each feature is).
FEATURES = ("relevance", "topic_wrote", "thanked", "declared", "threads", "recent", "recent_week", "idle", "messages",
            "pair", "cross_team", "replies_recent")
RECENT_DAYS = 30.0
WEEK_DAYS = 7.0
K1, B = 1.2, 0.75

# The ranking before a workspace has enough answered threads to learn its own: what a person's
# help and declarations say about the topic, then how many threads they answered for others.
# On raw features (mean 0, scale 1).
DEFAULT_WEIGHTS = {"relevance": 2.0, "topic_wrote": 1.0, "thanked": 1.0, "declared": 1.0, "threads": 0.5, "idle": -0.25,
                   "cross_team": 0.05}


@dataclass(frozen=True)
class Model:
    """A linear ranking: ``score = Σ weight · (x − mean) / scale``."""

    weights: tuple[float, ...]
    mean: tuple[float, ...] = tuple(0.0 for _ in FEATURES)
    scale: tuple[float, ...] = tuple(1.0 for _ in FEATURES)
    examples: int = 0
    learned: bool = False
    info: Mapping[str, float] = field(default_factory=dict)

    def contributions(self, x: Sequence[float]) -> list[float]:
        return [w * (v - m) / s for w, v, m, s in zip(self.weights, x, self.mean, self.scale)]

    def score(self, x: Sequence[float]) -> float:
        return sum(self.contributions(x))

    def to_json(self) -> str:
        return json.dumps({"features": list(FEATURES), "weights": list(self.weights), "mean": list(self.mean),
                           "scale": list(self.scale), "examples": self.examples, "learned": self.learned,
                           "info": dict(self.info)})

    @classmethod
    def from_json(cls, text: str) -> "Model":
        """A stored model; features it does not know weigh 0, features it has that this version
        does not are ignored (a model stored by an older or newer version still ranks)."""
        d = json.loads(text)
        names = d.get("features", [])
        pick = lambda key, default: tuple(  # noqa: E731
            float(d[key][names.index(f)]) if f in names else default for f in FEATURES)
        return cls(weights=pick("weights", 0.0), mean=pick("mean", 0.0), scale=pick("scale", 1.0),
                   examples=int(d.get("examples", 0)), learned=bool(d.get("learned")), info=d.get("info", {}))


DEFAULT = Model(weights=tuple(DEFAULT_WEIGHTS.get(f, 0.0) for f in FEATURES))


def idf(people: int, people_with_topic: int) -> float:
    """How telling a topic is among ``people`` (the same formula as the index's topic_weight)."""
    df = max(people_with_topic, 1)
    return math.log(1.0 + (people - df + 0.5) / (df + 0.5))


def _bm25(tf: float, length: float, avg: float) -> float:
    if tf <= 0:
        return 0.0
    return tf * (K1 + 1) / (tf + K1 * (1 - B + B * length / max(avg, 1e-9)))


@dataclass(frozen=True)
class Person:
    """What the features need of one candidate, outside the question's topics."""

    answers: int = 0  # distinct threads answered for others
    messages: int = 0
    recent: int = 0  # threads answered in the last RECENT_DAYS days
    recent_week: int = 0  # and in the last WEEK_DAYS days
    idle_days: float | None = None  # since their last message (None: never)
    pair: int = 0  # the asker's threads they helped in
    cross_team: bool = False
    replies_recent: int = 0  # replies in others' threads in the last RECENT_DAYS days, help or not


@dataclass(frozen=True)
class Workspace:
    """What the features need of the whole index at the time of the question."""

    avg_answers: float
    avg_messages: float


def features(weights: Mapping[str, float], counts: Mapping[str, Sequence[float]], p: Person, ws: Workspace) -> list[float]:
    """The features of one candidate for a question whose topics weigh ``weights`` (key ->
    idf); ``counts``: the candidate's evidence (wrote, answered, thanked, declared) on each of
    them, each piece weighted as the index weighs it (a question counts less than an
    answer) and decayed with the index's half-life to the time of the question."""
    total = sum(weights.values()) or 1.0
    rel = wrote = thanked = declared = 0.0
    for key, w in weights.items():
        c = counts.get(key)
        if not c:
            continue
        wrote += w * _bm25(c[0], p.messages, ws.avg_messages)
        rel += w * _bm25(c[1], p.answers, ws.avg_answers)
        thanked += w * c[2] / (c[2] + 1.0)
        declared += w * (1.0 if c[3] else 0.0)
    idle = math.log1p(p.idle_days) if p.idle_days is not None else math.log1p(3650.0)
    return [rel / total, wrote / total, thanked / total, declared / total, math.log1p(p.answers),
            math.log1p(p.recent), math.log1p(p.recent_week), idle, math.log1p(p.messages), math.log1p(p.pair), 1.0 if p.cross_team else 0.0,
            math.log1p(p.replies_recent)]


def fit(questions: Sequence[tuple[Sequence[Sequence[float]], Sequence[bool]]], *, c: float = 1.0,
        negatives: int = 20, seed: int = 0, drop: Sequence[str] = ()) -> Model:
    """Fit a linear ranking on examples: per question, its candidates' features and whether
    each helped. Pairwise logistic regression (scikit-learn): for each helper and up to
    ``negatives`` non-helpers of the same question, the difference of their features is a
    positive example and its opposite a negative one. Features in ``drop`` weigh 0."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    rows = [x for xs, _ in questions for x in xs]
    if not rows:
        return DEFAULT
    X = np.asarray(rows, dtype=float)
    # The features are not standardised: they already share a scale (shares of a question's
    # weight, logs of counts), and a feature almost always 0 in the examples (thanks, in a
    # workspace that rarely thanks) would otherwise weigh without bound where it is not 0.
    # The mean only sets the baseline of each feature's contribution, for the reason lines.
    mean, scale = X.mean(axis=0), np.ones(X.shape[1])
    rng = np.random.default_rng(seed)
    diffs = []
    used = 0
    for xs, ys in questions:
        Z = (np.asarray(xs, dtype=float) - mean) / scale
        pos = [i for i, y in enumerate(ys) if y]
        neg = [i for i, y in enumerate(ys) if not y]
        if not pos or not neg:
            continue
        used += 1
        for i in pos:
            pick = neg if len(neg) <= negatives else rng.choice(neg, negatives, replace=False)
            diffs.extend(Z[i] - Z[j] for j in pick)
    if not diffs:
        return DEFAULT
    D = np.asarray(diffs)
    Xp = np.vstack([D, -D])
    yp = np.concatenate([np.ones(len(D)), np.zeros(len(D))])
    keep = [i for i, f in enumerate(FEATURES) if f not in drop]
    clf = LogisticRegression(C=c, fit_intercept=False, max_iter=1000).fit(Xp[:, keep], yp)
    weights = [0.0] * len(FEATURES)
    for i, w in zip(keep, clf.coef_[0]):
        weights[i] = float(w)
    return Model(weights=tuple(weights), mean=tuple(float(m) for m in mean),
                 scale=tuple(float(s) for s in scale), examples=used, learned=True,
                 info={"pairs": float(len(D)), "c": c, "dropped": ",".join(drop)})

def store(session: Session, model: Model, *, now: dt.datetime) -> None:
    row = session.scalars(select(ExpertiseModel)).first()
    if row is None:
        row = ExpertiseModel(workspace=session.info["workspace"], fitted_at=now, examples=model.examples, model="")
        session.add(row)
    row.fitted_at, row.examples, row.model = now, model.examples, model.to_json()
    session.flush()


def load(session: Session) -> Model | None:
    """The stored ranking of the session's workspace (None: never fitted)."""
    T = ExpertiseModel.__table__
    text = session.connection().execute(select(T.c.model).where(T.c.workspace == session.info["workspace"])).scalar()
    if not text:
        return None
    try:
        return Model.from_json(text)
    except (ValueError, KeyError, TypeError, IndexError):
        log.warning("the stored expertise ranking of %s cannot be read; the default ranks until the next fit",
                    session.info["workspace"])
        return None

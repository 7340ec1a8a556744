"""Fitting a workspace's ranking (``model.py``: its features, ``Model``, ``fit``, ``store``) from its
own index, in the worker.

``examples`` sweeps the workspace's history in time order — its messages and the evidence on
the topics of its questions — and at each answered question, before applying the thread,
describes its candidates with the features known at that moment: nothing a helper did later
explains their answer. ``fit_workspace`` fits and stores the model; questions only read it.

Memory stays bounded on a large workspace: only the latest ``max_examples`` questions are
examples, counts are kept only for the topics of those questions, and the messages are read as
a stream.
"""

from __future__ import annotations

import bisect
from array import array
import datetime as dt
import heapq
import logging
import random
import time
from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Iterable, Iterator, Sequence

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from bot.db.expertise import ExpertiseEvidence, ExpertiseMessage
from bot.db.models import PersonRow
from bot.db.bulk import chunks, per_message
from skills.expertise.model import (CANDIDATES, DEFAULT, EPOCH, KIND_INDEX, RECENT_DAYS, STRENGTH, WEEK_DAYS, Model, Person,
                                    Workspace, features, fit, idf, store)

log = logging.getLogger("liaison.expertise.fit")

_DAY = 86400.0
_ZERO4 = (0.0, 0.0, 0.0, 0.0)
_EPOCH = EPOCH.timestamp()  # the index's


@dataclass(frozen=True)
class FitSettings:
    max_examples: int = 3000  # the latest answered questions used
    min_examples: int = 30  # below: the default ranking
    candidates_per_question: int = CANDIDATES  # by topic evidence, and as many general helpers
    negatives: int = 20
    c: float = 0.0001  # inverse regularisation strength of the logistic regression
    half_life_days: float = 365.0  # of evidence, as the index decays it
    drop: tuple[str, ...] = ("recent_week",)  # features the fit leaves out


@dataclass
class _Root:
    asker: str
    keys: tuple[str, ...]
    helpers: frozenset[str]


def _ts(at: Any) -> float:
    if at.tzinfo is None:
        at = at.replace(tzinfo=dt.timezone.utc)
    return at.timestamp()


def _roots(session: Session, max_examples: int) -> dict[tuple[str, str], _Root]:
    """The latest answered questions: (conversation, ts) -> asker, topics, helpers. The questions
    are read from the latest back, a batch at a time, with the helpers of that batch's threads
    only (not every answer of the workspace), until ``max_examples`` were answered."""
    M, E = ExpertiseMessage.__table__, ExpertiseEvidence.__table__
    conn = session.connection()
    ws = session.info["workspace"]
    asked = conn.execute(select(M.c.conversation_id, M.c.ts, M.c.user_id).where(M.c.workspace == ws, M.c.question.is_(True))
                         .order_by(M.c.at.desc(), M.c.id.desc()).execution_options(stream_results=True, yield_per=2000))
    roots: dict[tuple[str, str], _Root] = {}
    try:
        for batch in asked.partitions():
            helpers: dict[tuple[str, str], set[str]] = defaultdict(set)
            for conv, tss in _by_conv((conv, ts) for conv, ts, _ in batch).items():
                for i in range(0, len(tss), 500):
                    for thread, user in conn.execute(select(M.c.thread_ts, M.c.user_id).where(
                            M.c.workspace == ws, M.c.conversation_id == conv, M.c.thread_ts.in_(tss[i:i + 500]),
                            M.c.answer.is_(True))):
                        helpers[(conv, thread)].add(user)
            for conv, ts, user in batch:
                h = helpers.get((conv, ts), set()) - {user}
                if h and len(roots) < max_examples:
                    roots[(conv, ts)] = _Root(user, (), frozenset(h))
            if len(roots) >= max_examples:
                break
    finally:
        asked.close()
    # The askers' topics: one seek per question in (workspace, conversation, ts, kind, topic)
    # (``per_message``). Per conversation with a ``ts IN (…)`` list, SQLite read them through
    # the unique index, which covers these columns, walking the workspace's whole evidence for
    # each 500 questions: the fit's cost grew with the questions times the index.
    keys: dict[tuple[str, str], list[str]] = defaultdict(list)
    pg = conn.dialect.name == "postgresql"
    for chunk in chunks(sorted(roots), 500):
        found, params = per_message(pg, chunk, E.name, "t.conversation_id, t.ts, t.user_id, t.topic_key",
                                    where=" AND t.kind = 'wrote'",
                                    index="ix_expertise_evidence_message_topic")
        for conv, ts, user, key in conn.execute(text(found), params | {"ws": ws}):
            if roots[(conv, ts)].asker == user:
                keys[(conv, ts)].append(key)
    # Each question's topics in key order, whatever order the database returns them in.
    return {k: _Root(r.asker, tuple(sorted(keys[k])), r.helpers) for k, r in roots.items() if keys.get(k)}


def _by_conv(pairs: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    by_conv: dict[str, list[str]] = defaultdict(list)
    for conv, ts in pairs:
        by_conv[conv].append(ts)
    return by_conv


def _stream(session: Session, topics: set[str]) -> Iterator[tuple]:
    """Messages and the evidence on ``topics``, in time order (a message before its evidence)."""
    M, E = ExpertiseMessage.__table__, ExpertiseEvidence.__table__
    ws = session.info["workspace"]
    conn = session.connection()
    keys = sorted(topics)
    # The evidence as streams too, each in time order (one per 500 topics), merged below: the
    # rows of a large workspace are never all in memory.
    streams = []
    for i in range(0, len(keys), 500):
        rows = conn.execute(select(E.c.at, E.c.user_id, E.c.topic_key, E.c.kind, E.c.weight)
                            .where(E.c.workspace == ws, E.c.topic_key.in_(keys[i:i + 500])).order_by(E.c.at, E.c.id)
                            .execution_options(stream_results=True, yield_per=20000))
        streams.append((_ts(at), 1, u, KIND_INDEX.get(kind, 0), k, w) for at, u, k, kind, w in rows)
    # The messages as a stream (a server-side cursor on PostgreSQL), for this statement only.
    msgs = conn.execute(select(M.c.at, M.c.user_id, M.c.answer, M.c.parent_user_id, M.c.conversation_id, M.c.ts)
                        .where(M.c.workspace == ws).order_by(M.c.at, M.c.id)
                        .execution_options(stream_results=True, yield_per=20000))
    messages = ((_ts(at), 0, u, bool(a), p, c, ts) for at, u, a, p, c, ts in msgs)
    return heapq.merge(messages, *streams, key=lambda e: (e[0], e[1]))


class _State:
    """What is known at one moment of the sweep."""

    def __init__(self, half_life_days: float) -> None:
        self.half_life = max(half_life_days, 1e-6) * _DAY
        # Per (person, topic) and kind: Σ weight · 2^((t − EPOCH) / half-life), as the index
        # stores it; divided by the same factor of "now", the evidence decayed to now. Kept as
        # topic -> person -> offset of four floats in one array (a million pairs on a large
        # index: a list and a tuple key per pair would take three times the memory); the
        # people of a topic are its dict's keys.
        self.topics: dict[str, dict[str, int]] = defaultdict(dict)
        self.sums = array("d")
        self.messages: dict[str, int] = defaultdict(int)
        self.answers: dict[str, int] = defaultdict(int)
        self.answer_times: dict[str, list[float]] = defaultdict(list)
        # Replies in others' threads, help or not (an array each: there are more of them than answers).
        self.reply_times: dict[str, array] = defaultdict(lambda: array("d"))
        self.last: dict[str, float] = {}
        self.pairs: dict[tuple[str, str], int] = defaultdict(int)
        self.total_answers = 0
        self.total_messages = 0
        self.helpers = 0  # people with an answer: answers' keys (counted as they come, not per question)

    def message(self, at: float, user: str, answer: bool, parent: str | None) -> None:
        self.messages[user] += 1
        self.total_messages += 1
        self.last[user] = at
        if parent and parent != user:
            self.reply_times[user].append(at)
        if answer:
            if user not in self.answers:
                self.helpers += 1
            self.answers[user] += 1
            self.total_answers += 1
            self.answer_times[user].append(at)
            if parent:
                self.pairs[(parent, user)] += 1

    def growth(self, at: float) -> float:
        return 2.0 ** ((at - _EPOCH) / self.half_life)

    def evidence(self, at: float, user: str, kind: int, key: str, weight: float) -> None:
        people = self.topics[key]
        i = people.get(user)
        if i is None:
            i = people[user] = len(self.sums)
            self.sums.extend(_ZERO4)
        self.sums[i + kind] += weight * self.growth(at)

    def counts(self, user: str, key: str) -> Sequence[float] | None:
        """The four sums of one (person, topic), None when the person has no evidence on it."""
        people = self.topics.get(key)
        i = people.get(user) if people is not None else None
        return None if i is None else self.sums[i:i + 4]

    def workspace(self) -> Workspace:
        return Workspace(avg_answers=self.total_answers / max(self.helpers, 1),
                         avg_messages=self.total_messages / max(len(self.messages), 1))

    def person(self, u: str, asker: str, at: float, teams: dict[str, str | None]) -> Person:
        times = self.answer_times.get(u, ())
        recent = len(times) - bisect.bisect_left(times, at - RECENT_DAYS * _DAY) if times else 0
        week = len(times) - bisect.bisect_left(times, at - WEEK_DAYS * _DAY) if times else 0
        replies = self.reply_times.get(u, ())
        replied = len(replies) - bisect.bisect_left(replies, at - RECENT_DAYS * _DAY) if replies else 0
        last = self.last.get(u)
        ta, tu = teams.get(asker), teams.get(u)
        return Person(answers=self.answers.get(u, 0), messages=self.messages.get(u, 0), recent=recent, recent_week=week,
                      idle_days=max(0.0, (at - last) / _DAY) if last is not None else None,
                      pair=self.pairs.get((asker, u), 0), cross_team=bool(ta and tu and ta != tu), replies_recent=replied)


def examples(session: Session, settings: FitSettings | None = None, *, seed: int = 0
             ) -> list[tuple[list[list[float]], list[bool]]]:
    """Per answered question (the latest ``max_examples``), its candidates' features as known
    before it, and whether each helped."""
    settings = settings or FitSettings()
    roots = _roots(session, settings.max_examples)
    if not roots:
        return []
    teams = dict(session.connection().execute(select(PersonRow.__table__.c.user_id, PersonRow.__table__.c.team)
                                              .where(PersonRow.__table__.c.workspace == session.info["workspace"])).all())
    state = _State(settings.half_life_days)
    rng = random.Random(seed)
    out: list[tuple[list[list[float]], list[bool]]] = []
    helpers_top: list[str] = []
    for n, e in enumerate(_stream(session, {k for r in roots.values() for k in r.keys})):
        if e[1] == 1:
            state.evidence(e[0], e[2], e[3], e[4], e[5])
            continue
        at, _, user, answer, parent, conv, ts = e
        root = roots.get((conv, ts))
        if root is not None:
            if len(out) % 25 == 0:
                helpers_top = heapq.nlargest(settings.candidates_per_question, state.answers, key=state.answers.__getitem__)
            example = _example(state, root, at, helpers_top, teams, settings, rng)
            if example is not None:
                out.append(example)
        state.message(at, user, answer, parent)
    return out


def _example(state: _State, root: _Root, at: float, helpers_top: Sequence[str], teams: dict[str, str | None],
             settings: FitSettings, rng: random.Random) -> tuple[list[list[float]], list[bool]] | None:
    people = len(state.messages)
    weights = {k: idf(people, len(state.topics[k])) for k in root.keys if state.topics.get(k)}
    weights = {k: w for k, w in weights.items() if w > 0}
    pool: set[str] = set()
    for k in weights:
        pool.update(state.topics[k])
    pool.discard(root.asker)
    if len(pool) > 20 * settings.candidates_per_question:
        pool = set(rng.sample(sorted(pool), 20 * settings.candidates_per_question))

    if root.helpers.isdisjoint(pool) and root.helpers.isdisjoint(helpers_top):
        # No helper can be among the candidates (those of the pool and the top helpers): no
        # example, known without ranking the pool (the sample above is still drawn, so the
        # next questions' samples are the same).
        return None
    decay = 1.0 / state.growth(at)
    chosen = set(heapq.nlargest(settings.candidates_per_question, pool, key=_strengths(state, weights, pool).__getitem__))
    chosen |= set(helpers_top)
    chosen.discard(root.asker)
    if not chosen or not (chosen & root.helpers) or not (chosen - root.helpers):
        return None
    ws = state.workspace()
    xs, ys = [], []
    for u in sorted(chosen):
        counts = {k: [v * decay for v in c] for k in weights if (c := state.counts(u, k)) is not None}
        xs.append(features(weights, counts, state.person(u, root.asker, at, teams), ws))
        ys.append(u in root.helpers)
    return xs, ys


def _strengths(state: _State, weights: dict[str, float], pool: set[str]) -> dict[str, float]:
    """Each person of ``pool``'s evidence on the question's topics: Σ over the topics (in the
    order of ``weights``) of weight × Σ STRENGTH × sums. Added topic by topic over the people
    who have evidence on it, the smaller side walked: the same sums, in the same order, as
    person by person over every topic (a topic without their evidence adds nothing)."""
    out = dict.fromkeys(pool, 0.0)
    sums = state.sums
    s0, s1, s2, s3 = STRENGTH
    for k, w in weights.items():
        people = state.topics[k]
        for u, i in (people.items() if len(people) <= len(pool) else ((u, people[u]) for u in pool if u in people)):
            if u in out:
                out[u] += w * (s0 * sums[i] + s1 * sums[i + 1] + s2 * sums[i + 2] + s3 * sums[i + 3])
    return out


def fit_workspace(session: Session, *, now: dt.datetime, settings: FitSettings | None = None) -> Model:
    """Fit the session's workspace's ranking from its history and store it (replacing the
    previous one). Below ``min_examples`` answered questions the default is stored."""
    settings = settings or FitSettings()
    started = time.perf_counter()
    data = examples(session, settings)
    model = (fit(data, c=settings.c, negatives=settings.negatives, drop=settings.drop)
             if len(data) >= settings.min_examples else DEFAULT)
    store(session, model, now=now)
    log.info("expertise ranking of %s: %s from %d answered questions in %.1fs", session.info["workspace"],
             "learned" if model.learned else "default (too few answered questions to learn from)",
             len(data), time.perf_counter() - started)
    return model


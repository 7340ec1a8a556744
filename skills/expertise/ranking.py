"""The expertise index: evidence in (messages, thanks, declarations), ranked people with reasons
out.

Evidence is kept per (person, topic, kind, message): "wrote" about it, "answered" in a thread
started by someone else (the answerer is also credited with the thread's question topics),
"thanked" for it (fed by the kudos skill), "declared" it ("I know Kafka"). Each kind has a
weight, and every piece of evidence decays with a configurable half-life.

A question is ranked like a search over people: for each query topic, the person's decayed
evidence (saturating, so one chatty person does not drown the rest) times the topic's inverse
"people frequency" (a topic everybody mentions says little). That relevance (plus a small
floor) is multiplied by a prior: how much the person answered others lately (answers decay
with a half-life of days) and whether they have been active lately. Knowing times answering:
a busy helper who once mentioned a topic does not outrank a quieter colleague who answered it
many times. People outside the asker's team get a small, tie-breaker-sized boost. When none of
the query's topics is known, the prior alone ranks people, and the caller says so.

All functions take a Session scoped to one workspace. Nothing here keeps message text.
"""

from __future__ import annotations

import datetime as dt
import heapq
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.db.expertise import ExpertisePerson

from skills.expertise.topics import Topic
from skills.expertise.ranker_fit import CANDIDATES, STRENGTH
from skills.expertise.model import (DAY, DEFAULT, FEATURES, KINDS, Expert, ExpertiseSettings, Model, aware, growth,
                                    topic_weight, workspace_of)
from skills.expertise.model import Person as RankPerson
from skills.expertise.model import Workspace as RankWorkspace
from skills.expertise.model import features as rank_features
from skills.expertise.model import load as load_model
from skills.expertise.reads import (Details, candidate_rows, evidence_details, people_rows, recent_activity, size_and_topics,
                                   workspace_averages)

# Threads answered for others in the last RECENT_DAYS days from which a reason line says that
# the person helps others a lot lately.
HELPS_LATELY = 3


@dataclass(frozen=True)
class IndexSnapshot:
    """What every question needs of a whole workspace's index and what changes slowly: kept by
    ``ExpertiseService`` for a few minutes instead of read per question.

    ``helping``: per person, the threads they answered for others in the last ``RECENT_DAYS``
    days; ``helpers``: those people, most first; ``answerers``: the people who answered the most
    threads ever, most first; ``model``: the workspace's ranking (learned, or the default);
    ``averages``: what its features compare people with. (Everything a stale copy could get wrong rather than merely less precise, such as how many
    people the index holds, is read per question.)"""

    helping: Mapping[str, int]
    helpers: tuple[str, ...]
    answerers: tuple[str, ...]
    model: Model = DEFAULT
    helping_week: Mapping[str, int] = field(default_factory=dict)  # the same over WEEK_DAYS days
    # What the features compare people with (answers per helper, messages per person).
    averages: RankWorkspace = RankWorkspace(avg_answers=0.0, avg_messages=0.0)
    # Per person, their replies in others' threads (help or not) over the last RECENT_DAYS days.
    replying: Mapping[str, int] = field(default_factory=dict)


def index_snapshot(session: Session, *, now: dt.datetime, settings: ExpertiseSettings | None = None,
                   size: int = 200) -> IndexSnapshot:
    """Read an ``IndexSnapshot`` (a handful of queries; the answers of the last weeks are the
    largest part)."""
    settings = settings or ExpertiseSettings()
    P = ExpertisePerson
    latest = session.scalar(select(func.max(P.last_at)))
    at = min(aware(now), aware(latest)) if latest is not None else aware(now)
    recent = recent_activity(session, now=at)
    helping, helping_week, replying = recent.answers, recent.answers_week, recent.replies
    helpers = heapq.nlargest(size, helping, key=lambda u: (helping[u], u))
    answerers = session.scalars(select(P.user_id).where(P.answers_n > 0).order_by(P.answers_n.desc(), P.user_id).limit(size)).all()
    model = load_model(session)
    if model is None or (model.learned and model.examples < settings.fit_min_examples):
        model = DEFAULT
    return IndexSnapshot(helping=helping, helpers=tuple(helpers), answerers=tuple(answerers), model=model,
                         helping_week=helping_week, averages=workspace_averages(session), replying=replying)


def who_knows(
    session: Session,
    *,
    topics: Sequence[Topic],
    asker: str | None,
    now: dt.datetime,
    settings: ExpertiseSettings | None = None,
    limit: int | None = None,
    details: bool = True,
    fallback: bool = True,
    snapshot: IndexSnapshot | None = None,
) -> list[Expert]:
    """The people who know most about ``topics``, best first: never the asker, people who opted
    out, bots or deleted accounts. People with evidence for the topics come with
    ``matched=True``; the workspace's ranking (``model.py``) orders them and the general
    helpers (``matched=False``) together, and when no topic is known (with ``fallback``) ranks
    the helpers alone.

    Reads only aggregates, in a fixed number of queries whatever the size of the index: the
    query topics, their strongest people, those people's index and directory rows, and the
    reasons and links of the people an answer shows. ``snapshot`` is what the caller keeps of
    ``index_snapshot`` (it changes slowly); else it is read."""
    settings = settings or ExpertiseSettings()
    limit = limit or settings.max_experts
    workspace_of(session)
    pg = session.get_bind().dialect.name == "postgresql"
    snap = snapshot if snapshot is not None else index_snapshot(session, now=now, settings=settings)
    keys = list(dict.fromkeys(t.key for t in topics if t.key))
    # Time is measured up to the index's latest message: in a live workspace that is about
    # now; in an imported archive, it keeps old evidence from all decaying to nothing.
    now, people, topic_rows, found = size_and_topics(session, now, keys, settings.candidates_per_topic, pg)
    weights = {k: w for k, r in topic_rows.items() if (w := topic_weight(max(people, 1), r.people_n)) > 0}
    found = [r for r in found if r.topic_key in weights] if found is not None else (
        candidate_rows(session, list(weights), settings.candidates_per_topic, pg))
    counts, rows, strength = _candidate_evidence(found, weights, now, settings)
    if not counts and not fallback:
        return []
    # The candidates a fit learns from: the people with the most evidence on the question's
    # topics, and the people who answered the most threads.
    extra = max(CANDIDATES, limit * 2)
    strongest = heapq.nlargest(extra, strength.items(), key=lambda us: (us[1], us[0]))
    strongest = [u for u, _ in strongest]
    wanted = set(strongest) | set(snap.answerers[:extra])
    prior_rows, directory = people_rows(session, sorted(wanted | ({asker} if asker else set())), asker, pg)
    asker_row = directory.get(asker) if asker else None
    asker_team = asker_row.team if asker_row is not None else None
    ranked = _rank(wanted, counts, weights, prior_rows, directory, snap, asker, asker_team, now, limit)

    # Reasons and links: only for the matched people an answer shows.
    best = {u: _best_topic(counts[u], weights) for u, _, _ in ranked if u in counts}
    shown = [(u, best[u]) for u, _, _ in ranked if u in counts][: settings.max_experts]
    found = evidence_details(session, shown, settings.links_per_person) if details else {}
    out = []
    for u, score, why in ranked:
        key = best.get(u)
        out.append(_expert(u, score, why, directory.get(u), prior_rows.get(u), rows.get((u, key)) if key else None,
                           topic_rows[key].display if key else None, found.get((u, key), Details()), snap, asker_team,
                           matched=u in counts))
    return out



def _candidate_evidence(found: Sequence[Any], weights: Mapping[str, float], now: dt.datetime, settings: ExpertiseSettings,
                        ) -> tuple[dict[str, dict[str, tuple[float, ...]]], dict[tuple[str, str], Any], dict[str, float]]:
    """The strongest people on the query's topics (``found``: ``candidate_rows``): per person
    and topic, each kind's evidence weighted and decayed to ``now``, as a fit sees it; their
    score rows; and per person, the strength a question picks its candidates by."""
    counts: dict[str, dict[str, tuple[float, ...]]] = defaultdict(dict)
    rows: dict[tuple[str, str], Any] = {}
    decay = 1.0 / growth(now, settings.half_life_days)
    strength: dict[str, float] = defaultdict(float)
    for row in found:
        # (user_id, topic_key, last_at, the counts by kind, the time-weighted sums by kind)
        if row[3] or row[4] or row[5] or row[6]:
            c = ((row[7] or 0.0) * decay, (row[8] or 0.0) * decay, (row[9] or 0.0) * decay, (row[10] or 0.0) * decay)
            counts[row[0]][row[1]] = c
            rows[(row[0], row[1])] = row
            strength[row[0]] += weights[row[1]] * (STRENGTH[0] * c[0] + STRENGTH[1] * c[1] + STRENGTH[2] * c[2] + STRENGTH[3] * c[3])
    return counts, rows, strength


def _expert(u: str, score: float, why: str, person: Any, p: Any, srow: Any, topic: str | None, d: Details,
            snap: IndexSnapshot, asker_team: str | None, *, matched: bool) -> Expert:
    """One person of an answer from their directory row (``person``), index row (``p``), score
    row on their best topic (``srow``) and the details of that evidence (``d``)."""
    team = person.team if person is not None else None
    return Expert(
        user_id=u,
        name=(person.name if person is not None and person.name else u),
        team=team,
        score=round(score, 4),
        matched=matched,
        outside_team=bool(team and asker_team and team != asker_team),
        topic=topic,
        counts={k: getattr(srow, f"{k}_n") or 0 for k in KINDS} if srow is not None else {},
        channel=d.channel,
        last_at=(srow.last_at if srow is not None else (p.last_at if p is not None else None)),
        answers=(p.answers_n or 0) if p is not None else 0,
        links=d.links,
        helps_lately=snap.helping.get(u, 0) >= HELPS_LATELY,
        questions=d.threads if d.answers else None,
        questions_all=srow is not None and d.answers >= (srow.answered_n or 0),
        reason=why,
        pair=(p.pair or 0) if p is not None else 0,
    )


def _rank(wanted: Iterable[str], counts: Mapping[str, Mapping[str, Sequence[int]]], weights: Mapping[str, float],
          prior_rows: Mapping[str, Any], directory: Mapping[str, Any], snap: IndexSnapshot, asker: str | None,
          asker_team: str | None, now: dt.datetime, limit: int) -> list[tuple[str, float, str]]:
    """The best ``limit`` (person, score, the feature that counts most for them), best first:
    the workspace's ranking over each candidate's features. Only people still indexed count (a
    kept snapshot may name someone erased since), never the asker, people who opted out, bots
    or deleted accounts."""
    now_s = now.timestamp()
    scored = []
    for u in wanted:
        p, person = prior_rows.get(u), directory.get(u)
        if u == asker or (p is None and u not in counts) or (
                person is not None and (person.indexing_opt_out or person.deleted or person.is_bot)):
            continue
        team = person.team if person is not None else None
        last = p.last_at if p is not None else None
        idle = max(0.0, now_s - aware(last).timestamp()) / DAY if last is not None else None
        x = rank_features(weights, counts.get(u, {}), RankPerson(
            answers=(p.answers_n or 0) if p else 0, messages=(p.messages_n or 0) if p else 0,
            recent=snap.helping.get(u, 0), recent_week=snap.helping_week.get(u, 0), idle_days=idle, pair=(p.pair or 0) if p else 0,
            cross_team=bool(team and asker_team and team != asker_team), replies_recent=snap.replying.get(u, 0)),
            snap.averages)
        parts = snap.model.contributions(x)
        scored.append((u, sum(parts), parts))
    scored.sort(key=lambda s: (-s[1], s[0]))
    # The reason is named for the people shown only: the first of their largest contributions.
    return [(u, score, FEATURES[parts.index(max(parts))]) for u, score, parts in scored[:limit]]


def _best_topic(counts: Mapping[str, Sequence[int]], weights: Mapping[str, float]) -> str:
    """The query topic that says most about a person: their help, thanks and declarations on
    it first, what they wrote last, times how telling the topic is."""
    return max(counts, key=lambda k: (weights.get(k, 0.0) * (3 * counts[k][1] + 5 * counts[k][2] + 4 * counts[k][3]
                                                            + 0.1 * counts[k][0]), k))

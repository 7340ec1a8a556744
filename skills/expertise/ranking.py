"""A question against the expertise index: ``who_knows`` ranks people, and the reads it needs.

In order: ``IndexSnapshot`` and ``index_snapshot`` (what every question needs of a workspace
and what changes slowly, kept a few minutes by ``ExpertiseService``); ``who_knows`` (the
question); then the reads, each a fixed number of statements whatever the index's size: the
workspace's size and the question's topics with their strongest people (``size_and_topics``,
``candidate_rows``), those people's index and directory rows (``people_rows``), the workspace's
averages and recent help, and the evidence behind a reason line (``evidence_details``: links,
channel, threads).

Evidence is kept per (person, topic, kind, message): "wrote" about it, "answered" in a thread
started by someone else, "thanked" for it (fed by the kudos skill), "declared" it ("I know
Kafka"); each kind is weighted and decays with a half-life. The people with the most evidence on
the question's topics and the people who answered the most threads are the candidates; the
workspace's ranking (``model.py``: its features, and the weights learnt from its own answered
threads by ``ranker_fit.py``, or the default) orders them. People outside the asker's team are
favoured by a feature of that ranking. When none of the question's topics is known, the helpers
alone are ranked and the caller says so.

All functions take a Session scoped to one workspace. Nothing here keeps message text.
"""

from __future__ import annotations

import datetime as dt
import heapq
import json
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence

from sqlalchemy import Boolean, DateTime, Integer, String, case, column, func, select, text
from sqlalchemy.orm import Session

from bot.db.expertise import ExpertiseCounts, ExpertiseEvidence, ExpertiseMessage, ExpertisePerson, ExpertiseScore, ExpertiseTopic
from bot.db.models import PersonRow

from skills.expertise.topics import Topic
from skills.expertise.model import (CANDIDATES, DAY, DEFAULT, FEATURES, KINDS, RECENT_DAYS, WEEK_DAYS, Expert, ExpertiseSettings, Link,
                                    Model, STRENGTH, aware, growth, topic_weight, workspace_of)
from skills.expertise.model import Person as RankPerson
from skills.expertise.model import Workspace as RankWorkspace
from skills.expertise.model import features as rank_features
from skills.expertise.model import load as load_model


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


# ---- the reads ------------------------------------------------------------------------------

_LINK_PRIORITY = {"thanked": 0, "answered": 1, "declared": 2, "wrote": 3}
# Evidence rows read per person for the links and the channel of a reason line.
_DETAIL_ROWS = 60


@dataclass(frozen=True)
class Details:
    """What an answer shows of one person's evidence on a topic, from its latest rows."""

    links: tuple[Link, ...] = ()
    channel: str | None = None  # where most of that evidence is
    threads: int = 0  # distinct threads of the answers among those rows
    answers: int = 0  # answers among those rows


def _pick_details(rows: Sequence[Any], n: int) -> Details:
    """From one person's latest evidence rows on a topic (with the thread of each message): the
    best ``n`` links to their help (thanks and answers, the most recent first), the channel where most of
    that evidence is, and the threads their answers are in."""
    channels: dict[str, int] = defaultdict(int)
    threads: set[tuple[str, str]] = set()
    answers = 0
    for r in rows:
        if r.conversation_name:
            channels[r.conversation_name] += 1
        if r.kind == "answered":
            answers += 1
            threads.add((r.conversation_id, r.thread_ts or r.ts))
    channel = max(channels, key=lambda c: (channels[c], c)) if channels else None
    out: list[Link] = []
    seen = set()
    # Links go to help (answers, thanked messages) only, not to mentions of the topic.
    helped = [r for r in rows if r.kind != "wrote"]
    for r in sorted(helped, key=lambda r: (_LINK_PRIORITY.get(r.kind, 9), -aware(r.at).timestamp())):
        if len(out) >= n:
            break
        if (r.conversation_id, r.ts) in seen:
            continue
        seen.add((r.conversation_id, r.ts))
        out.append(Link(r.conversation_id, r.ts, r.permalink, r.conversation_name, r.kind, aware(r.at)))
    return Details(tuple(out), channel, len(threads), answers)


def evidence_details(session: Session, pairs: Sequence[tuple[str, str]], n: int) -> dict[tuple[str, str], Details]:
    """``_pick_details`` of the latest ``_DETAIL_ROWS`` evidence rows of each (person, topic)
    pair, with each message's thread, read straight from the index in one statement: a
    ``LATERAL`` read per pair on PostgreSQL, a ``UNION ALL`` of per-pair reads on SQLite."""
    if not pairs:
        return {}
    ws = workspace_of(session)
    E, M = ExpertiseEvidence.__tablename__, ExpertiseMessage.__tablename__
    cols = "conversation_id, ts, permalink, conversation_name, kind, at"
    params: dict[str, Any] = {"ws": ws, "rows": _DETAIL_ROWS}
    if session.get_bind().dialect.name == "postgresql":
        params |= {"users": [u for u, _ in pairs], "keys": [k for _, k in pairs]}
        rows_sql = (f"SELECT p.u AS user_id, p.k AS topic_key, e.* FROM unnest(CAST(:users AS text[]), CAST(:keys AS text[])) AS p(u, k) "
                    f"CROSS JOIN LATERAL (SELECT {cols} FROM {E} WHERE workspace = :ws AND user_id = p.u AND topic_key = p.k "
                    "AND ts <> '' ORDER BY at DESC LIMIT :rows) AS e")
    else:
        parts = []
        for i, (u, key) in enumerate(pairs):
            params[f"u{i}"], params[f"k{i}"] = u, key
            parts.append(f"SELECT * FROM (SELECT user_id, topic_key, {cols} FROM {E} WHERE workspace = :ws AND user_id = :u{i} "
                         f"AND topic_key = :k{i} AND ts <> '' ORDER BY at DESC LIMIT :rows)")
        rows_sql = " UNION ALL ".join(parts)
    result = session.connection().execute(text(
        "SELECT e.user_id, e.topic_key, e.conversation_id, e.ts, e.permalink, e.conversation_name, e.kind, e.at, m.thread_ts "
        # The thread of answers only (the others' is not used): a seek per answer, not per row.
        f"FROM ({rows_sql}) AS e LEFT JOIN {M} m ON e.kind = 'answered' AND m.workspace = :ws "
        "AND m.conversation_id = e.conversation_id AND m.ts = e.ts"
    ).columns(user_id=String, topic_key=String, conversation_id=String, ts=String, permalink=String,
              conversation_name=String, kind=String, at=DateTime(timezone=True), thread_ts=String), params)
    rows: dict[tuple[str, str], list[Any]] = defaultdict(list)
    for r in result.all():  # (.all(): the driver's fetchall, much cheaper than a fetch per row)
        rows[(r.user_id, r.topic_key)].append(r)
    return {pair: _pick_details(rows.get(pair, ()), n) for pair in pairs}


def scoped_select(session: Session, stmt: Any, *tables: Any) -> Any:
    """Run a Core ``select`` on the session's connection, kept to the session's workspace with
    an explicit condition on each of ``tables`` (what the ORM's workspace criteria would add):
    a question's reads skip the ORM's per-statement and per-row work."""
    ws = workspace_of(session)
    for t in tables:
        stmt = stmt.where(t.c.workspace == ws)
    return session.connection().execute(stmt)


def people_rows(session: Session, ids: Sequence[str], asker: str | None, pg: bool
                 ) -> tuple[dict[str, Any], dict[str, Any]]:
    """The index rows (expertise_people, with the asker's threads each one helped in) and the
    directory rows (people) of some people, in one query that takes the ids as one parameter
    (an array on PostgreSQL, a JSON list read by ``json_each`` on SQLite): a question reads
    them for hundreds of people."""
    PT, RT, MT = ExpertisePerson.__table__, PersonRow.__table__, ExpertiseMessage.__table__
    ws = workspace_of(session)
    prior: dict[str, Any] = {}
    directory: dict[str, Any] = {}
    source = "unnest(CAST(:ids AS text[])) AS u(id)" if pg else "(SELECT value AS id FROM json_each(:ids)) AS u"
    stmt = text(
        "SELECT u.id AS user_id, p.user_id IS NOT NULL AS indexed, p.answers_n, p.messages_n, p.last_at, "
        "r.user_id IS NOT NULL AS known, r.name, r.team, r.indexing_opt_out, r.deleted, r.is_bot, "
        # Past help: one seek per person in (workspace, parent, user), not a read of every
        # reply in the asker's threads (tens of thousands for a busy asker).
        f"(SELECT count(*) FROM {MT.name} h WHERE h.workspace = :ws AND h.parent_user_id = :asker "
        "AND h.user_id = u.id AND h.answer) AS pair "
        f"FROM {source} "
        f"LEFT JOIN {PT.name} p ON p.workspace = :ws AND p.user_id = u.id "
        f"LEFT JOIN {RT.name} r ON r.workspace = :ws AND r.user_id = u.id"
    ).columns(user_id=String, indexed=Boolean, answers_n=Integer, messages_n=Integer, last_at=DateTime(timezone=True),
              known=Boolean, name=String, team=String, indexing_opt_out=Boolean, deleted=Boolean, is_bot=Boolean,
              pair=Integer)
    result = session.connection().execute(stmt, {"ids": list(ids) if pg else json.dumps(list(ids)), "ws": ws,
                                                 "asker": asker or ""})
    for r in result.all():
        if r.indexed:
            prior[r.user_id] = r
        if r.known:
            directory[r.user_id] = r
    return prior, directory


def candidate_rows(session: Session, keys: Sequence[str], per_topic: int, pg: bool) -> list[Any]:
    """The strongest ``per_topic`` score rows of each topic, straight from the topic index: on
    PostgreSQL in one query (a LATERAL read per topic), on SQLite one query per topic."""
    S = ExpertiseScore
    names = ["user_id", "topic_key", "last_at", *(f"{k}_n" for k in KINDS), *(f"{k}_s" for k in KINDS)]
    if not keys:
        return []
    if pg:
        return session.connection().execute(text(
            f"SELECT s.{', s.'.join(names)} FROM unnest(CAST(:keys AS text[])) AS q(k) "
            f"CROSS JOIN LATERAL (SELECT {', '.join(names)} FROM {S.__tablename__} "
            "WHERE workspace = :ws AND topic_key = q.k ORDER BY strength DESC LIMIT :n) AS s"
        ), {"keys": list(keys), "ws": workspace_of(session), "n": per_topic}).all()
    table = S.__table__
    cols = [table.c[c] for c in names]
    out: list[Any] = []
    for key in keys:
        out += scoped_select(session, select(*cols).where(table.c.topic_key == key).order_by(table.c.strength.desc()).limit(per_topic), table).all()
    return out


def index_size(session: Session, now: dt.datetime) -> tuple[dt.datetime, int]:
    """The time a question is asked at (the index's latest message, in an imported archive) and
    the people indexed: one row the writer keeps (``expertise_counts``), or counted from
    ``expertise_people`` for an index written before that row was kept."""
    CT, PT = ExpertiseCounts.__table__, ExpertisePerson.__table__
    row = scoped_select(session, select(CT.c.last_at, CT.c.people_n), CT).first()
    if row is None:
        row = scoped_select(session, select(func.max(PT.c.last_at), func.count()).select_from(PT), PT).one()
    latest, people = row
    at = min(aware(now), aware(latest)) if latest is not None else aware(now)
    return at, people or 0


def size_and_topics(session: Session, now: dt.datetime, keys: Sequence[str], per_topic: int, pg: bool
                    ) -> tuple[dt.datetime, int, dict[str, Any], list[Any] | None]:
    """A question's first read: ``index_size``, the index rows (key, display, people_n) of the
    topics ``keys`` by key, and on PostgreSQL also ``candidate_rows`` of those topics, in one
    statement (one round trip instead of three; None on SQLite, which has no round trips to
    save: read them with ``candidate_rows``)."""
    TT, CT, ST = ExpertiseTopic.__tablename__, ExpertiseCounts.__tablename__, ExpertiseScore.__tablename__
    names = ["user_id", "topic_key", "last_at", *(f"{k}_n" for k in KINDS), *(f"{k}_s" for k in KINDS)]
    match = "= ANY(CAST(:keys AS text[]))" if pg else "IN (SELECT value FROM json_each(:keys))"
    head = (f"c.people_n IS NOT NULL AS counted, c.last_at AS counts_last_at, c.people_n AS counts_people_n, t.key, "
            f"t.display, t.people_n AS topic_people_n FROM (SELECT 1 AS one) AS one LEFT JOIN {CT} c ON c.workspace = :ws "
            f"LEFT JOIN {TT} t ON t.workspace = :ws AND t.key {match}")
    if pg:  # then the strongest people of each topic, the score columns first as candidate_rows has them
        sql = (f"SELECT {'NULL, ' * len(names)}{head} UNION ALL SELECT s.*, NULL, NULL, NULL, NULL, NULL, NULL FROM {TT} t "
               f"CROSS JOIN LATERAL (SELECT {', '.join(names)} FROM {ST} WHERE workspace = :ws AND topic_key = t.key "
               f"ORDER BY strength DESC LIMIT :n) AS s WHERE t.workspace = :ws AND t.key {match}")
    else:
        sql = f"SELECT {head}"
    result = session.connection().execute(text(sql).columns(
        *(column(n) for n in (names if pg else ())), column("counted", Boolean), column("counts_last_at", DateTime(timezone=True)),
        column("counts_people_n"), column("key"), column("display"), column("topic_people_n")),
        {"ws": workspace_of(session), "keys": list(keys) if pg else json.dumps(list(keys)), "n": per_topic}).all()
    first = next(r for r in result if r.counted is not None)  # the counts' row (the first topic's, if any)
    if not first.counted:  # an index written before expertise_counts was kept
        at, people = index_size(session, now)
    else:
        latest, people = first.counts_last_at, first.counts_people_n
        at = min(aware(now), aware(latest)) if latest is not None else aware(now)
    topics = {r.key: _TopicRow(r.key, r.display, r.topic_people_n) for r in result if r.key is not None}
    candidates = [r for r in result if r.user_id is not None] if pg else None
    return at, people or 0, topics, candidates


@dataclass(frozen=True)
class _TopicRow:
    key: str
    display: str
    people_n: int


def workspace_averages(session: Session) -> RankWorkspace:
    """The averages the features compare people with: answers per person who answered, messages
    per person (a read of every person's row: kept in the snapshot, they change slowly)."""
    PT = ExpertisePerson.__table__
    helpers = func.sum(case((PT.c.answers_n > 0, 1), else_=0))
    people, answers, messages, n_helpers = scoped_select(session, select(
        func.count(), func.sum(PT.c.answers_n), func.sum(PT.c.messages_n), helpers).select_from(PT), PT).one()
    return RankWorkspace(avg_answers=(answers or 0) / max(n_helpers or 0, 1), avg_messages=(messages or 0) / max(people or 0, 1))


@dataclass(frozen=True)
class RecentActivity:
    """Per person, over the days up to a moment: the threads they answered for others in the
    last ``RECENT_DAYS`` days (``answers``) and ``WEEK_DAYS`` days (``answers_week``), and their
    replies in others' threads in the last ``RECENT_DAYS`` days, help or not (``replies``)."""

    answers: dict[str, int]
    answers_week: dict[str, int]
    replies: dict[str, int]


def recent_activity(session: Session, *, now: dt.datetime) -> RecentActivity:
    """``RecentActivity`` up to ``now``, in one statement (one pass over the messages of the last
    ``RECENT_DAYS`` days, not one per count)."""
    M = ExpertiseMessage
    now = aware(now)
    since, week = now - dt.timedelta(days=RECENT_DAYS), now - dt.timedelta(days=WEEK_DAYS)
    reply = M.parent_user_id.is_not(None) & (M.parent_user_id != M.user_id)
    q = (select(M.user_id, func.sum(case((M.answer.is_(True), 1), else_=0)),
                func.sum(case((M.answer.is_(True) & (M.at >= week), 1), else_=0)), func.sum(case((reply, 1), else_=0)))
         .where(M.at >= since, M.at <= now, M.answer.is_(True) | reply).group_by(M.user_id))
    out = RecentActivity({}, {}, {})
    for u, answers, answers_week, replies in session.execute(q):
        for counts, n in ((out.answers, answers), (out.answers_week, answers_week), (out.replies, replies)):
            if n:
                counts[u] = int(n)
    return out


def busiest_channel(session: Session, *, now: dt.datetime, days: int = 90) -> str | None:
    """The public channel with the most indexed messages lately: where to ask when nobody is
    known for a topic."""
    for since in (now - dt.timedelta(days=days), None):
        q = select(ExpertiseMessage.conversation_name, func.count()).where(ExpertiseMessage.conversation_name.is_not(None))
        if since is not None:
            q = q.where(ExpertiseMessage.at >= since)
        row = session.execute(q.group_by(ExpertiseMessage.conversation_name).order_by(func.count().desc()).limit(1)).first()
        if row:
            return row[0]
    return None

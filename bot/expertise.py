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
import json
import logging
import math
import sqlite3
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence

from sqlalchemy import Boolean, DateTime, Float, Integer, String, any_, bindparam, case, delete, func, select, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from bot.db.expertise import ExpertiseEvidence, ExpertiseMessage, ExpertisePerson, ExpertiseScore, ExpertiseTopic
from bot.db.models import PersonRow
from bot.help_signal import follow_up, followed, is_question, judge
from bot.i18n import Catalog
from bot.nlp import Topic
from bot.ranker import DEFAULT, FEATURES, RECENT_DAYS, WEEK_DAYS, Model
from bot.ranker import Person as RankPerson
from bot.ranker import Workspace as RankWorkspace
from bot.ranker import features as rank_features
from bot.ranker_fit import CANDIDATES, STRENGTH, FitSettings
from bot.ranker_fit import load as load_model

log = logging.getLogger("liaison.expertise")

KINDS = ("wrote", "answered", "thanked", "declared")

# The one-line reason shown beside each person, shared by the chat answer and `liaison ask`.
REASONS = Catalog(
    en={
        "answered": "answered {count} {questions} about {topic}",
        "answered_at_least": "answered at least {count} {questions} about {topic}",
        "question_one": "question",
        "question_many": "questions",
        "wrote": "wrote about {topic} {count} {times}",
        "time_one": "time",
        "time_many": "times",
        "declared": "says they know {topic}",
        "in_channel": " in #{channel}",
        "last": ", last in {when}",
        "thanked": "; thanked {count} for it",
        "thanked_alone": "thanked {count} for {topic}",
        "once": "once",
        "twice": "twice",
        "n_times": "{n} times",
        "helper": "often helps others (answered {count} {questions})",
        "lately_lead": "helps others a lot lately",
        "pair": "helped you before ({times})",
    },
    fr={
        "answered": "a répondu à {count} {questions} sur {topic}",
        "answered_at_least": "a répondu à au moins {count} {questions} sur {topic}",
        "question_one": "question",
        "question_many": "questions",
        "wrote": "a écrit sur {topic} {count} {times}",
        "time_one": "fois",
        "time_many": "fois",
        "declared": "dit s'y connaître en {topic}",
        "in_channel": " dans #{channel}",
        "last": ", la dernière fois en {when}",
        "thanked": " ; remercié·e {count} pour cela",
        "thanked_alone": "remercié·e {count} pour {topic}",
        "once": "une fois",
        "twice": "deux fois",
        "n_times": "{n} fois",
        "helper": "aide souvent les autres (a répondu à {count} {questions})",
        "lately_lead": "aide beaucoup les autres ces temps-ci",
        "pair": "vous a déjà aidé·e ({times})",
    },
)
MONTHS = {
    "en": "January February March April May June July August September October November December".split(),
    "fr": "janvier février mars avril mai juin juillet août septembre octobre novembre décembre".split(),
}
EPOCH = dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc)
_DAY = 86400.0


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
    fit_related_topics: int = 2000
    max_experts: int = 5
    min_experts: int = 3
    links_per_person: int = 2
    candidates_per_topic: int = 300

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


def month_label(at: dt.datetime | None, *, lang: str, now: dt.datetime) -> str:
    """"March" this year, "March 2025" before."""
    if at is None:
        return ""
    month = MONTHS.get(lang, MONTHS["en"])[at.month - 1]
    return month if at.year == now.year else f"{month} {at.year}"


def describe(e: "Expert", *, lang: str, now: dt.datetime) -> str:
    """The one-line reason, led by what ranked the person there (``e.reason``): their help on
    the topic, thanks for it, saying they know it, having helped the asker before, or helping
    others often or lately; then where and when last."""
    t = lambda key, **v: REASONS.get(lang, key, **v)  # noqa: E731
    general = {
        "threads": lambda: t("helper", count=e.answers, questions=t("question_one" if e.answers == 1 else "question_many")),
        "recent": lambda: t("lately_lead"),
        "pair": lambda: t("pair", times=_times(t, e.pair)),
    }
    if not e.matched or not e.topic:
        return general.get(e.reason, general["threads"])()
    c, topic = e.counts, e.topic
    thanked = c.get("thanked", 0)
    kind = {"thanked": "thanked", "declared": "declared", "topic_wrote": "wrote"}.get(e.reason, "answered")
    if not c.get(kind):
        kind = next((k for k in ("answered", "thanked", "declared", "wrote") if c.get(k)), "declared")
    if kind == "answered":
        n = e.questions if e.questions else c["answered"]
        text = t("answered" if e.questions is None or e.questions_all else "answered_at_least",
                 count=n, questions=t("question_one" if n == 1 else "question_many"), topic=topic)
    elif kind == "wrote":
        n = c["wrote"]
        text = t("wrote", count=n, times=t("time_one" if n == 1 else "time_many"), topic=topic)
    elif kind == "thanked":
        text = t("thanked_alone", count=_times(t, thanked), topic=topic)
    else:
        text = t("declared", topic=topic)
    if e.reason in general:
        # Helping often, lately or the asker ranked them: said first, the topic after.
        text = general[e.reason]() + "; " + text
    if kind in ("answered", "wrote"):
        if e.channel:
            text += t("in_channel", channel=e.channel)
        if e.last_at is not None:
            text += t("last", when=month_label(e.last_at, lang=lang, now=now))
    if thanked and kind != "thanked":
        text += t("thanked", count=_times(t, thanked))
    return text


def _times(t: Any, n: int) -> str:
    return t("once") if n == 1 else t("twice") if n == 2 else t("n_times", n=n)


def link_targets(e: "Expert") -> list[str]:
    """The evidence of one person as links (a permalink, else "#channel ts")."""
    return [l.permalink or f"#{l.conversation_name or l.conversation_id} {l.ts}" for l in e.links]


# ---- time ------------------------------------------------------------------------------------------


def _aware(at: dt.datetime) -> dt.datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=dt.timezone.utc)


def growth(at: dt.datetime, half_life_days: float) -> float:
    """2^((at − EPOCH)/half-life): evidence stored with this factor decays by itself when read
    with the reciprocal factor of "now"."""
    days = (_aware(at) - EPOCH).total_seconds() / _DAY
    return 2.0 ** (days / max(half_life_days, 1e-6))


def ts_time(ts: str) -> dt.datetime | None:
    """A Slack-style "1494517568.512661" timestamp as a datetime (None if it is not one)."""
    try:
        return dt.datetime.fromtimestamp(float(ts), tz=dt.timezone.utc)
    except (TypeError, ValueError, OverflowError, OSError):
        return None


# ---- writing -------------------------------------------------------------------------------------


_KIND_INDEX = {k: i for i, k in enumerate(KINDS)}
# The kinds a message's own text produces: re-indexing an edit replaces these, while the
# thanks recorded against the same message (by the kudos skill) stay.
_OWN_KINDS = ("wrote", "answered")
_COUNT_COLS = tuple(f"{k}_n" for k in KINDS)
_SUM_COLS = tuple(f"{k}_s" for k in KINDS)


def _later_sql(table: str) -> str:
    """The later of the stored and the new ``last_at`` (either may be NULL), in SQL."""
    old, new = f"{table}.last_at", "EXCLUDED.last_at"
    return f"CASE WHEN {new} IS NULL THEN {old} WHEN {old} IS NULL OR {new} > {old} THEN {new} ELSE {old} END"


class _Writer:
    """Collects what a change does to the aggregates — per (person, topic), per person, per
    topic — as deltas, and writes them once at the end in a few set-based statements.

    The deltas are added to what is stored by upserts (INSERT … ON CONFLICT DO UPDATE, on SQLite
    and PostgreSQL), so nothing is read first and two workers adding to the same row cannot
    lose each other's update. Rows left with no evidence are deleted, and each topic's count of
    people follows the rows created and deleted. Call ``finish`` at the end."""

    def __init__(self, session: Session, settings: ExpertiseSettings) -> None:
        ws = session.info.get("workspace")
        if not ws:
            raise ValueError("the expertise index is written through a session scoped to one workspace")
        self.s = session
        self.ws: str = ws
        self.settings = settings
        self.pg = session.get_bind().dialect.name == "postgresql"
        # (user, topic) -> [n by kind ×4, time-weighted sum by kind ×4, latest at]
        self.scores: dict[tuple[str, str], list[Any]] = {}
        self.topics: dict[str, tuple[str, str]] = {}  # key -> (display, lang), topics gaining evidence
        # user -> [messages, answers, time-weighted answers, latest at]
        self.people: dict[str, list[Any]] = {}
        self._growth: dict[dt.datetime, float] = {}

    def growth(self, at: dt.datetime) -> float:
        g = self._growth.get(at)
        if g is None:
            g = self._growth[at] = growth(at, self.settings.half_life_days)
        return g

    def add(self, user_id: str, topic: Topic, kind: str, weight: float, at: dt.datetime, sign: int) -> None:
        """Add (sign=1) or take back (sign=-1) one piece of evidence in the aggregates."""
        if sign > 0:
            self.gain(user_id, topic.key, topic.display, topic.lang, _KIND_INDEX[kind], weight * self.growth(at), at)
            return
        d = self.scores.get((user_id, topic.key))
        if d is None:
            d = self.scores[(user_id, topic.key)] = [0, 0, 0, 0, 0.0, 0.0, 0.0, 0.0, None]
        i = _KIND_INDEX[kind]
        d[i] -= 1
        d[4 + i] -= weight * self.growth(at)

    def gain(self, user_id: str, key: str, display: str, lang: str, kind: int, grown: float, at: dt.datetime) -> None:
        """``add`` of one new piece of evidence, for the ingestion loop: the kind as its index
        in KINDS, the weight already times ``growth(at)`` (computed once per message)."""
        d = self.scores.get((user_id, key))
        if d is None:
            d = self.scores[(user_id, key)] = [0, 0, 0, 0, 0.0, 0.0, 0.0, 0.0, None]
        d[kind] += 1
        d[4 + kind] += grown
        if d[8] is None or d[8] < at:
            d[8] = at
        if key not in self.topics:
            self.topics[key] = ((display or key)[:200], lang)

    def message(self, user_id: str, *, answer: bool, at: dt.datetime, sign: int) -> None:
        """Count (or take back) one message of ``user_id`` in the per-person prior."""
        p = self.people.get(user_id)
        if p is None:
            p = self.people[user_id] = [0, 0, 0.0, None]
        p[0] += sign
        if answer:
            p[1] += sign
            p[2] += sign * self.growth(at)
        if sign > 0 and (p[3] is None or p[3] < at):
            p[3] = at

    def finish(self) -> None:
        conn = self.s.connection()
        ws = self.ws
        people_delta: dict[str, int] = defaultdict(int)
        weights = [self.settings.weight(k) for k in KINDS]
        S = ExpertiseScore.__table__
        rows = []
        deltas: dict[tuple[str, str], int] = {}
        shrunk: list[tuple[str, str]] = []
        # In key order, so two workers upserting the same rows lock them in the same order.
        for (user_id, key), d in sorted(self.scores.items()):
            if not any(d[:8]) and d[8] is None:
                continue
            rows.append((ws, user_id, key, d[8], sum(d[4 + i] * w for i, w in enumerate(weights)), *d[:8]))
            deltas[(user_id, key)] = n = d[0] + d[1] + d[2] + d[3]
            if n < 0:
                shrunk.append((user_id, key))
        if rows:
            t = S.name
            returned = _bulk(conn, S, _SCORE_COLS, rows, conflict=(
                "ON CONFLICT (workspace, user_id, topic_key) DO UPDATE SET "
                + ", ".join(f"{c} = {t}.{c} + EXCLUDED.{c}" for c in (*_COUNT_COLS, *_SUM_COLS, "strength"))
                + f", last_at = {_later_sql(t)}"
            ), returning="user_id, topic_key, " + " + ".join(_COUNT_COLS))
            # A row whose count after the upsert equals the delta did not exist before (a stored
            # row always has evidence): the topic has one more person.
            for user_id, key, after in returned:
                delta = deltas[(user_id, key)]
                if delta > 0 and after == delta:
                    people_delta[key] += 1
        if shrunk:
            total = sum((S.c[c] for c in _COUNT_COLS[1:]), S.c[_COUNT_COLS[0]])
            users = sorted({u for u, _ in shrunk})
            keys = sorted({k for _, k in shrunk})
            for ukeys in _chunks(keys, 500):
                for uchunk in _chunks(users, 500):
                    stmt = delete(S).where(S.c.workspace == ws, _in(self.pg, S.c.user_id, uchunk),
                                           _in(self.pg, S.c.topic_key, ukeys), total <= 0)
                    for (key,) in conn.execute(stmt.returning(S.c.topic_key)):
                        people_delta[key] -= 1
        T = ExpertiseTopic.__table__
        new_topics = [(ws, k, disp, lang, 0) for k, (disp, lang) in sorted(self.topics.items())]
        _bulk(conn, T, _TOPIC_COLS, new_topics, conflict="ON CONFLICT (workspace, key) DO NOTHING")
        changed = [(k, d) for k, d in sorted(people_delta.items()) if d]
        if changed and self.pg:
            conn.exec_driver_sql(
                f"UPDATE {T.name} SET people_n = GREATEST({T.name}.people_n + u.d, 0) "
                "FROM unnest(%(k)s::text[], %(d)s::int8[]) AS u(k, d) WHERE workspace = %(ws)s AND key = u.k",
                {"k": [k for k, _ in changed], "d": [d for _, d in changed], "ws": ws},
            )
        elif changed:
            conn.exec_driver_sql(f"UPDATE {T.name} SET people_n = max(people_n + ?, 0) WHERE workspace = ? AND key = ?",
                                 [(d, ws, k) for k, d in changed])
        P = ExpertisePerson.__table__
        prow = [(ws, u, p[0], p[1], p[2], p[3]) for u, p in sorted(self.people.items()) if p[0] or p[1] or p[2] or p[3] is not None]
        if prow:
            t = P.name
            greatest = "GREATEST" if self.pg else "max"
            _bulk(conn, P, _PERSON_COLS, prow, conflict=(
                "ON CONFLICT (workspace, user_id) DO UPDATE SET "
                + ", ".join(f"{c} = {greatest}({t}.{c} + EXCLUDED.{c}, {zero})"
                            for c, zero in (("messages_n", "0"), ("answers_n", "0"), ("answers_s", "0.0")))
                + f", last_at = {_later_sql(t)}"
            ))
        self.scores.clear()
        self.topics.clear()
        self.people.clear()


# ---- bulk statements --------------------------------------------------------------------------------
#
# A batch writes thousands of rows. Through SQLAlchemy's per-row parameter handling that costs
# more than the database's own work, so the index gives its rows as tuples in column order and
# sends SQL text built once: on SQLite through the driver's executemany, each value first
# through its column type's own bind processor (so datetimes, booleans and floats are stored
# exactly as SQLAlchemy stores them); on PostgreSQL by COPY for plain inserts, and by one
# INSERT … SELECT from a JSON array of rows for upserts.

_MESSAGE_COLS = ("workspace", "conversation_id", "conversation_name", "ts", "thread_ts", "parent_user_id", "user_id",
                 "answer", "at", "permalink", "question")
_EVIDENCE_COLS = ("workspace", "user_id", "topic_key", "kind", "weight", "at", "conversation_id", "ts", "permalink",
                  "conversation_name")
_SCORE_COLS = ("workspace", "user_id", "topic_key", "last_at", "strength", *_COUNT_COLS, *_SUM_COLS)
_TOPIC_COLS = ("workspace", "key", "display", "lang", "people_n")
_PERSON_COLS = ("workspace", "user_id", "messages_n", "answers_n", "answers_s", "last_at")


def _bulk(conn: Any, table: Any, cols: Sequence[str], rows: Sequence[Sequence[Any]], *, conflict: str = "",
          returning: str = "") -> list[Any]:
    """Insert ``rows`` (tuples of values in the order of ``cols``) into ``table``, on SQLite or
    PostgreSQL. ``conflict``: an ON CONFLICT clause (the table by name, the new values as
    EXCLUDED); ``returning``: what to return of each row inserted or updated."""
    if not rows:
        return []
    if conn.dialect.name == "postgresql":
        if not conflict and not returning:
            _pg_copy(conn, table, cols, rows)
            return []
        return _pg_json(conn, table, cols, rows, conflict=conflict, returning=returning)
    return _sqlite_insert(conn, table, cols, rows, conflict=conflict, returning=returning)


def _sqlite_insert(conn: Any, table: Any, cols: Sequence[str], rows: Sequence[Sequence[Any]], *, conflict: str,
                   returning: str) -> list[Any]:
    values = _sqlite_values(conn.dialect, table, cols, rows)
    head = f"INSERT INTO {table.name} ({', '.join(cols)}) VALUES "
    one = "(" + ", ".join("?" * len(cols)) + ")"
    if not returning:
        conn.exec_driver_sql(f"{head}{one} {conflict}", values)
        return []
    # RETURNING needs one statement (executemany returns no rows): rows as multi-row VALUES,
    # as many per statement as SQLite takes parameters.
    limit = conn.connection.driver_connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
    out: list[Any] = []
    for chunk in _chunks(values, max(1, limit // len(cols))):
        sql = f"{head}{', '.join([one] * len(chunk))} {conflict} RETURNING {returning}"
        out += conn.exec_driver_sql(sql, tuple(v for row in chunk for v in row)).all()
    return out


def _sqlite_values(dialect: Any, table: Any, cols: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[Any]:
    """The rows with each value as SQLAlchemy binds it for its column's type on SQLite."""
    columns: list[Any] = []
    converted = False
    for i, c in enumerate(cols):
        column_type = table.c[c].type
        process = column_type.dialect_impl(dialect).bind_processor(dialect)
        values = [row[i] for row in rows]
        if process is not None:
            converted = True
            if isinstance(column_type, DateTime):
                # The rows of one message share its datetime object: each converted once.
                seen: dict[int, Any] = {}
                values = [seen[id(v)] if id(v) in seen else seen.setdefault(id(v), process(v)) for v in values]
            else:
                values = list(map(process, values))
        columns.append(values)
    return list(zip(*columns)) if converted else list(rows)


def _pg_type(column: Any) -> str:
    t = column.type
    if isinstance(t, Boolean):
        return "bool"
    if isinstance(t, Integer):
        return "int8"
    if isinstance(t, Float):
        return "float8"
    if isinstance(t, DateTime):
        return "timestamptz" if t.timezone else "timestamp"
    return "text"


def _pg_copy(conn: Any, table: Any, cols: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """PostgreSQL: insert rows with COPY, in the transaction of ``conn`` (the least work for
    the client and the server)."""
    with conn.connection.driver_connection.cursor() as cursor:
        with cursor.copy(f"COPY {table.name} ({', '.join(cols)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)


def _pg_json(conn: Any, table: Any, cols: Sequence[str], rows: Sequence[Sequence[Any]], *, conflict: str,
             returning: str) -> list[Any]:
    """PostgreSQL: rows in one INSERT … SELECT from a JSON array of rows, for statements that
    COPY cannot make (ON CONFLICT, RETURNING). One parameter however many rows, encoded by the
    json module in C and parsed once by the server (jsonb); numbers and text travel as JSON,
    times in ISO 8601 with their offset, and PostgreSQL reads each back exactly."""
    values = ", ".join(f"(r->>{i})::{_pg_type(table.c[c])}" for i, c in enumerate(cols))
    sql = (f"INSERT INTO {table.name} ({', '.join(cols)}) SELECT {values} "
           f"FROM jsonb_array_elements(%(rows)s::jsonb) AS r {conflict}")
    if returning:
        sql += f" RETURNING {returning}"
    result = conn.exec_driver_sql(sql, {"rows": json.dumps(rows, default=dt.datetime.isoformat)})
    return result.all() if returning else []


def _in(pg: bool, column: Any, values: Sequence[Any]) -> Any:
    """``column IN values``; on PostgreSQL ``= ANY(array)``, one parameter instead of one each."""
    if pg:
        return column == any_(bindparam(None, list(values), type_=ARRAY(column.type)))
    return column.in_(list(values))


def _chunks(items: Sequence[str], n: int) -> Iterable[Sequence[str]]:
    for i in range(0, len(items), n):
        yield items[i : i + n]


def _merge_topics(*groups: Iterable[tuple[Topic, float]]) -> dict[str, tuple[Topic, float]]:
    out: dict[str, tuple[Topic, float]] = {}
    for group in groups:
        for topic, weight in group:
            if topic.key and (topic.key not in out or out[topic.key][1] < weight):
                out[topic.key] = (topic, weight)
    return out


def record_evidence(
    session: Session,
    *,
    user_id: str,
    topics: Sequence[Topic],
    kind: str,
    at: dt.datetime,
    weight: float = 1.0,
    ref: EvidenceRef | None = None,
    settings: ExpertiseSettings | None = None,
) -> None:
    """Record that ``user_id`` showed knowledge of ``topics`` (kind: wrote, answered, thanked,
    declared). Recording the same (person, topic, kind, reference) again replaces the earlier
    record instead of adding to it."""
    if kind not in KINDS:
        raise ValueError(f"unknown evidence kind {kind!r}; expected one of {', '.join(KINDS)}")
    settings = settings or ExpertiseSettings()
    writer = _Writer(session, settings)
    _record(writer, user_id=user_id, topics={t.key: (t, weight) for t in topics if t.key}, kind=kind, at=_aware(at), ref=ref, check=True)
    writer.finish()


def _record(writer: _Writer, *, user_id: str, topics: Mapping[str, tuple[Topic, float]], kind: str,
            at: dt.datetime, ref: EvidenceRef | None, check: bool) -> None:
    conn = writer.s.connection()
    E = ExpertiseEvidence.__table__
    conv, ts = (ref.conversation_id, ref.ts) if ref else ("", "")
    wanted: dict[str, tuple[Topic, float]] = {}
    for key, (topic, weight) in topics.items():
        wanted.setdefault(key[:200], (topic, weight))
    if check and wanted:
        # Replacing = taking the earlier record back, then adding the new one.
        for chunk in _chunks(sorted(wanted), 500):
            stmt = delete(E).where(
                E.c.workspace == writer.ws, E.c.user_id == user_id, E.c.kind == kind,
                E.c.conversation_id == conv, E.c.ts == ts, _in(writer.pg, E.c.topic_key, chunk),
            ).returning(E.c.topic_key, E.c.weight, E.c.at)
            for key, old_weight, old_at in conn.execute(stmt).all():
                writer.add(user_id, Topic(key, key, "en"), kind, old_weight, _aware(old_at), -1)
    rows = []
    permalink, name = (ref.permalink, ref.conversation_name) if ref else (None, None)
    for key, (topic, weight) in wanted.items():
        rows.append((writer.ws, user_id, key, kind, weight, at, conv, ts, permalink, name))
        writer.add(user_id, Topic(key, topic.display, topic.lang), kind, weight, at, +1)
    _bulk(conn, E, _EVIDENCE_COLS, rows)


def _remove_evidence_rows(writer: _Writer, rows: Sequence[Any]) -> None:
    """Take some evidence rows (anything with id, user_id, topic_key, kind, weight, at) out
    of the aggregates and delete them."""
    for r in rows:
        writer.add(r.user_id, Topic(r.topic_key, r.topic_key, "en"), r.kind, r.weight, _aware(r.at), -1)
    E = ExpertiseEvidence.__table__
    conn = writer.s.connection()
    for chunk in _chunks(sorted(r.id for r in rows), 500):
        conn.execute(delete(E).where(E.c.workspace == writer.ws, _in(writer.pg, E.c.id, chunk)))


def _remove_messages(writer: _Writer, keys: Iterable[tuple[str, str]], *, kinds: Sequence[str] | None) -> int:
    """Delete the index rows of some messages, (conversation, ts) pairs, taking them out of the
    aggregates: evidence of ``kinds`` (None: of every kind) and the messages themselves. One
    DELETE … RETURNING per conversation for the messages, and one for their evidence only
    when there is some to delete. Returns rows deleted."""
    conn = writer.s.connection()
    E, M = ExpertiseEvidence.__table__, ExpertiseMessage.__table__
    by_conv: dict[str, set[str]] = defaultdict(set)
    for conv, ts in keys:
        by_conv[conv].add(ts)
    removed = 0
    for conv, tss in by_conv.items():
        for chunk in _chunks(sorted(tss), 500):
            stmt = delete(M).where(M.c.workspace == writer.ws, M.c.conversation_id == conv, _in(writer.pg, M.c.ts, chunk))
            indexed = []
            for user_id, answer, at, ts in conn.execute(stmt.returning(M.c.user_id, M.c.answer, M.c.at, M.c.ts)).all():
                writer.message(user_id, answer=bool(answer), at=_aware(at), sign=-1)
                indexed.append(ts)
                removed += 1
            if kinds is not None:
                # A message's own evidence is written with its message row: messages not
                # indexed yet (the usual case) have none, and the big table is not touched.
                chunk = indexed
                if not chunk:
                    continue
            stmt = delete(E).where(E.c.workspace == writer.ws, E.c.conversation_id == conv, _in(writer.pg, E.c.ts, chunk))
            if kinds is not None:
                stmt = stmt.where(_in(writer.pg, E.c.kind, kinds))
            for user_id, key, kind, weight, at in conn.execute(stmt.returning(E.c.user_id, E.c.topic_key, E.c.kind, E.c.weight, E.c.at)).all():
                writer.add(user_id, Topic(key, key, "en"), kind, weight, _aware(at), -1)
                removed += 1
    return removed


def thread_topics(session: Session, *, conversation_id: str, thread_ts: str) -> list[Topic]:
    """The topics of a thread's first message, as the index saw them ([] when unknown)."""
    return _root_topics(session, conversation_id, [thread_ts]).get(thread_ts, [])


def _root_topics(session: Session, conversation_id: str, tss: Sequence[str]) -> dict[str, list[Topic]]:
    """The topics of some messages of one conversation (wrote/answered evidence), in the
    order they were recorded, by ts."""
    E, T = ExpertiseEvidence.__table__, ExpertiseTopic.__table__
    ws = session.info.get("workspace")
    pg = session.get_bind().dialect.name == "postgresql"
    out: dict[str, dict[str, Topic]] = defaultdict(dict)
    for chunk in _chunks(sorted(set(tss)), 500):
        q = (
            select(E.c.ts, E.c.topic_key, T.c.display, T.c.lang)
            .join(T, (T.c.key == E.c.topic_key) & (T.c.workspace == E.c.workspace))
            .where(E.c.workspace == ws, E.c.conversation_id == conversation_id, _in(pg, E.c.ts, chunk), E.c.kind.in_(_OWN_KINDS))
            .order_by(E.c.id)
        )
        for ts, key, display, lang in session.connection().execute(q):
            out[ts].setdefault(key, Topic(key, display, lang))
    return {ts: list(topics.values()) for ts, topics in out.items()}


# ---- ingestion -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class IncomingMessage:
    """What the index needs of one message (a QueuedMessage fits)."""

    op: str
    conversation_id: str
    conversation_name: str | None
    ts: str
    thread_ts: str | None
    parent_user_id: str | None
    user_id: str
    text: str
    permalink: str | None
    message_time: dt.datetime | None


def index_messages(session: Session, messages: Sequence[Any], *, nlp: Any, settings: ExpertiseSettings,
                   now: dt.datetime) -> int:
    """Apply a batch of queued messages (upserts, edits, deletions) to the index. Idempotent:
    a message already indexed is taken out before it is indexed again. Returns messages indexed.

    Set-based: a batch costs a handful of statements whatever its size — one DELETE … RETURNING
    per conversation for earlier versions, one SELECT per conversation for thread roots, then
    bulk inserts and the aggregate upserts of ``_Writer.finish``."""
    writer = _Writer(session, settings)
    conn = session.connection()
    ws = writer.ws
    # The last version of each message wins within a batch.
    latest: dict[tuple[str, str], Any] = {}
    for m in messages:
        latest[(m.conversation_id, m.ts)] = m
    # Thread roots before replies, so a reply finds its root whatever the order in the batch.
    upserts = sorted((m for m in latest.values() if m.op != "delete"), key=lambda m: bool(m.thread_ts) and m.thread_ts != m.ts)
    # Earlier versions (edits, re-deliveries) go first; a deletion also drops the thanks that
    # point at the message, whose link would lead nowhere.
    _remove_messages(writer, [k for k, m in latest.items() if m.op == "delete"], kinds=None)
    _remove_messages(writer, [(m.conversation_id, m.ts) for m in upserts], kinds=_OWN_KINDS)
    analysed = list(nlp.topics_many([m.text for m in upserts]))

    # Thread roots: from this batch, else from the index.
    roots: dict[tuple[str, str], tuple[str, list[Topic]]] = {}
    wanted: dict[str, set[str]] = defaultdict(set)
    for m in upserts:
        if m.thread_ts and m.thread_ts != m.ts and (m.conversation_id, m.thread_ts) not in latest:
            wanted[m.conversation_id].add(m.thread_ts)
    M = ExpertiseMessage.__table__
    for conv, tss in wanted.items():
        for chunk in _chunks(sorted(tss), 500):
            for user, ts in conn.execute(select(M.c.user_id, M.c.ts).where(
                    M.c.workspace == ws, M.c.conversation_id == conv, _in(writer.pg, M.c.ts, chunk))):
                roots[(conv, ts)] = (user, [])
        for ts, topics in _root_topics(session, conv, [ts for c, ts in roots if c == conv]).items():
            roots[(conv, ts)][1].extend(topics)

    message_rows: list[tuple[Any, ...]] = []
    evidence_rows: list[tuple[Any, ...]] = []
    helped = _threads_helped(session, upserts)
    verdicts = _verdicts(upserts, roots)
    for m, own in zip(upserts, analysed):
        at = _aware(m.message_time) if m.message_time else (ts_time(m.ts) or _aware(now))
        in_thread = bool(m.thread_ts) and m.thread_ts != m.ts
        root = roots.get((m.conversation_id, m.thread_ts)) if in_thread else None
        root_author = m.parent_user_id or (root[0] if root else None)
        # An answer is help (not "+1" or "thanks") in someone else's thread, once per thread.
        answer = (in_thread and root_author is not None and root_author != m.user_id
                  and (m.conversation_id, m.thread_ts, m.user_id) not in helped
                  and verdicts.get((m.conversation_id, m.ts), False))
        if answer:
            helped.add((m.conversation_id, m.thread_ts, m.user_id))
        message_rows.append((ws, m.conversation_id, m.conversation_name, m.ts, m.thread_ts,
                             root_author if in_thread else None, m.user_id, answer, at, m.permalink,
                             not in_thread and is_question(m.text)))
        writer.message(m.user_id, answer=answer, at=at, sign=+1)
        if answer:
            kind = "answered"
            topics = _merge_topics(((t, 1.0) for t in own), ((t, settings.thread_topic_weight) for t in (root[1] if root else ())))
        else:
            kind = "wrote"
            w = settings.question_weight if "?" in (m.text or "") else 1.0
            topics = _merge_topics((t, w) for t in own)
        done: set[str] = set()
        k, g, user = _KIND_INDEX[kind], writer.growth(at), m.user_id
        for key, (topic, weight) in topics.items():
            key = key[:200]
            if key in done:
                continue
            done.add(key)
            evidence_rows.append((ws, user, key, kind, weight, at, m.conversation_id, m.ts, m.permalink,
                                  m.conversation_name))
            writer.gain(user, key, topic.display, topic.lang, k, weight * g, at)
        if not in_thread:
            # Later messages of the same batch may be replies to this one.
            roots[(m.conversation_id, m.ts)] = (m.user_id, list(own))
    _bulk(conn, M, _MESSAGE_COLS, message_rows)
    _bulk(conn, ExpertiseEvidence.__table__, _EVIDENCE_COLS, evidence_rows)
    writer.finish()
    return len(upserts)


def _verdicts(upserts: Sequence[Any], roots: Mapping[tuple[str, str], tuple[str, list[Topic]]]) -> dict[tuple[str, str], bool]:
    """Whether each reply of the batch is help (``help_signal``), judged with what follows it
    when the batch holds it: the asker's next message in the thread (their thanks, or their
    question again). A reply whose asker answers in a later batch is judged on its own."""
    authors = {(m.conversation_id, m.ts): m.user_id for m in upserts if not m.thread_ts or m.thread_ts == m.ts}
    out: dict[tuple[str, str], bool] = {}
    waiting: dict[tuple[str, str], list[tuple[Any, Any]]] = defaultdict(list)
    for m in sorted(upserts, key=lambda m: float(m.ts) if _is_number(m.ts) else 0.0):
        if not m.thread_ts or m.thread_ts == m.ts:
            continue
        thread = (m.conversation_id, m.thread_ts)
        asker = m.parent_user_id or authors.get(thread) or (roots[thread][0] if thread in roots else None)
        if asker is not None and m.user_id == asker:
            after = follow_up(m.text)
            for key, verdict in waiting.pop(thread, ()):
                out[key] = followed(verdict, after).help
            continue
        waiting[thread].append(((m.conversation_id, m.ts), judge(m.text)))
    for replies in waiting.values():
        for key, verdict in replies:
            out[key] = verdict.help
    return out


def _is_number(ts: str) -> bool:
    try:
        float(ts)
    except (TypeError, ValueError):
        return False
    return True


def _threads_helped(session: Session, upserts: Sequence[Any]) -> set[tuple[str, str, str]]:
    """(conversation, thread, person) of the answers already indexed in the threads the batch's
    replies are in: a person's later help in the same thread is not another answer."""
    M = ExpertiseMessage.__table__
    ws, pg = _workspace(session), session.get_bind().dialect.name == "postgresql"
    threads: dict[str, set[str]] = defaultdict(set)
    for m in upserts:
        if m.thread_ts and m.thread_ts != m.ts:
            threads[m.conversation_id].add(m.thread_ts)
    out: set[tuple[str, str, str]] = set()
    for conv, tss in threads.items():
        for chunk in _chunks(sorted(tss), 500):
            out.update(session.connection().execute(select(M.c.conversation_id, M.c.thread_ts, M.c.user_id).where(
                M.c.workspace == ws, M.c.conversation_id == conv, _in(pg, M.c.thread_ts, chunk), M.c.answer.is_(True))).all())
    return {tuple(r) for r in out}


# ---- people's own view and privacy ----------------------------------------------------------------


@dataclass(frozen=True)
class HeldTopic:
    key: str
    display: str
    counts: Mapping[str, int]
    last_at: dt.datetime | None
    links: tuple[Link, ...]


def topic_weight(people: int, people_with_topic: int | None) -> float:
    """How telling a topic is in a workspace of ``people`` indexed people (an inverse document
    frequency): high for a topic few of them know, near zero for one nearly all share."""
    df = max(people_with_topic or 0, 1)
    return math.log(1.0 + (people - df + 0.5) / (df + 0.5))


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
    found = _details(session, [(user_id, score.topic_key) for score, _, _ in rows], 1)
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
    writer = _Writer(session, settings or ExpertiseSettings())
    rows = session.scalars(select(ExpertiseEvidence).where(ExpertiseEvidence.user_id == user_id, ExpertiseEvidence.topic_key.in_(list(keys)))).all()
    _remove_evidence_rows(writer, rows)
    writer.finish()
    return len(rows)


def take_back_evidence(session: Session, *, user_id: str, settings: ExpertiseSettings | None = None) -> int:
    """Remove every piece of a person's evidence, keeping the topic counts right (before the
    general eraser deletes the rest). It first takes the workspace's ingestion lock, so a batch
    in flight commits before the evidence is read, and none starts until the caller commits."""
    from bot.ingest import hold_workspace

    hold_workspace(session)
    writer = _Writer(session, settings or ExpertiseSettings())
    rows = session.scalars(select(ExpertiseEvidence).where(ExpertiseEvidence.user_id == user_id)).all()
    _remove_evidence_rows(writer, rows)
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
    return n


def known_keys(session: Session, keys: Sequence[str]) -> list[str]:
    if not keys:
        return []
    return list(session.scalars(select(ExpertiseTopic.key).where(ExpertiseTopic.key.in_(list(keys)), ExpertiseTopic.people_n > 0)))


# ---- ranking ------------------------------------------------------------------------------------------


_LINK_PRIORITY = {"thanked": 0, "answered": 1, "declared": 2, "wrote": 3}
# Threads answered for others in the last RECENT_DAYS days from which a reason line says that
# the person helps others a lot lately.
HELPS_LATELY = 3
# Evidence rows read per person for the links and the channel of a reason line.
_DETAIL_ROWS = 60


@dataclass(frozen=True)
class _Details:
    """What an answer shows of one person's evidence on a topic, from its latest rows."""

    links: tuple[Link, ...] = ()
    channel: str | None = None  # where most of that evidence is
    threads: int = 0  # distinct threads of the answers among those rows
    answers: int = 0  # answers among those rows


def _pick_details(rows: Sequence[Any], n: int) -> _Details:
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
    for r in sorted(rows, key=lambda r: (_LINK_PRIORITY.get(r.kind, 9), -_aware(r.at).timestamp())):
        if len(out) >= n:
            break
        if r.kind == "wrote" or (r.conversation_id, r.ts) in seen:
            # Links go to help (answers, thanked messages) only, not to mentions of the topic.
            continue
        seen.add((r.conversation_id, r.ts))
        out.append(Link(r.conversation_id, r.ts, r.permalink, r.conversation_name, r.kind, _aware(r.at)))
    return _Details(tuple(out), channel, len(threads), answers)


def _workspace(session: Session) -> str:
    """The workspace a session is scoped to; the index is read, like written, only within one."""
    ws = session.info.get("workspace")
    if not ws:
        raise ValueError("the expertise index is read through a session scoped to one workspace")
    return ws


def _details(session: Session, pairs: Sequence[tuple[str, str]], n: int) -> dict[tuple[str, str], _Details]:
    """``_pick_details`` of the latest ``_DETAIL_ROWS`` evidence rows of each (person, topic)
    pair, with each message's thread, read straight from the index in one statement: a
    ``LATERAL`` read per pair on PostgreSQL, a ``UNION ALL`` of per-pair reads on SQLite."""
    if not pairs:
        return {}
    ws = _workspace(session)
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
        f"FROM ({rows_sql}) AS e LEFT JOIN {M} m ON m.workspace = :ws AND m.conversation_id = e.conversation_id AND m.ts = e.ts"
    ).columns(user_id=String, topic_key=String, conversation_id=String, ts=String, permalink=String,
              conversation_name=String, kind=String, at=DateTime(timezone=True), thread_ts=String), params)
    rows: dict[tuple[str, str], list[Any]] = defaultdict(list)
    for r in result.all():  # (.all(): the driver's fetchall, much cheaper than a fetch per row)
        rows[(r.user_id, r.topic_key)].append(r)
    return {pair: _pick_details(rows.get(pair, ()), n) for pair in pairs}


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


def index_snapshot(session: Session, *, now: dt.datetime, settings: ExpertiseSettings | None = None,
                   size: int = 200) -> IndexSnapshot:
    """Read an ``IndexSnapshot`` (a handful of queries; the answers of the last weeks are the
    largest part)."""
    settings = settings or ExpertiseSettings()
    P = ExpertisePerson
    latest = session.scalar(select(func.max(P.last_at)))
    at = min(_aware(now), _aware(latest)) if latest is not None else _aware(now)
    helping = recent_answers(session, now=at)
    helping_week = recent_answers(session, now=at, days=WEEK_DAYS)
    helpers = heapq.nlargest(size, helping, key=lambda u: (helping[u], u))
    answerers = session.scalars(select(P.user_id).where(P.answers_n > 0).order_by(P.answers_n.desc(), P.user_id).limit(size)).all()
    model = load_model(session)
    if model is None:
        model = DEFAULT
    elif model.learned and model.examples < settings.fit_min_examples:
        model = DEFAULT.with_related(model.related)
    return IndexSnapshot(helping=helping, helpers=tuple(helpers), answerers=tuple(answerers), model=model,
                         helping_week=helping_week, averages=_averages(session))


def _core(session: Session, stmt: Any, *tables: Any) -> Any:
    """Run a Core ``select`` on the session's connection, kept to the session's workspace with
    an explicit condition on each of ``tables`` (what the ORM's workspace criteria would add):
    a question's reads skip the ORM's per-statement and per-row work."""
    ws = _workspace(session)
    for t in tables:
        stmt = stmt.where(t.c.workspace == ws)
    return session.connection().execute(stmt)


def _people_rows(session: Session, ids: Sequence[str], asker: str | None, pg: bool
                 ) -> tuple[dict[str, Any], dict[str, Any]]:
    """The index rows (expertise_people, with the asker's threads each one helped in) and the
    directory rows (people) of some people, in one query that takes the ids as one parameter
    (an array on PostgreSQL, a JSON list read by ``json_each`` on SQLite): a question reads
    them for hundreds of people."""
    PT, RT, MT = ExpertisePerson.__table__, PersonRow.__table__, ExpertiseMessage.__table__
    ws = _workspace(session)
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


def _candidates(session: Session, keys: Sequence[str], per_topic: int, pg: bool) -> list[Any]:
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
        ), {"keys": list(keys), "ws": _workspace(session), "n": per_topic}).all()
    table = S.__table__
    cols = [table.c[c] for c in names]
    out: list[Any] = []
    for key in keys:
        out += _core(session, select(*cols).where(table.c.topic_key == key).order_by(table.c.strength.desc()).limit(per_topic), table).all()
    return out


def _index_size(session: Session, now: dt.datetime) -> tuple[dt.datetime, int]:
    """The time a question is asked at (the index's latest message, in an imported archive) and
    the people indexed: both read from the (workspace, last_at) index alone."""
    PT = ExpertisePerson.__table__
    latest, people = _core(session, select(func.max(PT.c.last_at), func.count()).select_from(PT), PT).one()
    at = min(_aware(now), _aware(latest)) if latest is not None else _aware(now)
    return at, people or 0


def _averages(session: Session) -> RankWorkspace:
    """The averages the features compare people with: answers per person who answered, messages
    per person (a read of every person's row: kept in the snapshot, they change slowly)."""
    PT = ExpertisePerson.__table__
    helpers = func.sum(case((PT.c.answers_n > 0, 1), else_=0))
    people, answers, messages, n_helpers = _core(session, select(
        func.count(), func.sum(PT.c.answers_n), func.sum(PT.c.messages_n), helpers).select_from(PT), PT).one()
    return RankWorkspace(avg_answers=(answers or 0) / max(n_helpers or 0, 1), avg_messages=(messages or 0) / max(people or 0, 1))


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
    ``matched=True``; the workspace's ranking (``bot/ranker.py``) orders them and the general
    helpers (``matched=False``) together, and when no topic is known (with ``fallback``) ranks
    the helpers alone.

    Reads only aggregates, in a fixed number of queries whatever the size of the index: the
    query topics, their strongest people, those people's index and directory rows, and the
    reasons and links of the people an answer shows. ``snapshot`` is what the caller keeps of
    ``index_snapshot`` (it changes slowly); else it is read."""
    settings = settings or ExpertiseSettings()
    limit = limit or settings.max_experts
    TT = ExpertiseTopic.__table__
    _workspace(session)
    pg = session.get_bind().dialect.name == "postgresql"
    snap = snapshot if snapshot is not None else index_snapshot(session, now=now, settings=settings)
    # Time is measured up to the index's latest message: in a live workspace that is about
    # now; in an imported archive, it keeps old evidence from all decaying to nothing.
    now, people = _index_size(session, now)
    keys = list(dict.fromkeys(t.key for t in topics if t.key))
    # The topics the workspace's answers relate to the question's come along (``Model.expand``).
    near_keys = [k for k, _ in snap.model.expand(dict.fromkeys(keys, 1.0)).items()]
    wanted_keys = keys + near_keys
    topic_rows = {r.key: r for r in _core(session, select(TT.c.key, TT.c.display, TT.c.people_n).where(
        TT.c.key.in_(wanted_keys)), TT).all()} if keys else {}
    weights = {k: w for k in keys if (r := topic_rows.get(k)) is not None and (w := topic_weight(max(people, 1), r.people_n)) > 0}
    near = {k: w for k, w in snap.model.expand(weights).items() if k in topic_rows}
    every = {**near, **weights}
    # Each kind's evidence, weighted and decayed to now, as a fit sees it.
    counts: dict[str, dict[str, tuple[float, ...]]] = defaultdict(dict)
    rows: dict[tuple[str, str], Any] = {}
    decay = 1.0 / growth(now, settings.half_life_days)
    strength: dict[str, float] = defaultdict(float)
    for row in _candidates(session, list(every), settings.candidates_per_topic, pg):
        # (user_id, topic_key, last_at, the counts by kind, the time-weighted sums by kind)
        if row[3] or row[4] or row[5] or row[6]:
            c = ((row[7] or 0.0) * decay, (row[8] or 0.0) * decay, (row[9] or 0.0) * decay, (row[10] or 0.0) * decay)
            counts[row[0]][row[1]] = c
            rows[(row[0], row[1])] = row
            strength[row[0]] += every[row[1]] * (STRENGTH[0] * c[0] + STRENGTH[1] * c[1] + STRENGTH[2] * c[2] + STRENGTH[3] * c[3])
    if not counts and not fallback:
        return []
    # The candidates a fit learns from: the people with the most evidence on the question's
    # topics, and the people who answered the most threads.
    extra = max(CANDIDATES, limit * 2)
    strongest = heapq.nlargest(extra, strength.items(), key=lambda us: (us[1], us[0]))
    strongest = [u for u, _ in strongest]
    wanted = set(strongest) | set(snap.answerers[:extra])
    prior_rows, directory = _people_rows(session, sorted(wanted | ({asker} if asker else set())), asker, pg)
    asker_row = directory.get(asker) if asker else None
    asker_team = asker_row.team if asker_row is not None else None
    ranked = _rank(wanted, counts, weights, prior_rows, directory, snap, asker, asker_team, now, near)[:limit]

    # Reasons and links: only for the matched people an answer shows.
    best = {u: _best_topic(counts[u], every) for u, _, _ in ranked if u in counts}
    shown = [(u, best[u]) for u, _, _ in ranked if u in counts][: settings.max_experts]
    found = _details(session, shown, settings.links_per_person) if details else {}
    out = []
    for u, score, why in ranked:
        person, p = directory.get(u), prior_rows.get(u)
        key = best.get(u)
        srow = rows.get((u, key)) if key else None
        d = found.get((u, key), _Details())
        team = person.team if person is not None else None
        out.append(Expert(
            user_id=u,
            name=(person.name if person is not None and person.name else u),
            team=team,
            score=round(score, 4),
            matched=u in counts,
            outside_team=bool(team and asker_team and team != asker_team),
            topic=topic_rows[key].display if key else None,
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
        ))
    return out


def _rank(wanted: Iterable[str], counts: Mapping[str, Mapping[str, Sequence[int]]], weights: Mapping[str, float],
          prior_rows: Mapping[str, Any], directory: Mapping[str, Any], snap: IndexSnapshot, asker: str | None,
          asker_team: str | None, now: dt.datetime, near: Mapping[str, float] | None = None) -> list[tuple[str, float, str]]:
    """(person, score, the feature that counts most for them), best first: the workspace's
    ranking over each candidate's features. Only people still indexed count (a kept snapshot
    may name someone erased since), never the asker, people who opted out, bots or deleted
    accounts."""
    now_s = now.timestamp()
    scored = []
    for u in wanted:
        p, person = prior_rows.get(u), directory.get(u)
        if u == asker or (p is None and u not in counts) or (
                person is not None and (person.indexing_opt_out or person.deleted or person.is_bot)):
            continue
        team = person.team if person is not None else None
        last = p.last_at if p is not None else None
        idle = max(0.0, now_s - _aware(last).timestamp()) / _DAY if last is not None else None
        x = rank_features(weights, counts.get(u, {}), RankPerson(
            answers=(p.answers_n or 0) if p else 0, messages=(p.messages_n or 0) if p else 0,
            recent=snap.helping.get(u, 0), recent_week=snap.helping_week.get(u, 0), idle_days=idle, pair=(p.pair or 0) if p else 0,
            cross_team=bool(team and asker_team and team != asker_team)), snap.averages, near)
        parts = snap.model.contributions(x)
        why = max(range(len(parts)), key=lambda i: (parts[i], -i))
        scored.append((u, sum(parts), FEATURES[why]))
    return sorted(scored, key=lambda s: (-s[1], s[0]))


def _best_topic(counts: Mapping[str, Sequence[int]], weights: Mapping[str, float]) -> str:
    """The query topic that says most about a person: their help, thanks and declarations on
    it first, what they wrote last, times how telling the topic is."""
    return max(counts, key=lambda k: (weights.get(k, 0.0) * (3 * counts[k][1] + 5 * counts[k][2] + 4 * counts[k][3]
                                                            + 0.1 * counts[k][0]), k))


def recent_answers(session: Session, *, now: dt.datetime, days: float = RECENT_DAYS) -> dict[str, int]:
    """Per person, the threads they answered for others in the ``days`` days up to ``now``."""
    M = ExpertiseMessage
    now = _aware(now)
    since = now - dt.timedelta(days=days)
    q = select(M.user_id, func.count()).where(M.answer.is_(True), M.at >= since, M.at <= now).group_by(M.user_id)
    return {u: n for u, n in session.execute(q)}


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


class ExpertiseService:
    """The index as a shared service ("expertise"): the settings and the NLP pipelines bound
    together, for the ingest handler, the skill and the command line."""

    def __init__(self, *, settings: ExpertiseSettings, nlp: Any, db: Any = None) -> None:
        self.settings = settings
        self.nlp = nlp
        # Per workspace, what every question needs of the whole index's recent help (a read of
        # every answer of the last weeks, a tenth of a second on a large index), kept for a few
        # minutes: it changes slowly next to its half-lives. With ``db`` (a Database), an
        # expired copy is still used while a thread reads the new one, so no question waits.
        self._db = db
        self._snapshots: dict[str | None, tuple[float, IndexSnapshot]] = {}
        self._refreshing: set[str | None] = set()
        self._lock = threading.Lock()

    def ingest(self, session: Session, messages: Sequence[Any], *, now: dt.datetime) -> int:
        self._expire(session.info.get("workspace"))
        return index_messages(session, messages, nlp=self.nlp, settings=self.settings, now=now)

    def fit(self, session: Session, *, now: dt.datetime) -> Model:
        """Learn the session's workspace's ranking from its answered threads and store it (in
        the worker: on a schedule and after an import); its questions use it from their next
        snapshot."""
        from bot.ranker_fit import fit_workspace

        model = fit_workspace(session, now=now, settings=self.fit_settings())
        self._expire(session.info.get("workspace"))
        return model

    def fit_settings(self) -> FitSettings:
        s = self.settings
        return FitSettings(max_examples=s.fit_max_examples, min_examples=s.fit_min_examples, c=s.fit_c,
                           half_life_days=s.half_life_days, drop=tuple(s.fit_drop), related_topics=s.fit_related_topics)

    def snapshot(self, session: Session, *, now: dt.datetime) -> IndexSnapshot:
        """``index_snapshot`` of the session's workspace, read again after
        ``helpers_refresh_seconds`` or after this service ingested messages there (in the
        background when the service has a database and a copy to answer with meanwhile)."""
        workspace = session.info.get("workspace")
        kept = self._snapshots.get(workspace)
        if kept is not None and time.monotonic() - kept[0] < self.settings.helpers_refresh_seconds:
            return kept[1]
        if kept is not None and self._db is not None and workspace is not None:
            self._refresh_later(workspace, now)
            return kept[1]
        snap = index_snapshot(session, now=now, settings=self.settings)
        self._snapshots[workspace] = (time.monotonic(), snap)
        return snap

    def _expire(self, workspace: str | None) -> None:
        kept = self._snapshots.get(workspace)
        if kept is not None:
            self._snapshots[workspace] = (float("-inf"), kept[1])

    def _refresh_later(self, workspace: str, now: dt.datetime) -> None:
        with self._lock:
            if workspace in self._refreshing:
                return
            self._refreshing.add(workspace)

        def refresh() -> None:
            try:
                with self._db.session(workspace) as s:
                    snap = index_snapshot(s, now=now, settings=self.settings)
                self._snapshots[workspace] = (time.monotonic(), snap)
            except Exception:  # noqa: BLE001 - the kept copy stays in use; the next question tries again
                log.exception("could not refresh the expertise snapshot of %s; the previous one stays in use", workspace)
            finally:
                with self._lock:
                    self._refreshing.discard(workspace)

        threading.Thread(target=refresh, name=f"expertise-snapshot-{workspace}", daemon=True).start()

    def query_topics(self, text: str, *, lang: str | None = None) -> list[Topic]:
        return self.nlp.topics(text, lang=lang)

    def ask(self, session: Session, *, text: str, asker: str | None, now: dt.datetime, lang: str | None = None,
            limit: int | None = None, details: bool = True) -> tuple[list[Topic], list[Expert]]:
        """Topics of a question and the people to ask about them."""
        topics = self.query_topics(text, lang=lang)
        return topics, who_knows(session, topics=topics, asker=asker, now=now, settings=self.settings,
                                 limit=limit, details=details, snapshot=self.snapshot(session, now=now))

    def declare(self, session: Session, *, user_id: str, text: str, at: dt.datetime, lang: str | None = None) -> list[Topic]:
        topics = self.query_topics(text, lang=lang)
        if topics:
            record_evidence(session, user_id=user_id, topics=topics, kind="declared", at=at, settings=self.settings)
        return topics

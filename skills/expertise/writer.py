"""The index's aggregates — per (person, topic), per person, per topic — changed as deltas and
written once per change in a few set-based upserts (``Writer``)."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from bot.db.expertise import ExpertiseCounts, ExpertisePerson, ExpertiseScore, ExpertiseTopic

from skills.expertise.topics import Topic
from skills.expertise.model import KIND_INDEX, KINDS, ExpertiseSettings, growth
from bot.db.bulk import bulk, chunks, where_in
from skills.expertise.columns import COUNT_COLS, PERSON_COLS, SCORE_COLS, SUM_COLS, TOPIC_COLS

# The kinds a message's own text produces: re-indexing an edit replaces these, while the
# thanks recorded against the same message (by the kudos skill) stay.
OWN_KINDS = ("wrote", "answered")


def _later_sql(table: str) -> str:
    """The later of the stored and the new ``last_at`` (either may be NULL), in SQL."""
    old, new = f"{table}.last_at", "EXCLUDED.last_at"
    return f"CASE WHEN {new} IS NULL THEN {old} WHEN {old} IS NULL OR {new} > {old} THEN {new} ELSE {old} END"


class Writer:
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
            self.gain(user_id, topic.key, topic.display, topic.lang, KIND_INDEX[kind], weight * self.growth(at), at)
            return
        d = self.scores.get((user_id, topic.key))
        if d is None:
            d = self.scores[(user_id, topic.key)] = [0, 0, 0, 0, 0.0, 0.0, 0.0, 0.0, None]
        i = KIND_INDEX[kind]
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
        known = self.topics.get(key)
        if known is None or (known[0] == key and _name_form(display, key)):
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
        """Write what was collected: the (person, topic) scores, then each topic's count of
        people (following the score rows created and deleted), then the per-person prior."""
        conn = self.s.connection()
        people_delta: dict[str, int] = defaultdict(int)
        self._write_scores(conn, people_delta)
        self._write_topics(conn, people_delta)
        self._write_people(conn)
        self.scores.clear()
        self.topics.clear()
        self.people.clear()

    def _write_scores(self, conn: Any, people_delta: dict[str, int]) -> None:
        """Upsert the score deltas and delete the rows left with no evidence, counting in
        ``people_delta`` the people each topic gains and loses."""
        ws = self.ws
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
            returned = bulk(conn, S, SCORE_COLS, rows, conflict=(
                "ON CONFLICT (workspace, user_id, topic_key) DO UPDATE SET "
                + ", ".join(f"{c} = {t}.{c} + EXCLUDED.{c}" for c in (*COUNT_COLS, *SUM_COLS, "strength"))
                + f", last_at = {_later_sql(t)}"
            ), returning="user_id, topic_key, " + " + ".join(COUNT_COLS))
            # A row whose count after the upsert equals the delta did not exist before (a stored
            # row always has evidence): the topic has one more person.
            for user_id, key, after in returned:
                delta = deltas[(user_id, key)]
                if delta > 0 and after == delta:
                    people_delta[key] += 1
        if shrunk:
            total = sum((S.c[c] for c in COUNT_COLS[1:]), S.c[COUNT_COLS[0]])
            users = sorted({u for u, _ in shrunk})
            keys = sorted({k for _, k in shrunk})
            for ukeys in chunks(keys, 500):
                for uchunk in chunks(users, 500):
                    stmt = delete(S).where(S.c.workspace == ws, where_in(self.pg, S.c.user_id, uchunk),
                                           where_in(self.pg, S.c.topic_key, ukeys), total <= 0)
                    for (key,) in conn.execute(stmt.returning(S.c.topic_key)):
                        people_delta[key] -= 1

    def _write_topics(self, conn: Any, people_delta: dict[str, int]) -> None:
        """Insert the topics gaining evidence for the first time, and move each topic's count of
        people by its delta."""
        ws = self.ws
        T = ExpertiseTopic.__table__
        new_topics = [(ws, k, disp, lang, 0) for k, (disp, lang) in sorted(self.topics.items())]
        plain = [r for r in new_topics if not _name_form(r[2], r[1])]
        names = [r for r in new_topics if _name_form(r[2], r[1])]
        bulk(conn, T, TOPIC_COLS, plain, conflict="ON CONFLICT (workspace, key) DO NOTHING")
        # A topic first seen only in lower case ("k8s" gives "kubernetes") takes the form it is
        # written in as a name ("Kubernetes") when that comes: answers show that form.
        bulk(conn, T, TOPIC_COLS, names, conflict=(
            f"ON CONFLICT (workspace, key) DO UPDATE SET display = EXCLUDED.display WHERE {T.name}.display = {T.name}.key"))
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

    def _write_people(self, conn: Any) -> None:
        """Upsert the per-person deltas (messages, answers, time-weighted answers, latest at),
        and move the workspace's count of people and latest activity (``expertise_counts``)."""
        ws = self.ws
        P = ExpertisePerson.__table__
        prow = [(ws, u, p[0], p[1], p[2], p[3]) for u, p in sorted(self.people.items()) if p[0] or p[1] or p[2] or p[3] is not None]
        if prow:
            users = [r[1] for r in prow]
            known = 0
            for chunk in chunks(users, 500):
                known += conn.execute(select(func.count()).select_from(P).where(
                    P.c.workspace == ws, where_in(self.pg, P.c.user_id, chunk))).scalar() or 0
            latest = max((r[5] for r in prow if r[5] is not None), default=None)
            t = P.name
            greatest = "GREATEST" if self.pg else "max"
            bulk(conn, P, PERSON_COLS, prow, conflict=(
                "ON CONFLICT (workspace, user_id) DO UPDATE SET "
                + ", ".join(f"{c} = {greatest}({t}.{c} + EXCLUDED.{c}, {zero})"
                            for c, zero in (("messages_n", "0"), ("answers_n", "0"), ("answers_s", "0.0")))
                + f", last_at = {_later_sql(t)}"
            ))
            add_counts(conn, ws, len(users) - known, latest)


def _name_form(display: str | None, key: str) -> bool:
    """Whether ``display`` is ``key`` written with capitals ("Kubernetes", "HPA" for "hpa"): a
    better form to show than the key itself."""
    return bool(display) and display != key and display.lower() == key


def add_counts(conn: Any, ws: str, people: int, latest: dt.datetime | None) -> None:
    """Add ``people`` to the workspace's count of people and move its latest activity to
    ``latest`` when later (``expertise_counts``), in one upsert."""
    C = ExpertiseCounts.__table__
    bulk(conn, C, ("workspace", "people_n", "last_at"), [(ws, people, latest)], conflict=(
        f"ON CONFLICT (workspace) DO UPDATE SET people_n = {C.name}.people_n + EXCLUDED.people_n, "
        f"last_at = {_later_sql(C.name)}"))


def count_again(session: Session) -> None:
    """Count the session's workspace's people and latest activity again from ``expertise_people``
    (after people are removed from the index: an opt-out, an erasure)."""
    ws = session.info.get("workspace")
    C, P = ExpertiseCounts.__table__, ExpertisePerson.__table__
    conn = session.connection()
    people, latest = conn.execute(select(func.count(), func.max(P.c.last_at)).where(P.c.workspace == ws)).one()
    conn.execute(delete(C).where(C.c.workspace == ws))
    conn.execute(C.insert().values(workspace=ws, people_n=people or 0, last_at=latest))

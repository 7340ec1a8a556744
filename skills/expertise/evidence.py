"""Evidence in and out of the index: ``record_evidence`` (thanks from the kudos skill, declarations),
the taking back of evidence rows and of whole messages, and the topics of a thread's first message."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any, Iterable, Mapping, Sequence

from sqlalchemy import Integer, delete, select, text
from sqlalchemy.orm import Session

from bot.db.expertise import ExpertiseEvidence, ExpertiseMessage, ExpertiseTopic

from skills.expertise.topics import Topic
from skills.expertise.model import KINDS, EvidenceRef, ExpertiseSettings, aware
from bot.db.bulk import bulk, chunks, per_message, where_in
from skills.expertise.columns import EVIDENCE_COLS
from skills.expertise.writer import OWN_KINDS, Writer

def merge_topics(*groups: Iterable[tuple[Topic, float]]) -> dict[str, tuple[Topic, float]]:
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
    writer = Writer(session, settings)
    _record(writer, user_id=user_id, topics={t.key: (t, weight) for t in topics if t.key}, kind=kind, at=aware(at), ref=ref, check=True)
    writer.finish()


def _record(writer: Writer, *, user_id: str, topics: Mapping[str, tuple[Topic, float]], kind: str,
            at: dt.datetime, ref: EvidenceRef | None, check: bool) -> None:
    conn = writer.s.connection()
    E = ExpertiseEvidence.__table__
    conv, ts = (ref.conversation_id, ref.ts) if ref else ("", "")
    wanted: dict[str, tuple[Topic, float]] = {}
    for key, (topic, weight) in topics.items():
        wanted.setdefault(key[:200], (topic, weight))
    if check and wanted:
        # Replacing = taking the earlier record back, then adding the new one.
        for chunk in chunks(sorted(wanted), 500):
            stmt = delete(E).where(
                E.c.workspace == writer.ws, E.c.user_id == user_id, E.c.kind == kind,
                E.c.conversation_id == conv, E.c.ts == ts, where_in(writer.pg, E.c.topic_key, chunk),
            ).returning(E.c.topic_key, E.c.weight, E.c.at)
            for key, old_weight, old_at in conn.execute(stmt).all():
                writer.add(user_id, Topic(key, key, "en"), kind, old_weight, aware(old_at), -1)
    rows = []
    permalink, name = (ref.permalink, ref.conversation_name) if ref else (None, None)
    for key, (topic, weight) in wanted.items():
        rows.append((writer.ws, user_id, key, kind, weight, at, conv, ts, permalink, name))
        writer.add(user_id, Topic(key, topic.display, topic.lang), kind, weight, at, +1)
    bulk(conn, E, EVIDENCE_COLS, rows)


def remove_evidence_rows(writer: Writer, rows: Sequence[Any]) -> None:
    """Take some evidence rows (anything with id, user_id, topic_key, kind, weight, at) out
    of the aggregates and delete them."""
    for r in rows:
        writer.add(r.user_id, Topic(r.topic_key, r.topic_key, "en"), r.kind, r.weight, aware(r.at), -1)
    E = ExpertiseEvidence.__table__
    conn = writer.s.connection()
    for chunk in chunks(sorted(r.id for r in rows), 500):
        conn.execute(delete(E).where(E.c.workspace == writer.ws, where_in(writer.pg, E.c.id, chunk)))


def remove_messages(writer: Writer, keys: Iterable[tuple[str, str]], *, kinds: Sequence[str] | None) -> int:
    """Delete the index rows of some messages, (conversation, ts) pairs, taking them out of the
    aggregates: evidence of ``kinds`` (None: of every kind) and the messages themselves. One
    DELETE … RETURNING per 500 messages, whatever their conversations, and one for their
    evidence only when there is some to delete. Returns rows deleted."""
    conn = writer.s.connection()
    E, M = ExpertiseEvidence.__table__, ExpertiseMessage.__table__
    removed = 0
    for chunk in chunks(sorted(set(keys)), 500):
        stmt = delete(M).where(M.c.id.in_(_ids_of(writer, M, chunk)))
        indexed = []
        for user_id, answer, at, conv, ts in conn.execute(
                stmt.returning(M.c.user_id, M.c.answer, M.c.at, M.c.conversation_id, M.c.ts)).all():
            writer.message(user_id, answer=bool(answer), at=aware(at), sign=-1)
            indexed.append((conv, ts))
            removed += 1
        if kinds is not None:
            # A message's own evidence is written with its message row: messages not indexed
            # yet (the usual case) have none, and the big table is not touched.
            chunk = sorted(indexed)
            if not chunk:
                continue
        stmt = delete(E).where(E.c.id.in_(_ids_of(writer, E, chunk, kinds)))
        for user_id, key, kind, weight, at in conn.execute(stmt.returning(E.c.user_id, E.c.topic_key, E.c.kind, E.c.weight, E.c.at)).all():
            writer.add(user_id, Topic(key, key, "en"), kind, weight, aware(at), -1)
            removed += 1
    return removed


def _ids_of(writer: Writer, table: Any, keys: Sequence[tuple[str, str]], kinds: Sequence[str] | None = None) -> Any:
    """The ids of ``table``'s rows of some messages, (conversation, ts) pairs, as a subquery:
    one seek per message."""
    where = " AND t.kind IN (" + ", ".join(f"'{k}'" for k in kinds) + ")" if kinds else ""
    found, params = per_message(writer.pg, keys, table.name, "t.id", where=where)
    return text(found).bindparams(ws=writer.ws, **params).columns(id=Integer)


def thread_topics(session: Session, *, conversation_id: str, thread_ts: str) -> list[Topic]:
    """The topics of a thread's first message, as the index saw them ([] when unknown)."""
    return root_topics(session, conversation_id, [thread_ts]).get(thread_ts, [])


def root_topics(session: Session, conversation_id: str, tss: Sequence[str]) -> dict[str, list[Topic]]:
    """The topics of some messages of one conversation (wrote/answered evidence), in the
    order they were recorded, by ts."""
    found = messages_topics(session, [(conversation_id, ts) for ts in tss])
    return {ts: topics for (_, ts), topics in found.items()}


def messages_topics(session: Session, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], list[Topic]]:
    """The topics of some messages, (conversation, ts) pairs, as ``root_topics`` reads them:
    one statement per 500 messages whatever the conversations, one seek per message in
    (workspace, conversation, ts, kind, topic)."""
    ws = session.info.get("workspace")
    pg = session.get_bind().dialect.name == "postgresql"
    E, T = ExpertiseEvidence.__tablename__, ExpertiseTopic.__tablename__
    rows: list[Any] = []
    own = " AND t.kind IN (" + ", ".join(f"'{k}'" for k in OWN_KINDS) + ")"
    for chunk in chunks(sorted(set(keys)), 500):
        found, params = per_message(pg, chunk, E, "t.id, t.conversation_id, t.ts, t.topic_key", where=own)
        rows += session.connection().execute(text(
            f"SELECT e.id, e.conversation_id, e.ts, e.topic_key, k.display, k.lang FROM ({found}) AS e "
            f"JOIN {T} k ON k.workspace = :ws AND k.key = e.topic_key"), params | {"ws": ws}).all()
    out: dict[tuple[str, str], dict[str, Topic]] = defaultdict(dict)
    for _, conv, ts, key, display, lang in sorted(rows, key=lambda r: r[0]):  # in the order recorded
        out[(conv, ts)].setdefault(key, Topic(key, display, lang))
    return {k: list(topics.values()) for k, topics in out.items()}


def known_keys(session: Session, keys: Sequence[str]) -> list[str]:
    if not keys:
        return []
    return list(session.scalars(select(ExpertiseTopic.key).where(ExpertiseTopic.key.in_(list(keys)), ExpertiseTopic.people_n > 0)))

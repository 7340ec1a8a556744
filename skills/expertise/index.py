"""Queued public-channel messages into the index (``index_messages``): their topics, whether each
reply is help in someone else's thread, and the evidence rows, written set-based per batch."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from sqlalchemy import text
from sqlalchemy.orm import Session

from bot.db.expertise import ExpertiseEvidence, ExpertiseMessage

from skills.expertise.help_signal import follow_up, followed, is_question, judge
from skills.expertise.topics import Topic
from skills.expertise.model import KIND_INDEX, ExpertiseSettings, aware, ts_time, workspace_of
from bot.db.bulk import bulk, chunks, per_message
from skills.expertise.columns import EVIDENCE_COLS, MESSAGE_COLS
from skills.expertise.writer import OWN_KINDS, Writer
from skills.expertise.evidence import merge_topics, messages_topics, remove_messages


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

    Set-based: a batch costs a handful of statements whatever its size and its conversations —
    one DELETE … RETURNING per 500 messages for earlier versions, one SELECT per 500 thread
    roots for their authors, topics and earlier answers, then bulk inserts and the aggregate
    upserts of ``Writer.finish``."""
    writer = Writer(session, settings)
    ws = writer.ws
    # The last version of each message wins within a batch.
    latest: dict[tuple[str, str], Any] = {}
    for m in messages:
        latest[(m.conversation_id, m.ts)] = m
    # Thread roots before replies, so a reply finds its root whatever the order in the batch.
    upserts = sorted((m for m in latest.values() if m.op != "delete"), key=lambda m: bool(m.thread_ts) and m.thread_ts != m.ts)
    # Earlier versions (edits, re-deliveries) go first; a deletion also drops the thanks that
    # point at the message, whose link would lead nowhere.
    remove_messages(writer, [k for k, m in latest.items() if m.op == "delete"], kinds=None)
    remove_messages(writer, [(m.conversation_id, m.ts) for m in upserts], kinds=OWN_KINDS)
    analysed = list(nlp.topics_many([m.text for m in upserts]))
    roots = _indexed_roots(session, writer, upserts, latest)
    message_rows: list[tuple[Any, ...]] = []
    evidence_rows: list[tuple[Any, ...]] = []
    helped = _threads_helped(session, upserts)
    verdicts = _verdicts(upserts, roots)
    for m, own in zip(upserts, analysed):
        at = aware(m.message_time) if m.message_time else (ts_time(m.ts) or aware(now))
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
        _add_evidence(writer, evidence_rows, m, own, (root[1] if root else ()) if answer else None, at=at, settings=settings)
        if not in_thread:
            # Later messages of the same batch may be replies to this one.
            roots[(m.conversation_id, m.ts)] = (m.user_id, list(own))
    conn = session.connection()
    bulk(conn, ExpertiseMessage.__table__, MESSAGE_COLS, message_rows)
    bulk(conn, ExpertiseEvidence.__table__, EVIDENCE_COLS, evidence_rows)
    writer.finish()
    return len(upserts)


def _indexed_roots(session: Session, writer: Writer, upserts: Sequence[Any], latest: Mapping[tuple[str, str], Any]
                   ) -> dict[tuple[str, str], tuple[str, list[Topic]]]:
    """(conversation, ts) -> (author, topics) of the thread roots the batch's replies are in and
    that are not in the batch itself, as the index holds them: one statement per 500 roots for
    their authors and one for their topics, whatever the conversations."""
    wanted = sorted({(m.conversation_id, m.thread_ts) for m in upserts
                     if m.thread_ts and m.thread_ts != m.ts and (m.conversation_id, m.thread_ts) not in latest})
    roots: dict[tuple[str, str], tuple[str, list[Topic]]] = {}
    conn = session.connection()
    for chunk in chunks(wanted, 500):
        found, params = per_message(writer.pg, chunk, ExpertiseMessage.__tablename__, "t.conversation_id, t.ts, t.user_id")
        for conv, ts, user in conn.execute(text(found), params | {"ws": writer.ws}):
            roots[(conv, ts)] = (user, [])
    for key, topics in messages_topics(session, list(roots)).items():
        roots[key][1].extend(topics)
    return roots


def _add_evidence(writer: Writer, rows: list[tuple[Any, ...]], m: Any, own: Sequence[Topic],
                  thread: Sequence[Topic] | None, *, at: dt.datetime, settings: ExpertiseSettings) -> None:
    """One message's evidence, as rows and in the aggregates: "answered" on its own topics and
    its thread's (``thread``: the root's topics, maybe none, when the message is an answer; None
    when it is not), or "wrote" on its own topics (a question counting less)."""
    if thread is not None:
        kind = "answered"
        topics = merge_topics(((t, 1.0) for t in own), ((t, settings.thread_topic_weight) for t in thread))
    else:
        kind = "wrote"
        w = settings.question_weight if "?" in (m.text or "") else 1.0
        topics = merge_topics((t, w) for t in own)
    done: set[str] = set()
    k, g, user = KIND_INDEX[kind], writer.growth(at), m.user_id
    for key, (topic, weight) in topics.items():
        key = key[:200]
        if key in done:
            continue
        done.add(key)
        rows.append((writer.ws, user, key, kind, weight, at, m.conversation_id, m.ts, m.permalink, m.conversation_name))
        writer.gain(user, key, topic.display, topic.lang, k, weight * g, at)


def _verdicts(upserts: Sequence[Any], roots: Mapping[tuple[str, str], tuple[str, list[Topic]]]
              ) -> dict[tuple[str, str], bool]:
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
    replies are in: a person's later help in the same thread is not another answer. One
    statement per 500 threads, one seek each in (workspace, conversation, thread)."""
    ws, pg = workspace_of(session), session.get_bind().dialect.name == "postgresql"
    threads = sorted({(m.conversation_id, m.thread_ts) for m in upserts if m.thread_ts and m.thread_ts != m.ts})
    out: set[tuple[str, str, str]] = set()
    for chunk in chunks(threads, 500):
        found, params = per_message(pg, chunk, ExpertiseMessage.__tablename__, "t.conversation_id, t.thread_ts, t.user_id",
                                    ts="thread_ts", where=" AND t.answer")
        out.update((c, t, u) for c, t, u in session.connection().execute(text(found), params | {"ws": ws}))
    return out

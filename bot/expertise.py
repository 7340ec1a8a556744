"""The expertise index: evidence in (messages, thanks, declarations), ranked people with reasons
out.

Evidence is kept per (person, topic, kind, message): "wrote" about it, "answered" in a thread
started by someone else (the answerer is also credited with the thread's question topics),
"thanked" for it (fed by the kudos skill), "declared" it ("I know Kafka"). Each kind has a
weight, and every piece of evidence decays with a configurable half-life.

A question is ranked like a search over people: for each query topic, the person's decayed
evidence (saturating, so one chatty person does not drown the rest) times the topic's inverse
"people frequency" (a topic everybody mentions says little), plus a prior for how often the
person answers others' questions at all and for whether they have been active lately. When none of the query's topics is known, the prior
alone ranks people, and the caller says so.

All functions take a Session scoped to one workspace. Nothing here keeps message text.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from bot.db.expertise import ExpertiseEvidence, ExpertiseMessage, ExpertisePerson, ExpertiseScore, ExpertiseTopic
from bot.db.models import PersonRow
from bot.i18n import Catalog
from bot.nlp import Topic

KINDS = ("wrote", "answered", "thanked", "declared")

# The one-line reason shown beside each person, shared by the chat answer and `liaison ask`.
REASONS = Catalog(
    en={
        "answered": "answered {count} {questions} about {topic}",
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
        "helper": "often helps others ({count} {answers} in others' threads)",
        "answer_one": "answer",
        "answer_many": "answers",
    },
    fr={
        "answered": "a répondu à {count} {questions} sur {topic}",
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
        "helper": "aide souvent les autres ({count} {answers} dans les fils des autres)",
        "answer_one": "réponse",
        "answer_many": "réponses",
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
    saturation: float = 4.0
    helpfulness_weight: float = 3.0
    activity_weight: float = 5.0
    activity_half_life_days: float = 7.0
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


def month_label(at: dt.datetime | None, *, lang: str, now: dt.datetime) -> str:
    """"March" this year, "March 2025" before."""
    if at is None:
        return ""
    month = MONTHS.get(lang, MONTHS["en"])[at.month - 1]
    return month if at.year == now.year else f"{month} {at.year}"


def describe(e: "Expert", *, lang: str, now: dt.datetime) -> str:
    """The one-line reason: what the person did about the topic, where, when last, thanks."""
    t = lambda key, **v: REASONS.get(lang, key, **v)  # noqa: E731
    if not e.matched or not e.topic:
        return t("helper", count=e.answers, answers=t("answer_one" if e.answers == 1 else "answer_many"))
    c, topic = e.counts, e.topic
    thanked = c.get("thanked", 0)
    times = (t("once") if thanked == 1 else t("twice") if thanked == 2 else t("n_times", n=thanked)) if thanked else ""
    if c.get("answered"):
        n = c["answered"]
        text = t("answered", count=n, questions=t("question_one" if n == 1 else "question_many"), topic=topic)
    elif c.get("wrote"):
        n = c["wrote"]
        text = t("wrote", count=n, times=t("time_one" if n == 1 else "time_many"), topic=topic)
    elif thanked:
        return t("thanked_alone", count=times, topic=topic)
    else:
        return t("declared", topic=topic)
    if e.channel:
        text += t("in_channel", channel=e.channel)
    if e.last_at is not None:
        text += t("last", when=month_label(e.last_at, lang=lang, now=now))
    if thanked:
        text += t("thanked", count=times)
    return text


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


class _Agg:
    """One (person, topic) aggregate while a change is applied: plain numbers, written back to
    its row once at the end (setting ORM attributes for every piece of evidence is slow)."""

    __slots__ = ("row", "n", "s", "last_at", "dirty")

    def __init__(self, row: ExpertiseScore | None) -> None:
        self.row = row
        self.n = [getattr(row, f"{k}_n") or 0 for k in KINDS] if row is not None else [0] * len(KINDS)
        self.s = [getattr(row, f"{k}_s") or 0.0 for k in KINDS] if row is not None else [0.0] * len(KINDS)
        self.last_at = row.last_at if row is not None else None
        self.dirty = False


_KIND_INDEX = {k: i for i, k in enumerate(KINDS)}


class _Writer:
    """Applies evidence changes to the aggregate rows, with per-batch caches so a batch of
    messages costs a few queries rather than several per topic. Call ``finish`` at the end."""

    def __init__(self, session: Session, settings: ExpertiseSettings) -> None:
        self.s = session
        self.settings = settings
        self.scores: dict[tuple[str, str], _Agg] = {}
        self.topics: dict[str, ExpertiseTopic | None] = {}
        self.people: dict[str, ExpertisePerson | None] = {}
        self._loaded_users: set[str] = set()
        self._loaded_keys: set[str] = set()

    def preload(self, users: Iterable[str], keys: Iterable[str]) -> None:
        users, keys = sorted(set(users)), sorted(set(keys))
        for chunk in _chunks(keys, 500):
            for t in self.s.scalars(select(ExpertiseTopic).where(ExpertiseTopic.key.in_(chunk))):
                self.topics[t.key] = t
            for k in chunk:
                self.topics.setdefault(k, None)
            if users:
                for row in self.s.scalars(select(ExpertiseScore).where(ExpertiseScore.topic_key.in_(chunk), ExpertiseScore.user_id.in_(users))):
                    self.scores.setdefault((row.user_id, row.topic_key), _Agg(row))
        self._loaded_users.update(users)
        self._loaded_keys.update(keys)
        for chunk in _chunks(users, 500):
            for p in self.s.scalars(select(ExpertisePerson).where(ExpertisePerson.user_id.in_(chunk))):
                self.people[p.user_id] = p
            for u in chunk:
                self.people.setdefault(u, None)

    def topic(self, key: str, display: str, lang: str) -> ExpertiseTopic:
        if key not in self.topics:
            self.topics[key] = self.s.scalars(select(ExpertiseTopic).where(ExpertiseTopic.key == key)).first()
        row = self.topics[key]
        if row is None:
            row = ExpertiseTopic(key=key, display=display[:200] or key, lang=lang, people_n=0)
            self.s.add(row)
            self.topics[key] = row
        return row

    def score(self, user_id: str, key: str) -> _Agg:
        agg = self.scores.get((user_id, key))
        if agg is None:
            row = None
            if not (user_id in self._loaded_users and key in self._loaded_keys):
                row = self.s.scalars(select(ExpertiseScore).where(ExpertiseScore.user_id == user_id, ExpertiseScore.topic_key == key)).first()
            agg = self.scores[(user_id, key)] = _Agg(row)
        return agg

    def person(self, user_id: str) -> ExpertisePerson:
        if user_id not in self.people:
            self.people[user_id] = self.s.scalars(select(ExpertisePerson).where(ExpertisePerson.user_id == user_id)).first()
        row = self.people[user_id]
        if row is None:
            row = ExpertisePerson(user_id=user_id, messages_n=0, answers_n=0, answers_s=0.0)
            self.s.add(row)
            self.people[user_id] = row
        return row

    def add(self, user_id: str, topic: Topic, kind: str, weight: float, at: dt.datetime, sign: int) -> None:
        """Add (sign=1) or take back (sign=-1) one piece of evidence in the aggregates."""
        agg = self.score(user_id, topic.key)
        if sign < 0 and not any(agg.n):
            return
        topic_row = self.topic(topic.key, topic.display, topic.lang)
        was_empty = not any(agg.n)
        i = _KIND_INDEX[kind]
        agg.n[i] = max(0, agg.n[i] + sign)
        agg.s[i] = max(0.0, agg.s[i] + sign * weight * growth(at, self.settings.half_life_days))
        agg.dirty = True
        if sign > 0:
            if was_empty:
                topic_row.people_n = (topic_row.people_n or 0) + 1
            if agg.last_at is None or _aware(agg.last_at) < _aware(at):
                agg.last_at = at
        elif not any(agg.n):
            topic_row.people_n = max(0, (topic_row.people_n or 0) - 1)
            agg.s = [0.0] * len(KINDS)

    def finish(self) -> None:
        """Write the aggregates back: new rows in bulk, changed rows updated, empty rows
        deleted (last: a row may be emptied and filled again within one change)."""
        new_rows = []
        ws = self.s.info.get("workspace")
        for (user_id, key), agg in self.scores.items():
            if not agg.dirty:
                continue
            agg.dirty = False
            if not any(agg.n):
                if agg.row is not None:
                    self.s.delete(agg.row)
                    agg.row = None
                continue
            values = {f"{k}_n": agg.n[i] for i, k in enumerate(KINDS)} | {f"{k}_s": agg.s[i] for i, k in enumerate(KINDS)}
            values["strength"] = sum(agg.s[i] * self.settings.weight(k) for i, k in enumerate(KINDS))
            if agg.row is not None:
                for name, value in values.items():
                    if getattr(agg.row, name) != value:
                        setattr(agg.row, name, value)
                if agg.row.last_at != agg.last_at:
                    agg.row.last_at = agg.last_at
            else:
                new_rows.append(dict(workspace=ws, user_id=user_id, topic_key=key, last_at=agg.last_at, **values))
        self.s.flush()
        if new_rows:
            self.s.execute(insert(ExpertiseScore), new_rows)
            # Rows written in bulk are not in the session: look them up again if needed.
            for r in new_rows:
                self.scores.pop((r["user_id"], r["topic_key"]), None)
                self._loaded_users.discard(r["user_id"])


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
    _record(writer, user_id=user_id, topics={t.key: (t, weight) for t in topics if t.key}, kind=kind, at=at, ref=ref, check=True)
    writer.finish()


def _record(writer: _Writer, *, user_id: str, topics: Mapping[str, tuple[Topic, float]], kind: str,
            at: dt.datetime, ref: EvidenceRef | None, check: bool) -> None:
    s = writer.s
    conv, ts = (ref.conversation_id, ref.ts) if ref else ("", "")
    existing: dict[str, ExpertiseEvidence] = {}
    if check and topics:
        for chunk in _chunks(sorted(topics), 500):
            for row in s.scalars(select(ExpertiseEvidence).where(
                ExpertiseEvidence.user_id == user_id, ExpertiseEvidence.kind == kind,
                ExpertiseEvidence.conversation_id == conv, ExpertiseEvidence.ts == ts,
                ExpertiseEvidence.topic_key.in_(chunk),
            )):
                existing[row.topic_key] = row
    for key, (topic, weight) in topics.items():
        key = key[:200]
        topic = Topic(key, topic.display, topic.lang)
        old = existing.get(key)
        if old is not None:
            writer.add(user_id, topic, kind, old.weight, old.at, -1)
            old.weight, old.at = weight, at
            if ref is not None:
                old.permalink, old.conversation_name = ref.permalink, ref.conversation_name
        else:
            s.add(ExpertiseEvidence(
                user_id=user_id, topic_key=key, kind=kind, weight=weight, at=at, conversation_id=conv, ts=ts,
                permalink=ref.permalink if ref else None, conversation_name=ref.conversation_name if ref else None,
            ))
        writer.add(user_id, topic, kind, weight, at, +1)


def _remove_evidence_rows(writer: _Writer, rows: Sequence[ExpertiseEvidence]) -> None:
    displays = {}
    keys = sorted({r.topic_key for r in rows})
    for chunk in _chunks(keys, 500):
        for t in writer.s.scalars(select(ExpertiseTopic).where(ExpertiseTopic.key.in_(chunk))):
            writer.topics[t.key] = t
            displays[t.key] = (t.display, t.lang)
    for r in rows:
        display, lang = displays.get(r.topic_key, (r.topic_key, "en"))
        writer.add(r.user_id, Topic(r.topic_key, display, lang), r.kind, r.weight, r.at, -1)
        writer.s.delete(r)


def remove_message(session: Session, *, conversation_id: str, ts: str, settings: ExpertiseSettings | None = None) -> bool:
    """Drop a message and all evidence that came from it (a deletion, or before re-indexing an
    edit). Returns True when something was removed."""
    writer = _Writer(session, settings or ExpertiseSettings())
    removed = _remove_message(writer, conversation_id, ts)
    writer.finish()
    return removed


def _remove_message(writer: _Writer, conversation_id: str, ts: str) -> bool:
    s = writer.s
    rows = s.scalars(select(ExpertiseEvidence).where(ExpertiseEvidence.conversation_id == conversation_id, ExpertiseEvidence.ts == ts)).all()
    _remove_evidence_rows(writer, rows)
    msg = s.scalars(select(ExpertiseMessage).where(ExpertiseMessage.conversation_id == conversation_id, ExpertiseMessage.ts == ts)).first()
    if msg is not None:
        p = writer.person(msg.user_id)
        p.messages_n = max(0, (p.messages_n or 0) - 1)
        if msg.answer:
            p.answers_n = max(0, (p.answers_n or 0) - 1)
            p.answers_s = max(0.0, (p.answers_s or 0.0) - growth(msg.at, writer.settings.half_life_days))
        s.delete(msg)
    s.flush()
    return bool(rows) or msg is not None


def thread_topics(session: Session, *, conversation_id: str, thread_ts: str) -> list[Topic]:
    """The topics of a thread's first message, as the index saw them ([] when unknown)."""
    q = (
        select(ExpertiseEvidence.topic_key, ExpertiseTopic.display, ExpertiseTopic.lang)
        .join(ExpertiseTopic, (ExpertiseTopic.key == ExpertiseEvidence.topic_key) & (ExpertiseTopic.workspace == ExpertiseEvidence.workspace))
        .where(ExpertiseEvidence.conversation_id == conversation_id, ExpertiseEvidence.ts == thread_ts)
        .where(ExpertiseEvidence.kind.in_(("wrote", "answered")))
        .order_by(ExpertiseEvidence.id)
    )
    seen: dict[str, Topic] = {}
    for key, display, lang in session.execute(q):
        seen.setdefault(key, Topic(key, display, lang))
    return list(seen.values())


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
    a message already indexed is removed before it is indexed again. Returns messages indexed.

    Rows are written in bulk: a batch costs a handful of queries, not several per message."""
    writer = _Writer(session, settings)
    # Earlier versions of these messages (edits, re-deliveries) and deletions go first.
    by_conv: dict[str, set[str]] = defaultdict(set)
    for m in messages:
        by_conv[m.conversation_id].add(m.ts)
    seen: set[tuple[str, str]] = set()
    for conv, tss in by_conv.items():
        for chunk in _chunks(sorted(tss), 500):
            seen.update(session.execute(select(ExpertiseMessage.conversation_id, ExpertiseMessage.ts).where(
                ExpertiseMessage.conversation_id == conv, ExpertiseMessage.ts.in_(chunk))).all())
            seen.update(session.execute(select(ExpertiseEvidence.conversation_id, ExpertiseEvidence.ts).where(
                ExpertiseEvidence.conversation_id == conv, ExpertiseEvidence.ts.in_(chunk)).distinct()).all())
    for m in messages:
        if (m.conversation_id, m.ts) in seen:
            _remove_message(writer, m.conversation_id, m.ts)
            seen.discard((m.conversation_id, m.ts))
    # The last version of each message wins within a batch.
    latest: dict[tuple[str, str], Any] = {}
    for m in messages:
        latest[(m.conversation_id, m.ts)] = m
    upserts = [m for m in latest.values() if m.op != "delete"]
    analysed = list(nlp.topics_many([m.text for m in upserts]))

    # Thread roots: from this batch, else from the index.
    roots: dict[tuple[str, str], tuple[str, list[Topic]]] = {}
    wanted: dict[str, set[str]] = defaultdict(set)
    for m in upserts:
        if m.thread_ts and m.thread_ts != m.ts:
            wanted[m.conversation_id].add(m.thread_ts)
    for conv, tss in wanted.items():
        for chunk in _chunks(sorted(tss), 500):
            for user, ts in session.execute(select(ExpertiseMessage.user_id, ExpertiseMessage.ts).where(
                    ExpertiseMessage.conversation_id == conv, ExpertiseMessage.ts.in_(chunk))):
                roots[(conv, ts)] = (user, [])
            q = (select(ExpertiseEvidence.ts, ExpertiseEvidence.topic_key, ExpertiseTopic.display, ExpertiseTopic.lang)
                 .join(ExpertiseTopic, (ExpertiseTopic.key == ExpertiseEvidence.topic_key) & (ExpertiseTopic.workspace == ExpertiseEvidence.workspace))
                 .where(ExpertiseEvidence.conversation_id == conv, ExpertiseEvidence.ts.in_(chunk),
                        ExpertiseEvidence.kind.in_(("wrote", "answered")))
                 .order_by(ExpertiseEvidence.id))
            for ts, key, display, lang in session.execute(q):
                if (conv, ts) in roots and all(t.key != key for t in roots[(conv, ts)][1]):
                    roots[(conv, ts)][1].append(Topic(key, display, lang))

    users = {m.user_id for m in upserts} | {m.parent_user_id for m in upserts if m.parent_user_id}
    keys = {t.key for ts in analysed for t in ts} | {t.key for _, ts in roots.values() for t in ts}
    writer.preload(users, keys)
    message_rows: list[dict[str, Any]] = []
    evidence_rows: list[dict[str, Any]] = []
    ws = session.info.get("workspace")
    for m, own in zip(upserts, analysed):
        at = _aware(m.message_time) if m.message_time else (ts_time(m.ts) or now)
        in_thread = bool(m.thread_ts) and m.thread_ts != m.ts
        root = roots.get((m.conversation_id, m.thread_ts)) if in_thread else None
        root_author = m.parent_user_id or (root[0] if root else None)
        answer = in_thread and root_author is not None and root_author != m.user_id
        message_rows.append(dict(
            workspace=ws, conversation_id=m.conversation_id, conversation_name=m.conversation_name, ts=m.ts,
            thread_ts=m.thread_ts, parent_user_id=root_author if in_thread else None, user_id=m.user_id,
            answer=answer, at=at, permalink=m.permalink,
        ))
        person = writer.person(m.user_id)
        person.messages_n = (person.messages_n or 0) + 1
        if answer:
            person.answers_n = (person.answers_n or 0) + 1
            person.answers_s = (person.answers_s or 0.0) + growth(at, settings.half_life_days)
        if person.last_at is None or _aware(person.last_at) < at:
            person.last_at = at
        if answer:
            kind = "answered"
            topics = _merge_topics(((t, 1.0) for t in own), ((t, settings.thread_topic_weight) for t in (root[1] if root else ())))
        else:
            kind = "wrote"
            w = settings.question_weight if "?" in (m.text or "") else 1.0
            topics = _merge_topics((t, w) for t in own)
        for key, (topic, weight) in topics.items():
            key = key[:200]
            evidence_rows.append(dict(
                workspace=ws, user_id=m.user_id, topic_key=key, kind=kind, weight=weight, at=at,
                conversation_id=m.conversation_id, ts=m.ts, permalink=m.permalink, conversation_name=m.conversation_name,
            ))
            writer.add(m.user_id, Topic(key, topic.display, topic.lang), kind, weight, at, +1)
        if not in_thread:
            # Later messages of the same batch may be replies to this one.
            roots[(m.conversation_id, m.ts)] = (m.user_id, list(own))
    writer.finish()
    if message_rows:
        session.execute(insert(ExpertiseMessage), message_rows)
    if evidence_rows:
        session.execute(insert(ExpertiseEvidence), evidence_rows)
    return len(upserts)


# ---- people's own view and privacy ----------------------------------------------------------------


@dataclass(frozen=True)
class HeldTopic:
    key: str
    display: str
    counts: Mapping[str, int]
    last_at: dt.datetime | None
    links: tuple[Link, ...]


def held_about(session: Session, *, user_id: str, limit: int = 15, settings: ExpertiseSettings | None = None) -> list[HeldTopic]:
    """What the index holds about one person, strongest topics first."""
    settings = settings or ExpertiseSettings()
    rows = session.execute(
        select(ExpertiseScore, ExpertiseTopic.display)
        .join(ExpertiseTopic, (ExpertiseTopic.key == ExpertiseScore.topic_key) & (ExpertiseTopic.workspace == ExpertiseScore.workspace))
        .where(ExpertiseScore.user_id == user_id)
    ).all()

    def strength(r: ExpertiseScore) -> float:
        return sum(settings.weight(k) * (getattr(r, f"{k}_n") or 0) for k in KINDS)

    rows = sorted(rows, key=lambda rd: (-strength(rd[0]), rd[0].topic_key))[:limit]
    out = []
    for score, display in rows:
        out.append(HeldTopic(
            key=score.topic_key, display=display,
            counts={k: getattr(score, f"{k}_n") or 0 for k in KINDS if getattr(score, f"{k}_n")},
            last_at=score.last_at, links=_links(session, score.user_id, score.topic_key, 1),
        ))
    return out


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


def forget_all_evidence(session: Session, *, user_id: str, settings: ExpertiseSettings | None = None) -> int:
    """Remove every piece of a person's evidence, keeping the topic counts right (opting out,
    and before the general eraser deletes the rest)."""
    writer = _Writer(session, settings or ExpertiseSettings())
    rows = session.scalars(select(ExpertiseEvidence).where(ExpertiseEvidence.user_id == user_id)).all()
    _remove_evidence_rows(writer, rows)
    writer.finish()
    session.execute(delete(ExpertiseScore).where(ExpertiseScore.user_id == user_id))
    session.execute(delete(ExpertisePerson).where(ExpertisePerson.user_id == user_id))
    session.execute(delete(ExpertiseMessage).where(ExpertiseMessage.user_id == user_id))
    session.flush()
    return len(rows)


def known_keys(session: Session, keys: Sequence[str]) -> list[str]:
    if not keys:
        return []
    return list(session.scalars(select(ExpertiseTopic.key).where(ExpertiseTopic.key.in_(list(keys)), ExpertiseTopic.people_n > 0)))


# ---- ranking ------------------------------------------------------------------------------------------


_LINK_PRIORITY = {"thanked": 0, "answered": 1, "declared": 2, "wrote": 3}


def _evidence_details(session: Session, user_id: str, key: str | None, n: int) -> tuple[tuple[Link, ...], str | None]:
    """The best ``n`` messages proving ``user_id`` knows ``key`` (thanks and answers first,
    then the most recent), and the channel where most of that evidence is: one query."""
    E = ExpertiseEvidence
    q = select(E.conversation_id, E.ts, E.permalink, E.conversation_name, E.kind, E.at).where(E.user_id == user_id, E.ts != "")
    q = q.where(E.topic_key == key) if key is not None else q.where(E.kind == "answered")
    rows = session.execute(q.order_by(E.at.desc()).limit(60)).all()
    channels: dict[str, int] = defaultdict(int)
    for r in rows:
        if r.conversation_name:
            channels[r.conversation_name] += 1
    channel = max(channels, key=lambda c: (channels[c], c)) if channels else None
    out: list[Link] = []
    seen = set()
    for r in sorted(rows, key=lambda r: (_LINK_PRIORITY.get(r.kind, 9), -_aware(r.at).timestamp())):
        if (r.conversation_id, r.ts) in seen:
            continue
        seen.add((r.conversation_id, r.ts))
        out.append(Link(r.conversation_id, r.ts, r.permalink, r.conversation_name, r.kind, _aware(r.at)))
        if len(out) >= n:
            break
    return tuple(out), channel


def _links(session: Session, user_id: str, key: str | None, n: int) -> tuple[Link, ...]:
    return _evidence_details(session, user_id, key, n)[0] if n > 0 else ()


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
) -> list[Expert]:
    """The people who know most about ``topics``, best first: never the asker, people who opted
    out, bots or deleted accounts. People with evidence for the topics come with
    ``matched=True``; after them (or alone, when no topic is known and ``fallback``) come
    people who often answer others, with ``matched=False``.

    Reads only aggregates: a few rows per query topic and per candidate, plus one query for
    the reasons and links of each person an answer shows."""
    settings = settings or ExpertiseSettings()
    limit = limit or settings.max_experts
    T, S, P = ExpertiseTopic, ExpertiseScore, ExpertisePerson
    # Time is measured up to the index's latest message: in a live workspace that is about
    # now; in an imported archive, it keeps old evidence from all decaying to nothing.
    latest = session.scalar(select(func.max(P.last_at)))
    now = min(_aware(now), _aware(latest)) if latest is not None else _aware(now)
    keys = list(dict.fromkeys(t.key for t in topics if t.key))
    decay = 1.0 / growth(now, settings.half_life_days)
    topic_rows = {r.key: r for r in session.execute(select(T.key, T.display, T.people_n).where(T.key.in_(keys)))} if keys else {}
    n = max(session.scalar(select(func.count()).select_from(P)) or 0, 1)

    rel: dict[str, float] = defaultdict(float)
    best: dict[str, tuple[float, str, Any]] = {}
    weights = [(k, settings.weight(k)) for k in KINDS]
    cols = [S.user_id, S.last_at] + [getattr(S, f"{k}_n") for k in KINDS] + [getattr(S, f"{k}_s") for k in KINDS]
    for key, trow in topic_rows.items():
        df = max(trow.people_n or 0, 1)
        idf = math.log(1.0 + (n - df + 0.5) / (df + 0.5))
        if idf <= 0:
            continue
        q = select(*cols).where(S.topic_key == key).order_by(S.strength.desc()).limit(settings.candidates_per_topic)
        for row in session.execute(q):
            ev = sum((row[6 + i] or 0.0) * w for i, (_, w) in enumerate(weights)) * decay
            if ev <= 0:
                continue
            # Saturating: a tenth answer about a topic adds little to what nine showed.
            contribution = idf * ev / (ev + settings.saturation)
            rel[row.user_id] += contribution
            if row.user_id not in best or best[row.user_id][0] < contribution:
                best[row.user_id] = (contribution, key, row)

    if not rel and not fallback:
        return []
    # The prior: how much each person answers others (decayed) and whether they are around
    # lately; read for the candidates, the top helpers and the most recently active people.
    pcols = (P.user_id, P.answers_n, P.answers_s, P.last_at)
    extra = max(50, limit * 10)
    prior_rows = {r.user_id: r for r in session.execute(select(*pcols).order_by(P.answers_s.desc()).limit(extra))}
    if settings.activity_weight:
        for r in session.execute(select(*pcols).where(P.last_at.is_not(None)).order_by(P.last_at.desc()).limit(extra)):
            prior_rows[r.user_id] = r
    for chunk in _chunks([u for u in rel if u not in prior_rows], 500):
        for r in session.execute(select(*pcols).where(P.user_id.in_(chunk))):
            prior_rows[r.user_id] = r

    def prior(u: str) -> float:
        p = prior_rows.get(u)
        if p is None:
            return 0.0
        value = settings.helpfulness_weight * math.log1p((p.answers_s or 0.0) * decay)
        if settings.activity_weight and p.last_at is not None:
            idle_days = max(0.0, (now - _aware(p.last_at)).total_seconds() / _DAY)
            value += settings.activity_weight * 2.0 ** (-idle_days / max(settings.activity_half_life_days, 1e-6))
        return value

    # Everyone matched, then the general helpers, so a ranking is never cut short.
    scored = {u: rel.get(u, 0.0) + prior(u) for u in set(rel) | set(prior_rows)}
    scored.pop(asker, None)
    excluded: set[str] = set()
    for chunk in _chunks(sorted(scored), 500):
        excluded.update(session.scalars(select(PersonRow.user_id).where(
            PersonRow.user_id.in_(chunk), PersonRow.indexing_opt_out | PersonRow.deleted | PersonRow.is_bot)))
    ranked = sorted((u for u in scored if u not in excluded and scored[u] > 0), key=lambda u: (-scored[u], u))[:limit]

    wanted = ranked + ([asker] if asker else [])
    directory = {r.user_id: r for r in session.execute(
        select(PersonRow.user_id, PersonRow.name, PersonRow.team).where(PersonRow.user_id.in_(wanted)))} if wanted else {}
    asker_team = directory[asker].team if asker and asker in directory else None
    # Reasons and links cost a query each: only for the matched people an answer shows
    # (general helpers are shown with their number of answers, without links).
    shown = set([u for u in ranked if u in rel][: settings.max_experts])
    out = []
    for u in ranked:
        person = directory.get(u)
        _, key, srow = best.get(u, (0.0, None, None))
        p = prior_rows.get(u)
        links, channel = (_evidence_details(session, u, key, settings.links_per_person)
                          if details and u in shown else ((), None))
        team = person.team if person is not None else None
        out.append(Expert(
            user_id=u,
            name=(person.name if person is not None and person.name else u),
            team=team,
            score=round(scored[u], 4),
            matched=u in rel,
            outside_team=bool(team and asker_team and team != asker_team),
            topic=topic_rows[key].display if key else None,
            counts={k: srow[2 + i] or 0 for i, k in enumerate(KINDS)} if srow is not None else {},
            channel=channel,
            last_at=(srow.last_at if srow is not None else (p.last_at if p is not None else None)),
            answers=(p.answers_n or 0) if p is not None else 0,
            links=links,
        ))
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


def people_count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(ExpertisePerson)) or 0


class ExpertiseService:
    """The index as a shared service ("expertise"): the settings and the NLP pipelines bound
    together, for the ingest handler, the skill and the command line."""

    def __init__(self, *, settings: ExpertiseSettings, nlp: Any) -> None:
        self.settings = settings
        self.nlp = nlp

    def ingest(self, session: Session, messages: Sequence[Any], *, now: dt.datetime) -> int:
        return index_messages(session, messages, nlp=self.nlp, settings=self.settings, now=now)

    def query_topics(self, text: str, *, lang: str | None = None) -> list[Topic]:
        return self.nlp.topics(text, lang=lang)

    def ask(self, session: Session, *, text: str, asker: str | None, now: dt.datetime, lang: str | None = None,
            limit: int | None = None, details: bool = True) -> tuple[list[Topic], list[Expert]]:
        """Topics of a question and the people to ask about them."""
        topics = self.query_topics(text, lang=lang)
        return topics, who_knows(session, topics=topics, asker=asker, now=now, settings=self.settings,
                                 limit=limit, details=details)

    def declare(self, session: Session, *, user_id: str, text: str, at: dt.datetime, lang: str | None = None) -> list[Topic]:
        topics = self.query_topics(text, lang=lang)
        if topics:
            record_evidence(session, user_id=user_id, topics=topics, kind="declared", at=at, settings=self.settings)
        return topics

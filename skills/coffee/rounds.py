"""A round: who takes part (the channel's members and those who joined, minus bots, those who
left, the erased and the snoozed), what the pairing is told (past groups, interaction counts,
time zones), and the round and its groups stored before any intro is sent. The interaction
counts come from ``count_ties``, the skill's ingest handler (thread replies and mentions in
public channels).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import time
from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot import people
from bot.context import SkillContext
from bot.db.bulk import chunks
from bot.db.coffee import CoffeeGroup, CoffeeGroupMember, CoffeeMember, CoffeeProgramme, CoffeeRound, CoffeeTie
from bot.db.models import PersonRow
from bot.privacy import forgotten
from skills.coffee import pairing
from skills.coffee.calendar import period_length, period_of, utc, utc_offset
from skills.coffee.pairing_weights import Participant
from skills.coffee.settings import settings_of
from skills.expertise.api import shared_topics


@dataclass(frozen=True)
class NewRound:
    round: CoffeeRound
    result: pairing.PairingResult


def _seed(workspace: str, programme_id: int, period: str) -> int:
    digest = hashlib.sha256(f"{workspace}:{programme_id}:{period}".encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


def person_rows(session: Session, ids: Iterable[str]) -> dict[str, PersonRow]:
    ids = sorted(set(ids))
    out: dict[str, PersonRow] = {}
    for chunk in chunks(ids):
        for r in session.scalars(select(PersonRow).where(PersonRow.user_id.in_(chunk))):
            out[r.user_id] = r
    return out


def participants_of(ctx: SkillContext, p: CoffeeProgramme, at: dt.datetime) -> tuple[list[PersonRow], int]:
    """(the people who take part in a round at ``at``, how many could): the channel's members
    and those who joined, minus bots, deactivated people, those who left and those who said
    "forget me" and have not joined since; the snoozed count as could-take-part but do not take
    part."""
    assert ctx.chat is not None
    members = set(ctx.chat.list_members(p.channel_id))
    choices = ctx.db.scalars(select(CoffeeMember).where(CoffeeMember.programme_id == p.id)).all()
    left = {c.user_id for c in choices if c.status == "left"}
    joined = {c.user_id for c in choices if c.status == "joined"}
    snoozed = {c.user_id for c in choices if c.snoozed_until is not None and utc(c.snoozed_until) > at}
    # "forget me" erased their choices; a choice they made since is a "coffee join".
    left |= forgotten(ctx.db, members - joined)
    ids = sorted((members | joined) - left)
    rows = person_rows(ctx.db, ids)
    unknown = [u for u in ids if u not in rows]
    if unknown:
        rows.update(_look_up(ctx, unknown))
    humans = [rows[u] for u in ids if u in rows and not rows[u].is_bot and not rows[u].deleted]
    return [r for r in humans if r.user_id not in snoozed], len(humans)


def _look_up(ctx: SkillContext, unknown: Sequence[str]) -> dict[str, PersonRow]:
    """People the directory does not hold yet, asked of the platform and stored."""
    assert ctx.chat is not None
    # A large channel of strangers: one directory listing beats thousands of lookups.
    found = ctx.chat.list_users() if len(unknown) > 20 else [x for x in (ctx.chat.lookup_user(u) for u in unknown) if x]
    wanted = set(unknown)
    rows: dict[str, PersonRow] = {}
    for person in found:
        if person.id not in wanted:
            continue
        try:
            with ctx.db.begin_nested():
                row = people.upsert(ctx.db, person)
                ctx.db.flush()
        except IntegrityError:  # another worker added them meanwhile
            row = people.get(ctx.db, person.id)
        if row is not None:
            rows[person.id] = row
    return rows


def _history(session: Session, p: CoffeeProgramme, seq: int, window: int) -> tuple[dict[frozenset[str], int], set[frozenset[str]]]:
    """(pair -> rounds ago within ``window``, every pair that ever met in this programme)."""
    recent: dict[frozenset[str], int] = {}
    ever: set[frozenset[str]] = set()
    q = (
        select(CoffeeRound.seq, CoffeeGroupMember.group_id, CoffeeGroupMember.user_id)
        .join(CoffeeRound, CoffeeRound.id == CoffeeGroupMember.round_id)
        .where(CoffeeRound.programme_id == p.id)
    )
    groups: dict[int, tuple[int, list[str]]] = {}
    for rseq, gid, uid in session.execute(q):
        groups.setdefault(gid, (rseq, []))[1].append(uid)
    for rseq, members in groups.values():
        ago = seq - rseq
        for i, a in enumerate(members):
            for b in members[i + 1 :]:
                pair = frozenset((a, b))
                ever.add(pair)
                if 1 <= ago <= window and (pair not in recent or recent[pair] > ago):
                    recent[pair] = ago
    return recent, ever


def tie_strengths(session: Session, ids: set[str], *, scale: float) -> dict[frozenset[str], float]:
    """Pair -> 0..1 from interaction counts: 1 - exp(-count / scale)."""
    out: dict[frozenset[str], float] = {}
    for a, b, n in session.execute(select(CoffeeTie.user_a, CoffeeTie.user_b, CoffeeTie.interactions)):
        if a in ids and b in ids and n > 0:
            out[frozenset((a, b))] = 1.0 - math.exp(-n / max(scale, 1e-6))
    return out


def start_round(ctx: SkillContext, p: CoffeeProgramme, *, scheduled_for: dt.datetime, manual: bool) -> NewRound | CoffeeRound | int:
    """Pair the programme for the period of ``scheduled_for`` and store the groups (committed).

    Returns the new round, the round that already exists for that period (nothing done), or the
    number of participants when there are too few to pair."""
    cfg = settings_of(ctx)
    period = period_of(p, scheduled_for)
    existing = ctx.db.scalars(select(CoffeeRound).where(CoffeeRound.programme_id == p.id, CoffeeRound.period == period)).first()
    if existing is not None:
        return existing
    now = ctx.clock.now()
    t0 = time.perf_counter()
    who, eligible = participants_of(ctx, p, now)
    if len(who) < max(2, cfg.min_participants):
        return len(who)
    seq = (ctx.db.scalar(select(func.max(CoffeeRound.seq)).where(CoffeeRound.programme_id == p.id)) or 0) + 1
    history, ever = _history(ctx.db, p, seq, cfg.avoid_rounds)
    ids = {r.user_id for r in who}
    ties = tie_strengths(ctx.db, ids, scale=cfg.tie_scale)
    seed = _seed(p.workspace, p.id, period)
    t1 = time.perf_counter()
    result = pairing.make_groups(
        [Participant(r.user_id, r.team, utc_offset(r.tz, scheduled_for)) for r in who],
        seed=seed, group_size=p.group_size, history=history, tie_strength=ties, avoid_rounds=cfg.avoid_rounds,
        max_tz_gap_hours=cfg.max_tz_gap_hours if cfg.max_tz_gap_hours > 0 else None,
    )
    t2 = time.perf_counter()
    team = {r.user_id: r.team for r in who}
    new_ties = _new_ties(result.groups, team, ever, ties)
    rnd = CoffeeRound(
        programme_id=p.id, period=period, seq=seq, seed=seed, scheduled_for=scheduled_for, started_at=now, manual=manual,
        eligible=eligible, participants=len(who), groups=len(result.groups), total_pairs=result.total_pairs,
        cross_team_pairs=result.cross_team_pairs, new_cross_team_ties=new_ties, repeats=result.repeats,
        followup_due_at=scheduled_for + period_length(p) * cfg.followup_after,
    )
    try:
        with ctx.db.begin_nested():
            ctx.db.add(rnd)
            ctx.db.flush()
    except IntegrityError:
        # Another worker stored this period's round between our check and our insert.
        return ctx.db.scalars(select(CoffeeRound).where(CoffeeRound.programme_id == p.id, CoffeeRound.period == period)).one()
    starters = shared_topics(ctx.db, result.groups)
    groups = [CoffeeGroup(round_id=rnd.id, number=i, starter=starters.get(i)) for i, _ in enumerate(result.groups)]
    ctx.db.add_all(groups)
    ctx.db.flush()
    ctx.db.add_all(
        CoffeeGroupMember(group_id=g.id, round_id=rnd.id, user_id=u, team=team[u])
        for g, members in zip(groups, result.groups) for u in members
    )
    ctx.db.commit()  # the round and its groups exist before any intro is sent
    ctx.log.info("coffee round %s of programme %s: %d people, %d groups, %d repeats, %d cross-team pairs of %d "
                 "(inputs %.2f s, pairing %.2f s, storing %.2f s)", period, p.id, len(who), len(result.groups),
                 result.repeats, result.cross_team_pairs, result.total_pairs, t1 - t0, t2 - t1, time.perf_counter() - t2)
    return NewRound(rnd, result)


def _new_ties(groups: Sequence[Sequence[str]], team: dict[str, str | None], ever: set[frozenset[str]],
              ties: dict[frozenset[str], float]) -> int:
    """Pairs of the groups that are a new cross-team tie: different teams, never grouped in this
    programme and no interactions counted."""
    new_ties = 0
    for g in groups:
        for i, a in enumerate(g):
            for b in g[i + 1 :]:
                pair = frozenset((a, b))
                if team[a] and team[b] and team[a] != team[b] and pair not in ever and pair not in ties:
                    new_ties += 1
    return new_ties


def count_ties(batch: Sequence[Any], ctx: SkillContext) -> None:
    """Count who interacts with whom in public channels (a reply in someone's thread, a
    mention): the pairing prefers people with few interactions."""
    counts: dict[tuple[str, str], float] = defaultdict(float)
    last: dict[tuple[str, str], dt.datetime | None] = {}
    for m in batch:
        if m.op != "upsert":
            continue
        others = set(m.mentions)
        if m.parent_user_id and m.thread_ts and m.thread_ts != m.ts:
            others.add(m.parent_user_id)
        others.discard(m.user_id)
        for other in others:
            a, b = sorted((m.user_id, other))
            counts[(a, b)] += 1.0
            when = m.message_time
            if when is not None and (last.get((a, b)) is None or when > last[(a, b)]):
                last[(a, b)] = when
            else:
                last.setdefault((a, b), None)
    if not counts:
        return None
    dialect = ctx.db.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    ws = ctx.workspace.key
    # One statement for the batch's pairs (executemany), not one built and compiled per pair: a
    # backfill's batch of a thousand messages of a large company meets hundreds of pairs.
    T_ = CoffeeTie.__table__
    stmt = insert(T_)
    stmt = stmt.on_conflict_do_update(
        index_elements=["workspace", "user_a", "user_b"],
        set_={"interactions": T_.c.interactions + stmt.excluded.interactions,
              "last_at": func.coalesce(stmt.excluded.last_at, T_.c.last_at)},
    )
    ctx.db.connection().execute(stmt, [
        {"workspace": ws, "user_a": a, "user_b": b, "interactions": n, "last_at": last.get((a, b))}
        for (a, b), n in sorted(counts.items())
    ])
    return None

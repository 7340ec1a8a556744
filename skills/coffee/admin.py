"""What HR admins do with a programme: ``cadence`` (which starts a programme in its channel),
``size``, ``pause`` (until a date or not), ``resume``, ``run now`` and ``stats`` (aggregates
of the last rounds, with the chart the network-health skill draws).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.context import SkillContext
from bot.db.coffee import CoffeeGroupMember, CoffeeProgramme, CoffeeRound
from bot.dispatch import reply
from bot.events import Reply
from skills.coffee.calendar import fmt_when, is_paused, schedule_text, utc
from skills.coffee.commands import DAY_WORDS, Command
from skills.coffee.delivery import send_intros
from skills.coffee.programmes import next_text, programme_for, programme_name
from skills.coffee.rounds import start_round
from skills.coffee.settings import CoffeeSettings
from skills.coffee.text import T


def _nudge_scheduler(ctx: SkillContext) -> None:
    # The leader (maybe another process) picks the change up within scheduler.sync_seconds;
    # when it runs here, it does so at once.
    if "scheduler" in ctx.services and ctx.services.built("scheduler"):
        ctx.service("scheduler").request_sync()


def set_cadence(event: Any, ctx: SkillContext, cmd: Command, cfg: CoffeeSettings) -> Reply:
    conv = event.conversation
    p = None
    if conv.kind in ("channel", "private"):
        p = ctx.db.scalars(select(CoffeeProgramme).where(CoffeeProgramme.channel_id == conv.id)).first()
    elif cmd.channel:
        found = programme_for(ctx, event, cmd.channel)
        if isinstance(found, Reply):
            return reply(ctx, ctx.t(T, "need_channel"), private=True)
        p = found
    else:
        return reply(ctx, ctx.t(T, "need_channel"), private=True)
    now = ctx.clock.now()
    if p is None:
        default_h, default_m = (int(x) for x in cfg.default_time.split(":"))
        tz = cfg.default_timezone
        if ctx.sender is not None and ctx.sender.tz:
            try:
                ZoneInfo(ctx.sender.tz)
                tz = ctx.sender.tz
            except (ZoneInfoNotFoundError, ValueError):
                pass
        p = CoffeeProgramme(
            channel_id=conv.id, channel_name=conv.name, weekday=DAY_WORDS.get(cfg.default_weekday.lower(), 0),
            hour=default_h, minute=default_m, tz=tz, group_size=cfg.group_size, created_at=now,
        )
        ctx.db.add(p)
    p.cadence = cmd.cadence or "weekly"
    if cmd.weekday is not None:
        p.weekday = cmd.weekday
    if cmd.time is not None:
        p.hour, p.minute = cmd.time
    if cmd.tz is not None:
        p.tz = cmd.tz
    if conv.name and p.channel_id == conv.id:
        p.channel_name = conv.name
    p.updated_at = now
    ctx.db.flush()
    ctx.db.commit()  # so the scheduler's reconciliation sees it at once
    _nudge_scheduler(ctx)
    return reply(ctx, ctx.t(T, "cadence_set", channel=programme_name(p), schedule=schedule_text(ctx.lang, p), size=p.group_size,
                            next=next_text(ctx, p)))


def set_size(ctx: SkillContext, p: CoffeeProgramme, cmd: Command, cfg: CoffeeSettings) -> Reply:
    p.group_size = cmd.size or 2
    p.updated_at = ctx.clock.now()
    return reply(ctx, ctx.t(T, "size_set", channel=programme_name(p), size=p.group_size))


def pause(ctx: SkillContext, p: CoffeeProgramme, cmd: Command, cfg: CoffeeSettings) -> Reply:
    today = ctx.clock.now().astimezone(ZoneInfo(p.tz)).date()
    if cmd.until is not None and cmd.until <= today:
        return reply(ctx, ctx.t(T, "bad", problem=ctx.t(T, "date_past", date=cmd.until.isoformat()), usage=ctx.t(T, "usage")), private=True)
    p.paused, p.paused_until, p.updated_at = True, cmd.until, ctx.clock.now()
    if cmd.until is None:
        return reply(ctx, ctx.t(T, "paused", channel=programme_name(p)))
    return reply(ctx, ctx.t(T, "paused_until", channel=programme_name(p), date=cmd.until.isoformat()))


def resume(ctx: SkillContext, p: CoffeeProgramme, cmd: Command, cfg: CoffeeSettings) -> Reply:
    if not is_paused(p, ctx.clock.now()):
        return reply(ctx, ctx.t(T, "not_paused", channel=programme_name(p), next=next_text(ctx, p)))
    p.paused, p.paused_until, p.updated_at = False, None, ctx.clock.now()
    return reply(ctx, ctx.t(T, "resumed", channel=programme_name(p), next=next_text(ctx, p)))


@dataclass(frozen=True)
class RoundStats:
    period: str
    eligible: int
    participants: int
    groups: int
    answered: int
    met: int
    new_ties: int
    cross_team_pairs: int
    total_pairs: int


def round_stats(session: Session, p: CoffeeProgramme, *, limit: int) -> list[RoundStats]:
    """Aggregates of the last ``limit`` rounds, newest first: no names, only counts."""
    rounds = session.scalars(
        select(CoffeeRound).where(CoffeeRound.programme_id == p.id).order_by(CoffeeRound.seq.desc()).limit(limit)
    ).all()
    out = []
    for r in rounds:
        answers: dict[int, list[bool]] = defaultdict(list)
        for gid, met in session.execute(
            select(CoffeeGroupMember.group_id, CoffeeGroupMember.met).where(
                CoffeeGroupMember.round_id == r.id, CoffeeGroupMember.met.is_not(None))
        ):
            answers[gid].append(bool(met))
        met = sum(1 for v in answers.values() if any(v))
        out.append(RoundStats(r.period, r.eligible, r.participants, r.groups, len(answers), met,
                              r.new_cross_team_ties, r.cross_team_pairs, r.total_pairs))
    return out


def stats(ctx: SkillContext, p: CoffeeProgramme, cmd: Command, cfg: CoffeeSettings) -> Reply:
    rows = round_stats(ctx.db, p, limit=cfg.stats_rounds)
    if not rows:
        return reply(ctx, ctx.t(T, "stats_none", channel=programme_name(p)), private=True)
    lines = [ctx.t(T, "stats_title", channel=programme_name(p))]
    for r in rows:
        met_part = (ctx.t(T, "met_part", rate=f"{100 * r.met / r.answered:.0f} %", met=r.met, count=r.answered)
                    if r.answered else ctx.t(T, "no_rate"))
        lines.append(ctx.t(T, "stats_line", period=r.period, participants=r.participants, eligible=r.eligible,
                           groups=ctx.t(T, "n_groups", count=r.groups), met_part=met_part,
                           new_ties=ctx.t(T, "n_ties", count=r.new_ties)))
    files: tuple = ()
    if "insights.coffee_chart" in ctx.services:  # the network-health skill draws the rounds' chart
        files = (ctx.service("insights.coffee_chart")(programme_name(p), rows[::-1], ctx.lang),)
    return reply(ctx, "\n".join(lines), private=True, files=files)


def run_now(ctx: SkillContext, p: CoffeeProgramme, cmd: Command, cfg: CoffeeSettings) -> Reply:
    now = ctx.clock.now()
    if is_paused(p, now):
        return reply(ctx, ctx.t(T, "run_paused", channel=programme_name(p)), private=True)
    if ctx.chat is None:
        return reply(ctx, ctx.t(T, "no_chat"), private=True)
    outcome = start_round(ctx, p, scheduled_for=now, manual=True)
    if isinstance(outcome, CoffeeRound):
        existing = outcome
        return reply(ctx, ctx.t(T, "run_exists", period=existing.period, date=fmt_when(ctx.lang, utc(existing.started_at), p.tz),
                                next=next_text(ctx, p)), private=True)
    if isinstance(outcome, int):
        return reply(ctx, ctx.t(T, "too_few", count=outcome, channel=programme_name(p), min=max(2, cfg.min_participants)), private=True)
    rnd = outcome.round
    sent, failed = send_intros(ctx, rnd, cfg)
    failed_text = ctx.t(T, "run_failed_part", count=failed) if failed else ""
    return reply(ctx, ctx.t(T, "run_done", period=rnd.period, channel=programme_name(p), participants=rnd.participants,
                            groups=ctx.t(T, "n_groups", count=rnd.groups), sent=ctx.t(T, "n_intros", count=sent),
                            failed=failed_text))

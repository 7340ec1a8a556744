"""What everyone does with a programme: ``join``, ``leave``, ``snooze 2 weeks`` and ``status``
(also the Home tab's section), the "Yes, we met" / "Not yet" buttons of a follow-up, and the
welcome of someone who joins a programme's channel.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, select

from bot.context import SkillContext
from bot.db.coffee import CoffeeGroup, CoffeeGroupMember, CoffeeMember, CoffeeProgramme, CoffeeRound
from bot.dispatch import reply
from bot.events import ActionInvoked, DirectMessage, MemberJoined, Reply
from bot.ports import ChatError
from bot.privacy import forgotten
from skills.coffee.calendar import fmt_when, is_paused, schedule_text, utc
from skills.coffee.commands import Command
from skills.coffee.programmes import member_row, next_text, programme_name
from skills.coffee.settings import CoffeeSettings
from skills.coffee.text import T


def join(ctx: SkillContext, p: CoffeeProgramme, cmd: Command, cfg: CoffeeSettings) -> Reply:
    uid = ctx.event.sender.id
    row = member_row(ctx, p, uid)
    now = ctx.clock.now()
    if row is not None and row.status == "joined" and not (row.snoozed_until and utc(row.snoozed_until) > now):
        return reply(ctx, ctx.t(T, "already_in", channel=programme_name(p), next=next_text(ctx, p)), private=True)
    if row is None:
        row = CoffeeMember(programme_id=p.id, user_id=uid)
        ctx.db.add(row)
    row.status, row.snoozed_until, row.updated_at = "joined", None, now
    return reply(ctx, ctx.t(T, "joined", channel=programme_name(p), next=next_text(ctx, p)), private=True)


def leave(ctx: SkillContext, p: CoffeeProgramme, cmd: Command, cfg: CoffeeSettings) -> Reply:
    uid = ctx.event.sender.id
    row = member_row(ctx, p, uid)
    if row is not None and row.status == "left":
        return reply(ctx, ctx.t(T, "already_out", channel=programme_name(p)), private=True)
    if row is None:
        row = CoffeeMember(programme_id=p.id, user_id=uid)
        ctx.db.add(row)
    row.status, row.snoozed_until, row.updated_at = "left", None, ctx.clock.now()
    return reply(ctx, ctx.t(T, "left", channel=programme_name(p)), private=True)


def snooze(ctx: SkillContext, p: CoffeeProgramme, cmd: Command, cfg: CoffeeSettings) -> Reply:
    uid = ctx.event.sender.id
    row = member_row(ctx, p, uid)
    now = ctx.clock.now()
    if row is None:
        row = CoffeeMember(programme_id=p.id, user_id=uid, status="joined")
        ctx.db.add(row)
    row.snoozed_until = now + dt.timedelta(days=cmd.days or 7)
    row.updated_at = now
    return reply(ctx, ctx.t(T, "snoozed", channel=programme_name(p), date=fmt_when(ctx.lang, utc(row.snoozed_until), p.tz)), private=True)


def _in_channel(ctx: SkillContext, p: CoffeeProgramme, user_id: str) -> bool:
    if ctx.chat is None:
        return True
    try:
        return user_id in set(ctx.chat.list_members(p.channel_id))
    except ChatError:
        return True  # the platform did not answer; do not tell someone they are out by mistake


def _status_lines(ctx: SkillContext, p: CoffeeProgramme, user_id: str) -> list[str]:
    """The programme's schedule and where ``user_id`` stands in it (status and the Home tab)."""
    now = ctx.clock.now()
    paused = ""
    if is_paused(p, now):
        until = ctx.t(T, "status_until", date=p.paused_until.isoformat()) if p.paused_until else ""
        paused = ctx.t(T, "status_paused", until=until)
    lines = [ctx.t(T, "status", channel=programme_name(p), schedule=schedule_text(ctx.lang, p), size=p.group_size, paused=paused,
                   next=next_text(ctx, p))]
    row = member_row(ctx, p, user_id)
    if (row is not None and row.status == "left") or (row is None and forgotten(ctx.db, [user_id])):
        lines.append(ctx.t(T, "status_you_out"))
    elif row is None and not _in_channel(ctx, p, user_id):
        lines.append(ctx.t(T, "status_you_not_member", channel=programme_name(p)))
    elif row is not None and row.snoozed_until and utc(row.snoozed_until) > now:
        lines.append(ctx.t(T, "status_you_snoozed", date=fmt_when(ctx.lang, utc(row.snoozed_until), p.tz)))
    else:
        lines.append(ctx.t(T, "status_you_in"))
    return lines


def home_section(event: Any, ctx: SkillContext) -> str | None:
    """The Home tab: each coffee programme and the person's place in it."""
    programmes = ctx.db.scalars(select(CoffeeProgramme).order_by(CoffeeProgramme.id)).all()
    return "\n\n".join("\n".join(_status_lines(ctx, p, event.sender.id)) for p in programmes) or None


def status(ctx: SkillContext, p: CoffeeProgramme, cmd: Command, cfg: CoffeeSettings) -> Reply:
    lines = _status_lines(ctx, p, ctx.event.sender.id)
    if ctx.is_admin():
        last = ctx.db.scalars(select(CoffeeRound).where(CoffeeRound.programme_id == p.id).order_by(CoffeeRound.seq.desc())).first()
        if last is None:
            lines.append(ctx.t(T, "status_no_round"))
        else:
            sent = ctx.db.scalar(select(func.count()).select_from(CoffeeGroup).where(
                CoffeeGroup.round_id == last.id, CoffeeGroup.intro_sent_at.is_not(None))) or 0
            followups = ctx.db.scalar(select(func.count()).select_from(CoffeeGroup).where(
                CoffeeGroup.round_id == last.id, CoffeeGroup.followup_sent_at.is_not(None))) or 0
            lines.append(ctx.t(T, "status_admin", period=last.period, participants=last.participants, groups=last.groups,
                               n_groups=ctx.t(T, "n_groups", count=last.groups),
                               sent=sent, followups=followups))
    return reply(ctx, "\n".join(lines), private=True)


def answer(event: ActionInvoked, ctx: SkillContext) -> Reply | None:
    """A press on "Yes, we met" / "Not yet"."""
    if event.action_id not in ("coffee.met", "coffee.not_met"):
        return None
    try:
        group_id = int(event.value)
    except ValueError:
        return reply(ctx, ctx.t(T, "answer_unknown"), private=True)
    row = ctx.db.scalars(
        select(CoffeeGroupMember).where(CoffeeGroupMember.group_id == group_id, CoffeeGroupMember.user_id == event.sender.id)
    ).first()
    if row is None:
        return reply(ctx, ctx.t(T, "answer_unknown"), private=True)
    row.met = event.action_id == "coffee.met"
    row.answered_at = ctx.clock.now()
    return reply(ctx, ctx.t(T, "answer_met" if row.met else "answer_not_met"), private=True)


def welcome(event: MemberJoined, ctx: SkillContext) -> DirectMessage | None:
    """Someone joined a programme's channel: they take part from the next round; tell them."""
    if event.person.is_bot:
        return None
    p = ctx.db.scalars(select(CoffeeProgramme).where(CoffeeProgramme.channel_id == event.conversation.id)).first()
    if p is None:
        return None
    row = member_row(ctx, p, event.person.id)
    if row is not None and row.status == "left":
        return None  # they opted out before; joining the channel again does not undo that
    if row is None and forgotten(ctx.db, [event.person.id]):
        return None  # they said "forget me": only "coffee join" brings them back
    if row is None:
        ctx.db.add(CoffeeMember(programme_id=p.id, user_id=event.person.id, status="joined", updated_at=ctx.clock.now()))
    return DirectMessage(event.person.id, ctx.t(T, "welcome", channel=programme_name(p), schedule=schedule_text(ctx.lang, p),
                                                next=next_text(ctx, p)))

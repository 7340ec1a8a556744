"""Finding the programme a coffee command is about (the channel it was said in, a channel it
names, or the only programme), a person's row in it, and the bits of wording every answer
shares: the programme's channel name and when its next round runs.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from bot.context import SkillContext
from bot.db.coffee import CoffeeMember, CoffeeProgramme
from bot.dispatch import reply
from bot.events import Reply
from skills.coffee.calendar import fmt_when, next_round_at
from skills.coffee.text import T


def programme_for(ctx: SkillContext, event: Any, channel: str | None) -> CoffeeProgramme | Reply:
    rows = ctx.db.scalars(select(CoffeeProgramme).order_by(CoffeeProgramme.id)).all()
    if channel:
        for p in rows:
            if channel in (p.channel_id, p.channel_name):
                return p
        return reply(ctx, ctx.t(T, "no_programme"), private=True) if not rows else reply(
            ctx, ctx.t(T, "which_programme", names=", ".join(f"#{p.channel_name or p.channel_id}" for p in rows),
                       first=rows[0].channel_name or rows[0].channel_id), private=True)
    conv = event.conversation
    if conv.kind in ("channel", "private"):
        for p in rows:
            if p.channel_id == conv.id:
                return p
        return reply(ctx, ctx.t(T, "no_programme_here"), private=True)
    if len(rows) == 1:
        return rows[0]
    if not rows:
        return reply(ctx, ctx.t(T, "no_programme"), private=True)
    return reply(ctx, ctx.t(T, "which_programme", names=", ".join(f"#{p.channel_name or p.channel_id}" for p in rows),
                            first=rows[0].channel_name or rows[0].channel_id), private=True)


def programme_name(p: CoffeeProgramme) -> str:
    return p.channel_name or p.channel_id


def next_text(ctx: SkillContext, p: CoffeeProgramme) -> str:
    return fmt_when(ctx.lang, next_round_at(ctx.db, p, ctx.clock.now()), p.tz)


def member_row(ctx: SkillContext, p: CoffeeProgramme, user_id: str) -> CoffeeMember | None:
    return ctx.db.scalars(
        select(CoffeeMember).where(CoffeeMember.programme_id == p.id, CoffeeMember.user_id == user_id)
    ).first()

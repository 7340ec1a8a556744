"""The routing skill's scheduled work and its offer to other skills.

``routing.sweep`` (a cron job of the scheduler, every few minutes, durable like every job):
sends the offers that waited for their person's working hours, closes the questions nobody took
within ``expertise.route_timeout_hours`` working hours (the asker is offered a coffee with an
expert), offers the asker a one-click "Thank NAME" a while after "I can help", and forgets
answers nobody routed after a week. Each step is a conditional UPDATE, so a repeated run (a new
leader catching up) acts once.

``services`` registers the job and the service "routing" (``offer.py``), built once with the
[expertise] settings it needs."""

from __future__ import annotations

import datetime as dt
from functools import partial
from typing import Any

from sqlalchemy import delete, select, update

from bot import people
from bot.config import ConfigError
from bot.context import SkillContext
from bot.db.routing import RoutedQuestion, RoutingOffer
from bot.events import Button, DirectMessage, GroupMessage, Outbound, ScheduledTick
from skills.coffee.api import in_a_programme
from skills.routing import store
from skills.routing.delivery import deliver_due, edit, lang_of
from skills.routing.handlers import coffee_proposal
from skills.routing.offer import RoutingService
from skills.routing.routes import SWEEP_JOB, routes
from skills.routing.store import settings_of, topic_label
from skills.routing.text import T

FORGET_UNROUTED_AFTER = dt.timedelta(days=7)


@routes.schedule(SWEEP_JOB)
def sweep(tick: ScheduledTick, ctx: SkillContext) -> list[Outbound]:
    """Due offers, timeouts, thanks prompts, old unrouted answers."""
    now = ctx.clock.now()
    deliver_due(ctx)
    out: list[Outbound] = []
    out += _expire(ctx, now)
    out += _offer_thanks(ctx, now)
    ctx.db.execute(delete(RoutedQuestion).where(RoutedQuestion.state == "offered",
                                                RoutedQuestion.created_at < now - FORGET_UNROUTED_AFTER)
                   .execution_options(synchronize_session=False))
    return out


def _expire(ctx: SkillContext, now: dt.datetime) -> list[Outbound]:
    out: list[Outbound] = []
    due = ctx.db.scalars(select(RoutedQuestion).where(RoutedQuestion.state == "open", RoutedQuestion.deadline_at <= now)
                         .order_by(RoutedQuestion.id)).all()
    for q in due:
        sent = ctx.db.scalars(select(RoutingOffer).where(RoutingOffer.question_id == q.id,
                                                         RoutingOffer.state == "sent")).all()
        if not store.close(ctx.db, q, state="expired", now=now):
            continue
        for offer in sent:
            lang = lang_of(ctx.db, offer.expert_id, ctx.settings.bot.default_language)
            edit(ctx, offer, T.get(lang, "closed_offer", topics=topic_label(q)))
        out.append(coffee_proposal(ctx, q, "timeout"))
    return out


def _offer_thanks(ctx: SkillContext, now: dt.datetime) -> list[Outbound]:
    after = dt.timedelta(hours=settings_of(ctx).route_thanks_after_hours)
    due = ctx.db.scalars(select(RoutedQuestion).where(RoutedQuestion.state == "accepted",
                                                      RoutedQuestion.thanks_offered_at.is_(None),
                                                      RoutedQuestion.accepted_at <= now - after)).all()
    out: list[Outbound] = []
    for q in due:
        if not q.helper_id or not store.mark_thanks_offered(ctx.db, q, now=now):
            continue
        lang = q.lang or ctx.settings.bot.default_language
        helper = people.get(ctx.db, q.helper_id)
        name = helper.name if helper is not None and helper.name else f"<@{q.helper_id}>"
        out.append(DirectMessage(q.asker_id, T.get(lang, "thanks_prompt", helper=f"<@{q.helper_id}>", topics=topic_label(q)),
                                 (Button(T.get(lang, "btn_thank", helper=name), "routing.thank", str(q.id), "primary"),)))
    return out


def coffee_with_expert(ctx: SkillContext, q: RoutedQuestion) -> list[Outbound]:
    """"Find me a coffee with an expert", at once: someone strong on the question's topics, from
    another team, who has accepted routed questions before (else the strongest from another
    team), and who has not asked for no questions; once per question."""
    if q.state not in ("expired", "closed"):
        return [DirectMessage(q.asker_id, ctx.t(T, "coffee_nobody", topics=topic_label(q)))] if q.state == "open" else []
    expert = _coffee_expert(ctx, q)
    if expert is None:
        return [DirectMessage(q.asker_id, ctx.t(T, "coffee_nobody", topics=topic_label(q)))]
    moved = ctx.db.execute(
        update(RoutedQuestion).where(RoutedQuestion.id == q.id, RoutedQuestion.state.in_(("expired", "closed")))
        .values(state="coffee", helper_id=expert).execution_options(synchronize_session=False)).rowcount == 1
    if not moved:
        return []
    lang = q.lang or ctx.settings.bot.default_language
    intro = T.get(lang, "coffee_intro", asker=f"<@{q.asker_id}>", expert=f"<@{expert}>", topics=topic_label(q))
    return [GroupMessage((q.asker_id, expert), intro, key=f"routing.coffee.{q.id}"),
            DirectMessage(q.asker_id, T.get(lang, "coffee_done", expert=f"<@{expert}>"))]


def _coffee_expert(ctx: SkillContext, q: RoutedQuestion) -> str | None:
    if "expertise" not in ctx.services:
        return None
    _, experts = ctx.service("expertise").ask(ctx.db, text=q.question, asker=q.asker_id, now=ctx.clock.now(),
                                              lang=q.lang, limit=20, details=False)
    outside = [e.user_id for e in experts if e.matched and e.outside_team]
    outside = [u for u in outside if u not in store.opted_out(ctx.db, outside)]
    if not outside:
        return None
    # Someone who has accepted routed questions, or who takes part in a coffee programme: people
    # who said yes to meeting colleagues; the strongest of them first.
    helped = set(ctx.db.scalars(select(RoutingOffer.expert_id).where(RoutingOffer.expert_id.in_(outside),
                                                                      RoutingOffer.state == "accepted")))
    willing = helped | in_a_programme(ctx, set(outside) - helped)
    return next((u for u in outside if u in willing), None)


def services(app: Any) -> dict[str, Any]:
    """The hooks, and the sweep job (every five minutes, in every workspace)."""
    from bot import scheduler

    cfg = app.settings.section("expertise", store.ExpertiseSettings)
    store.hours_of(cfg)  # a working-hours setting that cannot be used stops the start here
    for name in ("route_to", "route_weekly_cap", "route_timeout_hours"):
        if not getattr(cfg, name) > 0:
            raise ConfigError(f"expertise.{name} must be more than 0, not {getattr(cfg, name)}")
    scheduler.register_cron(app, SWEEP_JOB, "*/5 * * * *", grace_seconds=6 * 3600)
    return {"routing": partial(RoutingService, cfg)}

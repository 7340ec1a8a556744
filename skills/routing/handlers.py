"""What people do with routed questions: "Ask them for me" (the button under a who-knows answer,
or "ask them" / "demande-leur" typed right after it, with an optional line of context), the
experts' "I can help" / "Not me" / "Not now", "don't send me questions" and its undo, and the
admins' "routing stats"."""

from __future__ import annotations

import datetime as dt
from typing import Any, Sequence

from sqlalchemy import select

from bot import people
from bot.context import SkillContext
from bot.db.routing import RoutedQuestion, RoutingOffer
from bot.dispatch import reply
from bot.events import ActionInvoked, Button, DirectMessage, GroupMessage, Outbound, Reply
from bot.i18n import join_names, month_name
from skills.expertise.api import EvidenceRef, record_answered
from skills.routing import store
from skills.routing.delivery import deliver_due, edit, lang_of
from skills.routing.hours import add_working_hours, aware
from skills.routing.routes import routes
from skills.routing.store import settings_of, topic_label
from skills.routing.text import T

# "ask them" counts as being said right after the answer within this time.
ASK_AGAIN_WITHIN = dt.timedelta(hours=2)


def names(ids: Sequence[str], lang: str) -> str:
    return join_names(lang, [f"<@{u}>" for u in ids])


@routes.message(en=[r"ask them(?:\s+for me)?(?:\s*[:,—–-]\s*(?P<context>.+))?"],
                fr=[r"demande[- ]leur(?:\s+pour moi)?(?:\s*[:,—–-]\s*(?P<context>.+))?"], priority=9)
def ask_them(event: Any, ctx: SkillContext) -> Reply:
    """ask them [: context] / demande-leur [: contexte] — right after a who-knows answer."""
    asker = ctx.sender.user_id if ctx.sender is not None else event.sender.id
    q = store.latest_offered(ctx.db, asker, since=ctx.clock.now() - ASK_AGAIN_WITHIN)
    if q is None:
        return reply(ctx, ctx.t(T, "nothing_to_route"), private=True)
    return route_question(ctx, q, context=ctx.match.get("context"))


def route_question(ctx: SkillContext, q: RoutedQuestion, *, context: str | None) -> Reply:
    """offered → open: offers to the first ``route_to`` people who may be asked, sent now to
    those in their working hours (the others' wait for their morning, in the sweep)."""
    sender = ctx.sender.user_id if ctx.sender is not None else ctx.event.sender.id
    if q.asker_id != sender:
        return reply(ctx, ctx.t(T, "not_yours"), private=True)
    cfg, now = settings_of(ctx), ctx.clock.now()
    asker = people.get(ctx.db, q.asker_id)
    deadline = add_working_hours(now, cfg.route_timeout_hours, asker.tz if asker else None, store.hours_of(cfg))
    if not store.start_routing(ctx.db, q, context=(context or "").strip()[:500] or None, deadline=deadline, now=now):
        return reply(ctx, ctx.t(T, "already_routed"), private=True)
    offers = store.add_offers(ctx.db, q, cfg, cfg.route_to, now=now)
    if not offers:
        store.close(ctx.db, q, state="closed", now=now)
        return reply(ctx, ctx.t(T, "asked_nobody"), private=True)
    deliver_due(ctx, q.id)
    later = [o.expert_id for o in offers if aware(o.not_before) > now]
    if len(later) == len(offers):  # nothing went out yet: say so, not "I've sent"
        return reply(ctx, ctx.t(T, "asked_all_later", names=names(later, ctx.lang)), private=True)
    text = ctx.t(T, "asked", names=names([o.expert_id for o in offers], ctx.lang),
                 later=ctx.t(T, "asked_later", names=names(later, ctx.lang)) if later else "")
    return reply(ctx, text, private=True)


# ---- buttons -----------------------------------------------------------------------------------


@routes.action("routing.")
def button(event: ActionInvoked, ctx: SkillContext) -> list[Outbound] | Reply | None:
    """Every routing button: offer, accept, decline, pass, coffee, thank."""
    kind = event.action_id.removeprefix("routing.")
    try:
        ident = int(event.value)
    except ValueError:
        return reply(ctx, ctx.t(T, "not_yours"), private=True)
    if kind in ("offer", "coffee", "thank"):
        q = ctx.db.get(RoutedQuestion, ident)
        if q is None or q.asker_id != event.sender.id:
            return reply(ctx, ctx.t(T, "not_yours"), private=True)
        ctx.lang = q.lang or ctx.lang
        if kind == "offer":
            return route_question(ctx, q, context=None)
        if kind == "coffee":
            from skills.routing.jobs import coffee_with_expert

            return coffee_with_expert(ctx, q)
        return thank_helper(ctx, q)
    offer = ctx.db.get(RoutingOffer, ident)
    if offer is None or offer.expert_id != event.sender.id or kind not in ("accept", "decline", "pass"):
        return reply(ctx, ctx.t(T, "not_yours"), private=True)
    q = ctx.db.get(RoutedQuestion, offer.question_id)
    ctx.lang = lang_of(ctx.db, offer.expert_id, ctx.lang)
    if kind == "accept":
        return _accept(ctx, q, offer)
    return _decline_or_pass(ctx, q, offer, kind)


def _accept(ctx: SkillContext, q: RoutedQuestion, offer: RoutingOffer) -> list[Outbound] | Reply:
    cfg, now = settings_of(ctx), ctx.clock.now()
    others = ctx.db.scalars(select(RoutingOffer).where(RoutingOffer.question_id == q.id, RoutingOffer.id != offer.id,
                                                       RoutingOffer.state == "sent")).all()
    if not store.accept(ctx.db, q, offer, now=now):
        return _too_late(ctx, q, offer)
    # The best evidence the index can get: this person helps on these topics, first-hand.
    record_answered(ctx.db, user_id=offer.expert_id, topics=q.topics or [], at=now, weight=cfg.route_answered_weight,
                    ref=EvidenceRef(conversation_id="routing", ts=f"question:{q.id}"), settings=cfg)
    ctx.db.commit()
    edit(ctx, offer, ctx.t(T, "accepted_you", asker=f"<@{q.asker_id}>", topics=topic_label(q)))
    for other in others:
        lang = lang_of(ctx.db, other.expert_id, ctx.settings.bot.default_language)
        edit(ctx, other, T.get(lang, "taken", helper=f"<@{offer.expert_id}>", asker=f"<@{q.asker_id}>",
                                    topics=topic_label(q)))
    lang = q.lang or ctx.settings.bot.default_language
    context = T.get(lang, "offer_context", context=q.context) if q.context else ""
    link = T.get(lang, "offer_link", url=q.permalink) if q.permalink else ""
    intro = T.get(lang, "intro", asker=f"<@{q.asker_id}>", helper=f"<@{offer.expert_id}>", topics=topic_label(q),
                  question=q.question, context=context, link=link)
    return [GroupMessage((q.asker_id, offer.expert_id), intro, key=f"routing.intro.{q.id}")]


def _too_late(ctx: SkillContext, q: RoutedQuestion, offer: RoutingOffer) -> Reply:
    """A click on an offer that is no longer open (a retry, a second click, someone faster)."""
    ctx.db.refresh(offer)
    if offer.state == "accepted":
        return reply(ctx, ctx.t(T, "answered_already"), private=True)
    if q.state == "accepted" and q.helper_id:
        return reply(ctx, ctx.t(T, "taken", helper=f"<@{q.helper_id}>", asker=f"<@{q.asker_id}>",
                                topics=topic_label(q)), private=True)
    if offer.state in ("declined", "passed"):
        return reply(ctx, ctx.t(T, "answered_already"), private=True)
    return reply(ctx, ctx.t(T, "closed_offer", topics=topic_label(q)), private=True)


def _decline_or_pass(ctx: SkillContext, q: RoutedQuestion, offer: RoutingOffer, kind: str) -> list[Outbound] | Reply:
    """"Not me": no more questions on these topics for a while, and lower in this asker's
    answers; "Not now": nothing recorded. Either way the next person of the answer is asked."""
    cfg, now = settings_of(ctx), ctx.clock.now()
    if not store.answer(ctx.db, offer, "declined" if kind == "decline" else "passed", now=now):
        return _too_late(ctx, q, offer)
    if kind == "decline":
        store.record_not_me(ctx.db, q, offer.expert_id, now=now)
        edit(ctx, offer, ctx.t(T, "declined_you", topics=topic_label(q), days=cfg.not_me_days))
    else:
        edit(ctx, offer, ctx.t(T, "passed_you"))
    return pass_on(ctx, q)


def pass_on(ctx: SkillContext, q: RoutedQuestion) -> list[Outbound]:
    """The next person of the answer; nobody left and nothing outstanding: the asker is told,
    with the coffee-with-an-expert option."""
    cfg, now = settings_of(ctx), ctx.clock.now()
    ctx.db.refresh(q)
    if q.state != "open":
        return []
    if store.add_offers(ctx.db, q, cfg, 1, now=now):
        deliver_due(ctx, q.id)
        return []
    if store.outstanding(ctx.db, q) or not store.close(ctx.db, q, state="closed", now=now):
        return []
    return [coffee_proposal(ctx, q, "exhausted")]


def coffee_proposal(ctx: SkillContext, q: RoutedQuestion, key: str) -> DirectMessage:
    lang = q.lang or ctx.settings.bot.default_language
    return DirectMessage(q.asker_id, T.get(lang, key, topics=topic_label(q)),
                         (Button(T.get(lang, "btn_coffee"), "routing.coffee", str(q.id), "primary"),))


def thank_helper(ctx: SkillContext, q: RoutedQuestion) -> Any:
    """"Thank NAME": the existing thanks, as if the asker had typed ``/thanks @helper for …``
    (same rules, daily cap and DM), through the router: no other skill is imported."""
    from bot.events import CommandInvoked

    if q.state != "accepted" or not q.helper_id:
        return reply(ctx, ctx.t(T, "not_yours"), private=True)
    command = "merci" if ctx.lang == "fr" else "thanks"
    text = f"<@{q.helper_id}> {'pour' if ctx.lang == 'fr' else 'for'} {ctx.t(T, 'thanks_reason', topics=topic_label(q))}"
    match = ctx.router.match_command(command, text)
    if match is None:
        return reply(ctx, ctx.t(T, "thanks_off"), private=True)
    event = ctx.event
    ctx.event = CommandInvoked(event.workspace, event.conversation, event.sender, command, text,
                               event_id=f"routing-thanks:{q.id}")
    ctx.args = match.args
    return match.route.handler(ctx.event, ctx)


# ---- opting out, and the admins' figures ----------------------------------------------------------


@routes.message(en=[r"(?:please\s+)?(?:don['’]?t|do not|stop)\s+(?:send(?:ing)?|rout(?:e|ing))\s+me\s+(?:any\s+)?questions"],
                fr=[r"ne m['’]envoie(?:z)? plus (?:de )?questions", r"arr[êe]te[sz]? de m['’]envoyer des questions"],
                priority=10)
def stop_questions(event: Any, ctx: SkillContext) -> Reply:
    """don't send me questions / ne m'envoie plus de questions"""
    user = ctx.sender.user_id if ctx.sender is not None else event.sender.id
    changed = store.update_or_insert_opt_out(ctx.db, user, out=True, now=ctx.clock.now())
    return reply(ctx, ctx.t(T, "opted_out" if changed else "already_out"), private=True)


@routes.message(en=[r"(?:you can\s+)?send me questions(?: again)?", r"(?:start|resume) (?:sending|routing) me questions"],
                fr=[r"envoie(?:z)?[- ]moi (?:à nouveau |de nouveau )?des questions(?: (?:à|a) nouveau)?"], priority=10)
def start_questions(event: Any, ctx: SkillContext) -> Reply:
    """send me questions again / envoie-moi des questions"""
    user = ctx.sender.user_id if ctx.sender is not None else event.sender.id
    changed = store.update_or_insert_opt_out(ctx.db, user, out=False, now=ctx.clock.now())
    return reply(ctx, ctx.t(T, "opted_in" if changed else "already_in", cap=settings_of(ctx).route_weekly_cap),
                 private=True)


@routes.message(en=[r"(?:the\s+)?rout(?:ing|ed questions?)\s+stat(?:s|istics)"],
                fr=[r"(?:les\s+)?statistiques\s+de\s+routage", r"stats?\s+de\s+routage"], admin=True)
def routing_stats(event: Any, ctx: SkillContext) -> Reply:
    """routing stats / statistiques de routage: per month, aggregates only."""
    rows = store.stats(ctx.db)
    if not rows:
        return reply(ctx, ctx.t(T, "stats_none"), private=True)
    lines = [ctx.t(T, "stats_title")]
    for m in rows:
        year, month = m.month.split("-")
        label = f"{month_name(ctx.lang, int(month), 'abbreviated')} {year}"
        lines.append(ctx.t(T, "stats_line", month=label, routed=m.routed, accepted=m.accepted,
                           median=_duration(ctx, m.median_seconds)))
    return reply(ctx, "\n".join(lines), private=True)


def _duration(ctx: SkillContext, seconds: float | None) -> str:
    if seconds is None:
        return ctx.t(T, "no_median")
    minutes = int(round(seconds / 60))
    if minutes < 60:
        return ctx.t(T, "minutes", n=minutes)
    return ctx.t(T, "hours", h=minutes // 60, m=minutes % 60)

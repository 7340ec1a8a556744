"""The buttons of routed questions, typed: where a person cannot press one (the console, or an
old message), "I'll help" / "je vais aider", "not me" / "pas pour moi", "not now" / "pas
maintenant" answer the latest offer they received, and "thank them" / "remercie-le" is the
asker's "Thank NAME" for their latest answered question. The same handlers as the buttons run."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from bot.context import SkillContext
from bot.db.routing import RoutedQuestion, RoutingOffer
from bot.dispatch import reply
from skills.routing.handlers import _accept, _decline_or_pass, thank_helper
from skills.routing.routes import routes
from skills.routing.text import T


def _latest_offer(ctx: SkillContext, user: str) -> RoutingOffer | None:
    return ctx.db.scalars(select(RoutingOffer).where(RoutingOffer.expert_id == user, RoutingOffer.state == "sent")
                          .order_by(RoutingOffer.sent_at.desc(), RoutingOffer.id.desc()).limit(1)).first()


def _answer_latest(event: Any, ctx: SkillContext, kind: str) -> Any:
    user = ctx.sender.user_id if ctx.sender is not None else event.sender.id
    offer = _latest_offer(ctx, user)
    if offer is None:
        return reply(ctx, ctx.t(T, "no_offer"), private=True)
    q = ctx.db.get(RoutedQuestion, offer.question_id)
    if kind == "accept":
        return _accept(ctx, q, offer)
    return _decline_or_pass(ctx, q, offer, kind)


@routes.message(en=[r"i(?:['’]ll| will) help(?: them| him| her)?", r"i can help them"],
                fr=[r"je vais (?:l['’]|les |lui )?aider", r"je peux (?:l['’]|les |lui )aider"], priority=9)
def typed_accept(event: Any, ctx: SkillContext) -> Any:
    """I'll help / je vais aider: "I can help" on the latest offer."""
    return _answer_latest(event, ctx, "accept")


@routes.message(en=[r"not me"], fr=[r"pas (?:pour )?moi"], priority=9)
def typed_decline(event: Any, ctx: SkillContext) -> Any:
    """not me / pas pour moi"""
    return _answer_latest(event, ctx, "decline")


@routes.message(en=[r"not now"], fr=[r"pas maintenant"], priority=9)
def typed_pass(event: Any, ctx: SkillContext) -> Any:
    """not now / pas maintenant"""
    return _answer_latest(event, ctx, "pass")


@routes.message(en=[r"thank (?:them|him|her)"], fr=[r"remercie[- ](?:le|la|les)"], priority=11)
def typed_thanks(event: Any, ctx: SkillContext) -> Any:
    """thank them / remercie-le: the asker's "Thank NAME" for their latest answered question."""
    user = ctx.sender.user_id if ctx.sender is not None else event.sender.id
    q = ctx.db.scalars(select(RoutedQuestion).where(RoutedQuestion.asker_id == user, RoutedQuestion.state == "accepted")
                       .order_by(RoutedQuestion.accepted_at.desc()).limit(1)).first()
    if q is None:
        return reply(ctx, ctx.t(T, "no_helper"), private=True)
    return thank_helper(ctx, q)


# ---- the demo: one routed question, from the offer to the thanks -------------------------------------

routes.demo_step("Priya", "who knows Terraform?",
                 "Under an answer with people, \"Ask them for me\" (a button on Slack and Teams; typed here).")
routes.demo_step("Priya", "ask them: the staging VPC plan fails on the NAT gateway",
                 "The question goes privately to the three best people, each in their language, with a line of "
                 "context and three buttons.")
routes.demo_step("Stefan", "not now", "\"Not now\" passes it on to the next person of the answer.")
routes.demo_step("Élodie", "je vais aider", "The first \"I can help\" wins (here typed, in French): a group "
                                            "conversation opens for the two, the other offers are edited to \"taken\", "
                                            "and the helper's index gets first-hand evidence.")
routes.demo_step("Priya", "thank them", "The asker's one-click \"Thank NAME\" (offered a day later) goes through the "
                                        "usual thanks.")

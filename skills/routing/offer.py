"""What the routing skill offers the others, as the service "routing" (they call it through
``ctx.service("routing")``, without importing this skill): one call under a who-knows answer,
and the lines of "what do you know about me".

``RoutingService.under_answer`` takes the people of an answer, best first, and returns the ones to
show, with those who said "Not me" to this asker on these topics (within
``expertise.not_me_days``) put last, and the *Ask them for me* button for them: the answer is kept
as an "offered" question that the button (or "ask them" typed right after) routes later
(``handlers.py``). Its settings are read once, when the service is built."""

from __future__ import annotations

import datetime as dt
from typing import Any, Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.context import SkillContext
from bot.db.routing import RoutedQuestion, RoutingNotMe, RoutingOffer
from bot.events import Button
from bot.ports import ChatError
from skills.expertise.api import ExpertiseSettings
from skills.routing.text import T

# The states of an offer that reached its person.
ANSWERED = ("sent", "accepted", "declined", "passed", "taken", "expired")


class RoutingService:
    """The service "routing" (see the module docstring)."""

    def __init__(self, settings: ExpertiseSettings) -> None:
        self.settings = settings

    def under_answer(self, ctx: SkillContext, *, question: str, topics: Sequence[Any], experts: Sequence[str],
                     show: int) -> tuple[list[str], tuple[Button, ...]]:
        """The first ``show`` of ``experts`` (best first), those the asker's "Not me" puts lower
        last, and the *Ask them for me* button that routes the question to them."""
        asker = asker_of(ctx)
        lower = set()
        if asker is not None:
            since = ctx.clock.now() - dt.timedelta(days=self.settings.not_me_days)
            lower = not_me(ctx.db, topics=[t.key for t in topics], since=since, asker=asker)
        shown = ([u for u in experts if u not in lower] + [u for u in experts if u in lower])[:show]
        return shown, offer_buttons(ctx, question=question, topics=topics, experts=shown)

    def about_me(self, ctx: SkillContext, user_id: str) -> list[str]:
        received, accepted, asked = counts_about(ctx.db, user_id)
        if not (received or asked):
            return []
        return [ctx.t(T, "me_routed", received=received, accepted=accepted, asked=asked)]


def asker_of(ctx: SkillContext) -> str | None:
    sender = getattr(ctx.event, "sender", None)
    return ctx.sender.user_id if ctx.sender is not None else (sender.id if sender is not None else None)


def offer_buttons(ctx: SkillContext, *, question: str, topics: Sequence[Any], experts: Sequence[str]) -> tuple[Button, ...]:
    """The "Ask them for me" button of a who-knows answer naming ``experts`` (best first); the
    answer is kept, as an "offered" question, for the button (or "ask them") to route."""
    asker = asker_of(ctx)
    if not experts or not asker:
        return ()
    # The words the asker used: the whole message (a slash command's arguments), and each
    # topic as they wrote it ("Terraform", not the index's "terraform").
    said = (getattr(ctx.event, "text", "") or "").strip() or question
    shown = [(t.key, _as_written(said, t.display), t.lang) for t in topics]
    q = create_offered(ctx.db, asker=asker, question=said, topics=shown, candidates=experts, lang=ctx.lang,
                       conversation_id=_conversation_id(ctx), permalink=_permalink(ctx), now=ctx.clock.now())
    return (Button(ctx.t(T, "btn_offer"), "routing.offer", str(q.id), "primary"),)


def _as_written(text: str, display: str) -> str:
    at = text.lower().find(display.lower())
    return text[at:at + len(display)] if at >= 0 else display


def _conversation_id(ctx: SkillContext) -> str | None:
    conv = getattr(ctx.event, "conversation", None)
    return conv.id if conv is not None else None


def _permalink(ctx: SkillContext) -> str | None:
    """A link to where the question was asked, when others can open it (a channel, not a DM)."""
    event = ctx.event
    conv = getattr(event, "conversation", None)
    if conv is None or conv.kind not in ("channel", "private"):
        return None
    given = getattr(event, "permalink", None)
    ts = getattr(event, "ts", None)
    if given or not ts or ctx.chat is None:
        return given
    try:
        return ctx.chat.permalink(conv.id, ts)
    except ChatError:
        return None


def create_offered(db: Session, *, asker: str, question: str, topics: Sequence[Sequence[str]], candidates: Sequence[str],
                   lang: str, conversation_id: str | None, permalink: str | None, now: dt.datetime) -> RoutedQuestion:
    """A who-knows answer that may be routed: kept with the people it named, best first."""
    q = RoutedQuestion(asker_id=asker, question=question[:2000], topics=[list(t) for t in topics],
                       candidates=list(candidates), lang=lang, conversation_id=conversation_id,
                       permalink=permalink, state="offered", created_at=now)
    db.add(q)
    db.flush()
    return q


def not_me(db: Session, *, topics: Sequence[str], since: dt.datetime, asker: str | None = None) -> set[str]:
    """People who said "Not me" to one of ``topics`` since then (to ``asker``'s questions only,
    when given)."""
    if not topics:
        return set()
    q = select(RoutingNotMe.expert_id).where(RoutingNotMe.topic_key.in_(list(topics)), RoutingNotMe.at >= since)
    if asker is not None:
        q = q.where(RoutingNotMe.asker_id == asker)
    return set(db.scalars(q))


def counts_about(db: Session, user_id: str) -> tuple[int, int, int]:
    """(offers received, offers accepted, questions routed) of one person."""
    received = db.scalar(select(func.count()).where(RoutingOffer.expert_id == user_id,
                                                    RoutingOffer.state.in_(ANSWERED))) or 0
    accepted = db.scalar(select(func.count()).where(RoutingOffer.expert_id == user_id,
                                                    RoutingOffer.state == "accepted")) or 0
    asked = db.scalar(select(func.count()).where(RoutedQuestion.asker_id == user_id,
                                                 RoutedQuestion.routed_at.is_not(None))) or 0
    return received, accepted, asked

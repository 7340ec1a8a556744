"""Sending offers, each under its own claim, and editing them later.

The claim is the coffee intros' (see docs/ARCHITECTURE.md, "Coffee intros"): the sender takes
the offer's claim (committed), posts the direct message with its key (``routing.offer.<id>``:
Slack keeps it as message metadata), then records the platform's ids and ends the claim in one
commit. A sender that stopped between the post and the record (a crash between the second and
the third offer, say) leaves its offer "in doubt": whoever takes it over first asks the platform
whether the keyed message got through and records it instead of posting again. A platform that
cannot tell (Teams) gets no second post: at most once. Other offers never wait for it."""

from __future__ import annotations

import datetime as dt
import os
import secrets
import socket
from typing import Any

from sqlalchemy import select, update

from bot.db.models import PersonRow
from bot.db.routing import RoutedQuestion, RoutingOffer
from bot.events import Button, DirectMessage, Sent
from bot.i18n import normalise_locale
from bot.ports import ChatError
from skills.routing.hours import aware
from skills.routing.store import topic_label
from skills.routing.text import T

PROCESS_ID = f"{socket.gethostname()[:40]}:{os.getpid()}:{secrets.token_hex(4)}"
CLAIM_SECONDS = 60.0
MAX_ATTEMPTS = 5


def lang_of(db: Any, user_id: str, default: str) -> str:
    row = db.scalars(select(PersonRow).where(PersonRow.user_id == user_id)).first()
    return normalise_locale(row.locale if row else None) or default


def offer_message(ctx: Any, q: RoutedQuestion, offer: RoutingOffer) -> DirectMessage:
    """The private offer, in the expert's language, with its three buttons."""
    lang = lang_of(ctx.db, offer.expert_id, ctx.settings.bot.default_language)
    context = T.get(lang, "offer_context", context=q.context) if q.context else ""
    link = T.get(lang, "offer_link", url=q.permalink) if q.permalink else ""
    text = T.get(lang, "offer", asker=f"<@{q.asker_id}>", topics=topic_label(q), question=q.question,
                 context=context, link=link)
    value = str(offer.id)
    buttons = (Button(T.get(lang, "btn_accept"), "routing.accept", value, "primary"),
               Button(T.get(lang, "btn_decline"), "routing.decline", value),
               Button(T.get(lang, "btn_pass"), "routing.pass", value))
    return DirectMessage(offer.expert_id, text, buttons, key=f"routing.offer.{offer.id}")


def _take(ctx: Any, offer: RoutingOffer, *held_as: Any) -> bool:
    """One compare-and-set of the claim (committed)."""
    until = ctx.clock.now() + dt.timedelta(seconds=CLAIM_SECONDS)
    done = ctx.db.execute(update(RoutingOffer).where(RoutingOffer.id == offer.id, RoutingOffer.state == "pending",
                                                     RoutingOffer.attempts < MAX_ATTEMPTS, *held_as)
                          .values(sending_by=PROCESS_ID, sending_until=until)
                          .execution_options(synchronize_session=False)).rowcount == 1
    ctx.db.commit()
    ctx.db.refresh(offer)
    return done


def _claim(ctx: Any, offer: RoutingOffer) -> str:
    """"fresh", "in_doubt" (its last sender stopped mid-post) or "held"/"done"."""
    if _take(ctx, offer, RoutingOffer.sending_by.is_(None)):
        return "fresh"
    if offer.state != "pending" or offer.attempts >= MAX_ATTEMPTS:
        return "done"
    if offer.sending_until is None or aware(offer.sending_until) > ctx.clock.now():
        return "held"
    if _take(ctx, offer, RoutingOffer.sending_by == offer.sending_by, RoutingOffer.sending_until <= ctx.clock.now()):
        return "in_doubt"
    return "held"


def _record(ctx: Any, offer: RoutingOffer, *, sent: Sent | None = None, error: str | None = None,
            in_doubt: bool = False, give_up: bool = False) -> None:
    """What became of a post, and the end of the claim, in one commit. ``in_doubt`` keeps the
    holder with its time run out, so the next sender checks before posting."""
    now = ctx.clock.now()
    values: dict[str, Any] = {"attempts": RoutingOffer.attempts + (0 if in_doubt else 1)}
    if sent is not None:
        values.update(state="sent", sent_at=now, conversation_id=sent.conversation_id, message_ts=sent.ts, error=None)
    elif give_up:
        values.update(state="sent", sent_at=now, error=(error or "")[:500])
    elif error is not None:
        values["error"] = error[:500]
    values.update(sending_until=now) if in_doubt else values.update(sending_by=None, sending_until=None)
    ctx.db.execute(update(RoutingOffer).where(RoutingOffer.id == offer.id).values(**values)
                   .execution_options(synchronize_session=False))
    ctx.db.commit()
    ctx.db.refresh(offer)


def _check(ctx: Any, offer: RoutingOffer, message: DirectMessage) -> str | None:
    """Before posting an offer whose last sender stopped mid-post: did it get through?"""
    if not ctx.chat.can_find_sent():
        _record(ctx, offer, give_up=True, error="the sender stopped mid-post and the platform cannot tell whether it "
                                                "got through; not sent again")
        ctx.log.warning("routing offer %s: the previous sender stopped mid-post and this platform cannot tell whether "
                        "it got through, so it is not sent again (at most once)", offer.id)
        return "dropped"
    try:
        found = ctx.chat.find_sent(message)
    except ChatError as exc:
        _record(ctx, offer, error=f"could not check whether the last post got through: {exc}", in_doubt=True)
        return "failed"
    if found is None:
        return None
    _record(ctx, offer, sent=found)
    ctx.log.info("routing offer %s had got through before its sender stopped; recorded, not posted again", offer.id)
    return "found"


def deliver(ctx: Any, q: RoutedQuestion, offer: RoutingOffer) -> str:
    """One offer under its claim: "sent", "found", "failed", "dropped", "held" or "done"."""
    state = _claim(ctx, offer)
    if state in ("held", "done"):
        return state
    message = offer_message(ctx, q, offer)
    if state == "in_doubt":
        checked = _check(ctx, offer, message)
        if checked is not None:
            return checked
    try:
        sent = ctx.chat.send(message)
    except ChatError as exc:
        _record(ctx, offer, error=str(exc))
        ctx.log.warning("routing offer %s not delivered (attempt %d): %s", offer.id, offer.attempts + 1, exc)
        return "failed"
    except BaseException:
        _leave_in_doubt(ctx, offer)
        raise
    _record(ctx, offer, sent=sent)
    return "sent"


def _leave_in_doubt(ctx: Any, offer: RoutingOffer) -> None:
    """The post broke off: whether it got through is unknown, so the next sender checks first."""
    try:
        ctx.db.rollback()
        ctx.db.execute(update(RoutingOffer).where(RoutingOffer.id == offer.id, RoutingOffer.sending_by == PROCESS_ID)
                       .values(sending_until=ctx.clock.now()).execution_options(synchronize_session=False))
        ctx.db.commit()
    except Exception:  # noqa: BLE001 - the database may be the problem; the claim runs out by itself
        ctx.log.warning("routing offer %s: could not mark its interrupted post; its claim runs out in %.0f s",
                        offer.id, CLAIM_SECONDS)


def deliver_due(ctx: Any, question_id: int | None = None) -> dict[str, int]:
    """Send every offer that is due (its person's working hours have begun) of open questions."""
    counts: dict[str, int] = {}
    if ctx.chat is None:
        return counts
    query = (select(RoutingOffer, RoutedQuestion).join(RoutedQuestion, RoutedQuestion.id == RoutingOffer.question_id)
             .where(RoutingOffer.state == "pending", RoutingOffer.not_before <= ctx.clock.now(),
                    RoutingOffer.attempts < MAX_ATTEMPTS, RoutedQuestion.state == "open")
             .order_by(RoutingOffer.question_id, RoutingOffer.rank))
    if question_id is not None:
        query = query.where(RoutingOffer.question_id == question_id)
    for offer, q in ctx.db.execute(query).all():
        result = deliver(ctx, q, offer)
        counts[result] = counts.get(result, 0) + 1
    return counts


def edit(ctx: Any, offer: RoutingOffer, text: str) -> None:
    """Replace a sent offer's text and buttons (best effort: a refusal is logged)."""
    if ctx.chat is None or not offer.conversation_id or not offer.message_ts:
        return
    try:
        ctx.chat.update(Sent(offer.conversation_id, offer.message_ts), text)
    except ChatError as exc:
        ctx.log.warning("routing offer %s: could not replace its buttons: %s", offer.id, exc)

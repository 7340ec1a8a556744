"""Sending a round's messages: each group's intro (in its members' language, with a
conversation starter) and, halfway through the period, its follow-up ("did you meet?").

One claim per group. Each group's next message (its intro, later its follow-up) is claimed on
its own: the sender takes the group's claim (committed), posts the message with its key, then
records the mark and clears the claim in one commit. The claim is renewed while the post is in
flight; one whose time ran out without a mark belongs to a sender that stopped mid-post (kill
-9, a lost machine). The sender that takes such a group over first asks the platform whether
the message got through (Slack: the key in the group DM's latest messages) and records it
instead of posting again; a platform that cannot tell gets no second post (at most once).
Other groups never wait for it. See docs/ARCHITECTURE.md, "Coffee intros: what is guaranteed".
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
import socket
import time
from collections import defaultdict
from typing import Any, Callable, Sequence

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from bot.context import SkillContext
from bot.db.coffee import CoffeeGroup, CoffeeGroupMember, CoffeeProgramme, CoffeeRound
from bot.db.models import PersonRow
from bot.events import Button, GroupMessage, Sent
from bot.i18n import join_names, normalise_locale
from bot.ports import ChatError
from skills.coffee.calendar import utc
from skills.coffee.programmes import programme_name
from skills.coffee.rounds import person_rows
from skills.coffee.settings import CoffeeSettings, settings_of
from skills.coffee.text import N_STARTERS, T


def _group_langs(rows: Sequence[PersonRow], default: str) -> list[str]:
    langs = sorted({normalise_locale(r.locale) or default for r in rows})
    return langs if len(langs) == 1 else ["en", "fr"]


def _names(lang: str, ids: Sequence[str]) -> str:
    return join_names(lang, [f"<@{u}>" for u in ids])


def intro_text(group: CoffeeGroup, ids: Sequence[str], langs: Sequence[str], channel: str, seed: int) -> str:
    parts = []
    for lang in langs:
        if group.starter:
            starter = T.get(lang, "starter_topic", topic=group.starter)
        else:
            starter = T.get(lang, f"starter_{(seed + group.number) % N_STARTERS}")
        parts.append(T.get(lang, "intro", names=_names(lang, ids), channel=channel, starter=starter))
    return "\n\n".join(parts)


def group_members(session: Session, round_id: int) -> dict[int, list[str]]:
    out: dict[int, list[str]] = defaultdict(list)
    for gid, uid in session.execute(
        select(CoffeeGroupMember.group_id, CoffeeGroupMember.user_id)
        .where(CoffeeGroupMember.round_id == round_id).order_by(CoffeeGroupMember.group_id, CoffeeGroupMember.user_id)
    ):
        out[gid].append(uid)
    return out


# Who holds a claim: this process (host, pid, and a random part, since a restarted container
# often has the same pid).
PROCESS_ID = f"{socket.gethostname()[:40]}:{os.getpid()}:{secrets.token_hex(4)}"
_KINDS = {
    "intro": (CoffeeGroup.intro_sent_at, CoffeeGroup.intro_attempts),
    "followup": (CoffeeGroup.followup_sent_at, CoffeeGroup.followup_attempts),
}


def _claim(ctx: SkillContext, g: CoffeeGroup, kind: str, cfg: CoffeeSettings) -> str:
    """Take the claim on ``g``'s next message (committed). Returns "fresh", "in_doubt" (the
    previous sender stopped mid-post), "held" (another sender's claim is running) or "done"."""
    sent_col, attempts_col = _KINDS[kind]
    now = ctx.clock.now()
    if _take(ctx, g, kind, cfg, CoffeeGroup.sending_by.is_(None)):  # the usual case: nobody holds it
        return "fresh"
    ctx.db.refresh(g)
    if getattr(g, sent_col.key) is not None or getattr(g, attempts_col.key) >= cfg.intro_max_attempts:
        return "done"
    if g.sending_by is None or g.sending_until is None or utc(g.sending_until) > now:
        return "held"  # running, or just released by its sender: looked at again
    if _take(ctx, g, kind, cfg, CoffeeGroup.sending_by == g.sending_by, CoffeeGroup.sending_until <= now):
        return "in_doubt"
    return "held"  # another sender took it over first


def _take(ctx: SkillContext, g: CoffeeGroup, kind: str, cfg: CoffeeSettings, *held_as: Any) -> bool:
    """One compare-and-set of the claim (committed): True when it is ours now."""
    sent_col, attempts_col = _KINDS[kind]
    until = ctx.clock.now() + dt.timedelta(seconds=cfg.claim_seconds)
    row = ctx.db.execute(
        update(CoffeeGroup)
        .where(CoffeeGroup.id == g.id, sent_col.is_(None), attempts_col < cfg.intro_max_attempts, *held_as)
        .values(sending_by=PROCESS_ID, sending_until=until)
        .returning(attempts_col)
        .execution_options(synchronize_session=False)
    ).first()
    ctx.db.commit()
    if row is None:
        return False
    for key, value in (("sending_by", PROCESS_ID), ("sending_until", until), (attempts_col.key, row[0])):
        set_committed_value(g, key, value)
    return True


def _renew(ctx: SkillContext, g: CoffeeGroup, cfg: CoffeeSettings) -> None:
    """The heartbeat of a post in flight: our claim runs on."""
    ctx.db.execute(
        update(CoffeeGroup).where(CoffeeGroup.id == g.id, CoffeeGroup.sending_by == PROCESS_ID)
        .values(sending_until=ctx.clock.now() + dt.timedelta(seconds=cfg.claim_seconds))
        .execution_options(synchronize_session=False)
    )
    ctx.db.commit()


def _record(ctx: SkillContext, g: CoffeeGroup, kind: str, *, sent: Sent | None = None, error: str | None = None,
            attempts: int | None = None, in_doubt: bool = False) -> None:
    """Record what became of a post and end the claim, in one commit. ``in_doubt`` keeps the
    claim's holder with a time already run out: the next sender checks before posting."""
    if sent is not None:
        setattr(g, f"{kind}_sent_at", ctx.clock.now())
        if kind == "intro":
            g.conversation_id = sent.conversation_id
    setattr(g, f"{kind}_attempts", getattr(g, f"{kind}_attempts") + 1 if attempts is None else attempts)
    if kind == "intro":
        g.intro_error = None if error is None else error[:500]
    g.sending_until = ctx.clock.now() if in_doubt else None
    if not in_doubt:
        g.sending_by = None
    ctx.db.commit()


def _leave_in_doubt(ctx: SkillContext, g: CoffeeGroup) -> None:
    """The post broke off unexpectedly: whether it got through is unknown, so the next sender
    checks first (at once, without waiting for the claim to run out)."""
    try:
        ctx.db.rollback()
        ctx.db.execute(update(CoffeeGroup).where(CoffeeGroup.id == g.id, CoffeeGroup.sending_by == PROCESS_ID)
                       .values(sending_until=ctx.clock.now()).execution_options(synchronize_session=False))
        ctx.db.commit()
    except Exception:  # noqa: BLE001 - the database may be the problem; the claim runs out by itself
        ctx.log.warning("coffee group %s: could not mark its interrupted post; its claim runs out in %.0f s",
                        g.number, settings_of(ctx).claim_seconds)


def _check_sent(ctx: SkillContext, g: CoffeeGroup, kind: str, message: GroupMessage, *, in_doubt: bool, where: str) -> str | None:
    """Before posting again: did an earlier post get through? None: post."""
    assert ctx.chat is not None
    cfg = settings_of(ctx)
    if not ctx.chat.can_find_sent():
        if not in_doubt:
            return None  # the platform refused the earlier post: try again
        _record(ctx, g, kind, attempts=cfg.intro_max_attempts,
                error="the sender stopped mid-post and the platform cannot tell whether it got through; not sent again")
        ctx.log.warning("coffee %s for %s: the previous sender stopped mid-post and this platform cannot tell whether "
                        "it got through, so it is not sent again (at most once); tell the group if they did not get it",
                        kind, where)
        return "dropped"
    try:
        found = ctx.chat.find_sent(message)
    except ChatError as exc:
        _record(ctx, g, kind, error=f"could not check whether the last post got through: {exc}", in_doubt=True)
        ctx.log.warning("coffee %s for %s: could not check whether the previous post got through (%s), so it is not "
                        "posted blind; checked again on the next try (on Slack the app needs im:history and "
                        "mpim:history)", kind, where, exc)
        return "failed"
    if found is None:
        return None
    _record(ctx, g, kind, sent=found)
    ctx.log.info("coffee %s for %s had got through before its sender stopped; recorded, not posted again", kind, where)
    return "found"


def _post(ctx: SkillContext, g: CoffeeGroup, kind: str, message: GroupMessage, where: str) -> str:
    assert ctx.chat is not None
    cfg = settings_of(ctx)
    try:
        result = ctx.chat.send(message, heartbeat=lambda: _renew(ctx, g, cfg), every=max(0.05, cfg.claim_seconds / 3))
    except ChatError as exc:
        _record(ctx, g, kind, error=str(exc))
        ctx.log.warning("coffee %s for %s not delivered (attempt %d): %s", kind, where, getattr(g, f"{kind}_attempts"), exc)
        return "failed"
    except BaseException:
        _leave_in_doubt(ctx, g)
        raise
    _record(ctx, g, kind, sent=result)
    return "sent"


def _deliver(ctx: SkillContext, g: CoffeeGroup, kind: str, message: GroupMessage, where: str) -> str:
    """One group's message under its claim: "sent", "found" (an earlier post had got through),
    "failed", "dropped" (at most once), "held" (another sender's) or "done"."""
    state = _claim(ctx, g, kind, settings_of(ctx))
    if state in ("held", "done"):
        return state
    if state == "in_doubt" or getattr(g, f"{kind}_attempts") > 0:
        checked = _check_sent(ctx, g, kind, message, in_doubt=state == "in_doubt", where=where)
        if checked is not None:
            return checked
    return _post(ctx, g, kind, message, where)


def _pending(rnd: CoffeeRound, kind: str, cfg: CoffeeSettings) -> Any:
    sent_col, attempts_col = _KINDS[kind]
    q = select(CoffeeGroup).where(CoffeeGroup.round_id == rnd.id, sent_col.is_(None), attempts_col < cfg.intro_max_attempts)
    if kind == "followup":
        q = q.where(CoffeeGroup.intro_sent_at.is_not(None))
    return q


def _deliver_round(ctx: SkillContext, rnd: CoffeeRound, kind: str, build: Callable[[CoffeeGroup, list[str]], GroupMessage]) -> dict[str, int]:
    """Send ``kind`` to every group of the round that has not had it, each under its own claim.
    Groups another sender holds are looked at again until their claim ends: taken over when it
    runs out (that sender stopped), left alone when it is renewed (that sender is at work)."""
    cfg = settings_of(ctx)
    members = group_members(ctx.db, rnd.id)
    counts: dict[str, int] = defaultdict(int)
    todo = ctx.db.scalars(_pending(rnd, kind, cfg).order_by(CoffeeGroup.number)).all()
    held: dict[int, dt.datetime | None] = {}
    deadline: float | None = None  # a claim seen running ends (renewed or not) within claim_seconds
    while True:
        still: dict[int, dt.datetime | None] = {}
        for g in todo:
            ids = members.get(g.id, [])
            if len(ids) < 2:  # everyone else in the group was erased ("forget me"): nothing to send
                setattr(g, f"{kind}_sent_at", ctx.clock.now())
                ctx.db.commit()
                continue
            result = _deliver(ctx, g, kind, build(g, ids), f"group {g.number} of round {rnd.period}")
            if result != "held":
                counts[result] += 1
                continue
            seen, now_until = held.get(g.id), utc(g.sending_until)
            if seen is None or now_until is None or now_until <= seen:
                still[g.id] = now_until  # not renewed since we last looked: watch it
        if deadline is None:
            deadline = time.monotonic() + cfg.claim_seconds + 2.0
        if not still or time.monotonic() >= deadline:
            counts["held"] = len(still)
            return counts
        held, todo = still, [g for g in todo if g.id in still]
        time.sleep(min(0.5, cfg.claim_seconds / 4))


def send_intros(ctx: SkillContext, rnd: CoffeeRound, cfg: CoffeeSettings) -> tuple[int, int]:
    """Send the intros of a round that are not sent yet, group by group (see above). Returns
    (sent now, still unsent)."""
    assert ctx.chat is not None
    p = ctx.db.get(CoffeeProgramme, rnd.programme_id)
    channel = programme_name(p) if p else "?"
    members = group_members(ctx.db, rnd.id)
    rows = person_rows(ctx.db, (u for m in members.values() for u in m))
    default = ctx.settings.bot.default_language

    def intro(g: CoffeeGroup, ids: list[str]) -> GroupMessage:
        langs = _group_langs([rows[u] for u in ids if u in rows], default)
        return GroupMessage(tuple(ids), intro_text(g, ids, langs, channel, rnd.seed), key=f"coffee.intro.{g.id}")

    started = time.perf_counter()
    counts = _deliver_round(ctx, rnd, "intro", intro)
    remaining = _unsent(ctx, rnd, cfg)
    ctx.db.refresh(rnd)
    if remaining == 0 and rnd.intros_done_at is None:
        rnd.intros_done_at = ctx.clock.now()
        ctx.db.commit()
    if any(counts.values()):
        ctx.log.info("coffee round %s: %d intros sent, %d found already sent, %d failed, %d not sent again (delivery "
                     "unknown), %d held by another sender, %d left (%.2f s)", rnd.period, counts["sent"], counts["found"],
                     counts["failed"], counts["dropped"], counts["held"], remaining, time.perf_counter() - started)
    return counts["sent"] + counts["found"], remaining


def _unsent(ctx: SkillContext, rnd: CoffeeRound, cfg: CoffeeSettings) -> int:
    return ctx.db.scalar(select(func.count()).select_from(_pending(rnd, "intro", cfg).subquery())) or 0


def send_followups(ctx: SkillContext, rnd: CoffeeRound, cfg: CoffeeSettings) -> int:
    """Ask each introduced group whether they met (once per group, claimed like the intros)."""
    assert ctx.chat is not None
    members = group_members(ctx.db, rnd.id)
    rows = person_rows(ctx.db, (u for m in members.values() for u in m))
    default = ctx.settings.bot.default_language

    def followup(g: CoffeeGroup, ids: list[str]) -> GroupMessage:
        langs = _group_langs([rows[u] for u in ids if u in rows], default)
        text = "\n\n".join(T.get(lang, "followup", names=_names(lang, ids)) for lang in langs)
        label = lambda key: " / ".join(T.get(lang, key) for lang in langs)  # noqa: E731
        buttons = (Button(label("btn_met"), "coffee.met", str(g.id), "primary"), Button(label("btn_not_met"), "coffee.not_met", str(g.id)))
        return GroupMessage(tuple(ids), text, buttons, key=f"coffee.followup.{g.id}")

    counts = _deliver_round(ctx, rnd, "followup", followup)
    remaining = ctx.db.scalar(select(func.count()).select_from(_pending(rnd, "followup", cfg).subquery())) or 0
    if remaining == 0:
        ctx.db.refresh(rnd)
        rnd.followups_done_at = ctx.clock.now()
        ctx.db.commit()
    return counts["sent"] + counts["found"]

"""The rows of routed questions and their moves, each a conditional UPDATE so that a click or a
job that comes twice acts once: a question goes offered → open → accepted / expired / closed,
an offer pending → sent → accepted / declined / passed / taken / expired.

Who may be asked (``eligible``): never the asker, bots, deleted accounts, people who opted out
of the index, said "forget me" or "don't send me questions"; nobody above the weekly cap; nobody
who said "Not me" to one of the question's topics within ``not_me_days``."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from bot.db.models import PersonRow
from bot.db.routing import RoutedQuestion, RoutingNotMe, RoutingOffer, RoutingOptOut
from bot.privacy import forgotten
from skills.expertise.api import ExpertiseSettings
from skills.routing.hours import WorkingHours, aware, next_start
from skills.routing.offer import not_me

OUTSTANDING = ("pending", "sent")


def settings_of(ctx: Any) -> ExpertiseSettings:
    return ctx.settings.section("expertise", ExpertiseSettings)


def hours_of(cfg: ExpertiseSettings) -> WorkingHours:
    return WorkingHours.parse(cfg.route_work_hours, cfg.route_work_days)


def topic_label(q: RoutedQuestion, limit: int = 3) -> str:
    shown = [t[1] for t in (q.topics or [])][:limit]
    return ", ".join(shown) or q.question[:60]


def topic_keys(q: RoutedQuestion) -> list[str]:
    return [t[0] for t in (q.topics or [])]


# ---- questions ------------------------------------------------------------------------------------


def latest_offered(db: Session, asker: str, *, since: dt.datetime) -> RoutedQuestion | None:
    """The asker's latest answer not routed yet ("ask them" right after it)."""
    return db.scalars(select(RoutedQuestion).where(
        RoutedQuestion.asker_id == asker, RoutedQuestion.state == "offered", RoutedQuestion.created_at >= since,
    ).order_by(RoutedQuestion.id.desc()).limit(1)).first()


def start_routing(db: Session, q: RoutedQuestion, *, context: str | None, deadline: dt.datetime,
                  now: dt.datetime) -> bool:
    """offered → open, once (committed): False when another click or retry did it first."""
    done = db.execute(update(RoutedQuestion).where(RoutedQuestion.id == q.id, RoutedQuestion.state == "offered")
                      .values(state="open", routed_at=now, deadline_at=deadline, context=(context or None))
                      .execution_options(synchronize_session=False)).rowcount == 1
    db.commit()
    db.refresh(q)
    return done


def close(db: Session, q: RoutedQuestion, *, state: str, now: dt.datetime) -> bool:
    """open → expired or closed, once; the outstanding offers end with it (committed)."""
    done = db.execute(update(RoutedQuestion).where(RoutedQuestion.id == q.id, RoutedQuestion.state == "open")
                      .values(state=state, closed_at=now).execution_options(synchronize_session=False)).rowcount == 1
    if done:
        db.execute(update(RoutingOffer).where(RoutingOffer.question_id == q.id, RoutingOffer.state.in_(OUTSTANDING))
                   .values(state="expired", answered_at=now).execution_options(synchronize_session=False))
    db.commit()
    db.refresh(q)
    return done


def accept(db: Session, q: RoutedQuestion, offer: RoutingOffer, *, now: dt.datetime) -> bool:
    """The first "I can help" wins: the offer sent → accepted and the question open → accepted
    together; the others' offers become "taken" (committed). False: not this one."""
    moved = db.execute(update(RoutingOffer).where(RoutingOffer.id == offer.id, RoutingOffer.state == "sent")
                       .values(state="accepted", answered_at=now).execution_options(synchronize_session=False))
    if moved.rowcount != 1:
        db.rollback()
        return False
    won = db.execute(update(RoutedQuestion).where(RoutedQuestion.id == q.id, RoutedQuestion.state == "open")
                     .values(state="accepted", helper_id=offer.expert_id, accepted_at=now)
                     .execution_options(synchronize_session=False))
    if won.rowcount != 1:
        db.rollback()
        return False
    db.execute(update(RoutingOffer).where(RoutingOffer.question_id == q.id, RoutingOffer.id != offer.id,
                                          RoutingOffer.state.in_(OUTSTANDING))
               .values(state="taken", answered_at=now).execution_options(synchronize_session=False))
    db.commit()
    db.refresh(q)
    db.refresh(offer)
    return True


def answer(db: Session, offer: RoutingOffer, state: str, *, now: dt.datetime) -> bool:
    """sent → declined or passed, once (committed)."""
    done = db.execute(update(RoutingOffer).where(RoutingOffer.id == offer.id, RoutingOffer.state == "sent")
                      .values(state=state, answered_at=now).execution_options(synchronize_session=False)).rowcount == 1
    db.commit()
    db.refresh(offer)
    return done


def mark_thanks_offered(db: Session, q: RoutedQuestion, *, now: dt.datetime) -> bool:
    done = db.execute(update(RoutedQuestion).where(RoutedQuestion.id == q.id, RoutedQuestion.thanks_offered_at.is_(None))
                      .values(thanks_offered_at=now).execution_options(synchronize_session=False)).rowcount == 1
    db.commit()
    return done


# ---- who is asked ---------------------------------------------------------------------------------


def opted_out(db: Session, user_ids: Iterable[str]) -> set[str]:
    ids = sorted(set(user_ids))
    if not ids:
        return set()
    return set(db.scalars(select(RoutingOptOut.user_id).where(RoutingOptOut.user_id.in_(ids))))


def received_since(db: Session, user_ids: Sequence[str], since: dt.datetime) -> dict[str, int]:
    if not user_ids:
        return {}
    rows = db.execute(select(RoutingOffer.expert_id, func.count()).where(
        RoutingOffer.expert_id.in_(list(user_ids)), RoutingOffer.sent_at >= since).group_by(RoutingOffer.expert_id))
    return {u: n for u, n in rows}


def eligible(db: Session, q: RoutedQuestion, cfg: ExpertiseSettings, *, now: dt.datetime) -> list[PersonRow]:
    """The question's candidates not asked yet who may be asked now, best first."""
    asked = set(db.scalars(select(RoutingOffer.expert_id).where(RoutingOffer.question_id == q.id)))
    wanted = [u for u in (q.candidates or []) if u != q.asker_id and u not in asked]
    if not wanted:
        return []
    rows = {r.user_id: r for r in db.scalars(select(PersonRow).where(PersonRow.user_id.in_(wanted)))}
    out_ = opted_out(db, wanted) | forgotten(db, wanted)
    out_ |= not_me(db, topics=topic_keys(q), since=now - dt.timedelta(days=cfg.not_me_days))
    busy = received_since(db, wanted, now - dt.timedelta(days=7))
    return [rows[u] for u in wanted if u in rows and u not in out_ and busy.get(u, 0) < cfg.route_weekly_cap
            and not (rows[u].is_bot or rows[u].deleted or rows[u].indexing_opt_out)]


def add_offers(db: Session, q: RoutedQuestion, cfg: ExpertiseSettings, n: int, *, now: dt.datetime) -> list[RoutingOffer]:
    """Offers to the next ``n`` people who may be asked, each due at the start of their next
    working hours (committed)."""
    if n <= 0:
        return []
    wh = hours_of(cfg)
    rank = db.scalar(select(func.count()).where(RoutingOffer.question_id == q.id)) or 0
    added = []
    for row in eligible(db, q, cfg, now=now)[:n]:
        rank += 1
        offer = RoutingOffer(question_id=q.id, asker_id=q.asker_id, expert_id=row.user_id, rank=rank, state="pending",
                             not_before=next_start(now, row.tz, wh), created_at=now)
        db.add(offer)
        added.append(offer)
    db.commit()
    return added


def outstanding(db: Session, q: RoutedQuestion) -> int:
    return db.scalar(select(func.count()).where(RoutingOffer.question_id == q.id,
                                                RoutingOffer.state.in_(OUTSTANDING))) or 0


def record_not_me(db: Session, q: RoutedQuestion, expert: str, *, now: dt.datetime) -> None:
    for key in topic_keys(q):
        row = db.scalars(select(RoutingNotMe).where(RoutingNotMe.asker_id == q.asker_id, RoutingNotMe.expert_id == expert,
                                                    RoutingNotMe.topic_key == key[:200])).first()
        if row is None:
            db.add(RoutingNotMe(asker_id=q.asker_id, expert_id=expert, topic_key=key[:200], at=now))
        else:
            row.at = now
    db.commit()


# ---- what is shown ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class MonthStats:
    month: str  # "2026-11"
    routed: int
    accepted: int
    median_seconds: float | None


def stats(db: Session, *, months: int = 6) -> list[MonthStats]:
    """Per month a question was routed in: how many, how many accepted, and the median time from
    routing to the first "I can help". Aggregates only."""
    rows = db.execute(select(RoutedQuestion.routed_at, RoutedQuestion.accepted_at).where(
        RoutedQuestion.routed_at.is_not(None))).all()
    by_month: dict[str, list[Any]] = {}
    for routed_at, accepted_at in rows:
        by_month.setdefault(aware(routed_at).strftime("%Y-%m"), []).append((routed_at, accepted_at))
    out = []
    for month in sorted(by_month)[-months:]:
        items = by_month[month]
        waits = sorted((aware(a) - aware(r)).total_seconds() for r, a in items if a is not None)
        median = None
        if waits:
            mid = len(waits) // 2
            median = waits[mid] if len(waits) % 2 else (waits[mid - 1] + waits[mid]) / 2
        out.append(MonthStats(month, len(items), len(waits), median))
    return out


def update_or_insert_opt_out(db: Session, user_id: str, *, out: bool, now: dt.datetime) -> bool:
    """Set "don't send me questions"; True when it changed."""
    row = db.scalars(select(RoutingOptOut).where(RoutingOptOut.user_id == user_id)).first()
    if out and row is None:
        db.add(RoutingOptOut(user_id=user_id, at=now))
        return True
    if not out and row is not None:
        db.delete(row)
        return True
    return False

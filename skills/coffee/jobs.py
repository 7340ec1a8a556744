"""The coffee skill's scheduled jobs: one ``coffee.round`` job per programme (``programme_jobs``
lists them for the scheduler, ``job_spec`` says when each fires), which pairs, stores,
introduces and announces the round; and the ``coffee.sweep`` cron job, which finishes intros an
interrupted round did not send and sends the follow-ups that are due.
"""

from __future__ import annotations

from sqlalchemy import select, update

from bot import scheduler
from bot.context import SkillContext
from bot.db import Database
from bot.db.coffee import CoffeeProgramme, CoffeeRound
from bot.events import Conversation, Reply, ScheduledTick
from skills.coffee.calendar import is_paused, period_of, trigger_fields
from skills.coffee.delivery import send_followups, send_intros
from skills.coffee.rounds import NewRound, start_round
from skills.coffee.settings import CoffeeSettings, settings_of
from skills.coffee.text import T


ROUND_JOB = "coffee.round"
SWEEP_JOB = "coffee.sweep"


def programme_jobs(db: Database, cfg: CoffeeSettings) -> list[scheduler.JobSpec]:
    """One ``coffee.round`` job per programme, in every workspace."""
    with db.session(None) as s:
        rows = s.scalars(select(CoffeeProgramme)).all()
        return [job_spec(p, cfg) for p in rows]


def job_spec(p: CoffeeProgramme, cfg: CoffeeSettings) -> scheduler.JobSpec:
    return scheduler.JobSpec(
        id=f"{ROUND_JOB}:{p.workspace}:{p.id}",
        job=ROUND_JOB,
        workspace=p.workspace,
        trigger=trigger_fields(p),
        args={"programme_id": p.id},
        grace_seconds=int(cfg.missed_round_grace_hours * 3600),
    )


def scheduled_round(tick: ScheduledTick, ctx: SkillContext) -> list:
    """A programme's round is due: pair, store, introduce, announce in the channel."""
    cfg = settings_of(ctx)
    p = ctx.db.get(CoffeeProgramme, int(tick.args.get("programme_id", 0)))
    if p is None:
        return []
    spec = tick.args.get("spec")
    if spec is not None and spec != job_spec(p, cfg).spec:
        ctx.log.info("coffee: a round of programme %s fired on an old schedule; the new one takes over", p.id)
        return []
    if is_paused(p, tick.fire_time):
        ctx.log.info("coffee: programme %s is paused; no round in %s", p.id, period_of(p, tick.fire_time))
        return []
    if ctx.chat is None:
        ctx.log.error("coffee: no chat for %s; the round of programme %s cannot run", ctx.workspace.key, p.id)
        return []
    outcome = start_round(ctx, p, scheduled_for=tick.fire_time, manual=False)
    if isinstance(outcome, int):
        return []
    # The period's round may exist already: this job fired again because the process running it
    # stopped mid-round. Its intros go on where they stopped; it is announced once.
    rnd = outcome.round if isinstance(outcome, NewRound) else outcome
    send_intros(ctx, rnd, cfg)
    if not cfg.announce_rounds or rnd.manual:
        return []
    # Marked (committed) before the note is sent, by whoever marks it first: at most once.
    marked = ctx.db.execute(update(CoffeeRound).where(CoffeeRound.id == rnd.id, CoffeeRound.announced_at.is_(None))
                            .values(announced_at=ctx.clock.now()).execution_options(synchronize_session=False))
    ctx.db.commit()
    if marked.rowcount != 1:
        return []
    lang = ctx.settings.bot.default_language
    return [Reply(Conversation(p.channel_id, "channel", p.channel_name),
                  T.get(lang, "announce", participants=rnd.participants, groups=T.get(lang, "n_groups", count=rnd.groups)))]


def sweep(tick: ScheduledTick, ctx: SkillContext) -> None:
    """Every few minutes: finish intros an interrupted round did not send, and send the
    follow-ups that are due."""
    cfg = settings_of(ctx)
    if ctx.chat is None:
        return None
    now = ctx.clock.now()
    for rnd in ctx.db.scalars(select(CoffeeRound).where(CoffeeRound.intros_done_at.is_(None)).order_by(CoffeeRound.id)).all():
        send_intros(ctx, rnd, cfg)
    due = ctx.db.scalars(
        select(CoffeeRound).where(CoffeeRound.followups_done_at.is_(None), CoffeeRound.intros_done_at.is_not(None),
                                  CoffeeRound.followup_due_at <= now).order_by(CoffeeRound.id)
    ).all()
    for rnd in due:
        send_followups(ctx, rnd, cfg)
    return None

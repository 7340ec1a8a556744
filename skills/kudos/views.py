"""What people see of the thanks: "my thanks" (their own, received and given, by month and topic,
to them only), the leaderboard of the month (off unless the settings or an admin turn it on) and
the totals per team (only teams of ``min_team_size`` people or more). Nothing shows one person's
figures to anyone else. Months are calendar months in UTC.
"""

from __future__ import annotations

import collections
import datetime as dt
from typing import Any

from sqlalchemy import func, select

from bot.context import SkillContext
from bot.db.kudos import KudosOptionsRow, KudosRow
from bot.db.models import PersonRow
from bot.dispatch import MESSAGES, reply
from bot.events import Reply
from skills.kudos.parsing import mention
from skills.kudos.rules import as_utc, settings_of
from skills.kudos.text import TEXT, month_name


def month_key(at: dt.datetime) -> str:
    return f"{at.year:04d}-{at.month:02d}"


def month_bounds(key: str) -> tuple[dt.datetime, dt.datetime]:
    year, month = (int(x) for x in key.split("-"))
    start = dt.datetime(year, month, 1, tzinfo=dt.timezone.utc)
    end = dt.datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=dt.timezone.utc)
    return start, end


def _top(counter: collections.Counter, n: int = 5) -> list[str]:
    return [f"{name} ({count})" if count > 1 else name for name, count in counter.most_common(n)]


def my_thanks(event: Any, ctx: SkillContext) -> Reply:
    """my thanks / mes remerciements: the thanks you received and gave, by month and topic."""
    me = ctx.sender.user_id  # type: ignore[union-attr]
    rows = ctx.db.scalars(
        select(KudosRow).where((KudosRow.receiver_id == me) | (KudosRow.giver_id == me)).order_by(KudosRow.at)
    ).all()
    if not rows:
        return reply(ctx, ctx.t(TEXT, "mine_none"), private=True)
    received = [r for r in rows if r.receiver_id == me]
    given = [r for r in rows if r.giver_id == me]
    months: dict[str, dict[str, Any]] = {}
    for r in rows:
        m = months.setdefault(month_key(as_utc(r.at)), {"received": 0, "given": 0, "topics": collections.Counter()})
        if r.receiver_id == me:
            m["received"] += 1
            m["topics"].update(r.topic_names or [])
        if r.giver_id == me:
            m["given"] += 1
    lines = [ctx.t(TEXT, "mine_title"), ctx.t(TEXT, "mine_totals", received=len(received), given=len(given)),
             ctx.t(TEXT, "mine_months")]
    for key in sorted(months, reverse=True)[:12]:
        m = months[key]
        topics = f" ({', '.join(_top(m['topics'], 3))})" if m["topics"] else ""
        lines.append(ctx.t(TEXT, "mine_month", month=month_name(key, ctx.lang), topics=topics,
                           received=ctx.t(TEXT, "n_received", count=m["received"]),
                           given=ctx.t(TEXT, "n_given", count=m["given"])))
    got = collections.Counter(name for r in received for name in (r.topic_names or []))
    gave = collections.Counter(name for r in given for name in (r.topic_names or []))
    if got:
        lines.append(ctx.t(TEXT, "mine_received_topics", topics=", ".join(_top(got))))
    if gave:
        lines.append(ctx.t(TEXT, "mine_given_topics", topics=", ".join(_top(gave))))
    return reply(ctx, "\n".join(lines), private=True)


def leaderboard_enabled(ctx: SkillContext) -> bool:
    row = ctx.db.scalars(select(KudosOptionsRow)).first()
    if row is not None and row.leaderboard is not None:
        return row.leaderboard
    return settings_of(ctx).leaderboard


def leaderboard(ctx: SkillContext, *, switch: str = "") -> Reply:
    """The most thanked people this month, when enabled; ``switch`` "on"/"off" for admins."""
    if switch in ("on", "off", "oui", "non", "activer", "désactiver", "desactiver"):
        if not ctx.is_admin():
            return reply(ctx, ctx.t(MESSAGES, "not_admin"), private=True)
        enable = switch in ("on", "oui", "activer")
        row = ctx.db.scalars(select(KudosOptionsRow)).first()
        if row is None:
            row = KudosOptionsRow()
            ctx.db.add(row)
        row.leaderboard = enable
        row.changed_at = as_utc(ctx.clock.now())
        ctx.log.info("kudos leaderboard turned %s by %s", "on" if enable else "off", ctx.sender.user_id if ctx.sender else "?")
        return reply(ctx, ctx.t(TEXT, "board_on" if enable else "board_now_off"), private=True)
    if not leaderboard_enabled(ctx):
        return reply(ctx, ctx.t(TEXT, "board_off"), private=True)
    key = month_key(as_utc(ctx.clock.now()))
    start, end = month_bounds(key)
    counts = ctx.db.execute(
        select(KudosRow.receiver_id, func.count())
        .where(KudosRow.at >= start, KudosRow.at < end)
        .group_by(KudosRow.receiver_id)
        .order_by(func.count().desc(), KudosRow.receiver_id)
        .limit(10)
    ).all()
    month = month_name(key, ctx.lang)
    if not counts:
        return reply(ctx, ctx.t(TEXT, "board_empty", month=month))
    lines = [ctx.t(TEXT, "board_title", month=month)]
    lines += [ctx.t(TEXT, "board_line", rank=i, who=mention(uid), count=n) for i, (uid, n) in enumerate(counts, 1)]
    return reply(ctx, "\n".join(lines))


def leaderboard_message(event: Any, ctx: SkillContext) -> Reply:
    """thanks leaderboard / classement: the most thanked this month (when enabled)."""
    return leaderboard(ctx)


def team_totals_message(event: Any, ctx: SkillContext) -> Reply:
    """thanks per team / remerciements par équipe: totals for teams big enough to stay anonymous."""
    return team_totals(ctx)


def team_totals(ctx: SkillContext) -> Reply:
    """Thanks received this month per team, only for teams of ``min_team_size`` people or more,
    so that no total points at one person."""
    size = settings_of(ctx).min_team_size
    team_sizes = dict(
        ctx.db.execute(
            select(PersonRow.team, func.count())
            .where(PersonRow.team.is_not(None), PersonRow.is_bot.is_(False), PersonRow.deleted.is_(False))
            .group_by(PersonRow.team)
        ).all()
    )
    key = month_key(as_utc(ctx.clock.now()))
    start, end = month_bounds(key)
    team_of = dict(ctx.db.execute(select(PersonRow.user_id, PersonRow.team)).all())
    counter: collections.Counter = collections.Counter()
    for receiver_id in ctx.db.scalars(select(KudosRow.receiver_id).where(KudosRow.at >= start, KudosRow.at < end)):
        team = team_of.get(receiver_id)
        if team and team_sizes.get(team, 0) >= size:
            counter[team] += 1
    month = month_name(key, ctx.lang)
    if not counter:
        return reply(ctx, ctx.t(TEXT, "teams_none", size=size, month=month))
    lines = [ctx.t(TEXT, "teams_title", month=month)]
    lines += [ctx.t(TEXT, "teams_line", team=team, count=n) for team, n in sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))]
    lines.append(ctx.t(TEXT, "teams_note", size=size))
    return reply(ctx, "\n".join(lines))

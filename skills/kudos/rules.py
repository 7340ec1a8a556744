"""The rules a thanks obeys, and the ``[kudos]`` settings that tune them.

- Nobody thanks themselves or a bot; naming the bot itself ("thanks @Liaison") gets a welcome and
  stores nothing.
- Each giver may thank ``daily_cap`` people a day, counted from midnight in the giver's time zone.
- A thanks counts at the time it was written; one older than ``notify_max_age_hours`` when it
  arrives (an imported history) is recorded, but nobody is messaged about it.
- A thanks adds no evidence for a receiver who opted out of indexing, nor from a private channel
  or a group DM.
- Pairs who keep thanking each other weigh less as evidence (``reciprocal_weight``; the formula
  is in the package's docstring).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Sequence
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import func, select

from bot.context import SkillContext
from bot.db.kudos import KudosRow
from bot.db.models import PersonRow
from bot.events import Conversation
from bot.i18n import strip_accents
from skills.kudos.parsing import mention, resolve
from skills.kudos.text import TEXT


@dataclass(frozen=True)
class KudosSettings:
    """The [kudos] section of the settings (see config/default.toml for each key)."""

    in_channels: bool = True
    reaction: str = "pray"
    recognition_channel: str = ""
    daily_cap: int = 5
    reciprocal_window_days: int = 14
    reciprocal_free_exchanges: int = 1
    reciprocal_min_weight: float = 0.2
    notify_max_age_hours: float = 24.0
    leaderboard: bool = False
    min_team_size: int = 5
    digest_enabled: bool = True
    digest_cron: str = "0 9 1 * *"


def settings_of(ctx: SkillContext) -> KudosSettings:
    return ctx.settings.section("kudos", KudosSettings)


def as_utc(value: dt.datetime) -> dt.datetime:
    # SQLite hands back naive datetimes; every time stored here is UTC.
    return value.replace(tzinfo=dt.timezone.utc) if value.tzinfo is None else value.astimezone(dt.timezone.utc)


# ---- when a thanks counts, and whether anyone hears of it -----------------------------------------


def counted_at(said_at: dt.datetime | None, now: dt.datetime) -> dt.datetime:
    """When a thanks counts: when it was said (a delivery can come late, an import much later),
    never in the future; now when the platform does not say."""
    return min(as_utc(said_at), now) if said_at is not None else now


def too_old_to_tell(at: dt.datetime, now: dt.datetime, settings: KudosSettings) -> bool:
    """Old thanks (history imported, a long outage) are recorded without messaging anyone."""
    return now - at > dt.timedelta(hours=settings.notify_max_age_hours)


# ---- the daily cap -------------------------------------------------------------------------------


def local_midnight(now: dt.datetime, tz_name: str | None) -> dt.datetime:
    """The start of the giver's day, in UTC (their time zone; UTC when unknown or invalid)."""
    try:
        tz = ZoneInfo(tz_name) if tz_name else dt.timezone.utc
    except (ZoneInfoNotFoundError, ValueError):
        tz = dt.timezone.utc
    local = now.astimezone(tz)
    start = dt.datetime(local.year, local.month, local.day, tzinfo=tz)
    return start.astimezone(dt.timezone.utc)


def thanks_that_day(session: Any, *, giver_id: str, at: dt.datetime, tz_name: str | None) -> int:
    """How many people the giver thanked on the (local) day of ``at``."""
    since = local_midnight(at, tz_name)
    until = local_midnight(since + dt.timedelta(hours=36), tz_name)  # the next midnight, across DST too
    return session.scalar(
        select(func.count()).select_from(KudosRow).where(
            KudosRow.giver_id == giver_id, KudosRow.at >= since, KudosRow.at < until)
    ) or 0


def within_cap(session: Any, receivers: list[PersonRow], *, giver: PersonRow, at: dt.datetime,
               settings: KudosSettings) -> tuple[list[PersonRow], list[PersonRow]]:
    """The receivers the giver may still thank on the day of ``at``, and those over the cap."""
    used = thanks_that_day(session, giver_id=giver.user_id, at=at, tz_name=giver.tz)
    room = max(0, settings.daily_cap - used)
    return receivers[:room], receivers[room:]


# ---- who may be thanked --------------------------------------------------------------------------


def _same_name(a: str, b: str) -> bool:
    def key(name: str) -> str:
        return strip_accents(name.strip().rstrip(".'’-").lower())

    return key(a) == key(b)


def is_this_bot(ctx: SkillContext, token: str, row: PersonRow | None = None) -> bool:
    """Whether a thanks names the bot itself: ``@Liaison`` typed as text (Teams and the console
    keep an unresolved mention as text), or a mention of a bot account bearing the bot's name."""
    name = ctx.settings.bot.name
    if row is not None:
        return bool(row.is_bot) and _same_name(row.name or "", name)
    return token.startswith("@") and _same_name(token[1:], name)


def receivers_of(ctx: SkillContext, tokens: Sequence[str], giver: PersonRow, *,
                 announce_refusals: bool) -> tuple[list[PersonRow], list[str], bool]:
    """The people a thanks reaches, the refusals to say (nobody found, oneself, a bot), and
    whether it named the bot itself."""
    refusals: list[str] = []
    receivers: list[PersonRow] = []
    to_the_bot = False
    for token in tokens:
        if is_this_bot(ctx, token):
            to_the_bot = True
            continue
        row, refusal = resolve(ctx, token)
        if refusal:
            if announce_refusals:
                refusals.append(refusal)
            continue
        assert row is not None
        if is_this_bot(ctx, token, row):
            to_the_bot = True
        elif row.user_id == giver.user_id:
            refusals.append(ctx.t(TEXT, "self"))
        elif row.is_bot:
            refusals.append(ctx.t(TEXT, "bot", who=mention(row.user_id)))
        elif all(r.user_id != row.user_id for r in receivers):
            receivers.append(row)
    return receivers, refusals, to_the_bot


# ---- what a thanks weighs as evidence ------------------------------------------------------------


def adds_evidence(receiver: PersonRow, conversation: Conversation) -> bool:
    """Whether a thanks may add evidence for its receiver: not when they opted out of indexing;
    and what is said in a private channel or a group DM never reaches the index, not even as
    topics."""
    return not receiver.indexing_opt_out and conversation.kind in ("channel", "dm")


def reciprocal_weight(session: Any, *, giver_id: str, receiver_id: str, now: dt.datetime, settings: KudosSettings) -> float:
    """What a new thanks from giver to receiver weighs as evidence (formula in the package's docstring)."""
    since = now - dt.timedelta(days=settings.reciprocal_window_days)

    def count(a: str, b: str) -> int:
        return session.scalar(
            select(func.count()).select_from(KudosRow).where(
                KudosRow.giver_id == a, KudosRow.receiver_id == b, KudosRow.at >= since, KudosRow.at <= now
            )
        ) or 0

    back, forth = count(receiver_id, giver_id), count(giver_id, receiver_id)
    exchanges = min(back, forth + 1)
    weight = 1.0 / (1 + max(0, exchanges - settings.reciprocal_free_exchanges))
    return max(settings.reciprocal_min_weight, weight)

"""The monthly digest (job ``kudos.digest``, cron ``digest_cron``): each person thanked in the
previous calendar month (UTC) gets a direct message in their language; a (person, month) row
written before sending makes a second fire of the same month send nothing.
"""

from __future__ import annotations

import collections
import datetime as dt
import re
from typing import Iterable

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from bot import people
from bot.context import SkillContext
from bot.db.kudos import KudosDigestRow, KudosRow
from bot.events import DirectMessage, Outbound, ScheduledTick
from skills.kudos.rules import as_utc, settings_of
from skills.kudos.text import TEXT, join, lang_of, month_name
from skills.kudos.views import month_bounds, month_key


def previous_month(at: dt.datetime) -> str:
    at = as_utc(at)
    first = dt.datetime(at.year, at.month, 1, tzinfo=dt.timezone.utc)
    return month_key(first - dt.timedelta(days=1))


def monthly_digest(event: ScheduledTick, ctx: SkillContext) -> list[Outbound]:
    """Each person thanked in the month before ``fire_time`` (or ``args["month"]``, "YYYY-MM")
    gets one direct message about it, in their language; once per (person, month)."""
    if not settings_of(ctx).digest_enabled:
        return []
    key = str(event.args.get("month") or previous_month(event.fire_time))
    if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", key):
        ctx.log.error("kudos.digest: month %r is not YYYY-MM; nothing sent", key)
        return []
    start, end = month_bounds(key)
    rows = ctx.db.scalars(
        select(KudosRow).where(KudosRow.at >= start, KudosRow.at < end).order_by(KudosRow.receiver_id, KudosRow.at)
    ).all()
    by_receiver: dict[str, list[KudosRow]] = collections.defaultdict(list)
    for r in rows:
        by_receiver[r.receiver_id].append(r)
    default = ctx.settings.bot.default_language
    out: list[Outbound] = []
    now = as_utc(ctx.clock.now())
    for receiver_id, received in by_receiver.items():
        person = people.get(ctx.db, receiver_id)
        if person is None or person.deleted or person.is_bot:
            continue
        try:
            with ctx.db.begin_nested():
                ctx.db.add(KudosDigestRow(user_id=receiver_id, month=key, thanks=len(received), sent_at=now))
                ctx.db.flush()
        except IntegrityError:
            continue  # this month's digest already went to them
        out.append(DirectMessage(receiver_id, digest_text(received, key, lang_of(person, default))))
    ctx.log.info("kudos digest %s: %d direct messages", key, len(out))
    return out


def digest_text(received: Iterable[KudosRow], month: str, lang: str) -> str:
    received = list(received)
    n = len(received)
    topics = collections.Counter(name for r in received for name in (r.topic_names or []))
    names = [name for name, _ in topics.most_common(3)]
    times = TEXT.get(lang, "times", count=n)
    on = TEXT.get(lang, "digest_topics", topics=join(names, lang)) if names else ""
    return TEXT.get(lang, "digest", times=times, month=month_name(month, lang), topics=on)

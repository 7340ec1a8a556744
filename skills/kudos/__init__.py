"""Thank a colleague: thanks that reach the helper and count as expertise.

How people thank, in English and French:
- a message that starts with thanks and names people — "thanks @alice for the Kafka fix",
  "thank you @alice and @bob!", "kudos to @alice", "@alice thanks!", "merci @alice pour ton aide
  sur Kafka", "un grand merci à @bob" — addressed to the bot, or anywhere in a public channel the
  bot is in (``[kudos] in_channels``);
- the command ``/thanks @alice for …`` (aliases ``merci`` and ``kudos``), or the same words typed
  to the bot;
- a reaction with the configured emoji (``[kudos] reaction``, default :pray:) on someone's message.
("thank you" said to the bot itself, or "thanks @Liaison", gets a welcome and a hint on how to thank a
colleague; nothing is stored.)

What a thanks does: the receiver gets a direct message (who, for what, with a link); the giver
gets a confirmation only they see; the recognition channel, when configured, gets a post; and the
topics of the reason, plus those of the thread it was said in, become "thanked" evidence for the
receiver in the expertise index — with a link for a thanks said in a public channel, without one
for a thanks told to the bot in a DM, and not at all for one said in a private channel or a group
DM, whose topics stay out of everyone else's answers.

What is kept of a thanks (``kudos`` rows): who thanked whom, when and how, the conversation's id
(its name and a link only for a public channel), the reason's topic keys and the few topic names
"my thanks" and the digest show. The reason's text is never kept: it goes into the receiver's
direct message and the recognition post, then only its topics remain.

Rules: nobody thanks themselves or a bot; each giver may thank ``daily_cap`` people a day,
counted from midnight in the giver's time zone; a thanks is stored once per (source, receiver)
— the source being the message (so edits and redeliveries count once) or one person's reaction
on one message (so reacting twice counts once). A thanks counts at the time it was written; one
older than ``notify_max_age_hours`` when it arrives (an imported history) is recorded and counts
as evidence, but nobody is messaged about it.

Pairs who keep thanking each other still get every message, but their thanks weigh less as
evidence. With ``r`` the thanks B gave A and ``f`` the earlier thanks A gave B within the last
``reciprocal_window_days``, the exchanges back and forth are ``m = min(r, f + 1)`` and A's new
thanks to B weighs ``max(reciprocal_min_weight, 1 / (1 + max(0, m - reciprocal_free_exchanges)))``.
With the defaults (14 days, 1 free exchange, floor 0.2): A→B 1, B→A 1, A→B 1, B→A 0.5, A→B 0.5,
B→A 0.33, … down to 0.2.

Views: "my thanks" / "mes remerciements" (received and given, by month and by topic, to the
person only); "thanks leaderboard" (off unless ``leaderboard`` is set or an admin says
"thanks leaderboard on"); "thanks teams" (per-team totals, only for teams of ``min_team_size``
people or more). Nothing shows one person's figures to anyone else.

The monthly digest (job ``kudos.digest``, cron ``digest_cron``) sends each person thanked in the
previous calendar month (UTC) a direct message in their language; a (person, month) row written
before sending makes a second fire of the same month send nothing.
"""

from __future__ import annotations

import collections
import dataclasses
import datetime as dt
import hashlib
import logging
import re
from dataclasses import dataclass
from typing import Any, Iterable, Sequence
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from bot import people
from bot.db.kudos import KudosDigestRow, KudosOptionsRow, KudosRow
from bot.db.models import PersonRow
from bot.context import SkillContext
from bot.dispatch import MESSAGES, reply
from bot.events import (
    CommandInvoked,
    Conversation,
    DirectMessage,
    MessageReceived,
    Outbound,
    ReactionAdded,
    Reply,
    ScheduledTick,
)
from skills.expertise.api import EvidenceRef, ExpertiseSettings, author_of, known_keys, record_evidence, thread_topics
from bot.i18n import normalise_locale, strip_accents
from bot.ports import ChatError
from bot.router import MAX_MATCH_CHARS, Routes, compile_pattern, normalise
from skills.kudos.text import MONTHS, TEXT
from bot.text import directory_names, quote

log = logging.getLogger("liaison.skills.kudos")


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


# ---- parsing -------------------------------------------------------------------------------------

# A person named in a message: a platform mention (<@U123>, or <@U123|alice> from Slack slash
# commands) or a typed @name (slash commands and Teams send names as typed). The patterns are RE2
# syntax, matched in linear time (see bot/router.py): \pL is a letter of any script.
_WHO_ONE = r"(?:<@[^>\s]+>|@\pL[\pL\pN\pM_'.\-]*)"
_WHO = rf"(?P<who>{_WHO_ONE}(?:\s*(?:,|&|\band\b|\bet\b)?\s*{_WHO_ONE})*)"
_MENTION = re.compile(r"<@([^>|\s]+)(?:\|[^>]*)?>|@([^\W\d_][\w'.\-]*)")
_REASON_EN = r"(?:\s*[,:;!.–—-]*\s*(?:(?:for|on|with|about)\s+)?(?P<reason>[^\s.!?].*?))?"
_REASON_FR = r"(?:\s*[,:;!.–—-]*\s*(?:(?:pour|sur|avec|de|d'|d’)\s*)?(?P<reason>[^\s.!?].*?))?"
_THANK_EN = r"(?:(?:many|big|huge|special)\s+)?(?:thanks|thank\s+you|thx|ty|kudos|shout-?out|props)(?:\s+(?:so\s+much|a\s+lot|again))?"
_THANK_FR = (
    r"(?:un\s+)?(?:(?:grand|gros|immense|énorme|enorme)\s+)?(?:merci|kudos|bravo)"
    r"(?:\s+(?:beaucoup|encore|mille\s+fois|infiniment))?"
)

PATTERNS_EN = (
    rf"{_THANK_EN}(?:\s+to)?\s*,?\s+{_WHO}{_REASON_EN}",
    rf"{_WHO}\s*[,:]?\s*{_THANK_EN}{_REASON_EN}",
    rf"{_THANK_EN}\s+(?:for|on)\s+(?P<reason>[^\s.!?].*?)\s*[,:;–—-]?\s*{_WHO}",
)
PATTERNS_FR = (
    rf"{_THANK_FR}(?:\s+(?:à|a))?\s*,?\s+{_WHO}{_REASON_FR}",
    rf"{_WHO}\s*[,:]?\s*{_THANK_FR}{_REASON_FR}",
    rf"{_THANK_FR}\s+(?:pour|sur)\s+(?P<reason>[^\s.!?].*?)\s*[,:;–—-]?\s*{_WHO}",
)
# Command arguments: "@alice for …", "to @alice …", "à @bob pour …".
_ARGS = compile_pattern(
    rf"(?:(?:to|à|a)\s+)?{_WHO}(?:\s*[,:;!.–—-]*\s*(?:(?:for|on|with|about|pour|sur|avec|de|d'|d’)\s*)?"
    rf"(?P<reason>[^\s.!?].*?))?"
)
MAX_REASON = 500
_EMOJI = re.compile(r":[a-z0-9_+'\-]+:", re.IGNORECASE)
# The message patterns as the router applies them (the whole message, English first).
_WHOLE = tuple(compile_pattern(p) for p in (*PATTERNS_EN, *PATTERNS_FR))


def _plain(text: str | None) -> str:
    # What the patterns read: no emoji codes, whitespace runs as one space (as the router does).
    return normalise(_EMOJI.sub(" ", text or ""))


def parse_thanks(text: str) -> tuple[list[str], str] | None:
    """The people named at the start of command arguments (mention ids, or ``@name`` as typed)
    and the reason after them; None when the text names nobody."""
    m = _ARGS.fullmatch(_plain(text))
    if not m:
        return None
    return names_in(m.group("who")), clean_reason(m.group("reason"))


def names_in(who: str) -> list[str]:
    """Mentions in order, without repeats: user ids as ``<@id>``, typed names as ``@name``."""
    out: list[str] = []
    for m in _MENTION.finditer(who or ""):
        token = f"<@{m.group(1)}>" if m.group(1) else f"@{m.group(2)}"
        if token not in out:
            out.append(token)
    return out


def read_thanks(text: str) -> tuple[list[str], str] | None:
    """The people and the reason of a thanks message, read without its emoji codes (so that
    "merci @bob :pray:" has no reason, rather than "pray")."""
    plain = _plain(text)
    if len(plain) > MAX_MATCH_CHARS:
        return None
    for pattern in _WHOLE:
        m = pattern.fullmatch(plain)
        if m:
            return names_in(m.group("who")), clean_reason(m.groupdict().get("reason"))
    return None


def shown_reason(ctx: SkillContext, reason: str) -> str:
    """The reason as the bot repeats it: mentions and broadcasts (``<!here>``) made plain words,
    so that repeating it notifies nobody."""
    return quote(reason, directory_names(ctx.db))


def clean_reason(reason: str | None) -> str:
    """The reason as shown to the receiver: one line, without emoji codes or end punctuation."""
    reason = _EMOJI.sub(" ", reason or "")
    reason = re.sub(r"\s+", " ", reason).strip(" \t\n.,;:!?–—-")
    return reason[:MAX_REASON]


# ---- the rules -----------------------------------------------------------------------------------


def as_utc(value: dt.datetime) -> dt.datetime:
    # SQLite hands back naive datetimes; every time stored here is UTC.
    return value.replace(tzinfo=dt.timezone.utc) if value.tzinfo is None else value.astimezone(dt.timezone.utc)


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


def reciprocal_weight(session: Any, *, giver_id: str, receiver_id: str, now: dt.datetime, settings: KudosSettings) -> float:
    """What a new thanks from giver to receiver weighs as evidence (formula in the module docstring)."""
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


# ---- giving thanks -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Source:
    """Where a thanks comes from: its idempotency key and what to link to."""

    key: str
    via: str  # "message", "command", "reaction"
    conversation: Conversation
    ts: str | None
    thread_ts: str | None
    permalink: str | None
    at: dt.datetime | None = None  # when the message was written, when the platform says


def _mention(user_id: str) -> str:
    return f"<@{user_id}>"


def _join(items: Sequence[str], lang: str) -> str:
    items = list(items)
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} {TEXT.get(lang, 'and')} {items[-1]}"


def _lang_of(row: PersonRow | None, fallback: str) -> str:
    return normalise_locale(row.locale if row is not None else None) or fallback


def _same_name(a: str, b: str) -> bool:
    def key(name: str) -> str:
        return strip_accents(name.strip().rstrip(".'’-").lower())

    return key(a) == key(b)


def _is_this_bot(ctx: SkillContext, token: str, row: PersonRow | None = None) -> bool:
    """Whether a thanks names the bot itself: ``@Liaison`` typed as text (Teams and the console
    keep an unresolved mention as text), or a mention of a bot account bearing the bot's name."""
    name = ctx.settings.bot.name
    if row is not None:
        return bool(row.is_bot) and _same_name(row.name or "", name)
    return token.startswith("@") and _same_name(token[1:], name)


def _resolve(ctx: SkillContext, token: str) -> tuple[PersonRow | None, str | None]:
    """A person row for a mention or typed name, or the refusal to send."""
    if token.startswith("<@"):
        user_id = token[2:-1]
        row = people.get(ctx.db, user_id)
        if (row is None or row.name == row.user_id) and ctx.chat is not None:
            # Not met yet (or only by id): ask the platform, which also says whether it is a bot.
            try:
                found = ctx.chat.lookup_user(user_id)
            except ChatError as exc:
                ctx.log.warning("could not look up %s: %s", user_id, exc)
                found = None
            if found is not None:
                row = people.upsert(ctx.db, found)
                ctx.db.flush()
        if row is None:
            return None, ctx.t(TEXT, "unknown", name=quote(token))
        return row, None
    name = token[1:]
    found_rows = people.find_by_name(ctx.db, name)
    if not found_rows and ctx.chat is not None:
        # Someone the bot has not met yet: look in the platform's directory once.
        try:
            directory = ctx.chat.list_users()
        except ChatError as exc:
            ctx.log.warning("could not list users to find %s: %s", token, exc)
            directory = []
        wanted = name.lower()
        matches = [p for p in directory if p.name.lower() == wanted or p.id.lower() == wanted]
        matches = matches or [p for p in directory if p.name.lower().split(" ")[0] == wanted]
        found_rows = [people.upsert(ctx.db, p) for p in matches if not p.is_bot or len(matches) == 1]
        ctx.db.flush()
    if not found_rows:
        return None, ctx.t(TEXT, "unknown", name=quote(token))
    if len(found_rows) > 1:
        return None, ctx.t(TEXT, "ambiguous", name=token, names=_join([_mention(r.user_id) for r in found_rows], ctx.lang))
    return found_rows[0], None


def _topics_for(ctx: SkillContext, reason: str, source: Source) -> list[Any]:
    """The reason's topics, then those of the thread it was said in, without repeats."""
    topics: list[Any] = []
    if reason:
        try:
            nlp = ctx.service("nlp")
        except LookupError:
            nlp = None  # the expertise skill is off: thanks still go out, without topics
        if nlp is not None:
            for t in nlp.topics(reason, lang=ctx.lang):
                # Show a topic as the giver wrote it ("Kafka" at the start of a reason is
                # still a name, though a sentence's first word loses its capital).
                found = re.search(rf"(?<!\w){re.escape(t.display)}(?!\w)", reason, re.IGNORECASE)
                topics.append(dataclasses.replace(t, display=found.group(0)) if found else t)
    if source.thread_ts and source.conversation.kind == "channel":
        topics.extend(thread_topics(ctx.db, conversation_id=source.conversation.id, thread_ts=source.thread_ts))
    seen: set[str] = set()
    unique = []
    for t in topics:
        if t.key not in seen:
            seen.add(t.key)
            unique.append(t)
    return unique[:10]


def shown_topics(ctx: SkillContext, topics: Sequence[Any], *, limit: int = 3) -> list[Any]:
    """The few topics worth naming to people: those the index already knows when there are
    any, else the proper nouns, else all; proper nouns first and shortest first ("Kafka"
    rather than "Kafka fix"), and a phrase sharing a word with one already chosen is skipped."""
    known = set(known_keys(ctx.db, [t.key for t in topics]))
    pool = [t for t in topics if t.key in known] or [t for t in topics if t.display[:1].isupper()] or list(topics)

    def rank(i: int) -> tuple[bool, int, int]:
        proper = pool[i].display[:1].isupper()
        return (not proper, len(pool[i].key.split()) if proper else 0, i)

    chosen: list[Any] = []
    for i in sorted(range(len(pool)), key=rank):
        words = set(pool[i].key.split())
        if any(words & set(c.key.split()) for c in chosen):
            continue
        chosen.append(pool[i])
        if len(chosen) == limit:
            break
    return chosen


def _record_evidence(ctx: SkillContext, *, receiver: PersonRow, topics: list[Any], weight: float, source: Source,
                     at: dt.datetime) -> None:
    if not topics or receiver.indexing_opt_out:
        return
    # What is said in a private channel or a group DM never reaches the index, not even as topics.
    if source.conversation.kind not in ("channel", "dm"):
        return
    # Only public channels become links in the index: a thanks said in a DM to the bot still
    # counts, but nobody else could open the message.
    ref = None
    if source.conversation.kind == "channel" and source.ts:
        ref = EvidenceRef(conversation_id=source.conversation.id, ts=source.ts, permalink=source.permalink,
                          conversation_name=source.conversation.name)
    record_evidence(ctx.db, user_id=receiver.user_id, topics=topics, kind="thanked", at=at, weight=weight, ref=ref,
                    settings=ctx.settings.section("expertise", ExpertiseSettings))


def _receivers(ctx: SkillContext, tokens: Sequence[str], giver: PersonRow, *,
               announce_refusals: bool) -> tuple[list[PersonRow], list[str], bool]:
    """The people a thanks reaches, the refusals to say (nobody found, oneself, a bot), and
    whether it named the bot itself."""
    refusals: list[str] = []
    receivers: list[PersonRow] = []
    to_the_bot = False
    for token in tokens:
        if _is_this_bot(ctx, token):
            to_the_bot = True
            continue
        row, refusal = _resolve(ctx, token)
        if refusal:
            if announce_refusals:
                refusals.append(refusal)
            continue
        assert row is not None
        if _is_this_bot(ctx, token, row):
            to_the_bot = True
        elif row.user_id == giver.user_id:
            refusals.append(ctx.t(TEXT, "self"))
        elif row.is_bot:
            refusals.append(ctx.t(TEXT, "bot", who=_mention(row.user_id)))
        elif all(r.user_id != row.user_id for r in receivers):
            receivers.append(row)
    return receivers, refusals, to_the_bot


def give_thanks(ctx: SkillContext, *, tokens: Sequence[str], reason: str, source: Source,
                announce_refusals: bool = True) -> list[Outbound]:
    """Thank the people named by ``tokens`` (``<@id>`` or ``@name``) from the sender: store the
    thanks once per (source, receiver), add the evidence and return the messages to send."""
    settings = settings_of(ctx)
    giver = ctx.sender
    if giver is None or giver.is_bot:
        return []
    now = as_utc(ctx.clock.now())
    # A thanks counts when it was said (a delivery can come late, an import much later).
    at = min(as_utc(source.at), now) if source.at is not None else now
    # Old thanks (history imported, a long outage) are recorded without messaging anyone.
    quiet = now - at > dt.timedelta(hours=settings.notify_max_age_hours)
    receivers, refusals, to_the_bot = _receivers(ctx, tokens, giver, announce_refusals=announce_refusals)
    if to_the_bot and not receivers and not refusals:
        # Thanks to the bot itself: a welcome, and how to thank a colleague; nothing stored.
        return [] if quiet else [reply(ctx, ctx.t(TEXT, "usage"), private=True)]
    # Already stored for this source (an edit, a redelivery, a second reaction): nothing to do.
    known = set(ctx.db.scalars(select(KudosRow.receiver_id).where(KudosRow.source_key == source.key)).all())
    fresh = [r for r in receivers if r.user_id not in known]
    if known and not fresh:
        return []

    used = thanks_that_day(ctx.db, giver_id=giver.user_id, at=at, tz_name=giver.tz)
    room = max(0, settings.daily_cap - used)
    over = fresh[room:]
    fresh = fresh[:room]
    if over:
        refusals.append(ctx.t(TEXT, "cap", cap=settings.daily_cap, who=_join([_mention(r.user_id) for r in over], ctx.lang)))

    out: list[Outbound] = []
    sent_to: list[PersonRow] = []
    topics = _topics_for(ctx, reason, source) if fresh else []
    shown = shown_topics(ctx, topics)  # before recording: afterwards every topic is "known"
    for receiver in fresh:
        weight = reciprocal_weight(ctx.db, giver_id=giver.user_id, receiver_id=receiver.user_id, now=at, settings=settings)
        public = source.conversation.kind == "channel"
        row = KudosRow(
            source_key=source.key[:255], giver_id=giver.user_id, receiver_id=receiver.user_id,
            topics=[t.key for t in topics], topic_names=[t.display for t in shown], via=source.via,
            conversation_id=source.conversation.id, conversation_name=source.conversation.name if public else None,
            ts=source.ts, permalink=source.permalink if public else None, weight=weight, at=at,
        )
        try:
            with ctx.db.begin_nested():
                ctx.db.add(row)
                ctx.db.flush()
        except IntegrityError:
            continue  # the same thanks arrived twice at once; the other delivery stored it
        _record_evidence(ctx, receiver=receiver, topics=topics, weight=weight, source=source, at=at)
        sent_to.append(receiver)
        out.append(DirectMessage(receiver.user_id, _dm_text(ctx, receiver, reason, source, shown)))
        ctx.log.info("thanks %s -> %s via %s weight=%.2f topics=%s", giver.user_id, receiver.user_id, source.via,
                     weight, [t.key for t in topics])

    if quiet:
        return []
    if sent_to and settings.recognition_channel and source.conversation.kind in ("channel", "dm"):
        out.append(Reply(Conversation(settings.recognition_channel, "channel"), _post_text(ctx, sent_to, reason, source)))
    lines = list(refusals)
    if sent_to:
        who = _join([_mention(r.user_id) for r in sent_to], ctx.lang)
        names = [t.display for t in shown]
        lines.insert(0, ctx.t(TEXT, "sent_topics", who=who, topics=_join(names, ctx.lang)) if names
                     else ctx.t(TEXT, "sent", who=who))
    if lines:
        out.append(reply(ctx, "\n".join(lines), private=True))
    return out


def _link(lang: str, url: str | None) -> str:
    return TEXT.get(lang, "link", url=url) if url else ""


def _dm_text(ctx: SkillContext, receiver: PersonRow, reason: str, source: Source, topics: list[Any]) -> str:
    lang = _lang_of(receiver, ctx.lang)
    giver = _mention(ctx.sender.user_id)  # type: ignore[union-attr]
    where = TEXT.get(lang, "where", channel=source.conversation.name) if (
        source.conversation.kind == "channel" and source.conversation.name) else ""
    link = _link(lang, source.permalink)
    text = (TEXT.get(lang, "dm_reason", giver=giver, reason=shown_reason(ctx, reason), where=where, link=link) if reason
            else TEXT.get(lang, "dm_plain", giver=giver, where=where, link=link))
    if topics and not receiver.indexing_opt_out:
        text += TEXT.get(lang, "dm_topics", topics=_join([t.display for t in topics], lang))
    return text


def _post_text(ctx: SkillContext, receivers: list[PersonRow], reason: str, source: Source) -> str:
    lang = ctx.settings.bot.default_language
    who = _join([_mention(r.user_id) for r in receivers], lang)
    giver = _mention(ctx.sender.user_id)  # type: ignore[union-attr]
    link = _link(lang, source.permalink) if source.conversation.kind == "channel" else ""
    if reason:
        return TEXT.get(lang, "post_reason", giver=giver, who=who, reason=shown_reason(ctx, reason), link=link)
    return TEXT.get(lang, "post_plain", giver=giver, who=who, link=link)


def _permalink(ctx: SkillContext, conversation: Conversation, ts: str | None, given: str | None = None) -> str | None:
    """A link to the thanks, for a public channel only (nobody else could open the others)."""
    if conversation.kind != "channel":
        return None
    if given or not ts or ctx.chat is None:
        return given
    try:
        return ctx.chat.permalink(conversation.id, ts)
    except ChatError as exc:
        ctx.log.warning("no permalink for %s/%s: %s", conversation.id, ts, exc)
        return None


# ---- routes --------------------------------------------------------------------------------------

routes = Routes(
    "kudos",
    help={
        "en": [TEXT.get("en", "help_thanks", emoji="pray"), TEXT.get("en", "help_mine")],
        "fr": [TEXT.get("fr", "help_thanks", emoji="pray"), TEXT.get("fr", "help_mine")],
    },
)

_MINE_ARGS = re.compile(r"^(?:me|mine|stats|moi|my thanks|mes (?:remerciements|mercis)|i(?:'ve)? (?:got|received|gave)|received|given)$")
_BOARD_ARGS = {"leaderboard", "top", "classement"}
_TEAMS_ARGS = re.compile(r"^(?:(?:per|by|par) )?(?:teams?|[ée]quipes?)$")


@routes.command("thanks", aliases=("merci", "kudos"))
def thanks_command(event: Any, ctx: SkillContext) -> list[Outbound] | Reply:
    """/thanks @name for … — thank a colleague; /thanks me, leaderboard, teams."""
    command = event.command if isinstance(event, CommandInvoked) else event.text.strip().split(" ", 1)[0].lstrip("/")
    if command.lower() == "merci":
        ctx.lang = "fr"
    args = ctx.args.strip()
    lowered = args.lower().rstrip(" .!?")
    if _MINE_ARGS.match(lowered):
        return my_thanks(event, ctx)
    head, _, rest = lowered.partition(" ")
    if head in _BOARD_ARGS:
        return leaderboard(ctx, switch=rest.strip())
    if _TEAMS_ARGS.match(lowered):
        return team_totals(ctx)
    if head in ("stats", "me", "mine") and rest:
        who = quote(args.split(" ", 1)[1].strip(), directory_names(ctx.db))
        return reply(ctx, ctx.t(TEXT, "mine_only_own", who=who), private=True)
    parsed = parse_thanks(args)
    if parsed is None or not parsed[0]:
        return reply(ctx, ctx.t(TEXT, "usage"), private=True)
    tokens, reason = parsed
    return give_thanks(ctx, tokens=tokens, reason=reason, source=_source_of(ctx, event, "command"))


@routes.message(en=PATTERNS_EN, fr=PATTERNS_FR, anywhere=True, priority=10)
def thanks_message(event: MessageReceived, ctx: SkillContext) -> list[Outbound] | None:
    """thanks @name for … / merci @nom pour … — to the bot, or in a public channel."""
    addressed = event.addressed
    if not addressed and (event.conversation.kind != "channel" or not settings_of(ctx).in_channels):
        return None
    tokens, reason = read_thanks(event.text) or (names_in(ctx.match.get("who", "")), clean_reason(ctx.match.get("reason")))
    # In a channel, a typed @name that is nobody is just text: say nothing rather than nag.
    return give_thanks(ctx, tokens=tokens, reason=reason, source=_source_of(ctx, event, "message"),
                       announce_refusals=addressed) or None


@routes.message(en=[r"(?:thank\s+you|thanks|thx|ty)(?:\s+(?:so\s+much|a\s+lot|again))?"],
                fr=[r"(?:un\s+grand\s+)?merci(?:\s+(?:beaucoup|bien|encore))?"])
def thanks_to_the_bot(event: MessageReceived, ctx: SkillContext) -> Reply:
    """"thank you" said to the bot itself: a welcome, and how to thank a colleague."""
    return reply(ctx, ctx.t(TEXT, "usage"), private=True)


def _source_of(ctx: SkillContext, event: Any, via: str) -> Source:
    conv: Conversation = event.conversation
    ts = getattr(event, "ts", None)
    if ts:
        key = f"msg:{conv.id}:{ts}"
    elif getattr(event, "event_id", ""):
        key = f"cmd:{event.event_id}"
    else:
        # A slash command carries no message id: the same words from the same person on the same
        # day are the same thanks (a double submit), not a new one.
        day = ctx.clock.now().date().isoformat()
        digest = hashlib.sha1(f"{event.sender.id}:{event.text.strip().lower()}".encode()).hexdigest()[:16]
        key = f"cmd:{conv.id}:{day}:{digest}"
    permalink = _permalink(ctx, conv, ts, getattr(event, "permalink", None))
    return Source(key, via, conv, ts, getattr(event, "thread_ts", None), permalink, getattr(event, "time", None))


@routes.reaction("*")
def thanks_reaction(event: ReactionAdded, ctx: SkillContext) -> list[Outbound] | None:
    """A reaction with the configured emoji thanks the author of the message."""
    emoji = event.reaction.split("::", 1)[0]  # "pray::skin-tone-3" is still "pray"
    if emoji != settings_of(ctx).reaction.strip(":"):
        return None
    author = event.item_author or _author_of(ctx, event.conversation.id, event.item_ts)
    if not author:
        return None
    conv = event.conversation
    source = Source(
        key=f"reaction:{conv.id}:{event.item_ts}:{event.sender.id}", via="reaction", conversation=conv,
        ts=event.item_ts, thread_ts=event.item_ts, permalink=_permalink(ctx, conv, event.item_ts),
    )
    return give_thanks(ctx, tokens=[f"<@{author}>"], reason="", source=source) or None


def _author_of(ctx: SkillContext, conversation_id: str, ts: str) -> str | None:
    return author_of(ctx.db, conversation_id, ts)


# ---- views ---------------------------------------------------------------------------------------


def month_key(at: dt.datetime) -> str:
    return f"{at.year:04d}-{at.month:02d}"


def month_name(key: str, lang: str) -> str:
    year, month = key.split("-")
    return f"{MONTHS.get(lang, MONTHS['en'])[int(month) - 1]} {year}"


def month_bounds(key: str) -> tuple[dt.datetime, dt.datetime]:
    year, month = (int(x) for x in key.split("-"))
    start = dt.datetime(year, month, 1, tzinfo=dt.timezone.utc)
    end = dt.datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=dt.timezone.utc)
    return start, end


def _top(counter: collections.Counter, n: int = 5) -> list[str]:
    return [f"{name} ({count})" if count > 1 else name for name, count in counter.most_common(n)]


@routes.message(en=[r"my\s+(?:thanks|kudos)", r"(?:the\s+)?thanks\s+i(?:'ve)?\s+(?:got|received|gave)"],
                fr=[r"mes\s+(?:remerciements|mercis|kudos)"])
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
        lines.append(ctx.t(TEXT, "mine_month", month=month_name(key, ctx.lang), received=m["received"],
                           topics=topics, given=m["given"]))
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
    lines += [ctx.t(TEXT, "board_line", rank=i, who=_mention(uid), count=n) for i, (uid, n) in enumerate(counts, 1)]
    return reply(ctx, "\n".join(lines))


@routes.message(en=[r"(?:thanks|kudos)\s+leaderboard", r"leaderboard"],
                fr=[r"classement(?:\s+des\s+(?:remerciements|mercis))?"])
def leaderboard_message(event: Any, ctx: SkillContext) -> Reply:
    """thanks leaderboard / classement: the most thanked this month (when enabled)."""
    return leaderboard(ctx)


@routes.message(en=[r"(?:thanks|kudos)\s+(?:per|by)\s+teams?", r"team\s+thanks"],
                fr=[r"remerciements\s+par\s+[ée]quipes?"])
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


# ---- the monthly digest --------------------------------------------------------------------------


def services(app: Any) -> dict[str, Any]:
    """Register the monthly digest with the scheduler's registry (from ``digest_cron``); the
    skill provides no shared service of its own."""
    settings = app.settings.section("kudos", KudosSettings)
    if settings.digest_enabled:
        from bot import scheduler

        scheduler.register_cron(app, "kudos.digest", settings.digest_cron, timezone="UTC")
    return {}


def previous_month(at: dt.datetime) -> str:
    at = as_utc(at)
    first = dt.datetime(at.year, at.month, 1, tzinfo=dt.timezone.utc)
    return month_key(first - dt.timedelta(days=1))


@routes.schedule("kudos.digest")
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
        out.append(DirectMessage(receiver_id, digest_text(received, key, _lang_of(person, default))))
    ctx.log.info("kudos digest %s: %d direct messages", key, len(out))
    return out


def digest_text(received: Iterable[KudosRow], month: str, lang: str) -> str:
    received = list(received)
    n = len(received)
    topics = collections.Counter(name for r in received for name in (r.topic_names or []))
    names = [name for name, _ in topics.most_common(3)]
    times = TEXT.get(lang, "once") if n == 1 else TEXT.get(lang, "times", n=n)
    on = TEXT.get(lang, "digest_topics", topics=_join(names, lang)) if names else ""
    return TEXT.get(lang, "digest", times=times, month=month_name(month, lang), topics=on)


# ---- the demo ------------------------------------------------------------------------------------

routes.demo_step("Priya", "thanks @Lukas for the Kafka consumer lag fix!",
                 "Thanks in a channel reach the helper by direct message and count toward their expertise.",
                 channel="data-eng")
routes.demo_step("Camille", "merci @Théo pour ton aide sur Airflow",
                 "The same in French: Théo is told in French.", channel="dev-fr")
routes.demo_step("Lukas", "my thanks", "Anyone can see the thanks they received and gave, by month and topic.")
routes.demo_step("Théo", "mes remerciements", "… in their language.")

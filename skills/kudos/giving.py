"""Giving thanks: what one thanks does once its people and reason are known, and the three ways
people say it (a message, the ``/thanks`` command, a reaction).

``give_thanks`` stores one ``kudos`` row per (source, receiver), so edits, redeliveries and a
second reaction count once; records the reason's and the thread's topics as "thanked" evidence
through ``skills.expertise.api``; and returns the receiver's direct message, the recognition
channel's post and the giver's confirmation (only they see it). The rules it applies (the cap,
oneself, bots, opt-outs, old thanks, the weight of reciprocal thanks) are in ``rules.py``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import re
from dataclasses import dataclass
from typing import Any, Sequence

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from bot.context import SkillContext
from bot.db.kudos import KudosRow
from bot.db.models import PersonRow
from bot.dispatch import reply
from bot.events import CommandInvoked, Conversation, DirectMessage, MessageReceived, Outbound, ReactionAdded, Reply
from bot.ports import ChatError
from bot.text import directory_names, quote
from skills.expertise.api import EvidenceRef, ExpertiseSettings, author_of, known_keys, record_evidence, thread_topics
from skills.kudos.parsing import clean_reason, mention, names_in, parse_thanks, read_thanks
from skills.kudos.rules import (
    KudosSettings,
    adds_evidence,
    as_utc,
    counted_at,
    receivers_of,
    reciprocal_weight,
    settings_of,
    too_old_to_tell,
    within_cap,
)
from skills.kudos.text import TEXT, join, lang_of
from skills.kudos.views import leaderboard, my_thanks, team_totals


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


def give_thanks(ctx: SkillContext, *, tokens: Sequence[str], reason: str, source: Source,
                announce_refusals: bool = True) -> list[Outbound]:
    """Thank the people named by ``tokens`` (``<@id>`` or ``@name``) from the sender: store the
    thanks once per (source, receiver), add the evidence and return the messages to send."""
    settings = settings_of(ctx)
    giver = ctx.sender
    if giver is None or giver.is_bot:
        return []
    now = as_utc(ctx.clock.now())
    at = counted_at(source.at, now)
    quiet = too_old_to_tell(at, now, settings)
    receivers, refusals, to_the_bot = receivers_of(ctx, tokens, giver, announce_refusals=announce_refusals)
    if to_the_bot and not receivers and not refusals:
        # Thanks to the bot itself: a welcome, and how to thank a colleague; nothing stored.
        return [] if quiet else [reply(ctx, ctx.t(TEXT, "usage"), private=True)]
    # Already stored for this source (an edit, a redelivery, a second reaction): nothing to do.
    known = set(ctx.db.scalars(select(KudosRow.receiver_id).where(KudosRow.source_key == source.key)).all())
    fresh = [r for r in receivers if r.user_id not in known]
    if known and not fresh:
        return []
    fresh, over = within_cap(ctx.db, fresh, giver=giver, at=at, settings=settings)
    if over:
        refusals.append(ctx.t(TEXT, "cap", count=settings.daily_cap, who=join([mention(r.user_id) for r in over], ctx.lang)))
    topics = _topics_for(ctx, reason, source) if fresh else []
    shown = shown_topics(ctx, topics)  # before recording: afterwards every topic is "known"
    out: list[Outbound] = []
    sent_to: list[PersonRow] = []
    for receiver in fresh:
        if _store(ctx, giver=giver, receiver=receiver, topics=topics, shown=shown, source=source, at=at, settings=settings):
            sent_to.append(receiver)
            out.append(DirectMessage(receiver.user_id, _dm_text(ctx, receiver, reason, source, shown)))
    if quiet:
        return []
    return out + _confirmations(ctx, sent_to, refusals, reason=reason, source=source, shown=shown, settings=settings)


def _store(ctx: SkillContext, *, giver: PersonRow, receiver: PersonRow, topics: list[Any], shown: list[Any],
           source: Source, at: dt.datetime, settings: KudosSettings) -> bool:
    """Store one thanks and its evidence; False when another delivery of it stored it first."""
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
        return False  # the same thanks arrived twice at once; the other delivery stored it
    _record_evidence(ctx, receiver=receiver, topics=topics, weight=weight, source=source, at=at)
    ctx.log.info("thanks %s -> %s via %s weight=%.2f topics=%s", giver.user_id, receiver.user_id, source.via,
                 weight, [t.key for t in topics])
    return True


def _confirmations(ctx: SkillContext, sent_to: list[PersonRow], refusals: list[str], *, reason: str, source: Source,
                   shown: list[Any], settings: KudosSettings) -> list[Outbound]:
    """The recognition channel's post, then what the giver is told (sent, refused, over the cap)."""
    out: list[Outbound] = []
    if sent_to and settings.recognition_channel and source.conversation.kind in ("channel", "dm"):
        out.append(Reply(Conversation(settings.recognition_channel, "channel"), _post_text(ctx, sent_to, reason, source)))
    lines = list(refusals)
    if sent_to:
        who = join([mention(r.user_id) for r in sent_to], ctx.lang)
        names = [t.display for t in shown]
        lines.insert(0, ctx.t(TEXT, "sent_topics", who=who, topics=join(names, ctx.lang)) if names
                     else ctx.t(TEXT, "sent", who=who))
    if lines:
        out.append(reply(ctx, "\n".join(lines), private=True))
    return out


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
    if not topics or not adds_evidence(receiver, source.conversation):
        return
    # Only public channels become links in the index: a thanks said in a DM to the bot still
    # counts, but nobody else could open the message.
    ref = None
    if source.conversation.kind == "channel" and source.ts:
        ref = EvidenceRef(conversation_id=source.conversation.id, ts=source.ts, permalink=source.permalink,
                          conversation_name=source.conversation.name)
    record_evidence(ctx.db, user_id=receiver.user_id, topics=topics, kind="thanked", at=at, weight=weight, ref=ref,
                    settings=ctx.settings.section("expertise", ExpertiseSettings))


# ---- what people are told ------------------------------------------------------------------------


def shown_reason(ctx: SkillContext, reason: str) -> str:
    """The reason as the bot repeats it: mentions and broadcasts (``<!here>``) made plain words,
    so that repeating it notifies nobody."""
    return quote(reason, directory_names(ctx.db))


def _link(lang: str, url: str | None) -> str:
    return TEXT.get(lang, "link", url=url) if url else ""


def _dm_text(ctx: SkillContext, receiver: PersonRow, reason: str, source: Source, topics: list[Any]) -> str:
    lang = lang_of(receiver, ctx.lang)
    giver = mention(ctx.sender.user_id)  # type: ignore[union-attr]
    where = TEXT.get(lang, "where", channel=source.conversation.name) if (
        source.conversation.kind == "channel" and source.conversation.name) else ""
    link = _link(lang, source.permalink)
    text = (TEXT.get(lang, "dm_reason", giver=giver, reason=shown_reason(ctx, reason), where=where, link=link) if reason
            else TEXT.get(lang, "dm_plain", giver=giver, where=where, link=link))
    if topics and not receiver.indexing_opt_out:
        text += TEXT.get(lang, "dm_topics", topics=join([t.display for t in topics], lang))
    return text


def _post_text(ctx: SkillContext, receivers: list[PersonRow], reason: str, source: Source) -> str:
    lang = ctx.settings.bot.default_language
    who = join([mention(r.user_id) for r in receivers], lang)
    giver = mention(ctx.sender.user_id)  # type: ignore[union-attr]
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


# ---- the ways to say it --------------------------------------------------------------------------


_MINE_ARGS = re.compile(r"^(?:me|mine|stats|moi|my thanks|mes (?:remerciements|mercis)|i(?:'ve)? (?:got|received|gave)|received|given)$")
_BOARD_ARGS = {"leaderboard", "top", "classement"}
_TEAMS_ARGS = re.compile(r"^(?:(?:per|by|par) )?(?:teams?|[ée]quipes?)$")


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


def thanks_message(event: MessageReceived, ctx: SkillContext) -> list[Outbound] | None:
    """thanks @name for … / merci @nom pour … — to the bot, or in a public channel."""
    addressed = event.addressed
    if not addressed and (event.conversation.kind != "channel" or not settings_of(ctx).in_channels):
        return None
    tokens, reason = read_thanks(event.text) or (names_in(ctx.match.get("who", "")), clean_reason(ctx.match.get("reason")))
    # In a channel, a typed @name that is nobody is just text: say nothing rather than nag.
    return give_thanks(ctx, tokens=tokens, reason=reason, source=_source_of(ctx, event, "message"),
                       announce_refusals=addressed) or None


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


def thanks_reaction(event: ReactionAdded, ctx: SkillContext) -> list[Outbound] | None:
    """A reaction with the configured emoji thanks the author of the message."""
    emoji = event.reaction.split("::", 1)[0]  # "pray::skin-tone-3" is still "pray"
    if emoji != settings_of(ctx).reaction.strip(":"):
        return None
    author = event.item_author or author_of(ctx.db, event.conversation.id, event.item_ts)
    if not author:
        return None
    conv = event.conversation
    source = Source(
        key=f"reaction:{conv.id}:{event.item_ts}:{event.sender.id}", via="reaction", conversation=conv,
        ts=event.item_ts, thread_ts=event.item_ts, permalink=_permalink(ctx, conv, event.item_ts),
    )
    return give_thanks(ctx, tokens=[f"<@{author}>"], reason="", source=source) or None

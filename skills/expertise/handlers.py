"""The expertise skill's chat routes other than "who knows X?" (``ask.py``): "what do you know
about me?", "forget topic X", "stop indexing me", "start indexing me", "forget me", "I know X",
the Home tab section, and the ingest and fit jobs of the worker."""

from __future__ import annotations

from typing import Any, Sequence

from sqlalchemy import select

from bot.context import SkillContext
from bot.db.expertise import ExpertiseTopic
from bot.dispatch import reply
from bot.privacy import forget_person, index_again
from bot.text import directory_names, quote

from skills.expertise.ask import link_text, service_of, when
from skills.expertise.model import HeldTopic
from skills.expertise.personal import count_held, forget_all_evidence, forget_topic, held_about, take_back_evidence
from skills.expertise.writer import count_again
from skills.expertise.routes import routes
from skills.expertise.text import REASONS, TEXT


# ---- ingestion ----------------------------------------------------------------------------------


@routes.ingest()
def index_batch(batch: Sequence[Any], ctx: SkillContext) -> None:
    """Queued public-channel messages -> topics -> evidence (runs in the worker)."""
    service_of(ctx).ingest(ctx.db, batch, now=ctx.clock.now())


@routes.schedule("expertise.fit")
def fit_ranking(event: Any, ctx: SkillContext) -> list:
    """Learn the workspace's who-knows ranking again from its answered threads (daily)."""
    service_of(ctx).fit(ctx.db, now=ctx.clock.now())
    return []


# ---- what the bot holds about me -----------------------------------------------------------------


@routes.message(
    en=[r"what do you know about me", r"what do you have (?:on|about) me", r"what have you got on me"],
    fr=[r"que sais[- ]tu (?:de|sur) moi", r"qu['’]est-ce que tu sais (?:de|sur) moi", r"que savez[- ]vous (?:de|sur) moi"],
    priority=10,
)
def about_me(event: Any, ctx: SkillContext) -> Any:
    """what do you know about me? / que sais-tu de moi ?"""
    user = ctx.sender.user_id if ctx.sender is not None else event.sender.id
    held = _held(ctx, user, 15)
    opted_out = ctx.sender is not None and ctx.sender.indexing_opt_out
    # Routed questions received, accepted and asked, when the routing skill is enabled.
    routed = ctx.service("routing").about_me(ctx, user) if "routing" in ctx.services else []
    if not held:
        text = "\n".join([ctx.t(TEXT, "me_empty"), *routed])
        return reply(ctx, text + ("\n" + ctx.t(TEXT, "me_opted_out") if opted_out else ""), private=True)
    topics, rows = count_held(ctx.db, user_id=user)
    lines = [_intro(ctx, topics, rows)]
    for h in held:
        lines.append(_held_line(ctx, h))
    lines += routed
    lines.append(ctx.t(TEXT, "me_opted_out") if opted_out else ctx.t(TEXT, "me_more"))
    return reply(ctx, "\n".join(lines), private=True)


def _intro(ctx: SkillContext, topics: int, rows: int) -> str:
    return ctx.t(TEXT, "me_intro", count=topics, rows=ctx.t(TEXT, "n_evidence", count=rows))


@routes.home()
def home_section(event: Any, ctx: SkillContext) -> str:
    """The Home tab: what the index holds about the person, and whether they are indexed."""
    user = event.sender.id
    held = _held(ctx, user, 5)
    opted_out = ctx.sender is not None and ctx.sender.indexing_opt_out
    if not held:
        lines = [ctx.t(TEXT, "me_empty")]
    else:
        topics, rows = count_held(ctx.db, user_id=user)
        lines = [_intro(ctx, topics, rows), *(_held_line(ctx, h) for h in held)]
    lines.append(ctx.t(TEXT, "me_opted_out") if opted_out else ctx.t(TEXT, "me_more"))
    return "\n".join(lines)


def _held(ctx: SkillContext, user: str, limit: int) -> list[HeldTopic]:
    """The ``limit`` topics held about a person that are topics by the current word rules:
    evidence indexed before a rule changed may hold words such as "and" or "min", which are
    never shown."""
    service = service_of(ctx)
    held = held_about(ctx.db, user_id=user, limit=2 * limit + 10, settings=service.settings)
    T = ExpertiseTopic
    langs = dict(ctx.db.execute(select(T.key, T.lang).where(T.key.in_([h.key for h in held]))).all()) if held else {}
    nlp = service.nlp
    return [h for h in held if nlp.is_topic_key(h.key, lang=langs.get(h.key) or ctx.lang)][:limit]


def _held_line(ctx: SkillContext, h: HeldTopic) -> str:
    what = ", ".join(
        ctx.t(TEXT, f"me_kind_{k}", n=n) for k, n in h.counts.items() if n
    )
    last = REASONS.get(ctx.lang, "last", when=when(ctx, h.last_at)) if h.last_at else ""
    return ctx.t(TEXT, "me_line", topic=h.display, what=what, last=last, links=link_text(ctx, h.links))


@routes.message(
    en=[r"forget (?:the\s+)?topic\s+(?P<q>.+?)", r"forget (?:topic)"],
    fr=[r"oublie[sz]?\s+(?:le\s+)?sujet\s+(?P<q>.+?)", r"oublie[sz]?\s+le sujet"],
    priority=10,
)
def forget_topic_message(event: Any, ctx: SkillContext) -> Any:
    """forget topic X / oublie le sujet X"""
    phrase = ctx.match.get("q", "").strip().strip("*_`\"'«» ")
    if not phrase:
        return reply(ctx, ctx.t(TEXT, "forget_topic_what"), private=True)
    user = ctx.sender.user_id if ctx.sender is not None else event.sender.id
    service = service_of(ctx)
    keys = {t.key for t in service.query_topics(phrase, lang=ctx.lang)}
    # What people type is usually the display form they were shown; match it as a key too.
    keys.add(phrase.lower())
    held = {h.key: h for h in held_about(ctx.db, user_id=user, limit=10_000, settings=service.settings)}
    # The topic itself and every longer phrase that contains it ("terraform" -> "terraform module").
    wanted = [k for k in held if any(k == q or f" {q} " in f" {k} " for q in keys)]
    wanted = wanted or [k for k in held if held[k].display.lower() == phrase.lower()]
    if not wanted:
        return reply(ctx, ctx.t(TEXT, "no_such_topic", topic=quote(phrase, directory_names(ctx.db))), private=True)
    n = forget_topic(ctx.db, user_id=user, keys=wanted, settings=service.settings)
    return reply(ctx, ctx.t(TEXT, "forgot_topic", topic=quote(phrase, directory_names(ctx.db)), count=n), private=True)


@routes.message(
    en=[r"stop indexing me", r"don'?t index me", r"opt (?:me )?out"],
    fr=[r"arr[êe]te[sz]? de m['’]indexer", r"ne m['’]indexe plus", r"d[ée]sindexe[- ]moi"],
    priority=10,
)
def stop_indexing(event: Any, ctx: SkillContext) -> Any:
    """stop indexing me / arrête de m'indexer"""
    row = ctx.sender
    if row is None:
        return None
    if row.indexing_opt_out:
        return reply(ctx, ctx.t(TEXT, "already_stopped"), private=True)
    row.indexing_opt_out = True
    n = forget_all_evidence(ctx.db, user_id=row.user_id, settings=service_of(ctx).settings)
    return reply(ctx, ctx.t(TEXT, "stopped", count=n), private=True)


@routes.message(
    en=[r"(?:start|resume) indexing me", r"index me(?: again)?", r"opt (?:me )?(?:back )?in"],
    fr=[r"recommence[sz]? [àa] m['’]indexer", r"indexe[- ]moi(?: (?:à|a) nouveau| de nouveau)?", r"r[ée]indexe[- ]moi"],
    priority=10,
)
def start_indexing(event: Any, ctx: SkillContext) -> Any:
    """start indexing me / recommence à m'indexer"""
    row = ctx.sender
    if row is None:
        return None
    if not row.indexing_opt_out:
        return reply(ctx, ctx.t(TEXT, "already_started"), private=True)
    row.indexing_opt_out = False
    index_again(ctx.db, row.user_id, at=ctx.clock.now())  # also after "forget me"
    return reply(ctx, ctx.t(TEXT, "started"), private=True)


@routes.message(en=[r"forget (?:about )?me", r"delete (?:everything about )?me", r"erase me"],
                fr=[r"oublie[sz]?[- ]moi", r"efface[sz]?[- ]moi", r"efface[sz]? tout sur moi"], priority=10)
def forget_me(event: Any, ctx: SkillContext) -> Any:
    """forget me / oublie-moi: erase every row about the person, in every table, at once; they
    stay out of the index and of coffee rounds until they ask to be back."""
    user = ctx.sender.user_id if ctx.sender is not None else event.sender.id
    lang = ctx.lang
    settings = service_of(ctx).settings

    def evidence(session: Any, user_id: str) -> dict[str, int]:
        # Through the index first, so its topic counts stay right.
        return {"expertise_evidence": take_back_evidence(session, user_id=user_id, settings=settings)}

    counts = forget_person(ctx.db, user, at=ctx.clock.now(), take_back=[evidence])
    count_again(ctx.db)  # the index holds one person fewer
    ctx.db.expunge_all()
    ctx.sender = None
    ctx.lang = lang
    return reply(ctx, ctx.t(TEXT, "forgot_me", count=sum(counts.values()),
                                 tables=ctx.t(TEXT, "n_tables", count=len(counts))), private=True)


# ---- declarations -------------------------------------------------------------------------------


@routes.message(
    # First the forms with nothing after ("I know", "je connais…"): they are asked what they know.
    en=[r"i know(?:\s+about)?(?:\s*[:…]+)?", r"i can help(?:\s+(?:people\s+)?with)?(?:\s*[:…]+)?",
        r"i know (?:about\s+)?(?P<q>.+?)", r"i(?:'m| am) (?:an expert|good|experienced) (?:in|on|at|with)\s+(?P<q>.+?)",
        r"i can help (?:people\s+)?with\s+(?P<q>.+?)"],
    fr=[r"je connais(?:\s+bien)?(?:\s*[:…]+)?", r"je m['’]y connais(?:\s+bien)?(?:\s+(?:en|dans|sur))?(?:\s*[:…]+)?",
        r"je ma[îi]trise(?:\s*[:…]+)?", r"je peux aider(?:\s+(?:sur|avec|en))?(?:\s*[:…]+)?",
        r"je connais (?:bien\s+)?(?P<q>.+?)", r"je m['’]y connais (?:bien\s+)?(?:en|dans|sur)\s+(?P<q>.+?)",
        r"je ma[îi]trise\s+(?P<q>.+?)", r"je peux aider (?:sur|avec|en)\s+(?P<q>.+?)"],
    priority=4,
)
def declare(event: Any, ctx: SkillContext) -> Any:
    """I know Kafka / je connais Kafka: declare expertise ("I know" alone: what do you know?)."""
    row = ctx.sender
    if row is not None and row.indexing_opt_out:
        return reply(ctx, ctx.t(TEXT, "opted_out_declare"), private=True)
    phrase = ctx.match.get("q", "").strip()
    if not phrase:
        return reply(ctx, ctx.t(TEXT, "declare_what"))
    user = row.user_id if row is not None else event.sender.id
    topics = service_of(ctx).declare(ctx.db, user_id=user, text=phrase, at=ctx.clock.now(), lang=ctx.lang)
    if not topics:
        return reply(ctx, ctx.t(TEXT, "declare_what"))
    shown = ", ".join(f"*{t.display}*" for t in topics[:5])
    return reply(ctx, ctx.t(TEXT, "declared_ok", topics=shown))


# ---- demo -----------------------------------------------------------------------------------------

routes.demo_step("Camille", "qui connaît Kafka ?", "Ask who knows something, in French…")
routes.demo_step("Priya", "who knows Terraform?", "…or in English: people, one-line reasons and links.")
routes.demo_step("Priya", "I know Airflow", "Anyone can declare what they can help with.")
routes.demo_step("Priya", "what do you know about me?", "Everyone can see what the index holds about them.")

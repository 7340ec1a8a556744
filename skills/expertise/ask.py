""""Who knows X?" from the question to the answer: the question side of the expertise skill. In
order:

- how people ask it, in English and French (the patterns, in RE2 syntax), and the two routes that
  answer it ("who knows X?" and ``/whoknows X``);
- the answer: the people with their reason lines (``describe``, shared with ``liaison ask``) and
  links, a "did you mean" for a misspelt topic, and where to ask when nobody is known;
- the service that ranks, "expertise" (``ExpertiseService``, reached with ``service_of``): the
  settings and the NLP pipelines bound together for the ingest handler, the chat handlers and the
  command line, with what every question needs of the whole index kept for a few minutes; and
  the skill's ``services`` (the vocabulary a misspelt question is corrected against, the daily
  fit job).

The routing skill, when enabled, is reached through one call of the service "routing": it puts
last the people who said "Not me" to this asker on these topics, and adds *Ask them for me*. The
question is counted for the network report (``ctx.notify``) after the answer is sent."""

from __future__ import annotations

import datetime as dt
import importlib.util
import logging
import re
import threading
import time
from typing import Any, Mapping, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.context import SkillContext
from bot.db.expertise import ExpertiseTopic
from bot.dispatch import reply
from bot.i18n import month_name
from bot.text import directory_names, quote

from skills.expertise.evidence import known_keys, record_evidence
from skills.expertise.index import index_messages
from skills.expertise.model import Expert, ExpertiseSettings, Link, Model
from skills.expertise.nlp import LANGS, NlpSettings, closest_word
from skills.expertise.ranker_fit import FitSettings
from skills.expertise.ranking import IndexSnapshot, index_snapshot, who_knows
from skills.expertise.ranking import busiest_channel
from skills.expertise.routes import routes
from skills.expertise.text import REASONS, TEXT
from skills.expertise.topics import Topic

log = logging.getLogger("liaison.expertise")
# What the skill says when it starts and loads its pipelines (as the skill module always has).
skill_log = logging.getLogger("liaison.skills.expertise")

# How people ask. Kept in RE2 syntax (no look-around): the router matches the whole message,
# case-insensitively, with any end punctuation; ``q`` is the subject.
_WHO_EN = r"who\s*(?:['’]s|\s+is|\s+are)"
_PERSON_EN = r"(?:someone|somebody|anyone|anybody|a person|people)"
_EXPERT_EN = r"(?:experts?|specialists?|gurus?|person|people|go-to(?: person)?)"
ASK_EN = [
    r"(?:hey\s+|so\s+)?(?:does\s+|do\s+)?(?:anyone|anybody|someone|somebody)\s+(?:here\s+)?(?:know|knows|understand|understands)\s+(?:anything\s+|much\s+|a lot\s+)?(?:about\s+)?(?P<q>.+?)",
    r"who\s+(?:here\s+)?(?:knows|understands|is good (?:at|with)|is an expert (?:in|on)|(?:can|could|might) help (?:me\s+|us\s+)?(?:with|on))\s+(?:anything\s+|much\s+)?(?:about\s+)?(?P<q>.+?)",
    r"(?:is\s+)?(?:anyone|anybody|someone|somebody)\s+(?:here\s+)?(?:familiar with|good at|an expert (?:in|on)|experienced (?:in|with))\s+(?P<q>.+?)",
    _WHO_EN + r"\s+(?:familiar with|good (?:at|with)|the expert (?:in|on)|an expert (?:in|on)|the (?:best |right )?person (?:for|to ask about))\s+(?P<q>.+?)",
    # "who's the Kafka expert?", "who is our Terraform person?", "who are the Stripe experts here?"
    _WHO_EN + r"\s+(?:the|our|an?|your)\s+(?P<q>.+?)\s+" + _EXPERT_EN + r"(?:\s+(?:here|around))?",
    # "can anyone help me with Kafka?", "could someone here help us with Terraform?"
    r"(?:can|could|would)\s+(?:anyone|anybody|someone|somebody)\s+(?:here\s+)?help\s+(?:me\s+|us\s+)?(?:out\s+)?(?:with|on)\s+(?P<q>.+?)",
    # "I'm looking for someone who knows Kafka", "looking for a Kafka expert"
    r"(?:i['’]?m\s+|i am\s+|we['’]re\s+|we are\s+)?(?:looking for|searching for|trying to find)\s+" + _PERSON_EN
    + r"\s+(?:here\s+)?(?:who|that)\s+(?:knows?|understands?|is good (?:at|with)|is familiar with|has experience (?:with|in)|can help (?:me\s+|us\s+)?with)\s+(?:about\s+)?(?P<q>.+?)",
    r"(?:i['’]?m\s+|i am\s+|we['’]re\s+|we are\s+)?(?:looking for|searching for|trying to find)\s+(?:an?|some)\s+(?P<q>.+?)\s+" + _EXPERT_EN,
    # "is there a Kafka expert here?", "any Stripe experts around?"
    r"(?:is there|are there)\s+(?:an?|any)\s+(?P<q>.+?)\s+" + _EXPERT_EN + r"(?:\s+(?:here|around))?",
    r"any\s+(?P<q>.+?)\s+(?:experts|specialists|gurus)(?:\s+(?:here|around))?",
    r"who\s+knows|(?:does\s+)?anyone\s+know",
]
# "connaît", "maîtrise", "s'y connaît en", "peut m'aider avec": what the person asked for does.
_KNOWS_FR = (
    r"(?:(?:conna[îi]t|ma[îi]trise|sait)\s+(?:bien\s+)?(?:le sujet\s+)?"
    r"|s['’]y\s+conna[îi]t\s+(?:bien\s+)?(?:en|dans|sur|avec)\s+"
    r"|(?:peut|pourrait|saurait)\s+(?:m['’]|nous\s+)?aider\s+(?:avec|sur|pour|en|[àa] propos de)\s+)"
)
_SOMEONE_FR = r"quelqu['’]un\s+(?:ici\s+)?qui\s+"
_EXPERT_FR = r"(?:expert|experte|experts|expertes|sp[ée]cialiste|sp[ée]cialistes|r[ée]f[ée]rent|r[ée]f[ée]rente|pro)"
ASK_FR = [
    r"qui\s+(?:ici\s+)?(?:connaît|connait|sait|maîtrise|maitrise)\s+(?:bien\s+)?(?:quelque chose (?:à|a|en|sur)\s+)?(?P<q>.+?)",
    r"qui\s+(?:ici\s+)?s['’]y\s+(?:connaît|connait)\s+(?:bien\s+)?(?:en|dans|sur)\s+(?P<q>.+?)",
    r"(?:est-ce que\s+)?quelqu['’]un\s+(?:ici\s+)?(?:connaît|connait|maîtrise|maitrise|sait)\s+(?:bien\s+)?(?P<q>.+?)",
    r"(?:est-ce que\s+)?quelqu['’]un\s+(?:ici\s+)?s['’]y\s+(?:connaît|connait)\s+(?:bien\s+)?(?:en|dans|sur)\s+(?P<q>.+?)",
    # "qui est l'expert Kafka ?", "qui est notre experte en Stripe ?", "qui sont les spécialistes de Terraform ?"
    r"qui\s+(?:est|sont)\s+(?:l['’]\s*|le\s+|la\s+|les\s+|notre\s+|nos\s+|un\s+|une\s+)?" + _EXPERT_FR
    + r"\s+(?:en\s+|de\s+|du\s+|des\s+|sur\s+|d['’]\s*)?(?P<q>.+?)",
    # "qui peut m'aider avec Kafka ?", "est-ce que quelqu'un pourrait m'aider sur Stripe ?"
    r"qui\s+(?:ici\s+)?(?:peut|pourrait|saurait)\s+(?:m['’]|nous\s+)?aider\s+(?:avec|sur|pour|en|[àa] propos de)\s+(?P<q>.+?)",
    r"(?:est-ce que\s+)?quelqu['’]un\s+(?:ici\s+)?(?:peut|pourrait|saurait)\s+(?:m['’]|nous\s+)?aider\s+(?:avec|sur|pour|en|[àa] propos de)\s+(?P<q>.+?)",
    # "je cherche quelqu'un qui maîtrise Kafka", "tu connais quelqu'un qui s'y connaît en Stripe ?",
    # "il y a quelqu'un qui peut m'aider avec Terraform ?"
    r"(?:je|on|nous)\s+(?:re)?cherch(?:e|ons)\s+" + _SOMEONE_FR + _KNOWS_FR + r"(?P<q>.+?)",
    r"(?:(?:tu|vous)\s+conna(?:is|issez)\s+|conna(?:is|issez)[- ](?:tu|vous)\s+|y\s+a[- ]t[- ]il\s+|il\s+y\s+a\s+|y['’]a\s+"
    r"|est-ce qu['’]il y a\s+)" + _SOMEONE_FR + _KNOWS_FR + r"(?P<q>.+?)",
    # "je cherche un expert Kafka", "on cherche une spécialiste en Stripe"
    r"(?:(?:je|on|nous)\s+)?(?:re)?cherch(?:e|ons)\s+(?:un|une|des)\s+" + _EXPERT_FR + r"\s+(?:en\s+|de\s+|du\s+|des\s+|sur\s+|d['’]\s*)?(?P<q>.+?)",
    r"qui\s+(?:connaît|connait|sait)",
]


@routes.command("whoknows", aliases=("quiconnait", "quiconnaît"))
def whoknows_command(event: Any, ctx: SkillContext) -> Any:
    """/whoknows X: people who know about X."""
    return answer(ctx, ctx.args)


@routes.message(en=ASK_EN, fr=ASK_FR, priority=5)
def who_knows_message(event: Any, ctx: SkillContext) -> Any:
    """who knows X? / qui connaît X ?"""
    return answer(ctx, ctx.match.get("q", ""))


def answer(ctx: SkillContext, question: str) -> Any:
    question = question.strip().strip("?？!. ")
    if not question:
        return reply(ctx, ctx.t(TEXT, "ask_what"))
    service = service_of(ctx)
    asker = ctx.sender.user_id if ctx.sender is not None else None
    topics, experts = service.ask(ctx.db, text=question, asker=asker, now=ctx.clock.now(), lang=ctx.lang,
                                  limit=4 * service.settings.max_experts)
    # The subject as the answer repeats it: mentions and broadcasts (<!here>) as plain words.
    topic_label = quote(_without_article(question), directory_names(ctx.db))
    topic_label = topic_label if len(topic_label) <= 60 else topic_label[:57] + "…"
    matched = [e for e in experts if e.matched]
    lines = []
    if not matched:
        fixed = _spelling_fixed(ctx, question, topics)
        if fixed is not None:
            fixed_topics, again = service.ask(ctx.db, text=fixed, asker=asker, now=ctx.clock.now(), lang=ctx.lang,
                                              limit=4 * service.settings.max_experts)
            if any(e.matched for e in again):
                topics, experts, matched = fixed_topics, again, [e for e in again if e.matched]
                asked = topic_label
                topic_label = quote(_without_article(fixed), directory_names(ctx.db))
                lines.append(ctx.t(TEXT, "did_you_mean", asked=asked, topic=topic_label))
    ctx.notify("who_knows.asked", answered=bool(matched))  # counted per month, no names (network report)
    if not matched:
        channel = busiest_channel(ctx.db, now=ctx.clock.now())
        where = ctx.t(TEXT, "nobody_where", channel=channel) if channel else ""
        lines = [ctx.t(TEXT, "nobody", topic=topic_label, where=where)]
        helpers = [e for e in experts if e.answers > 0][: service.settings.min_experts]
        if helpers:
            lines.append(ctx.t(TEXT, "fallback_intro"))
        lines += [expert_line(ctx, i, e) for i, e in enumerate(helpers, 1)]
        return reply(ctx, "\n".join(lines))
    shown, buttons = _shown(ctx, question, topics, matched, service.settings.max_experts)
    if shown and shown[0].topic and shown[0].topic.casefold() == topic_label.casefold():
        topic_label = shown[0].topic  # the topic as the workspace writes it ("Kubernetes")
    lines.append(ctx.t(TEXT, "intro", topic=topic_label))
    lines += [expert_line(ctx, i, e) for i, e in enumerate(shown, 1)]
    return reply(ctx, "\n".join(lines), buttons=buttons)


def _shown(ctx: SkillContext, question: str, topics: Sequence[Any], matched: Sequence[Expert],
           show: int) -> tuple[list[Expert], Sequence[Any]]:
    """The people the answer names, and its buttons. With the routing skill enabled (the service
    "routing": neither skill imports the other), one call puts lower the people who said "Not
    me" to this asker on these topics and offers "Ask them for me" under the answer."""
    if "routing" not in ctx.services:
        return list(matched[:show]), ()
    by_id = {e.user_id: e for e in matched}
    ids, buttons = ctx.service("routing").under_answer(ctx, question=question, topics=topics,
                                                       experts=list(by_id), show=show)
    return [by_id[u] for u in ids], buttons


# A word as written in a question.
_WORD = re.compile(r"[^\W\d_][\w+#.\-]*")


def _spelling_fixed(ctx: SkillContext, question: str, topics: Sequence[Any]) -> str | None:
    """The question with its unknown topic words corrected to the closest of the workspace's
    most known topics ("kubernets" -> "Kubernetes"), or None when no word is close to one."""
    topic_words = {w for t in topics for w in t.key.split()}
    written = [w for w in dict.fromkeys(_WORD.findall(question)) if w.lower() in topic_words]
    if not written:
        return None
    unknown = set(w.lower() for w in written) - set(known_keys(ctx.db, [w.lower() for w in written]))
    keys, displays = ctx.service("expertise_vocabulary").words(ctx.db)
    fixed = question
    for word in written:
        if word.lower() in unknown and (best := closest_word(word.lower(), keys)) is not None:
            fixed = re.sub(rf"(?<![\w.\-]){re.escape(word)}(?![\w.\-])", lambda _m: displays[best], fixed)
    return fixed if fixed != question else None


# A leading article, as in "qui connaît les clusters Kubernetes ?" or "who knows the billing API?".
_ARTICLE = re.compile(r"^(?:(?:the|an?|les|le|la|des|du|une?)\s+|l['’]\s*)(?=\S)", re.IGNORECASE)


def _without_article(question: str) -> str:
    """The subject of a question as the answer names it: "*clusters Kubernetes*", not "*les
    clusters Kubernetes*". An all-capitals word ("LA", "A") is a name, not an article."""
    m = _ARTICLE.match(question)
    if m is None or m.group(0).strip().rstrip("'’").isupper():
        return question
    return question[m.end():]


def when(ctx: SkillContext, at: dt.datetime | None) -> str:
    return month_label(at, lang=ctx.lang, now=ctx.clock.now())


def reason(ctx: SkillContext, e: Expert) -> str:
    return describe(e, lang=ctx.lang, now=ctx.clock.now())


def link_text(ctx: SkillContext, links: Sequence[Link]) -> str:
    parts = []
    for i, link in enumerate(links, 1):
        if link.permalink:
            parts.append(ctx.t(TEXT, "link", url=link.permalink, label=f"{ctx.t(TEXT, 'link_label')} {i}"))
    return (" · " + " ".join(parts)) if parts else ""


def expert_line(ctx: SkillContext, n: int, e: Expert) -> str:
    team = ""
    if e.team:
        team = ctx.t(TEXT, "outside" if e.outside_team else "team", team=e.team)
    return ctx.t(TEXT, "line", n=n, name=e.name, team=team, reason=reason(ctx, e), links=link_text(ctx, e.links))


# ---- the reason beside each person ---------------------------------------------------------------


def describe(e: "Expert", *, lang: str, now: dt.datetime) -> str:
    """The one-line reason, led by what ranked the person there (``e.reason``): their help on
    the topic, thanks for it, saying they know it, having helped the asker before, or helping
    others often or lately, or replying in others' threads a lot lately; then where and when last."""
    t = lambda key, **v: REASONS.get(lang, key, **v)  # noqa: E731
    general = {
        "threads": lambda: t("helper", count=e.answers),
        "recent": lambda: t("lately_lead"),
        "replies_recent": lambda: t("replies_lead"),
        "pair": lambda: t("pair", times=_times(t, e.pair)),
    }
    if not e.matched or not e.topic:
        return general.get(e.reason, general["threads"])()
    c, topic = e.counts, e.topic
    thanked = c.get("thanked", 0)
    kind = {"thanked": "thanked", "declared": "declared", "topic_wrote": "wrote"}.get(e.reason, "answered")
    if not c.get(kind):
        kind = next((k for k in ("answered", "thanked", "declared", "wrote") if c.get(k)), "declared")
    if kind == "answered":
        n = e.questions if e.questions else c["answered"]
        text = t("answered" if e.questions is None or e.questions_all else "answered_at_least",
                 count=n, topic=topic)
    elif kind == "wrote":
        n = c["wrote"]
        text = t("wrote", count=n, topic=topic)
    elif kind == "thanked":
        text = t("thanked_alone", count=_times(t, thanked), topic=topic)
    else:
        text = t("declared", topic=topic)
    if e.reason in general:
        # Helping often, lately or the asker ranked them: said first, the topic after.
        text = general[e.reason]() + t("reasons_then") + text
    if kind in ("answered", "wrote"):
        if e.channel:
            text += t("in_channel", channel=e.channel)
        if e.last_at is not None:
            text += t("last", when=month_label(e.last_at, lang=lang, now=now))
    if thanked and kind != "thanked":
        text += t("thanked", count=_times(t, thanked))
    return text


def _times(t: Any, n: int) -> str:
    return t("once") if n == 1 else t("twice") if n == 2 else t("n_times", n=n)


def link_targets(e: "Expert") -> list[str]:
    """The evidence of one person as links (a permalink, else "#channel ts")."""
    return [l.permalink or f"#{l.conversation_name or l.conversation_id} {l.ts}" for l in e.links]


def month_label(at: dt.datetime | None, *, lang: str, now: dt.datetime) -> str:
    """"March" this year, "March 2025" before."""
    if at is None:
        return ""
    month = month_name(lang, at.month)
    return month if at.year == now.year else f"{month} {at.year}"

# ---- the service that ranks ----------------------------------------------------------------------


class ExpertiseService:
    """The index as a shared service ("expertise"): the settings and the NLP pipelines bound
    together, for the ingest handler, the skill and the command line."""

    def __init__(self, *, settings: ExpertiseSettings, nlp: Any, db: Any = None) -> None:
        self.settings = settings
        self.nlp = nlp
        # Per workspace, what every question needs of the whole index's recent help (a read of
        # every answer of the last weeks, a tenth of a second on a large index), kept for a few
        # minutes: it changes slowly next to its half-lives. With ``db`` (a Database), an
        # expired copy is still used while a thread reads the new one, so no question waits.
        self._db = db
        self._snapshots: dict[str | None, tuple[float, IndexSnapshot]] = {}
        self._refreshing: set[str | None] = set()
        self._lock = threading.Lock()

    def ingest(self, session: Session, messages: Sequence[Any], *, now: dt.datetime) -> int:
        self._expire(session.info.get("workspace"))
        return index_messages(session, messages, nlp=self.nlp, settings=self.settings, now=now)

    def fit(self, session: Session, *, now: dt.datetime) -> Model:
        """Learn the session's workspace's ranking from its answered threads and store it (in
        the worker: on a schedule and after an import); its questions use it from their next
        snapshot."""
        from skills.expertise.ranker_fit import fit_workspace

        model = fit_workspace(session, now=now, settings=self.fit_settings())
        self._expire(session.info.get("workspace"))
        return model

    def fit_settings(self) -> FitSettings:
        """The fit's settings, from the [expertise] section."""
        s = self.settings
        return FitSettings(max_examples=s.fit_max_examples, min_examples=s.fit_min_examples, c=s.fit_c,
                           half_life_days=s.half_life_days, drop=tuple(s.fit_drop))

    def snapshot(self, session: Session, *, now: dt.datetime) -> IndexSnapshot:
        """``index_snapshot`` of the session's workspace, read again after
        ``helpers_refresh_seconds`` or after this service ingested messages there (in the
        background when the service has a database and a copy to answer with meanwhile)."""
        workspace = session.info.get("workspace")
        kept = self._snapshots.get(workspace)
        if kept is not None and time.monotonic() - kept[0] < self.settings.helpers_refresh_seconds:
            return kept[1]
        if kept is not None and self._db is not None and workspace is not None:
            self._refresh_later(workspace, now)
            return kept[1]
        snap = index_snapshot(session, now=now, settings=self.settings)
        self._snapshots[workspace] = (time.monotonic(), snap)
        return snap

    def _expire(self, workspace: str | None) -> None:
        kept = self._snapshots.get(workspace)
        if kept is not None:
            self._snapshots[workspace] = (float("-inf"), kept[1])

    def _refresh_later(self, workspace: str, now: dt.datetime) -> None:
        with self._lock:
            if workspace in self._refreshing:
                return
            self._refreshing.add(workspace)

        def refresh() -> None:
            try:
                with self._db.session(workspace) as s:
                    snap = index_snapshot(s, now=now, settings=self.settings)
                self._snapshots[workspace] = (time.monotonic(), snap)
            except Exception:  # noqa: BLE001 - the kept copy stays in use; the next question tries again
                log.exception("could not refresh the expertise snapshot of %s; the previous one stays in use", workspace)
            finally:
                with self._lock:
                    self._refreshing.discard(workspace)

        threading.Thread(target=refresh, name=f"expertise-snapshot-{workspace}", daemon=True).start()

    def query_topics(self, text: str, *, lang: str | None = None) -> list[Topic]:
        return self.nlp.topics(text, lang=lang)

    def ask(self, session: Session, *, text: str, asker: str | None, now: dt.datetime, lang: str | None = None,
            limit: int | None = None, details: bool = True) -> tuple[list[Topic], list[Expert]]:
        """Topics of a question and the people to ask about them."""
        topics = self.query_topics(text, lang=lang)
        return topics, who_knows(session, topics=topics, asker=asker, now=now, settings=self.settings,
                                 limit=limit, details=details, snapshot=self.snapshot(session, now=now))

    def declare(self, session: Session, *, user_id: str, text: str, at: dt.datetime, lang: str | None = None) -> list[Topic]:
        topics = self.query_topics(text, lang=lang)
        if topics:
            record_evidence(session, user_id=user_id, topics=topics, kind="declared", at=at, settings=self.settings)
        return topics


def service_of(ctx: SkillContext) -> ExpertiseService:
    return ctx.service("expertise")


def resolve_pipelines(settings: NlpSettings) -> dict[str, str]:
    """Which configured pipeline each language will use (the first installed), without
    loading any: for the start-up log line."""
    out = {}
    for lang in LANGS:
        chosen = "blank + lookup lemmas"
        for name in getattr(settings, lang) or ("blank",):
            if name == "blank":
                break
            if importlib.util.find_spec(name.replace("-", "_")) is not None:
                chosen = name
                break
        out[lang] = chosen
    return out


def services(app: Any) -> Mapping[str, Any]:
    """The vocabulary a misspelt question is corrected against, and the daily fit job; the
    composition root builds the shared ``nlp`` and ``expertise`` services this skill's handlers use."""
    nlp_settings = app.settings.section("nlp", NlpSettings)
    settings = app.settings.section("expertise", ExpertiseSettings)
    skill_log.info("expertise: pipelines %s (loaded on first use)",
             ", ".join(f"{k}: {v}" for k, v in resolve_pipelines(nlp_settings).items()))

    from bot import scheduler

    scheduler.register_cron(app, "expertise.fit", settings.fit_cron, timezone="UTC")
    return {"expertise_vocabulary": TopicVocabulary}


class TopicVocabulary:
    """Per workspace, its ``size`` most widely known one-word topics, most known first: what a
    misspelt question is corrected against ("kubernets" -> "kubernetes"). Read only when a
    question finds nobody, and kept ``ttl_seconds``."""

    def __init__(self, *, size: int = 5000, ttl_seconds: float = 600.0) -> None:
        self.size = size
        self.ttl_seconds = ttl_seconds
        self._kept: dict[str | None, tuple[float, list[str], dict[str, str]]] = {}
        self._lock = threading.Lock()

    def words(self, session: Any) -> tuple[list[str], dict[str, str]]:
        """(keys, display per key) of the session's workspace."""
        workspace = session.info.get("workspace")
        kept = self._kept.get(workspace)
        if kept is not None and time.monotonic() - kept[0] < self.ttl_seconds:
            return kept[1], kept[2]
        T = ExpertiseTopic
        rows = session.execute(
            select(T.key, T.display).where(T.people_n > 0, ~T.key.contains(" "))
            .order_by(T.people_n.desc(), T.key).limit(self.size)
        ).all()
        keys, displays = [r.key for r in rows], {r.key: r.display for r in rows}
        with self._lock:
            self._kept[workspace] = (time.monotonic(), keys, displays)
        return keys, displays

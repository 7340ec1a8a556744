"""Who knows what: "who knows X?" / "qui connaît X ?" and `/whoknows X` answer with people and
the evidence that they know; "what do you know about me?", "forget topic X", "stop indexing me"
and "forget me" give everyone control over what the index holds about them; "I know X" declares
expertise. Public-channel messages reach the index through the ingestion queue (``ingest``).
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import logging
import re
import threading
import time
from typing import Any, Mapping, Sequence

from bot.context import SkillContext
from bot.dispatch import reply
from bot.expertise import (
    Expert,
    ExpertiseService,
    ExpertiseSettings,
    HeldTopic,
    Link,
    known_keys,
    REASONS,
    busiest_channel,
    count_held,
    describe,
    forget_all_evidence,
    forget_topic,
    held_about,
    month_label,
)
from sqlalchemy import select

from bot.db.expertise import ExpertiseTopic
from bot.i18n import Catalog
from bot.nlp import LANGS, Nlp, NlpSettings, closest_word
from bot.privacy import forget_person, index_again
from bot.router import Routes
from bot.text import directory_names, quote

log = logging.getLogger("liaison.skills.expertise")

TEXT = Catalog(
    en={
        "help_ask": "• *who knows Kafka?* (or */whoknows Kafka*) — people who can help, and why",
        "help_me": "• *what do you know about me?* · *forget topic X* · *stop indexing me* · *forget me*",
        "help_declare": "• *I know Kafka* — tell me what you can help with",
        "ask_what": "Who knows what? Tell me the topic, e.g. *who knows Kafka?*",
        "intro": "People who know about *{topic}*:",
        "did_you_mean": "I don't know anyone for *{asked}*. Did you mean *{topic}*?",
        "line": "{n}. *{name}*{team} — {reason}{links}",
        "outside": " ({team}, outside your team)",
        "team": " ({team})",
        "nobody": (
            "I don't know anyone for *{topic}* yet: nobody has talked about it in the public channels I'm in. "
            "Try asking in a channel where people discuss it{where} — and if you find out, tell me *I know …* or thank them, "
            "so the next person finds them."
        ),
        "nobody_where": ", for example #{channel}",
        "fallback_intro": "These colleagues often help others and may point you to the right person:",
        "link": "<{url}|{label}>",
        "link_label": "message",
        "me_empty": "I don't hold anything about you yet: I only learn from what you write in public channels I'm in, from thanks you receive and from what you tell me (*I know …*).",
        "me_intro": "Here is what I hold about you ({topics} topics, from {rows} pieces of evidence; no message text is kept):",
        "me_line": "• *{topic}* — {what}{last}{links}",
        "me_kind_wrote": "wrote {n}×",
        "me_kind_answered": "answered {n}×",
        "me_kind_thanked": "thanked {n}×",
        "me_kind_declared": "declared",
        "me_more": "Say *forget topic X* to remove one, *stop indexing me* to opt out, or *forget me* to erase everything.",
        "me_opted_out": "You have opted out: I don't index your messages. Say *start indexing me* to opt back in.",
        "forget_topic_what": "Which topic should I forget? For example *forget topic Kafka*.",
        "forgot_topic": "Done: I forgot *{topic}* about you ({n} pieces of evidence removed).",
        "no_such_topic": "I don't hold *{topic}* about you, so there was nothing to forget. Say *what do you know about me?* to see what I hold.",
        "stopped": "Done: I won't index your messages any more, and I removed the {n} pieces of evidence I had about you. You won't be suggested as an expert. Say *start indexing me* to opt back in.",
        "already_stopped": "You had already opted out; I don't index your messages. Say *start indexing me* to opt back in.",
        "started": "Welcome back: I'll learn from your public messages again, from now on.",
        "already_started": "I'm already indexing your public messages. Say *stop indexing me* to opt out.",
        "forgot_me": "Done: I erased everything I held about you ({n} rows in {tables} tables). From now on I don't index your messages and you're out of coffee rounds; say *start indexing me* or *coffee join* whenever you want back in.",
        "declare_what": "What do you know about? For example *I know Kafka*.",
        "declared_ok": "Thanks! I noted that you know about {topics}. People asking about it may be pointed to you.",
        "opted_out_declare": "You have opted out of the index, so I can't note that. Say *start indexing me* first.",
    },
    fr={
        "help_ask": "• *qui connaît Kafka ?* (ou */whoknows Kafka*) — les personnes qui peuvent aider, et pourquoi",
        "help_me": "• *que sais-tu de moi ?* · *oublie le sujet X* · *arrête de m'indexer* · *oublie-moi*",
        "help_declare": "• *je connais Kafka* — dites-moi sur quoi vous pouvez aider",
        "ask_what": "Qui connaît quoi ? Donnez-moi le sujet, par exemple *qui connaît Kafka ?*",
        "intro": "Les personnes qui s'y connaissent en *{topic}* :",
        "did_you_mean": "Je ne connais personne pour *{asked}*. Vouliez-vous dire *{topic}* ?",
        "line": "{n}. *{name}*{team} — {reason}{links}",
        "outside": " ({team}, hors de votre équipe)",
        "team": " ({team})",
        "nobody": (
            "Je ne connais encore personne pour *{topic}* : personne n'en a parlé dans les canaux publics où je suis. "
            "Essayez de demander dans un canal où l'on en parle{where} — et si vous trouvez, dites-moi *je connais …* ou "
            "remerciez la personne, pour que la prochaine personne la trouve."
        ),
        "nobody_where": ", par exemple #{channel}",
        "fallback_intro": "Ces collègues aident souvent les autres et sauront peut-être vous orienter :",
        "link": "<{url}|{label}>",
        "link_label": "message",
        "me_empty": "Je ne sais encore rien de vous : j'apprends seulement de ce que vous écrivez dans les canaux publics où je suis, des remerciements que vous recevez et de ce que vous me dites (*je connais …*).",
        "me_intro": "Voici ce que je sais de vous ({topics} sujets, tirés de {rows} indices ; aucun texte de message n'est gardé) :",
        "me_line": "• *{topic}* — {what}{last}{links}",
        "me_kind_wrote": "écrit {n}×",
        "me_kind_answered": "répondu {n}×",
        "me_kind_thanked": "remercié·e {n}×",
        "me_kind_declared": "déclaré",
        "me_more": "Dites *oublie le sujet X* pour en retirer un, *arrête de m'indexer* pour ne plus être indexé·e, ou *oublie-moi* pour tout effacer.",
        "me_opted_out": "Vous avez choisi de ne pas être indexé·e : je n'indexe pas vos messages. Dites *recommence à m'indexer* pour revenir.",
        "forget_topic_what": "Quel sujet dois-je oublier ? Par exemple *oublie le sujet Kafka*.",
        "forgot_topic": "C'est fait : j'ai oublié *{topic}* à votre sujet ({n} indices retirés).",
        "no_such_topic": "Je ne garde rien sur *{topic}* à votre sujet : rien à oublier. Dites *que sais-tu de moi ?* pour voir ce que je garde.",
        "stopped": "C'est fait : je n'indexerai plus vos messages, et j'ai retiré les {n} indices que j'avais sur vous. On ne vous proposera plus comme expert·e. Dites *recommence à m'indexer* pour revenir.",
        "already_stopped": "Vous aviez déjà choisi de ne pas être indexé·e. Dites *recommence à m'indexer* pour revenir.",
        "started": "Bon retour : j'apprends à nouveau de vos messages publics, à partir de maintenant.",
        "already_started": "J'indexe déjà vos messages publics. Dites *arrête de m'indexer* pour ne plus l'être.",
        "forgot_me": "C'est fait : j'ai effacé tout ce que je savais de vous ({n} lignes dans {tables} tables). Désormais je n'indexe plus vos messages et vous ne participez plus aux cafés ; dites *recommence à m'indexer* ou *café rejoindre* quand vous voulez revenir.",
        "declare_what": "Sur quoi vous y connaissez-vous ? Par exemple *je connais Kafka*.",
        "declared_ok": "Merci ! J'ai noté que vous vous y connaissez en {topics}. On pourra vous orienter les questions à ce sujet.",
        "opted_out_declare": "Vous avez choisi de ne pas être indexé·e, je ne peux donc pas le noter. Dites d'abord *recommence à m'indexer*.",
    },
)

routes = Routes(
    "expertise",
    help={lang: [TEXT.get(lang, "help_ask"), TEXT.get(lang, "help_declare"), TEXT.get(lang, "help_me")] for lang in LANGS},
)


# ---- services -----------------------------------------------------------------------------------


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
    nlp_settings = app.settings.section("nlp", NlpSettings)
    settings = app.settings.section("expertise", ExpertiseSettings)
    log.info("expertise: pipelines %s (loaded on first use)",
             ", ".join(f"{k}: {v}" for k, v in resolve_pipelines(nlp_settings).items()))

    def make_nlp() -> Nlp:
        nlp = Nlp(nlp_settings, default_language=app.settings.bot.default_language).load_all()
        log.info("nlp loaded: %s", nlp.description)
        return nlp

    from bot import scheduler

    scheduler.register_cron(app, "expertise.fit", settings.fit_cron, timezone="UTC")
    return {
        "nlp": make_nlp,
        "expertise": lambda: ExpertiseService(settings=settings, nlp=app.services.get("nlp"), db=app.db),
        "expertise_vocabulary": TopicVocabulary,
    }


def _service(ctx: SkillContext) -> ExpertiseService:
    return ctx.service("expertise")


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


# ---- ingestion ----------------------------------------------------------------------------------


@routes.ingest()
def index_batch(batch: Sequence[Any], ctx: SkillContext) -> None:
    """Queued public-channel messages -> topics -> evidence (runs in the worker)."""
    _service(ctx).ingest(ctx.db, batch, now=ctx.clock.now())


@routes.schedule("expertise.fit")
def fit_ranking(event: Any, ctx: SkillContext) -> list:
    """Learn the workspace's who-knows ranking again from its answered threads (daily)."""
    _service(ctx).fit(ctx.db, now=ctx.clock.now())
    return []


# ---- who knows ----------------------------------------------------------------------------------

# How people ask. Kept in RE2 syntax (no look-around): the router matches the whole message,
# case-insensitively, with any end punctuation; ``q`` is the subject.
_WHO_EN = r"who\s*(?:['’]s|\s+is|\s+are)"
_PERSON_EN = r"(?:someone|somebody|anyone|anybody|a person|people)"
_EXPERT_EN = r"(?:experts?|specialists?|gurus?|person|people|go-to(?: person)?)"
_ASK_EN = [
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
_ASK_FR = [
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
    return _answer(ctx, ctx.args)


@routes.message(en=_ASK_EN, fr=_ASK_FR, priority=5)
def who_knows_message(event: Any, ctx: SkillContext) -> Any:
    """who knows X? / qui connaît X ?"""
    return _answer(ctx, ctx.match.get("q", ""))


def _answer(ctx: SkillContext, question: str) -> Any:
    question = question.strip().strip("?？!. ")
    if not question:
        return reply(ctx, ctx.t(TEXT, "ask_what"))
    service = _service(ctx)
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
        lines += [_line(ctx, i, e) for i, e in enumerate(helpers, 1)]
        return reply(ctx, "\n".join(lines))
    # The routing skill, when enabled, ranks lower the people who said "Not me" to this asker on
    # these topics, and offers "Ask them for me" under the answer (asked through a service, so
    # neither skill imports the other).
    routing = ctx.service("routing") if "routing" in ctx.services else None
    if routing is not None:
        lower = routing.penalised(ctx, asker=asker, topics=[t.key for t in topics])
        matched = [e for e in matched if e.user_id not in lower] + [e for e in matched if e.user_id in lower]
    shown = matched[: service.settings.max_experts]
    lines.append(ctx.t(TEXT, "intro", topic=topic_label))
    lines += [_line(ctx, i, e) for i, e in enumerate(shown, 1)]
    buttons = routing.buttons(ctx, question=question, topics=topics, experts=[e.user_id for e in shown]) if routing else ()
    return reply(ctx, "\n".join(lines), buttons=buttons)


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


def _line(ctx: SkillContext, n: int, e: Expert) -> str:
    team = ""
    if e.team:
        team = ctx.t(TEXT, "outside" if e.outside_team else "team", team=e.team)
    return ctx.t(TEXT, "line", n=n, name=e.name, team=team, reason=reason(ctx, e), links=link_text(ctx, e.links))


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
    lines = [ctx.t(TEXT, "me_intro", topics=topics, rows=rows)]
    for h in held:
        lines.append(_held_line(ctx, h))
    lines += routed
    lines.append(ctx.t(TEXT, "me_opted_out") if opted_out else ctx.t(TEXT, "me_more"))
    return reply(ctx, "\n".join(lines), private=True)


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
        lines = [ctx.t(TEXT, "me_intro", topics=topics, rows=rows), *(_held_line(ctx, h) for h in held)]
    lines.append(ctx.t(TEXT, "me_opted_out") if opted_out else ctx.t(TEXT, "me_more"))
    return "\n".join(lines)


def _held(ctx: SkillContext, user: str, limit: int) -> list[HeldTopic]:
    """The ``limit`` topics held about a person that are topics by the current word rules:
    evidence indexed before a rule changed may hold words such as "and" or "min", which are
    never shown."""
    service = _service(ctx)
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
    service = _service(ctx)
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
    return reply(ctx, ctx.t(TEXT, "forgot_topic", topic=quote(phrase, directory_names(ctx.db)), n=n), private=True)


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
    n = forget_all_evidence(ctx.db, user_id=row.user_id, settings=_service(ctx).settings)
    return reply(ctx, ctx.t(TEXT, "stopped", n=n), private=True)


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
    counts = forget_person(ctx.db, user, at=ctx.clock.now(), settings=_service(ctx).settings)
    ctx.db.expunge_all()
    ctx.sender = None
    ctx.lang = lang
    return reply(ctx, ctx.t(TEXT, "forgot_me", n=sum(counts.values()), tables=len(counts)), private=True)


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
    topics = _service(ctx).declare(ctx.db, user_id=user, text=phrase, at=ctx.clock.now(), lang=ctx.lang)
    if not topics:
        return reply(ctx, ctx.t(TEXT, "declare_what"))
    shown = ", ".join(f"*{t.display}*" for t in topics[:5])
    return reply(ctx, ctx.t(TEXT, "declared_ok", topics=shown))


# ---- demo -----------------------------------------------------------------------------------------

routes.demo_step("Camille", "qui connaît Kafka ?", "Ask who knows something, in French…")
routes.demo_step("Priya", "who knows Terraform?", "…or in English: people, one-line reasons and links.")
routes.demo_step("Priya", "I know Airflow", "Anyone can declare what they can help with.")
routes.demo_step("Priya", "what do you know about me?", "Everyone can see what the index holds about them.")

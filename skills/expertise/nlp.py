"""Text to topics, in English and French: the language of a message, then its key phrases,
lemmatised and normalised so that "Kubernetes clusters", "kubernetes" and "k8s cluster" meet.

Pipelines are chosen per language by configuration (``[nlp] en = ["en_core_web_sm", "blank"]``):
the first one installed wins, and ``"blank"`` (``spacy.blank`` plus the lookup lemmatizer of
spacy-lookups-data) is always available. Nothing is loaded at import time; an ``Nlp`` loads each
pipeline the first time a text of that language needs it (or all at once with ``load_all``), or
takes the one an earlier ``Nlp`` of the process loaded with the same settings.

Topics are found by a spaCy component, ``liaison_topics``, that ends every pipeline (blank or
trained), so ``nlp.pipe`` gives each Doc its topics (``doc._.liaison_topics``). Its rules also
work on blank pipelines: runs of content words (not stop words, not numbers) give unigrams and
bigrams of lemmas; code identifiers (``sorted-map``, ``asyncio.gather``, text in backticks) are
kept as written; chat markup (mentions, links, code blocks, emoji, quotes) is removed first.
Trained pipelines add their part-of-speech tags and entities. Blank pipelines have no tagger, so
the word lists of spacy-lookups-data (and, for how common a French word is, wordfreq's) stand in
for one: common verbs ("keep", "grow", "broke", "regarder") and adverbs end a phrase instead of
becoming topics, while rarer verbs ("compile", "deploy", "déployer") stay, since they name what a
message is about. The rules and the word classes are in ``topics.py``.
"""

from __future__ import annotations

import logging
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Iterator, Sequence

from bot.i18n import guess_language

from skills.expertise.topics import TOPIC_COMPONENT, Topic, make_topic_extractor, word_classes


log = logging.getLogger("liaison.nlp")

LANGS = ("en", "fr")


@dataclass(frozen=True)
class NlpSettings:
    """The [nlp] section of the settings."""

    en: tuple[str, ...] = ("blank",)
    fr: tuple[str, ...] = ("blank",)
    synonyms: dict[str, str] = field(default_factory=dict)
    max_topics: int = 24
    bigrams: bool = True
    word_classes: bool = True
    common_word_logprob: float = -10.0


# ---- markup -------------------------------------------------------------------------------------

# Each pattern stops at the next angle bracket or line break, so reading a message is linear in
# its length (a pattern scanning on to the end from every "<" took seconds on crafted text).
_CODE_BLOCK = re.compile(r"```.*?(?:```|$)", re.DOTALL)
_INLINE_CODE = re.compile(r"`([^`\n]{1,60})`")
_MENTION = re.compile(r"<[@#!][^<>]*>")
_LINK = re.compile(r"<((?:https?|mailto|ftp)[^<>|]*)(?:\|([^<>]*))?>")
_BARE_URL = re.compile(r"https?://\S+")
_EMOJI = re.compile(r":[a-z0-9_+\-']+:", re.IGNORECASE)
_QUOTE_LINE = re.compile(r"^[^\S\n]*(?:>|&gt;).*$", re.MULTILINE)
_AT_NAME = re.compile(r"(?<!\w)@\w+")
_ENTITY = re.compile(r"&(?:amp|lt|gt|quot|nbsp);")
# An identifier: words joined by ".", "_", "-", "->", "/", "::" (asyncio.gather, sorted-map,
# string->number, snake_case_name), or a CamelCase / lowerCamel word.
_IDENT = re.compile(
    r"(?<![\w.\-])(?:[A-Za-z_][\w]*(?:(?:->|::|[._/])[A-Za-z_]\w*)+(?:\(\))?"
    r"|[a-z]+(?:-[a-z]+)+[!?*]?"
    r"|[a-z]+[A-Z]\w+|[A-Z][a-z]+[A-Z]\w+)(?![\w])"
)


def clean_markup(text: str) -> tuple[str, list[str]]:
    """The prose of a chat message (markup and quotes removed) and the code identifiers in it
    (backticked spans and identifier-shaped words), in order of appearance."""
    idents: list[str] = []
    text = _CODE_BLOCK.sub(" ", text)
    text = _QUOTE_LINE.sub(" ", text)  # someone else's words: not evidence about this author

    def inline(m: re.Match[str]) -> str:
        span = m.group(1).strip()
        if span and " " not in span and len(span) <= 40:
            idents.append(span)
            return " "
        return " " + span + " "

    text = _INLINE_CODE.sub(inline, text)
    text = _MENTION.sub(" ", text)
    text = _LINK.sub(lambda m: " " + (m.group(2) or "") + " ", text)
    text = _BARE_URL.sub(" ", text)
    text = _EMOJI.sub(" ", text)
    text = _AT_NAME.sub(" ", text)
    text = _ENTITY.sub(" ", text)

    def ident(m: re.Match[str]) -> str:
        idents.append(m.group(0))
        return " "

    text = _IDENT.sub(ident, text)
    return text, idents


# ---- language -----------------------------------------------------------------------------------

# One detector for the whole bot: bot.i18n.guess_language (pure Python, no model needed).
detect_language = guess_language


# ---- the topic component (rules in topics.py) ------------------------------------------------------

_REGISTER_LOCK = threading.Lock()


def register_topic_component() -> None:
    """Make ``liaison_topics`` known to spaCy (``nlp.add_pipe("liaison_topics", config=…)``)
    with the Doc extensions it uses; done once per process, before the first pipeline loads."""
    from spacy.language import Language
    from spacy.tokens import Doc
    from spacy.util import registry

    with _REGISTER_LOCK:
        for name in ("liaison_topics", "liaison_idents"):
            if not Doc.has_extension(name):
                Doc.set_extension(name, default=None)
        registry.misc.register(LEMMA_TABLES, func=lemma_tables)
        if not Language.has_factory(TOPIC_COMPONENT):
            defaults = NlpSettings()
            Language.factory(TOPIC_COMPONENT, func=make_topic_extractor, default_config={
                "lang": "", "synonyms": {}, "max_topics": defaults.max_topics, "bigrams": defaults.bigrams,
                "word_classes": defaults.word_classes, "common_word_logprob": defaults.common_word_logprob,
            })


# ---- pipelines -----------------------------------------------------------------------------------

LEMMA_TABLES = "liaison.lemma_tables.v1"
_LEMMA_TABLES: dict[str, Any] = {}
_LEMMA_TABLES_LOCK = threading.Lock()


def lemma_tables(lang: str) -> Any:
    """The lookup lemmatizer's table of ``lang`` from spacy-lookups-data, read once per process
    (most of the time a blank pipeline takes to load): the lemmatizer only reads it, so every
    pipeline of the language can share it. Registered as the spaCy function ``LEMMA_TABLES``."""
    from spacy.pipeline import Lemmatizer
    from spacy.lookups import load_lookups

    with _LEMMA_TABLES_LOCK:
        if lang not in _LEMMA_TABLES:
            required, optional = Lemmatizer.get_lookups_config("lookup")
            tables = load_lookups(lang=lang, tables=required)
            extra = load_lookups(lang=lang, tables=optional, strict=False)
            for name in extra.tables:
                tables.set_table(name, extra.get_table(name))
            _LEMMA_TABLES[lang] = tables
        return _LEMMA_TABLES[lang]


# The pipelines loaded in this process, by language, choices and topic configuration: an Nlp with
# the same settings as an earlier one (a second app in the process: `liaison chat` run again, the
# console's session, a test) gets the same pipeline instead of loading it again (seconds: spaCy's
# lookup tables). A pipeline may be shared: what it analysed before does not change the topics
# (tests/unit/test_nlp.py). The least recently used go beyond _SHARED_LIMIT.
_SHARED: OrderedDict[str, tuple[Any, str]] = OrderedDict()
_SHARED_LIMIT = 8
_SHARED_LOCK = threading.Lock()


class Nlp:
    """The pipelines per language, each ending with the topic component configured from the
    settings. Thread-safe; load once, share. With ``shared`` (the default) a pipeline that this
    process already loaded for the same settings is reused; ``shared=False`` loads its own."""

    def __init__(self, settings: NlpSettings | None = None, *, default_language: str = "en", shared: bool = True) -> None:
        self.settings = settings or NlpSettings()
        self.default_language = default_language
        self.shared = shared
        self._pipelines: dict[str, Any] = {}
        self._names: dict[str, str] = {}
        self._lock = threading.Lock()

    # -- loading --

    def choices(self, lang: str) -> tuple[str, ...]:
        return tuple(getattr(self.settings, lang, ()) or ("blank",))

    def pipeline(self, lang: str) -> Any:
        """The spaCy pipeline for ``lang`` ("en" or "fr"), loaded on first use."""
        lang = lang if lang in LANGS else self.default_language
        with self._lock:
            if lang not in self._pipelines:
                self._pipelines[lang], self._names[lang] = self._shared(lang) if self.shared else self._load(lang)
                log.info("nlp: %s uses %s", lang, self._names[lang])
            return self._pipelines[lang]

    def load_all(self) -> "Nlp":
        for lang in LANGS:
            nlp = self.pipeline(lang)
            if self.settings.word_classes and not ({"tagger", "morphologizer"} & set(nlp.pipe_names)):
                word_classes(lang, common_logprob=self.settings.common_word_logprob)
        return self

    def topic_config(self, lang: str) -> dict[str, Any]:
        """The configuration of the ``liaison_topics`` component for ``lang``: the settings."""
        s = self.settings
        return {"lang": lang, "synonyms": dict(s.synonyms), "max_topics": s.max_topics, "bigrams": s.bigrams,
                "word_classes": s.word_classes, "common_word_logprob": s.common_word_logprob}

    def _shared(self, lang: str) -> tuple[Any, str]:
        key = repr((lang, self.choices(lang), sorted(self.topic_config(lang).items())))
        with _SHARED_LOCK:
            if key in _SHARED:
                _SHARED.move_to_end(key)
                return _SHARED[key]
        loaded = self._load(lang)  # outside the lock: another language may load meanwhile
        with _SHARED_LOCK:
            loaded = _SHARED.setdefault(key, loaded)
            _SHARED.move_to_end(key)
            while len(_SHARED) > _SHARED_LIMIT:
                _SHARED.popitem(last=False)
        return loaded

    def _load(self, lang: str) -> tuple[Any, str]:
        import spacy

        register_topic_component()
        tried = []
        for name in self.choices(lang):
            if name == "blank":
                break
            try:
                nlp = spacy.load(name, exclude=["textcat", "senter"])
            except (OSError, ImportError) as exc:
                tried.append(f"{name} ({type(exc).__name__})")
                continue
            # Last, after the tagger, the lemmatizer and the entities it reads.
            nlp.add_pipe(TOPIC_COMPONENT, config=self.topic_config(lang))
            return nlp, f"{name} {nlp.meta.get('version', '')}".strip() + f" + topics ({TOPIC_COMPONENT})"
        try:
            # The lemmatizer's tables come from lemma_tables (read once per process, see there).
            nlp = spacy.blank(lang, config={"initialize": {"components": {"lemmatizer": {
                "lookups": {"@misc": LEMMA_TABLES, "lang": lang}}}}})
            nlp.add_pipe("lemmatizer", config={"mode": "lookup"})
            nlp.initialize()
            label = "blank + lookup lemmas"
        except Exception as exc:  # noqa: BLE001 - lemmas are an improvement, not a requirement
            log.warning("nlp: no lookup lemmas for %s (%s); topics keep their inflections", lang, exc)
            nlp = spacy.blank(lang)
            label = "blank (no lemmas)"
        nlp.add_pipe(TOPIC_COMPONENT, config=self.topic_config(lang))  # after the lemmatizer
        label += f" + topics ({TOPIC_COMPONENT})"
        if tried:
            label += f"; not installed: {', '.join(tried)}"
        return nlp, label

    @property
    def description(self) -> str:
        """Which pipeline each language uses (those not loaded yet say what they will try)."""
        parts = []
        for lang in LANGS:
            parts.append(f"{lang}: {self._names.get(lang) or 'not loaded yet (' + ', '.join(self.choices(lang)) + ')'}")
        return "; ".join(parts)

    # -- analysis --

    def is_topic_key(self, key: str, *, lang: str) -> bool:
        """Whether ``key``, stored as a topic of ``lang``, is one by the current rules (see
        ``TopicExtractor.is_topic_key``)."""
        nlp = self.pipeline(lang)
        return nlp.get_pipe(TOPIC_COMPONENT).is_topic_key(key)

    def language(self, text: str) -> str:
        return detect_language(clean_markup(text)[0], default=self.default_language)

    def topics(self, text: str, *, lang: str | None = None) -> list[Topic]:
        """The topics of one text, most salient first, without duplicates."""
        return next(iter(self.topics_many([text], langs=[lang])))

    def topics_many(self, texts: Sequence[str], *, langs: Sequence[str | None] | None = None,
                    batch_size: int = 256) -> Iterator[list[Topic]]:
        """Topics of many texts, in order, through ``nlp.pipe`` per language (much faster): each
        pipeline ends with the topic component, which leaves them on the Doc."""
        langs = list(langs) if langs is not None else [None] * len(texts)
        cleaned = [clean_markup(t or "") for t in texts]
        chosen = [lg if lg in LANGS else detect_language(c[0], default=self.default_language) for lg, c in zip(langs, cleaned)]
        results: list[list[Topic] | None] = [None] * len(texts)
        for lang in LANGS:
            idx = [i for i, lg in enumerate(chosen) if lg == lang]
            if not idx:
                continue
            nlp = self.pipeline(lang)
            docs = nlp.pipe((_doc_with_idents(nlp, *cleaned[i]) for i in idx), batch_size=batch_size)
            for i, doc in zip(idx, docs):
                results[i] = doc._.liaison_topics
        for r in results:
            yield r or []


def closest_word(word: str, choices: Sequence[str], *, min_similarity: float = 0.8, min_length: int = 4) -> str | None:
    """The word of ``choices`` that a misspelt ``word`` most likely meant ("kubernets" ->
    "kubernetes"), by rapidfuzz's optimal string alignment (a swap of two neighbouring letters
    is one edit): at least ``min_similarity`` alike, i.e. about one edit per five letters; of
    equally close choices, the first. None for a word shorter than ``min_length``, whose
    neighbours are too many to guess from."""
    from rapidfuzz import process
    from rapidfuzz.distance import OSA

    if len(word) < min_length or not choices:
        return None
    found = process.extractOne(word, choices, scorer=OSA.normalized_similarity,
                                score_cutoff=min_similarity - 1e-6)  # 4 of 5 letters right is 0.8 exactly
    return None if found is None or found[0] == word else found[0]


def _doc_with_idents(nlp: Any, prose: str, idents: list[str]) -> Any:
    """A Doc of ``prose`` that carries the identifiers taken out of its text, for the topic
    component."""
    doc = nlp.make_doc(prose)
    if idents:
        doc._.liaison_idents = idents
    return doc

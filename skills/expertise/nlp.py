"""Text to topics, in English and French: the language of a message, then its key phrases,
lemmatised and normalised so that "Kubernetes clusters", "kubernetes" and "k8s cluster" meet.

Pipelines are chosen per language by configuration (``[nlp] en = ["en_core_web_sm", "blank"]``):
the first one installed wins, and ``"blank"`` (``spacy.blank`` plus the lookup lemmatizer of
spacy-lookups-data) is always available. Nothing is loaded at import time; an ``Nlp`` loads each
pipeline the first time a text of that language needs it (or all at once with ``load_all``).

Topics are found by a spaCy component, ``liaison_topics``, that ends every pipeline (blank or
trained), so ``nlp.pipe`` gives each Doc its topics (``doc._.liaison_topics``). Its rules also
work on blank pipelines: runs of content words (not stop words, not numbers) give unigrams and
bigrams of lemmas; code identifiers (``sorted-map``, ``asyncio.gather``, text in backticks) are
kept as written; chat markup (mentions, links, code blocks, emoji, quotes) is removed first.
Trained pipelines add their part-of-speech tags and entities. Blank pipelines have no tagger, so
the word lists of spacy-lookups-data (and, for how common a French word is, wordfreq's) stand in
for one: common verbs ("keep", "grow", "broke", "regarder") and adverbs end a phrase instead of
becoming topics, while rarer verbs ("compile", "deploy", "déployer") stay, since they name what a
message is about.
"""

from __future__ import annotations

import functools
import logging
import math
import re
import threading
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping, Sequence

from bot.i18n import guess_language


log = logging.getLogger("liaison.nlp")

LANGS = ("en", "fr")


@dataclass(frozen=True)
class Topic:
    """A normalised key phrase. ``key`` is what the index stores and matches (lower case
    lemmas, synonyms applied); ``display`` is how to show it."""

    key: str
    display: str
    lang: str


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
_WORD_SHAPE = re.compile(r"^[^\W\d_][\w+#.'’\-]*$", re.UNICODE)


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


# ---- extra stop words -----------------------------------------------------------------------------

# Chat words that carry no subject in any workspace (greetings, fillers, generic verbs); spaCy's
# stop lists keep many of them. The lemma is checked, so one form per word is enough.
_CHAT_STOP = {
    "en": frozenset(
        "hi hello hey thanks thank thx ty please pls yeah yes yep nope ok okay lol haha hmm oh ah "
        "sure cool nice great good bad best better fine right wrong guy guys folk folks people someone "
        "anyone everyone somebody anybody thing things stuff way lot lots bit kind sort something "
        "anything everything nothing know knows knew think thought want need try tried trying use used "
        "using get got getting make made go going went come look looking see seem seems like just "
        "really actually basically probably maybe also still even much many little sorry question "
        "questions answer help idea time day today week tomorrow yesterday work works working "
        "familiar tell say said let able sure thing mean means point case example problem issue "
        "er um wo ca sha i'm i've it's don't doesn't can't isn't that's what's there's you're etc "
        "yea yeah yup yep yeh nah ahh aah aw aww ooh uh uhh huh wow whoa oops ugh meh hehe heh lmao "
        "lmfao rofl omg btw imo imho tbh idk fyi afaik iirc np nvm gonna wanna gotta kinda sorta "
        # Units of time say how long ("~5 min", "15 minutes"), not what about.
        "min mins minute minutes sec secs second seconds hr hrs".split()
    ),
    "fr": frozenset(
        "bonjour salut merci svp stp oui non ouais ok bah bon ben euh hmm ah oh cool super bien mal "
        "mieux truc trucs chose choses gens quelqu'un personne quelqu tout monde savoir connaître "
        "connaitre penser vouloir falloir faire aller venir voir dire pouvoir devoir mettre prendre "
        "essayer utiliser aider aide question questions réponse idée temps jour aujourd'hui demain "
        "hier semaine vraiment juste aussi encore peu beaucoup problème souci exemple façon "
        "y'a il y a c'est j'ai mdr ptdr lol bref genre voilà voila hein bah bof ouf oups "
        "min minute minutes sec seconde secondes".split()
    ),
}

# French messages quote English ("Sorry, in English: LazyVStack, and no GeometryReader"): its
# function words are no topic there either, except the few French tech speech uses as nouns
# ("le front", "le back", "le top", "une issue").
_ENGLISH_IN_FRENCH_KEEP = frozenset("front back full part show top bottom side case point issue bit mine go".split())


def _english_stop_words() -> frozenset[str]:
    from spacy.lang.en.stop_words import STOP_WORDS

    return frozenset(_norm_key(w) for w in STOP_WORDS | _CHAT_STOP["en"]) - _ENGLISH_IN_FRENCH_KEEP


# ---- word classes without a tagger ------------------------------------------------------------------


@dataclass(frozen=True)
class WordClasses:
    """What a blank pipeline cannot tell: which words are verbs, adverbs or adjectives rather
    than nouns, and which are so common in general language that they name no subject. Read
    from the dictionaries of spacy-lookups-data (word lists per part of speech, inflection
    tables and, for English, word probabilities; for French, wordfreq's frequencies); empty
    when they are not installed."""

    nouns: frozenset[str] = frozenset()
    verbs: frozenset[str] = frozenset()
    verb_forms: frozenset[str] = frozenset()
    adjectives: frozenset[str] = frozenset()
    adverbs: frozenset[str] = frozenset()
    common: frozenset[str] = frozenset()

    def kind(self, text: str, lemma: str) -> str:
        """"noun": a topic on its own; "ambiguous": a common word that is as often a verb as
        a noun ("set", "keep", "group"), a topic only beside a noun ("consumer group");
        "verb": ends a phrase ("grow", "broke", "suppose", "currently").

        Only common verbs are generic: rarer ones name the subject ("compile", "deploy",
        "serialize"), and so do nouns and adjectives, however common ("file", "lazy"): how
        telling a word is in a workspace is for the ranking to weigh (rarer topics count more)."""
        noun = text in self.nouns or lemma in self.nouns
        verb = lemma in self.verbs or text in self.verb_forms
        common = text in self.common or lemma in self.common
        if verb and common:
            return "ambiguous" if noun else "verb"
        if not noun and not verb and (text in self.adverbs or lemma in self.adverbs) and text not in self.adjectives:
            return "verb"
        return "noun"


_WORD_CLASSES: dict[tuple[str, float], WordClasses] = {}
_WORD_CLASSES_LOCK = threading.Lock()


def word_classes(lang: str, *, common_logprob: float = -10.0) -> WordClasses:
    """The word classes of a language, loaded once per process on first use (a few seconds:
    the English probability table is large, and only its common words are kept)."""
    with _WORD_CLASSES_LOCK:
        key = (lang, common_logprob)
        if key not in _WORD_CLASSES:
            _WORD_CLASSES[key] = _load_word_classes(lang, common_logprob)
        return _WORD_CLASSES[key]


def _load_word_classes(lang: str, common_logprob: float) -> WordClasses:
    try:
        import spacy_lookups_data
        import srsly
    except ImportError as exc:  # the classes refine topics; without them, all words count
        log.warning("nlp: no word classes for %s (%s); verbs may show up as topics", lang, exc)
        return WordClasses()
    folder = Path(spacy_lookups_data.__file__).parent / "data"

    def table(name: str) -> dict[str, Any]:
        path = folder / f"{lang}_{name}.json.gz"
        return dict(srsly.read_gzip_json(path)) if path.exists() else {}

    index, exc_table, prob = table("lemma_index"), table("lemma_exc"), table("lexeme_prob")
    verb_exc = exc_table.get("verb", {})
    common = frozenset(w for w, p in prob.items() if p > common_logprob and w.isalpha()) if prob else _common_words(lang, common_logprob)
    return WordClasses(
        nouns=frozenset(index.get("noun", ())) | frozenset(exc_table.get("noun", {})),
        verbs=frozenset(index.get("verb", ())) | frozenset(v for vs in verb_exc.values() for v in vs),
        verb_forms=frozenset(verb_exc),
        adjectives=frozenset(index.get("adj", ())),
        adverbs=frozenset(index.get("adv", ())),
        common=common,
    )


def _common_words(lang: str, common_logprob: float) -> frozenset[str]:
    """The words more common than ``common_logprob`` (natural log of their probability) in a
    language whose spacy-lookups-data has no probability table (French): from wordfreq's word
    lists, read once and let go (only the common words are kept)."""
    try:
        import wordfreq
    except ImportError as exc:
        log.warning("nlp: no word frequencies for %s (%s); its common verbs may show up as topics", lang, exc)
        return frozenset()
    # wordfreq's Zipf scale is log10 of the frequency per billion words.
    zipf = common_logprob / math.log(10) + 9.0
    out = set()
    try:
        # The "small" list (words down to Zipf 3) holds every common word, at a fraction of
        # the memory of the full one.
        for word in wordfreq.iter_wordlist(lang, wordlist="small"):
            if wordfreq.zipf_frequency(word, lang, wordlist="small") < zipf:
                break  # the list is in frequency order
            if word.isalpha():
                out.add(word)
    except LookupError as exc:  # a language wordfreq does not know
        log.warning("nlp: no word frequencies for %s (%s)", lang, exc)
    finally:
        for cached in ("get_frequency_list", "get_frequency_dict", "_word_frequency"):
            clear = getattr(getattr(wordfreq, cached, None), "cache_clear", None)
            if clear is not None:
                clear()
    return frozenset(out)


# ---- the topic component -------------------------------------------------------------------------

TOPIC_COMPONENT = "liaison_topics"
# The parts of an identifier: one letter each ("i.e", "a.b") means an abbreviation, not code.
_IDENT_PARTS = re.compile(r"[._/\-]|->|::")
_SPACES = re.compile(r"\s+")
# Parts of speech that can be topics, when a tagger gives them (spaCy's symbol ids).
_TOPIC_POS = ("NOUN", "PROPN", "ADJ", "X")
# Entries per cache of the component; a full cache is emptied and fills again.
_CACHE_LIMIT = 50_000


@functools.lru_cache(maxsize=65_536)
def _norm_key(text: str) -> str:
    """A word or phrase as a topic key: lower case, NFC, single spaces, no surrounding
    punctuation."""
    text = unicodedata.normalize("NFC", text.strip().lower().replace("’", "'"))
    text = _SPACES.sub(" ", text)
    return text.strip(".,;:!?\"'()[]{}")


class TopicExtractor:
    """The spaCy component ``liaison_topics``: the topic rules, run on every Doc of a pipeline.
    It reads the code identifiers that ``clean_markup`` took out of the text from
    ``doc._.liaison_idents`` (none for a Doc made from a plain string) and leaves the topics,
    a list of ``Topic`` with the most salient first, in ``doc._.liaison_topics``.

    What depends on a word alone — whether it can be a topic, its key, its word class — is
    worked out once per distinct (word, lemma) and kept; whether a capitalised word is a name
    depends on the word before it and is decided for each token. Thread-safe."""

    def __init__(self, nlp: Any, name: str, *, lang: str, synonyms: Mapping[str, str], max_topics: int,
                 bigrams: bool, word_classes: bool, common_word_logprob: float) -> None:
        from spacy.attrs import LEMMA, ORTH, POS
        from spacy.symbols import IDS

        self.nlp = nlp
        self.name = name
        self.lang = lang or nlp.lang
        self.synonyms = {_norm_key(k): _norm_key(v) for k, v in synonyms.items()}
        self.max_topics = max_topics
        self.bigrams = bigrams
        self.use_word_classes = word_classes
        self.common_word_logprob = common_word_logprob
        # The chat words, and the language's own stop words as lemmas ("ones" -> "one") and as
        # the norms of tokenizer exceptions ("dont" -> "do" + "nt", whose norm is "not").
        self.stop = _CHAT_STOP.get(self.lang, frozenset()) | frozenset(_norm_key(w) for w in nlp.Defaults.stop_words)
        if self.lang == "fr":
            self.stop |= _english_stop_words()
        self._attrs = [ORTH, LEMMA, POS]
        self._topic_pos = frozenset(IDS[p] for p in _TOPIC_POS)
        self._classes: WordClasses | None = None
        self._lookup: Any = None
        # (orth, lemma) -> (text, is_alpha, isupper, capitalised, content, key, key and kind as a
        # common word); one cache with word classes, one without.
        self._words: tuple[dict[tuple[int, int], tuple], dict[tuple[int, int], tuple]] = ({}, {})
        self._topics: dict[tuple[str, str], Topic] = {}

    def __call__(self, doc: Any) -> Any:
        doc._.liaison_topics = self.topics(doc, doc._.liaison_idents or ())
        return doc

    def topics(self, doc: Any, idents: Iterable[str] = ()) -> list[Topic]:
        """The topics of one Doc and the identifiers of its text, most salient first."""
        synonyms = self.synonyms
        found: dict[str, list[Any]] = {}  # key -> [display, score], in the order first seen

        def add(key: str, display: str, score: float) -> None:
            if not key:
                return
            key = synonyms.get(key, key)
            entry = found.get(key)
            if entry is None:
                found[key] = [display, score]
            else:
                entry[1] += score

        for ident in idents:
            # Sentence punctuation and call parentheses are not part of the name
            # ("`(current-output-port)`", "with syntax-parse?").
            display = ident.strip("()[]{}'\"`,;:").rstrip("?!.")
            key = display.lower()
            if not key or all(len(part) <= 1 for part in _IDENT_PARTS.split(key)):
                continue  # "i.e", "e.g", "a.b": abbreviations and placeholders, not code
            add(synonyms.get(key, key), display, 2.0)

        # (key, display, word kind): ambiguous words ("set", "group") are topics only beside a
        # noun ("consumer group"), never alone.
        run: list[tuple[str, str, str]] = []
        bigrams = self.bigrams

        def flush() -> None:
            for k, d, kind in run:
                if kind == "noun":
                    add(k, d, 1.0)
            if bigrams:
                for (k1, d1, c1), (k2, d2, c2) in zip(run, run[1:]):
                    if k1 != k2 and (c1 == "noun" or c2 == "noun"):
                        add(f"{k1} {k2}", f"{d1} {d2}", 1.5)
            run.clear()

        # One array of (orth, lemma, part of speech) ids, instead of a Token object per word.
        array = doc.to_array(self._attrs)
        has_pos = len(array) == 0 or bool(array[:, 2].any())  # as doc.has_annotation("POS")
        # A tagger knows verbs from nouns; without one, the dictionaries of word classes do.
        classes = self._word_classes() if self.use_word_classes and not has_pos else None
        words = self._words[classes is not None]
        topic_pos = self._topic_pos
        prev_alpha = False
        for i, row in enumerate(array.tolist()):
            word = words.get((row[0], row[1]))
            if word is None:
                word = self._word(doc[i], classes, words)
            text, alpha, upper, capitalised, content, key, common_key, common_kind = word
            # A capitalised word inside a sentence, or an acronym, is a name ("Go", "SQL").
            proper = upper or (capitalised and prev_alpha)
            prev_alpha = alpha
            if content and (not has_pos or row[2] in topic_pos):
                kind = "noun"
                if classes is not None and not proper:
                    key, kind = common_key, common_kind
                if kind != "verb":
                    run.append((key, text if proper else key, kind))
                    continue
            if run:
                flush()
        flush()

        if has_pos:
            for ent in getattr(doc, "ents", ()):
                key = _norm_key(" ".join(t.lemma_ or t.text for t in ent if not t.is_stop))
                if key and " " not in key or len(key.split()) <= 3:
                    add(key, ent.text, 1.5)

        ranked = sorted(found.items(), key=lambda item: -item[1][1])[: self.max_topics]
        return [self._topic(key, display) for key, (display, _) in ranked]

    def _word(self, tok: Any, classes: WordClasses | None, words: dict[tuple[int, int], tuple]) -> tuple:
        """What the rules need of one word, whatever its neighbours (kept in ``words``)."""
        text = tok.text
        key = _norm_key(tok.lemma_ or text)
        stop = self.stop
        content = (
            len(text) > 1
            and _WORD_SHAPE.match(text) is not None
            and not tok.is_stop
            and not tok.like_num
            and not tok.like_url
            and key not in stop
            and _norm_key(text) not in stop
            and _norm_key(tok.norm_) not in stop
        )
        plain = self.synonyms.get(key, key)
        common_key, common_kind = plain, "noun"
        if content and classes is not None:
            # As a common word, i.e. unless it is a name.
            lower = text.lower()
            if text[:1].isupper() and key == _norm_key(text):
                # Capitalised only because it starts a sentence: the lemma of the lower case
                # word ("Adding" -> "add"), which the lookup tables know.
                key = _norm_key(self._lemma_of(lower))
            if lower in classes.nouns and key != lower and key not in classes.nouns and key not in classes.verbs:
                key = _norm_key(lower)  # a noun is its own lemma ("broker", not "broke")
            if self.lang == "fr" and len(lower) > 3 and lower.endswith("s") and not lower.endswith("ss"):
                key = self._french_plural(lower, key, classes)
            common_kind = classes.kind(lower, key)
            if common_kind == "noun" and self.lang == "fr" and self._french_verb_form(lower, classes):
                common_kind = "verb"
            common_key = self.synonyms.get(key, key)
        word = (text, tok.is_alpha, text.isupper(), text[:1].isupper(), content, plain, common_key, common_kind)
        if len(words) >= _CACHE_LIMIT:
            words.clear()
        words[(tok.orth, tok.lemma)] = word
        return word

    def _topic(self, key: str, display: str) -> Topic:
        topic = self._topics.get((key, display))
        if topic is None:
            if len(self._topics) >= _CACHE_LIMIT:
                self._topics.clear()
            topic = self._topics[(key, display)] = Topic(key, display, self.lang)
        return topic

    def _word_classes(self) -> WordClasses:
        if self._classes is None:
            self._classes = word_classes(self.lang, common_logprob=self.common_word_logprob)
        return self._classes

    def _french_plural(self, lower: str, key: str, classes: WordClasses) -> str:
        """The singular of a French plural the lookup lemmas get wrong: a noun read as a verb
        ("bases" -> "base", not "baser"), or an English word French borrows, which the French
        tables do not know ("clusters", "dashboards" -> "cluster", "dashboard", as in English)."""
        singular = lower[:-1]
        if key in classes.verbs and key not in classes.nouns and singular in classes.nouns:
            return singular
        if key == lower and singular not in classes.verbs:
            if singular in classes.nouns or singular in word_classes("en", common_logprob=self.common_word_logprob).nouns:
                return singular
        return key

    def _french_verb_form(self, lower: str, classes: WordClasses) -> bool:
        """A present-tense form of a common -er verb that the lookup tables leave as it is
        ("tourne", "tournent" -> "tourner"), unless the form is itself a common word or an
        English noun French borrows ("cache", "code")."""
        if lower in classes.common:
            return False
        for suffix in ("ent", "es", "e"):
            if lower.endswith(suffix):
                infinitive = lower[: -len(suffix)] + "er"
                if len(infinitive) <= 4 or infinitive not in classes.verbs or infinitive not in classes.common:
                    return False
                return lower not in word_classes("en", common_logprob=self.common_word_logprob).nouns
        return False

    def is_topic_key(self, key: str) -> bool:
        """Whether a stored key can still be a topic by the word rules as they are now, whatever
        its context: not a stop word or unit alone, not a phrase made of them only, not a
        common verb's form ("and", "and no", "min", "tourne"). Keys kept from before a rule
        changed are checked with it when shown."""
        words = key.split()
        if not words or all(w in self.stop or len(w) <= 1 for w in words):
            return False
        if len(words) == 1 and self.lang == "fr" and self.use_word_classes:
            classes = self._word_classes()
            return not (words[0].isalpha() and self._french_verb_form(words[0], classes))
        return True

    def _lemma_of(self, word: str) -> str:
        """The lookup lemma of one lower-case word (the word itself when unknown)."""
        if self._lookup is None:
            if "lemmatizer" not in self.nlp.pipe_names:
                return word
            lookups = getattr(self.nlp.get_pipe("lemmatizer"), "lookups", None)
            if lookups is None or not lookups.has_table("lemma_lookup"):
                return word
            self._lookup = lookups.get_table("lemma_lookup")
        lemma = self._lookup.get(word, word)
        if isinstance(lemma, (list, tuple)):  # some tables list several lemmas: the first is usual
            lemma = lemma[0] if lemma else word
        return lemma if isinstance(lemma, str) else word


def _make_topic_extractor(nlp: Any, name: str, lang: str, synonyms: dict[str, str], max_topics: int,
                          bigrams: bool, word_classes: bool, common_word_logprob: float) -> TopicExtractor:
    return TopicExtractor(nlp, name, lang=lang, synonyms=synonyms, max_topics=max_topics, bigrams=bigrams,
                          word_classes=word_classes, common_word_logprob=common_word_logprob)


_REGISTER_LOCK = threading.Lock()


def register_topic_component() -> None:
    """Make ``liaison_topics`` known to spaCy (``nlp.add_pipe("liaison_topics", config=…)``)
    with the Doc extensions it uses; done once per process, before the first pipeline loads."""
    from spacy.language import Language
    from spacy.tokens import Doc

    with _REGISTER_LOCK:
        for name in ("liaison_topics", "liaison_idents"):
            if not Doc.has_extension(name):
                Doc.set_extension(name, default=None)
        if not Language.has_factory(TOPIC_COMPONENT):
            defaults = NlpSettings()
            Language.factory(TOPIC_COMPONENT, func=_make_topic_extractor, default_config={
                "lang": "", "synonyms": {}, "max_topics": defaults.max_topics, "bigrams": defaults.bigrams,
                "word_classes": defaults.word_classes, "common_word_logprob": defaults.common_word_logprob,
            })


# ---- pipelines -----------------------------------------------------------------------------------


class Nlp:
    """The pipelines per language, each ending with the topic component configured from the
    settings. Thread-safe; load once, share."""

    def __init__(self, settings: NlpSettings | None = None, *, default_language: str = "en") -> None:
        self.settings = settings or NlpSettings()
        self.default_language = default_language
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
                self._pipelines[lang], self._names[lang] = self._load(lang)
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
        nlp = spacy.blank(lang)
        try:
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

"""The topic rules, as the spaCy component ``liaison_topics`` (``TopicExtractor``) that ends every
pipeline: runs of content words give unigrams and bigrams of lemmas, code identifiers are kept as
written, chat words and stop words are left out, and on a blank pipeline the word classes stand in
for a tagger. ``Topic`` is what they give: a normalised key phrase and how to show it.

In order: ``Topic``; the word lists and helpers of the rules; ``TopicExtractor``; then the word
classes (``WordClasses``, ``word_classes``): which words are verbs, adverbs or adjectives rather
than nouns, and which are so common that they name no subject, read from spacy-lookups-data's
dictionaries (and wordfreq's frequencies for French), once per process."""

from __future__ import annotations

import functools
import logging
import math
import re
import threading
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping

log = logging.getLogger("liaison.nlp")


@dataclass(frozen=True)
class Topic:
    """A normalised key phrase. ``key`` is what the index stores and matches (lower case
    lemmas, synonyms applied); ``display`` is how to show it."""

    key: str
    display: str
    lang: str


# A word as the rules take it: a letter, then letters, digits and a few joining signs.
_WORD_SHAPE = re.compile(r"^[^\W\d_][\w+#.'’\-]*$", re.UNICODE)

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



def _add_idents(add: Any, idents: Iterable[str], synonyms: Mapping[str, str]) -> None:
    """The code identifiers of a text as topics, as written (``add``: key, display, score)."""
    for ident in idents:
        # Sentence punctuation and call parentheses are not part of the name
        # ("`(current-output-port)`", "with syntax-parse?").
        display = ident.strip("()[]{}'\"`,;:").rstrip("?!.")
        key = display.lower()
        if not key or all(len(part) <= 1 for part in _IDENT_PARTS.split(key)):
            continue  # "i.e", "e.g", "a.b": abbreviations and placeholders, not code
        add(synonyms.get(key, key), display, 2.0)


def _flush(run: list[tuple[str, str, str]], add: Any, bigrams: bool) -> None:
    """A run of content words (key, display, kind) as topics: its nouns, and its bigrams that
    hold a noun; then the run is emptied."""
    for k, d, kind in run:
        if kind == "noun":
            add(k, d, 1.0)
    if bigrams:
        for (k1, d1, c1), (k2, d2, c2) in zip(run, run[1:]):
            if k1 != k2 and (c1 == "noun" or c2 == "noun"):
                add(f"{k1} {k2}", f"{d1} {d2}", 1.5)
    run.clear()

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

        _add_idents(add, idents, synonyms)
        # (key, display, word kind): ambiguous words ("set", "group") are topics only beside a
        # noun ("consumer group"), never alone.
        run: list[tuple[str, str, str]] = []
        bigrams = self.bigrams

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
                _flush(run, add, bigrams)
        _flush(run, add, bigrams)
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


def make_topic_extractor(nlp: Any, name: str, lang: str, synonyms: dict[str, str], max_topics: int,
                          bigrams: bool, word_classes: bool, common_word_logprob: float) -> TopicExtractor:
    return TopicExtractor(nlp, name, lang=lang, synonyms=synonyms, max_topics=max_topics, bigrams=bigrams,
                          word_classes=word_classes, common_word_logprob=common_word_logprob)


# ---- word classes, without a tagger ---------------------------------------------------------------


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

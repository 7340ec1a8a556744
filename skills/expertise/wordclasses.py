"""Word classes without a tagger: which words are verbs, adverbs or adjectives rather than nouns, and
which are so common that they name no subject, read from spacy-lookups-data's dictionaries (and
wordfreq's frequencies for French), once per process."""

from __future__ import annotations

import logging
import math
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger("liaison.nlp")


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

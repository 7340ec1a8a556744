"""Topic extraction and language detection, in English and French, on the blank pipelines."""

from __future__ import annotations

import pytest

from skills.expertise.nlp import Nlp, NlpSettings, clean_markup, detect_language
from skills.expertise.topics import TOPIC_COMPONENT


@pytest.fixture(scope="module")
def nlp() -> Nlp:
    return Nlp(NlpSettings(synonyms={"k8s": "kubernetes", "postgresql": "postgres"})).load_all()


def keys(nlp: Nlp, text: str, lang: str | None = None) -> set[str]:
    return {t.key for t in nlp.topics(text, lang=lang)}


def test_plural_singular_and_synonym_forms_meet(nlp: Nlp) -> None:
    a = keys(nlp, "We run several Kubernetes clusters in production")
    b = keys(nlp, "kubernetes")
    c = keys(nlp, "our k8s cluster is down")
    assert "kubernetes" in a & b & c
    assert "kubernetes cluster" in a & c
    assert "cluster" in a and "clusters" not in a


def test_code_identifiers_are_kept_whole(nlp: Nlp) -> None:
    found = keys(nlp, "Use `asyncio.gather` here, or the sorted-map from the stdlib; string->number works too")
    assert {"asyncio.gather", "sorted-map", "string->number"} <= found


def test_markup_is_not_taken_for_topics(nlp: Nlp) -> None:
    text = (
        "<@U024BE7LH> see <https://example.com/grafana-setup|the Grafana guide> :tada:\n"
        "> someone else said kafka partitions\n"
        "```\nselect * from mysterytable\n```\nThanks!"
    )
    found = keys(nlp, text)
    assert "grafana" in found  # the label of a link is prose
    assert not any("kafka" in k or "mysterytable" in k or "u024be7lh" in k or "tada" in k or "https" in k for k in found)


def test_stop_words_fillers_and_numbers_are_not_topics(nlp: Nlp) -> None:
    assert keys(nlp, "Hi, thanks a lot, I think it is 42 ok?") == set()


def test_pieces_of_contractions_stop_word_lemmas_and_chat_fillers_are_not_topics(nlp: Nlp) -> None:
    # "dont" -> "do" + "nt" (norm "not"), "gonna" -> "gon" + "na" (norms "going", "to"), "ones"
    # (lemma "one", a stop word), "ya" (lemma "you"): none names a subject.
    found = keys(nlp, "yea i dont know, gonna ask the ones on Kafka btw, cant say ya know, yup")
    assert found == {"kafka"}
    assert keys(nlp, "bref, mdr, genre les partitions Kafka", lang="fr") >= {"kafka", "partition"}
    assert not keys(nlp, "bref, mdr, genre les partitions Kafka", lang="fr") & {"bref", "mdr", "genre"}


def test_french_lemmas_and_stop_words(nlp: Nlp) -> None:
    found = keys(nlp, "Je cherche quelqu'un pour les migrations Terraform des environnements", lang="fr")
    assert "migration" in found and "terraform" in found and "environnement" in found
    assert not found & {"je", "les", "des", "pour"}


def test_french_plurals_of_nouns_and_of_borrowed_english_words_meet_their_singular(nlp: Nlp) -> None:
    found = keys(nlp, "Je gère les clusters Kubernetes, les dashboards Grafana et les bases de données", lang="fr")
    assert {"cluster", "kubernetes", "dashboard", "grafana", "base", "donnée"} <= found
    assert not found & {"clusters", "dashboards", "baser", "donner"}
    # The English question meets the French message on the same keys.
    assert {"cluster", "dashboard"} <= keys(nlp, "who knows kubernetes clusters and grafana dashboards?")
    # Names that end in s stay whole.
    assert {"kubernetes", "redis", "postgres"} <= keys(nlp, "les bases Redis et Postgres sur Kubernetes", lang="fr")


def test_topics_are_ordered_and_capped(nlp: Nlp) -> None:
    # Said 1, 4, 2, 3 and 1 times, in an order unlike their salience; no two words side by side.
    text = "Grafana. Kafka. Redis. Kafka. Postgres. Kafka. Postgres. Redis. Postgres. Kafka. Terraform."
    assert [t.key for t in nlp.topics(text, lang="en")] == ["kafka", "postgres", "redis", "grafana", "terraform"]
    capped = Nlp(NlpSettings(max_topics=3)).topics(text, lang="en")
    assert [t.key for t in capped] == ["kafka", "postgres", "redis"]  # the most salient three


def test_empty_and_markup_only_text_has_no_topics(nlp: Nlp) -> None:
    assert nlp.topics("") == []
    assert nlp.topics("<@U1> :smile: <https://x.example>") == []


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("who knows kafka?", "en"),
        ("qui connaît Kafka ?", "fr"),
        ("Est-ce que quelqu'un s'y connaît en Terraform ?", "fr"),
        ("Does anyone have experience with the billing service?", "en"),
        ("j'ai un souci avec le déploiement", "fr"),
    ],
)
def test_language_detection(nlp: Nlp, text: str, lang: str) -> None:
    assert nlp.language(text) == lang


def test_language_of_text_without_clues_is_the_default() -> None:
    assert detect_language("Kafka", default="fr") == "fr"
    assert detect_language("", default="en") == "en"


def test_clean_markup_returns_identifiers_in_order() -> None:
    prose, idents = clean_markup("try `foo.bar` then baz_qux and <https://a.example|docs>")
    assert idents == ["foo.bar", "baz_qux"]
    assert "docs" in prose and "https" not in prose


def test_description_says_which_pipeline_each_language_uses() -> None:
    nlp = Nlp(NlpSettings(en=("no_such_pipeline_xx", "blank")))
    assert "not loaded yet" in nlp.description
    nlp.pipeline("en")
    assert "en: blank + lookup lemmas" in nlp.description
    assert "no_such_pipeline_xx" in nlp.description  # says what it looked for and did not find


def test_topics_many_matches_topics_one_by_one(nlp: Nlp) -> None:
    texts = ["Kafka consumer lag", "les migrations Terraform", "", "asyncio.gather"]
    assert [list(t) for t in nlp.topics_many(texts)] == [nlp.topics(t) for t in texts]


def test_common_verbs_are_not_topics_but_technical_ones_are(nlp: Nlp) -> None:
    found = keys(nlp, "The topic keeps growing, so I set the retention and it broke the Kafka consumer group", lang="en")
    assert {"kafka", "retention", "consumer group"} <= found
    assert not found & {"keep", "keeps", "grow", "growing", "set", "broke", "break"}
    # "set" alone is a verb; beside a noun it names a thing.
    assert "set" not in keys(nlp, "I set it yesterday", lang="en")
    assert "group" not in keys(nlp, "let's group them", lang="en")
    # Rarer verbs name the subject of a message.
    assert {"compile", "deploy", "serialize"} <= keys(nlp, "how do I compile, deploy and serialize it", lang="en")


def test_adverbs_are_not_topics(nlp: Nlp) -> None:
    found = keys(nlp, "Currently the cache is basically invalidated manually", lang="en")
    assert "cache" in found
    assert not found & {"currently", "basically", "manually"}


def test_without_word_classes_every_content_word_counts() -> None:
    plain = Nlp(NlpSettings(word_classes=False))
    assert "grow" in {t.key for t in plain.topics("the lag keeps growing", lang="en")}


def test_identifiers_lose_sentence_punctuation_and_call_parentheses(nlp: Nlp) -> None:
    found = keys(nlp, "Can I match a hash with syntax-parse? I pipe `(current-output-port)` there, i.e. stdout", lang="en")
    assert {"syntax-parse", "current-output-port"} <= found
    assert not any(k.endswith("?") or k.startswith("(") for k in found)
    assert "i.e" not in found


def test_french_verbs_of_a_question_do_not_hide_its_subject(nlp: Nlp) -> None:
    found = keys(nlp, "Quelqu'un a déjà configuré la réplication Postgres entre deux régions ?", lang="fr")
    assert {"réplication", "postgres", "région"} <= found
    assert not found & {"quelqu'un", "a", "déjà", "la", "entre"}


def test_common_french_verbs_are_not_topics_but_technical_ones_are(nlp: Nlp) -> None:
    # French has no probability table in spacy-lookups-data: its common words come from wordfreq.
    found = keys(nlp, "Tu peux regarder pourquoi la réplication Postgres prend autant de retard ? Je vais passer voir.", lang="fr")
    assert {"réplication", "postgres", "retard"} <= found
    assert not found & {"regarder", "prendre", "prend", "passer", "voir"}
    assert {"configurer", "déployer"} <= keys(nlp, "Comment configurer le proxy pour déployer ?", lang="fr")


def test_lemmas_of_sentence_starts_and_of_nouns_are_right(nlp: Nlp) -> None:
    # A capitalised first word is looked up in lower case; a noun keeps its own lemma (the lookup
    # table would turn "broker" into the adjective "broke").
    found = keys(nlp, "Looking. Adding consumers won't help. Restart the broker, then the brokers.", lang="en")
    assert "broker" in found and "broke" not in found
    assert "adding" not in found and "consumer" in found


# ---- the topic component ----------------------------------------------------------------------

# Topics of known sentences, in order (key, display), as the rules gave them before they became
# a spaCy component: the component must give exactly these.
KNOWN = [
    ("We run several Kubernetes clusters in production; the k8s upgrade broke `kubectl drain` twice.", "en",
     [("kubernetes", "Kubernetes"), ("kubernetes cluster", "Kubernetes cluster"), ("kubernetes upgrade", "kubernetes upgrade"),
      ("upgrade break", "upgrade break"), ("kubectl drain", "kubectl drain"), ("cluster", "cluster"),
      ("production", "production"), ("upgrade", "upgrade"), ("kubectl", "kubectl"), ("drain", "drain")]),
    ("Looking. Adding consumers won't help: restart the Kafka broker, then check the consumer group lag in Grafana.", "en",
     [("consumer", "consumer"), ("add consumer", "add consumer"), ("kafka broker", "Kafka broker"),
      ("consumer group", "consumer group"), ("group lag", "group lag"), ("restart", "restart"), ("kafka", "Kafka"),
      ("broker", "broker"), ("lag", "lag"), ("grafana", "Grafana")]),
    ("Qui connaît la réplication PostgreSQL entre deux régions ? Les migrations Terraform échouent depuis lundi.", "fr",
     [("postgres", "PostgreSQL"), ("migration terraform", "migration Terraform"), ("terraform échouer", "Terraform échouer"),
      ("réplication", "réplication"), ("région", "région"), ("migration", "migration"), ("terraform", "Terraform"),
      ("échouer", "échouer"), ("lundi", "lundi")]),
    ("Il faut configurer le cache Redis avant le déploiement de l'API, sinon `asyncio.gather` bloque.", "fr",
     [("asyncio.gather", "asyncio.gather"), ("cache redis", "cache Redis"), ("configurer", "configurer"), ("cache", "cache"),
      ("redis", "Redis"), ("déploiement", "déploiement"), ("api", "API"), ("bloquer", "bloquer")]),
]


@pytest.mark.parametrize(("text", "lang", "expected"), KNOWN)
def test_the_topic_component_gives_the_topics_of_known_sentences(nlp: Nlp, text: str, lang: str, expected: list) -> None:
    assert [(t.key, t.display, t.lang) for t in nlp.topics(text, lang=lang)] == [(k, d, lang) for k, d in expected]


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_every_pipeline_ends_with_the_topic_component(nlp: Nlp, lang: str) -> None:
    pipeline = nlp.pipeline(lang)
    assert pipeline.pipe_names[-1] == TOPIC_COMPONENT
    assert pipeline.pipe_names.index("lemmatizer") < pipeline.pipe_names.index(TOPIC_COMPONENT)
    # nlp.pipe itself leaves the topics on each Doc (a plain string: no identifiers to add).
    texts = [text for text, lg, _ in KNOWN if lg == lang] + ["", "Kafka consumer lag"]
    prose = [clean_markup(t)[0] for t in texts]
    from_pipe = [doc._.liaison_topics for doc in pipeline.pipe(prose)]
    assert from_pipe == [nlp.topics(p, lang=lang) for p in prose]
    assert f"{lang}: blank + lookup lemmas + topics ({TOPIC_COMPONENT})" in nlp.description


def test_the_settings_reach_the_component() -> None:
    nlp = Nlp(NlpSettings(synonyms={"kube": "kubernetes"}, max_topics=2, bigrams=False, word_classes=False,
                          common_word_logprob=-8.0))
    component = nlp.pipeline("en").get_pipe(TOPIC_COMPONENT)
    assert (component.max_topics, component.bigrams, component.use_word_classes, component.common_word_logprob) == (2, False, False, -8.0)
    topics = nlp.topics("our kube cluster keeps growing", lang="en")
    assert len(topics) == 2 and topics[0].key == "kubernetes"
    assert not any(" " in t.key for t in topics)  # no bigrams


def test_what_was_analysed_before_does_not_change_the_topics() -> None:
    # Each word's analysis is kept for the next texts; whether a capitalised word is a name
    # still depends on the word before it, in each text.
    texts = ["Set the retention, then Group the consumers.", "We tried Set theory and Group chats.",
             "Adding brokers. The broker broke.", "Broke again? Adding more."]
    fresh = [Nlp(shared=False).topics(t, lang="en") for t in texts]
    shared = Nlp(shared=False)
    assert [shared.topics(t, lang="en") for t in texts] == fresh
    assert [shared.topics(t, lang="en") for t in reversed(texts)] == fresh[::-1]
    assert list(shared.topics_many(texts, langs=["en"] * len(texts))) == fresh


def test_nlps_with_the_same_settings_share_their_pipelines() -> None:
    # Loading a pipeline takes seconds: a second app in the process reuses the first one's.
    assert Nlp().pipeline("en") is Nlp().pipeline("en")
    assert Nlp(NlpSettings(max_topics=5)).pipeline("en") is not Nlp().pipeline("en")
    assert Nlp(shared=False).pipeline("en") is not Nlp().pipeline("en")
    capped = Nlp(NlpSettings(max_topics=5)).pipeline("en").get_pipe(TOPIC_COMPONENT)
    assert capped.max_topics == 5 and Nlp().pipeline("en").get_pipe(TOPIC_COMPONENT).max_topics == NlpSettings().max_topics
    # Pipelines of their own still share the lemmatizer's table, which they only read.
    tables = [Nlp(NlpSettings(max_topics=n), shared=False).pipeline("en").get_pipe("lemmatizer").lookups for n in (4, 5)]
    assert tables[0] is tables[1] and tables[0].has_table("lemma_lookup")

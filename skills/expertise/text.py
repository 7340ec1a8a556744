"""The expertise skill's user-facing wording, in English and French: the chat answers (``TEXT``),
the one-line reason beside each person (``REASONS``) and the month names they use."""

from __future__ import annotations

import datetime as dt

from bot.i18n import Catalog

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

# The one-line reason shown beside each person, shared by the chat answer and `liaison ask`.
REASONS = Catalog(
    en={
        "answered": "answered {count} {questions} about {topic}",
        "answered_at_least": "answered at least {count} {questions} about {topic}",
        "question_one": "question",
        "question_many": "questions",
        "wrote": "wrote about {topic} {count} {times}",
        "time_one": "time",
        "time_many": "times",
        "declared": "says they know {topic}",
        "in_channel": " in #{channel}",
        "last": ", last in {when}",
        "thanked": "; thanked {count} for it",
        "thanked_alone": "thanked {count} for {topic}",
        "once": "once",
        "twice": "twice",
        "n_times": "{n} times",
        "helper": "often helps others (answered {count} {questions})",
        "lately_lead": "helps others a lot lately",
        "pair": "helped you before ({times})",
    },
    fr={
        "answered": "a répondu à {count} {questions} sur {topic}",
        "answered_at_least": "a répondu à au moins {count} {questions} sur {topic}",
        "question_one": "question",
        "question_many": "questions",
        "wrote": "a écrit sur {topic} {count} {times}",
        "time_one": "fois",
        "time_many": "fois",
        "declared": "dit s'y connaître en {topic}",
        "in_channel": " dans #{channel}",
        "last": ", la dernière fois en {when}",
        "thanked": " ; remercié·e {count} pour cela",
        "thanked_alone": "remercié·e {count} pour {topic}",
        "once": "une fois",
        "twice": "deux fois",
        "n_times": "{n} fois",
        "helper": "aide souvent les autres (a répondu à {count} {questions})",
        "lately_lead": "aide beaucoup les autres ces temps-ci",
        "pair": "vous a déjà aidé·e ({times})",
    },
)
MONTHS = {
    "en": "January February March April May June July August September October November December".split(),
    "fr": "janvier février mars avril mai juin juillet août septembre octobre novembre décembre".split(),
}


def month_label(at: dt.datetime | None, *, lang: str, now: dt.datetime) -> str:
    """"March" this year, "March 2025" before."""
    if at is None:
        return ""
    month = MONTHS.get(lang, MONTHS["en"])[at.month - 1]
    return month if at.year == now.year else f"{month} {at.year}"

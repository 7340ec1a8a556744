"""Every user-facing word of "Ask them for me" (question routing), in English and French."""

from __future__ import annotations

from bot.i18n import Catalog

MONTHS = {
    "en": ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"),
    "fr": ("janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août", "sept.", "oct.", "nov.", "déc."),
}

T = Catalog(
    en={
        "help_ask": "• *ask them* — right after a who-knows answer: I send your question to those people, privately",
        "help_opt": "• *don't send me questions* / *send me questions again* — questions others route to you",
        "btn_offer": "Ask them for me",
        "asked": "📨 I've sent your question privately to {names}. I'll tell you as soon as someone can help.{later}",
        "asked_later": " {names} will get it at the start of their working day.",
        "asked_nobody": (
            "I couldn't send your question to anyone just now: the people of that answer have had enough questions "
            "this week, asked me not to send them any, or said it's not their topic. Try asking in a channel."
        ),
        "already_routed": "I've already sent that question; I'll tell you when someone can help.",
        "nothing_to_route": "Ask me *who knows …?* first; then say *ask them* and I'll send your question to those people.",
        "not_yours": "That button belongs to someone else's question, so I didn't do anything.",
        "offer": (
            "👋 {asker} is looking for help with *{topics}*, and you came up as someone who knows: “{question}”"
            "{context}{link}\nCan you help? If you say yes, I'll start a conversation between you two."
        ),
        "offer_context": "\n> {context}",
        "offer_link": "\n<{url}|Where it was asked>",
        "btn_accept": "I can help",
        "btn_decline": "Not me",
        "btn_pass": "Not now",
        "accepted_you": "✅ Thanks for helping {asker} with *{topics}*! I've started a conversation for you two.",
        "taken": "✔️ {helper} is already helping {asker} with *{topics}* — thanks anyway!",
        "declined_you": "Noted: I won't send you questions about *{topics}* for {days} days.",
        "passed_you": "No problem — I've passed it on to someone else.",
        "closed_offer": "This question about *{topics}* is closed now; nothing to do. Thanks!",
        "answered_already": "You've already answered this one — thanks!",
        "intro": (
            "🤝 {asker}, meet {helper}: {helper} can help with *{topics}*.\n{asker} asked: “{question}”{context}{link}"
        ),
        "timeout": (
            "⏳ Nobody could take your question about *{topics}* in time, sorry. Would a coffee with someone strong "
            "on it, from another team, help?"
        ),
        "exhausted": (
            "Everyone I could ask about *{topics}* has passed, sorry. Would a coffee with someone strong on it, "
            "from another team, help?"
        ),
        "btn_coffee": "Find me a coffee with an expert",
        "coffee_intro": (
            "☕ {asker}, meet {expert}: {expert} knows *{topics}* well, and {asker} would love a coffee to talk "
            "about it. Find half an hour that suits you both."
        ),
        "coffee_done": "☕ I've introduced you to {expert} for a coffee.",
        "coffee_nobody": "I couldn't find anyone from another team who is strong on *{topics}* right now. Try asking in a channel.",
        "thanks_prompt": "Did {helper} help you with *{topics}*? A thanks goes a long way.",
        "btn_thank": "Thank {helper}",
        "thanks_reason": "your help with {topics}",
        "thanks_off": "Thanks are not switched on in this workspace, so I couldn't pass yours on.",
        "opted_out": "Done: I won't send you other people's questions any more. Say *send me questions again* to undo it.",
        "already_out": "You had already asked me not to send you questions. Say *send me questions again* to undo it.",
        "opted_in": "Done: other people's questions can reach you again (at most {cap} a week, in your working hours).",
        "already_in": "Other people's questions can already reach you (at most {cap} a week, in your working hours). Say *don't send me questions* to stop them.",
        "me_routed": "• Questions routed to you: {received} received, {accepted} accepted; questions you routed: {asked}.",
        "stats_title": "📨 *Routed questions* (aggregates only, no names):",
        "stats_line": "• {month}: {routed} routed, {accepted} accepted, median time to the first “I can help”: {median}",
        "stats_none": "No question has been routed yet.",
        "no_median": "none yet",
        "minutes": "{n} min",
        "hours": "{h} h {m:02d}",
        "no_offer": "You have no question waiting for your answer right now.",
        "no_helper": "None of your routed questions has been taken yet, so there is nobody to thank for one.",
        "and": "and",
    },
    fr={
        "help_ask": "• *demande-leur* — juste après une réponse « qui connaît » : j'envoie votre question à ces personnes, en privé",
        "help_opt": "• *ne m'envoie plus de questions* / *envoie-moi des questions* — les questions qu'on vous transmet",
        "btn_offer": "Demande-leur pour moi",
        "asked": "📨 J'ai envoyé votre question en privé à {names}. Je vous préviens dès que quelqu'un peut aider.{later}",
        "asked_later": " {names} la recevra au début de sa journée de travail.",
        "asked_nobody": (
            "Je n'ai pu envoyer votre question à personne pour l'instant : les personnes de cette réponse ont déjà reçu "
            "assez de questions cette semaine, m'ont demandé de ne plus leur en envoyer, ou ont dit que ce n'était pas "
            "leur sujet. Essayez de demander dans un canal."
        ),
        "already_routed": "J'ai déjà envoyé cette question ; je vous préviens quand quelqu'un peut aider.",
        "nothing_to_route": "Demandez-moi d'abord *qui connaît … ?* ; dites ensuite *demande-leur* et j'enverrai votre question à ces personnes.",
        "not_yours": "Ce bouton appartient à la question de quelqu'un d'autre : je n'ai rien fait.",
        "offer": (
            "👋 {asker} cherche de l'aide sur *{topics}*, et votre nom est sorti parmi ceux qui s'y connaissent : "
            "« {question} »{context}{link}\nPouvez-vous aider ? Si oui, je vous mets en contact tous les deux."
        ),
        "offer_context": "\n> {context}",
        "offer_link": "\n<{url}|Où la question a été posée>",
        "btn_accept": "Je peux aider",
        "btn_decline": "Pas pour moi",
        "btn_pass": "Pas maintenant",
        "accepted_you": "✅ Merci d'aider {asker} sur *{topics}* ! J'ai ouvert une conversation pour vous deux.",
        "taken": "✔️ {helper} aide déjà {asker} sur *{topics}* — merci quand même !",
        "declined_you": "C'est noté : je ne vous enverrai pas de questions sur *{topics}* pendant {days} jours.",
        "passed_you": "Pas de souci — je l'ai transmise à quelqu'un d'autre.",
        "closed_offer": "Cette question sur *{topics}* est close ; rien à faire. Merci !",
        "answered_already": "Vous avez déjà répondu à celle-ci — merci !",
        "intro": (
            "🤝 {asker}, voici {helper} : {helper} peut aider sur *{topics}*.\n{asker} a demandé : « {question} »"
            "{context}{link}"
        ),
        "timeout": (
            "⏳ Personne n'a pu prendre votre question sur *{topics}* à temps, désolé. Un café avec quelqu'un qui "
            "s'y connaît, d'une autre équipe, vous aiderait-il ?"
        ),
        "exhausted": (
            "Toutes les personnes que je pouvais solliciter sur *{topics}* ont passé leur tour, désolé. Un café avec "
            "quelqu'un qui s'y connaît, d'une autre équipe, vous aiderait-il ?"
        ),
        "btn_coffee": "Trouve-moi un café avec un expert",
        "coffee_intro": (
            "☕ {asker}, voici {expert} : {expert} connaît bien *{topics}*, et {asker} aimerait en parler autour d'un "
            "café. Trouvez une demi-heure qui vous convienne à tous les deux."
        ),
        "coffee_done": "☕ Je vous ai présenté {expert} pour un café.",
        "coffee_nobody": "Je n'ai trouvé personne d'une autre équipe qui maîtrise *{topics}* pour l'instant. Essayez de demander dans un canal.",
        "thanks_prompt": "{helper} vous a-t-il aidé sur *{topics}* ? Un merci fait toujours plaisir.",
        "btn_thank": "Remercier {helper}",
        "thanks_reason": "ton aide sur {topics}",
        "thanks_off": "Les remerciements ne sont pas activés ici : je n'ai pas pu transmettre le vôtre.",
        "opted_out": "C'est fait : je ne vous transmettrai plus les questions des autres. Dites *envoie-moi des questions* pour annuler.",
        "already_out": "Vous m'aviez déjà demandé de ne plus vous envoyer de questions. Dites *envoie-moi des questions* pour annuler.",
        "opted_in": "C'est fait : les questions des autres peuvent à nouveau vous parvenir (au plus {cap} par semaine, pendant vos heures de travail).",
        "already_in": "Les questions des autres peuvent déjà vous parvenir (au plus {cap} par semaine, pendant vos heures de travail). Dites *ne m'envoie plus de questions* pour arrêter.",
        "me_routed": "• Questions qu'on vous a transmises : {received} reçues, {accepted} acceptées ; questions que vous avez fait transmettre : {asked}.",
        "stats_title": "📨 *Questions transmises* (agrégats uniquement, aucun nom) :",
        "stats_line": "• {month} : {routed} transmises, {accepted} acceptées, délai médian jusqu'au premier « Je peux aider » : {median}",
        "stats_none": "Aucune question n'a encore été transmise.",
        "no_median": "pas encore",
        "minutes": "{n} min",
        "hours": "{h} h {m:02d}",
        "no_offer": "Aucune question n'attend votre réponse pour l'instant.",
        "no_helper": "Personne n'a encore pris l'une de vos questions transmises : il n'y a personne à remercier pour cela.",
        "and": "et",
    },
)

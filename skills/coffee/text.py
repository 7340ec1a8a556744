"""What the coffee skill says, in English and French: the message catalogue ``T`` and the
weekday and month names its dates are written with."""

from __future__ import annotations

from bot.i18n import Catalog

T = Catalog(
    en={
        "usage": (
            "*Random coffee* — how to use it:\n"
            "• `coffee join` / `coffee leave` — take part, or stop\n"
            "• `coffee snooze 2 weeks` — skip rounds for a while\n"
            "• `coffee status` — the programme and your place in it\n"
            "HR admins, in the programme's channel:\n"
            "• `coffee cadence weekly|biweekly|monthly [on monday] [at 10:00] [Europe/Zurich]`\n"
            "• `coffee size 2|3|4` · `coffee pause [until 2027-01-15]` · `coffee resume`\n"
            "• `coffee run now` · `coffee stats`"
        ),
        "help_line": "• *coffee join* / *coffee status* — random coffee with colleagues you rarely meet",
        "help_line_more": "• *coffee help* — every coffee command, and how HR admins run a programme",
        "not_admin": "Only HR admins and workspace admins can change the coffee programme, so nothing changed. Ask one of them, or try `coffee status`.",
        "bad": "I couldn't read that: {problem}. Nothing changed.\n{usage}",
        "bad_cadence": "the cadence must be weekly, biweekly (every other week) or monthly",
        "bad_weekday": "{word!r} is not a day of the week",
        "bad_time": "{word!r} is not a time of day (try 10:00 or 9h30)",
        "bad_tz": "{word!r} is not a time zone I know (use a name like Europe/Zurich)",
        "bad_word": "I don't know what {word!r} means here",
        "bad_size": "the group size must be 2, 3 or 4",
        "bad_date": "{word!r} is not a date (use 2027-01-15)",
        "date_past": "{date} has already passed",
        "bad_snooze": "say how long, e.g. `coffee snooze 2 weeks` (at most {max} weeks)",
        "need_channel": (
            "Start a coffee programme from the channel whose members should meet: add me to it, then say "
            "`coffee cadence weekly` there (no need to mention me). Nothing changed."
        ),
        "no_programme_here": "There is no coffee programme in this channel yet. An HR admin can start one here with `coffee cadence weekly on monday at 10:00`.",
        "no_programme": "There is no coffee programme yet. An HR admin can start one in a channel with `coffee cadence weekly`.",
        "which_programme": "There are several coffee programmes ({names}). Say it in the programme's channel, or name it, e.g. `coffee join #{first}`.",
        "cadence_set": "☕ Coffee in #{channel} is set: {schedule}, groups of {size}. Next round: {next}.",
        "size_set": "Coffee groups in #{channel} will have {size} people from the next round (one group is larger when the count doesn't divide).",
        "paused": "Coffee in #{channel} is paused until you say `coffee resume`.",
        "paused_until": "Coffee in #{channel} is paused until {date}; rounds resume after that.",
        "resumed": "Coffee in #{channel} is back on. Next round: {next}.",
        "not_paused": "Coffee in #{channel} isn't paused. Next round: {next}.",
        "joined": "You're in: you'll be matched in the next coffee round of #{channel} ({next}).",
        "already_in": "You're already in the coffee programme of #{channel}. Next round: {next}.",
        "left": "Done: you won't be matched in #{channel} any more. Say `coffee join` whenever you want back in.",
        "already_out": "You're not taking part in the coffee programme of #{channel}. Say `coffee join` to take part.",
        "snoozed": "Snoozed: no coffee matches for you in #{channel} until {date}.",
        "run_done": "☕ Round {period} of #{channel} is out: {participants} people in {groups} groups; {sent} intros sent{failed}.",
        "run_failed_part": ", {n} not delivered yet (I'll retry)",
        "run_exists": "The round of this period ({period}) already ran on {date}, so nobody was paired twice. Next round: {next}.",
        "run_paused": "Coffee in #{channel} is paused, so no round ran. Say `coffee resume` first.",
        "too_few": "Only {n} people can take part in #{channel} right now; a round needs at least {min}. Nobody was paired.",
        "no_chat": "I can't reach the chat platform from here, so no round ran.",
        "announce": "☕ This round's coffee groups are out: {participants} people in {groups} groups. Check your messages!",
        "status": "☕ Coffee in #{channel}: {schedule}, groups of {size}.{paused} Next round: {next}.",
        "status_paused": " *Paused{until}.*",
        "status_until": " until {date}",
        "status_you_in": "You're in.",
        "status_you_out": "You're not taking part (say `coffee join` to take part).",
        "status_you_not_member": "You're not in #{channel}, so you're not taking part; say `coffee join` to take part.",
        "status_you_snoozed": "You're snoozed until {date}.",
        "status_admin": "Last round: {period} — {participants} people, {groups} groups, intros sent {sent}/{groups}, follow-ups {followups}/{groups}.",
        "status_no_round": "No round has run yet.",
        "stats_title": "☕ Coffee stats for #{channel} (aggregates only):",
        "stats_line": "• {period}: {participants} of {eligible} people took part, {groups} groups, {met_part}, {new_ties} new cross-team ties",
        "met_part": "met rate {rate} ({met} of {answered} groups that answered)",
        "stats_none": "No round has run in #{channel} yet, so there are no figures.",
        "no_rate": "no answers yet",
        "next_never": "none planned (paused)",
        "weekly": "every week on {weekday} at {time} ({tz})",
        "biweekly": "every other week on {weekday} at {time} ({tz})",
        "monthly": "every month on the first {weekday} at {time} ({tz})",
        "intro": "☕ Hi {names}! You're a coffee group this round, from #{channel}. {starter}\nFind half an hour in the next few days — a call or in person, whatever suits you.",
        "starter_topic": "You all seem to know about *{topic}* — a good place to start.",
        "starter_0": "Starter: what's something you've learned at work recently?",
        "starter_1": "Starter: what does a good day at work look like for you?",
        "starter_2": "Starter: which project of your team would you explain to a newcomer first?",
        "starter_3": "Starter: what's a tool or habit that saves you time?",
        "starter_4": "Starter: what did you do before joining the company?",
        "followup": "Hi {names}! Halfway through this coffee round — did you manage to meet?",
        "btn_met": "Yes, we met",
        "btn_not_met": "Not yet",
        "answer_met": "Great, thanks for telling me! ☕",
        "answer_not_met": "Thanks for telling me. There's still time — or you'll meet someone new next round.",
        "answer_unknown": "That button belongs to a coffee group you're not in, so I didn't record anything.",
        "welcome": "Welcome to #{channel}! Its members meet for a random coffee {schedule}. You'll be in the next round ({next}); say `coffee leave` if you'd rather not.",
        "and": "and",
        "date_fmt": "{weekday} {day} {month}, {time}",
    },
    fr={
        "usage": (
            "*Café au hasard* — mode d'emploi :\n"
            "• `café rejoindre` / `café quitter` — participer, ou arrêter\n"
            "• `café snooze 2 semaines` — sauter des tours pendant un temps\n"
            "• `café statut` — le programme et votre participation\n"
            "Admins RH, dans le canal du programme :\n"
            "• `café cadence hebdomadaire|toutes les deux semaines|mensuel [le lundi] [à 10h] [Europe/Zurich]`\n"
            "• `café taille 2|3|4` · `café pause [jusqu'au 2027-01-15]` · `café reprendre`\n"
            "• `café lancer maintenant` · `café statistiques`"
        ),
        "help_line": "• *café rejoindre* / *café statut* — un café avec des collègues que vous croisez peu",
        "help_line_more": "• *café aide* — toutes les commandes café, et comment les admins RH gèrent un programme",
        "not_admin": "Seuls les admins RH et les admins de l'espace de travail peuvent modifier le programme café : rien n'a changé. Demandez à l'un d'eux, ou essayez `café statut`.",
        "bad": "Je n'ai pas compris : {problem}. Rien n'a changé.\n{usage}",
        "bad_cadence": "la cadence doit être hebdomadaire, bimensuel (toutes les deux semaines) ou mensuel",
        "bad_weekday": "{word!r} n'est pas un jour de la semaine",
        "bad_time": "{word!r} n'est pas une heure (essayez 10h ou 9h30)",
        "bad_tz": "je ne connais pas le fuseau horaire {word!r} (utilisez un nom comme Europe/Paris)",
        "bad_word": "je ne sais pas ce que {word!r} veut dire ici",
        "bad_size": "la taille des groupes doit être 2, 3 ou 4",
        "bad_date": "{word!r} n'est pas une date (utilisez 2027-01-15)",
        "date_past": "le {date} est déjà passé",
        "bad_snooze": "dites pour combien de temps, par exemple `café snooze 2 semaines` (au plus {max} semaines)",
        "need_channel": (
            "Lancez un programme café depuis le canal dont les membres doivent se rencontrer : ajoutez-moi au canal, "
            "puis dites-y `café cadence hebdomadaire` (inutile de me mentionner). Rien n'a changé."
        ),
        "no_programme_here": "Il n'y a pas encore de programme café dans ce canal. Un admin RH peut en lancer un ici avec `café cadence hebdomadaire le lundi à 10h`.",
        "no_programme": "Il n'y a pas encore de programme café. Un admin RH peut en lancer un dans un canal avec `café cadence hebdomadaire`.",
        "which_programme": "Il y a plusieurs programmes café ({names}). Dites-le dans le canal du programme, ou nommez-le, par exemple `café rejoindre #{first}`.",
        "cadence_set": "☕ Le café de #{channel} est réglé : {schedule}, groupes de {size}. Prochain tour : {next}.",
        "size_set": "Les groupes café de #{channel} seront de {size} personnes dès le prochain tour (un groupe est plus grand si le compte ne tombe pas juste).",
        "paused": "Le café de #{channel} est en pause jusqu'à ce que vous disiez `café reprendre`.",
        "paused_until": "Le café de #{channel} est en pause jusqu'au {date} ; les tours reprennent ensuite.",
        "resumed": "Le café de #{channel} reprend. Prochain tour : {next}.",
        "not_paused": "Le café de #{channel} n'est pas en pause. Prochain tour : {next}.",
        "joined": "C'est noté : vous serez dans le prochain tour café de #{channel} ({next}).",
        "already_in": "Vous participez déjà au café de #{channel}. Prochain tour : {next}.",
        "left": "C'est fait : vous ne serez plus mis en relation dans #{channel}. Dites `café rejoindre` quand vous voulez revenir.",
        "already_out": "Vous ne participez pas au café de #{channel}. Dites `café rejoindre` pour participer.",
        "snoozed": "En veille : pas de café pour vous dans #{channel} jusqu'au {date}.",
        "run_done": "☕ Le tour {period} de #{channel} est lancé : {participants} personnes en {groups} groupes ; {sent} présentations envoyées{failed}.",
        "run_failed_part": ", {n} pas encore remises (je réessaierai)",
        "run_exists": "Le tour de cette période ({period}) a déjà eu lieu le {date} : personne n'a été apparié deux fois. Prochain tour : {next}.",
        "run_paused": "Le café de #{channel} est en pause : aucun tour n'a eu lieu. Dites d'abord `café reprendre`.",
        "too_few": "Seules {n} personnes peuvent participer dans #{channel} pour l'instant ; il en faut au moins {min}. Personne n'a été apparié.",
        "no_chat": "Je n'arrive pas à joindre la plateforme de discussion d'ici : aucun tour n'a eu lieu.",
        "announce": "☕ Les groupes café de ce tour sont prêts : {participants} personnes en {groups} groupes. Regardez vos messages !",
        "status": "☕ Café de #{channel} : {schedule}, groupes de {size}.{paused} Prochain tour : {next}.",
        "status_paused": " *En pause{until}.*",
        "status_until": " jusqu'au {date}",
        "status_you_in": "Vous participez.",
        "status_you_out": "Vous ne participez pas (dites `café rejoindre` pour participer).",
        "status_you_not_member": "Vous n'êtes pas dans #{channel}, donc vous ne participez pas ; dites `café rejoindre` pour participer.",
        "status_you_snoozed": "Vous êtes en veille jusqu'au {date}.",
        "status_admin": "Dernier tour : {period} — {participants} personnes, {groups} groupes, présentations envoyées {sent}/{groups}, relances {followups}/{groups}.",
        "status_no_round": "Aucun tour n'a encore eu lieu.",
        "stats_title": "☕ Statistiques café de #{channel} (agrégats uniquement) :",
        "stats_line": "• {period} : {participants} personnes sur {eligible} ont participé, {groups} groupes, {met_part}, {new_ties} nouveaux liens entre équipes",
        "met_part": "rencontres {rate} ({met} des {answered} groupes qui ont répondu)",
        "stats_none": "Aucun tour n'a encore eu lieu dans #{channel} : pas encore de chiffres.",
        "no_rate": "pas encore de réponse",
        "next_never": "aucun de prévu (en pause)",
        "weekly": "chaque semaine le {weekday} à {time} ({tz})",
        "biweekly": "une semaine sur deux le {weekday} à {time} ({tz})",
        "monthly": "chaque mois le premier {weekday} à {time} ({tz})",
        "intro": "☕ Bonjour {names} ! Vous formez un groupe café ce tour-ci, depuis #{channel}. {starter}\nTrouvez une demi-heure dans les prochains jours — en visio ou en vrai, comme vous préférez.",
        "starter_topic": "Vous semblez tous vous y connaître en *{topic}* — un bon point de départ.",
        "starter_0": "Pour lancer la conversation : qu'avez-vous appris récemment au travail ?",
        "starter_1": "Pour lancer la conversation : à quoi ressemble une bonne journée de travail pour vous ?",
        "starter_2": "Pour lancer la conversation : quel projet de votre équipe expliqueriez-vous en premier à un nouveau venu ?",
        "starter_3": "Pour lancer la conversation : quel outil ou quelle habitude vous fait gagner du temps ?",
        "starter_4": "Pour lancer la conversation : que faisiez-vous avant de rejoindre l'entreprise ?",
        "followup": "Bonjour {names} ! Nous sommes à mi-parcours de ce tour café — avez-vous pu vous rencontrer ?",
        "btn_met": "Oui, c'est fait",
        "btn_not_met": "Pas encore",
        "answer_met": "Super, merci de me le dire ! ☕",
        "answer_not_met": "Merci de me le dire. Il reste du temps — sinon, vous rencontrerez quelqu'un de nouveau au prochain tour.",
        "answer_unknown": "Ce bouton appartient à un groupe café dont vous ne faites pas partie : je n'ai rien enregistré.",
        "welcome": "Bienvenue dans #{channel} ! Ses membres se retrouvent pour un café au hasard {schedule}. Vous serez dans le prochain tour ({next}) ; dites `café quitter` si vous préférez ne pas participer.",
        "and": "et",
        "date_fmt": "{weekday} {day} {month}, {time}",
    },
)

N_STARTERS = 5
WEEKDAYS = {
    "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
    "fr": ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche"),
}
MONTHS = {
    "en": ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"),
    "fr": ("janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août", "sept.", "oct.", "nov.", "déc."),
}

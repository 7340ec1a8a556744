"""Random coffee: every period, the members of a programme's channel are put into small groups
of colleagues who rarely talk, and introduced to each other.

HR admins run a programme per channel from chat (``coffee cadence weekly on monday at 10:00
Europe/Zurich``, ``size``, ``pause``, ``resume``, ``run now``, ``stats``); everyone can ``join``,
``leave``, ``snooze 2 weeks`` and ask for the ``status``. French keywords work too
(``café cadence hebdomadaire le lundi à 10h``, ``rejoindre``, ``quitter``, ``reprendre``,
``lancer maintenant``, ``statistiques``…), and cadences in words (``every other week``, ``toutes
les deux semaines``). In a channel the commands need no mention of the bot: an admin's message
that starts with ``coffee``/``café`` and a coffee word, or anyone's complete ``coffee join``,
``leave``, ``snooze …``, ``status`` or ``help`` (``coffee_in_channel``).

A round (scheduled, or ``run now``):
1. is unique per (programme, period) in the database, so a second fire in the same week,
   fortnight or month does nothing; a biweekly programme fires weekly and the second fire of a
   fortnight is that no-op;
2. takes the channel's members plus those who joined, minus bots, those who left and those
   snoozed; groups them with ``bot.pairing`` using the groups of past rounds (no repeats), the
   interaction counts of the ``coffee_ties`` table (fed by this skill's ingest handler: thread
   replies and mentions) and time zones;
3. sends each group an intro (``GroupMessage``) in its members' language with a conversation
   starter from a topic they share in the expertise index, when there is one. Each group is
   claimed on its own and marked sent right after its send succeeds, so a round interrupted by a
   crash resumes at once for every other group (the round's job fires again, or the sweep), and
   the group whose post was cut off is checked with the platform before anything is posted
   again (see "delivery" below and docs/ARCHITECTURE.md);
4. halfway through the period the sweep job asks each group "did you meet?" with buttons
   (``coffee.met`` / ``coffee.not_met``); answers feed ``coffee stats``.

Scheduling lives in ``bot.scheduler`` (the composition root builds the scheduler): this module
lists one job per programme (``coffee.round``) and registers the ``coffee.sweep`` cron job.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import os
import re
import secrets
import socket
import time
from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping, Sequence
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from bot import pairing, people, scheduler
from bot.config import ConfigError
from bot.db import Database
from bot.db.coffee import CoffeeGroup, CoffeeGroupMember, CoffeeMember, CoffeeProgramme, CoffeeRound, CoffeeTie
from bot.db.models import PersonRow
from bot.context import SkillContext
from bot.dispatch import reply
from bot.events import (
    ActionInvoked, Button, CommandInvoked, Conversation, DirectMessage, GroupMessage, MemberJoined, Reply, ScheduledTick, Sent,
)
from bot.i18n import Catalog, normalise_locale, strip_accents
from bot.ports import ChatError
from bot.privacy import forgotten
from bot.router import Routes
from skills.expertise.api import shared_topics
from bot.text import quote

ROUND_JOB = "coffee.round"
SWEEP_JOB = "coffee.sweep"


@dataclass(frozen=True)
class CoffeeSettings:
    """The ``[coffee]`` section of the settings (see config/default.toml)."""

    default_timezone: str = "UTC"
    default_weekday: str = "monday"
    default_time: str = "10:00"
    group_size: int = 2
    avoid_rounds: int = 12
    max_tz_gap_hours: float = 6.0
    missed_round_grace_hours: float = 24.0
    followup_after: float = 0.5
    sweep_cron: str = "*/15 * * * *"
    tie_scale: float = 5.0
    max_snooze_weeks: int = 26
    intro_max_attempts: int = 5
    claim_seconds: float = 60.0
    announce_rounds: bool = True
    stats_rounds: int = 6
    min_participants: int = 2


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
CRON_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

# Keywords, compared without accents and in lower case. The value says which sub-command and,
# for French words, that the answer should be in French.
SUBCOMMANDS: Mapping[str, tuple[str, str | None]] = {
    "cadence": ("cadence", None), "rythme": ("cadence", "fr"), "frequence": ("cadence", "fr"),
    "size": ("size", None), "taille": ("size", "fr"),
    "pause": ("pause", None),
    "resume": ("resume", None), "reprendre": ("resume", "fr"), "unpause": ("resume", None),
    "run": ("run", None), "lancer": ("run", "fr"),
    "status": ("status", None), "statut": ("status", "fr"), "etat": ("status", "fr"),
    "stats": ("stats", None), "statistics": ("stats", None), "statistiques": ("stats", "fr"),
    "join": ("join", None), "rejoindre": ("join", "fr"), "participer": ("join", "fr"),
    "leave": ("leave", None), "quitter": ("leave", "fr"),
    "snooze": ("snooze", None), "veille": ("snooze", "fr"),
    "help": ("help", None), "aide": ("help", "fr"),
}
ADMIN_SUBCOMMANDS = frozenset({"cadence", "size", "pause", "resume", "run", "stats"})
CADENCES = {
    "weekly": "weekly", "hebdomadaire": "weekly", "hebdo": "weekly", "week": "weekly", "semaine": "weekly",
    "biweekly": "biweekly", "fortnightly": "biweekly", "bimensuel": "biweekly", "bimensuelle": "biweekly",
    "quinzaine": "biweekly", "bihebdo": "biweekly",
    "monthly": "monthly", "mensuel": "monthly", "mensuelle": "monthly", "month": "monthly", "mois": "monthly",
}
FRENCH_CADENCES = frozenset({"hebdomadaire", "hebdo", "semaine", "bimensuel", "bimensuelle", "quinzaine", "bihebdo",
                             "mensuel", "mensuelle", "mois"})
# Cadences said in several words (compared without accents, in lower case), with their language.
CADENCE_PHRASES: Mapping[tuple[str, ...], tuple[str, str | None]] = {
    ("every", "week"): ("weekly", None), ("once", "a", "week"): ("weekly", None),
    ("every", "other", "week"): ("biweekly", None), ("every", "two", "weeks"): ("biweekly", None),
    ("every", "2", "weeks"): ("biweekly", None), ("every", "second", "week"): ("biweekly", None),
    ("every", "month"): ("monthly", None), ("once", "a", "month"): ("monthly", None),
    ("toutes", "les", "semaines"): ("weekly", "fr"), ("chaque", "semaine"): ("weekly", "fr"),
    ("une", "fois", "par", "semaine"): ("weekly", "fr"),
    ("toutes", "les", "deux", "semaines"): ("biweekly", "fr"), ("toutes", "les", "2", "semaines"): ("biweekly", "fr"),
    ("une", "semaine", "sur", "deux"): ("biweekly", "fr"), ("tous", "les", "quinze", "jours"): ("biweekly", "fr"),
    ("tous", "les", "15", "jours"): ("biweekly", "fr"), ("tous", "les", "quatorze", "jours"): ("biweekly", "fr"),
    ("tous", "les", "14", "jours"): ("biweekly", "fr"),
    ("tous", "les", "mois"): ("monthly", "fr"), ("chaque", "mois"): ("monthly", "fr"),
    ("une", "fois", "par", "mois"): ("monthly", "fr"),
}
DAY_WORDS = {
    **{d.lower(): i for i, d in enumerate(WEEKDAYS["en"])},
    **{d: i for i, d in enumerate(WEEKDAYS["fr"])},
    **{d[:3].lower(): i for i, d in enumerate(WEEKDAYS["en"])},
    **{d + "s": i for i, d in enumerate(("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"))},
}
FILLERS = frozenset({"on", "le", "les", "at", "a", "every", "chaque", "tous", "in", "dans", "the"})
_TIME = re.compile(r"^(\d{1,2})(?:[:h](\d{2})?)?$")
_SNOOZE_UNITS = {
    "week": 7, "weeks": 7, "semaine": 7, "semaines": 7, "wk": 7, "w": 7,
    "day": 1, "days": 1, "jour": 1, "jours": 1, "d": 1,
    "month": 30, "months": 30, "mois": 30,
}
_CHANNEL_REF = re.compile(r"^(?:<#([A-Z0-9]+)(?:\|([^>]*))?>|#([\w.-]+))$")

routes = Routes(
    "coffee",
    help={lang: [T.get(lang, "help_line"), T.get(lang, "help_line_more")] for lang in ("en", "fr")},
)


class Malformed(ValueError):
    """A command that cannot be read; ``key``/``values`` name the problem in the catalogue."""

    def __init__(self, key: str, **values: object) -> None:
        super().__init__(key)
        # The words are said back to the person: mentions and broadcasts (<!here>) as plain words.
        self.key = key
        self.values = {k: quote(v) if isinstance(v, str) else v for k, v in values.items()}
        self.lang: str | None = None


# ---- services ---------------------------------------------------------------------------------


def services(app: Any) -> dict[str, Any]:
    """The sweep cron and one job per programme (the scheduler itself is the app's)."""
    cfg = app.settings.section("coffee", CoffeeSettings)
    check_settings(cfg)
    scheduler.register_cron(app, SWEEP_JOB, cfg.sweep_cron, grace_seconds=6 * 3600)
    scheduler.register_provider(app, lambda db: programme_jobs(db, cfg))
    return {}


def check_settings(cfg: CoffeeSettings) -> None:
    """Stop the start with a clear message when a [coffee] default cannot be used."""
    m = re.fullmatch(r"(\d{1,2}):(\d{2})", cfg.default_time)
    if not m or int(m.group(1)) > 23 or int(m.group(2)) > 59:
        raise ConfigError(f"coffee.default_time must be a time of day like \"10:00\", not {cfg.default_time!r}")
    if cfg.default_weekday.lower() not in DAY_WORDS:
        raise ConfigError(f"coffee.default_weekday must be a day such as \"monday\", not {cfg.default_weekday!r}")
    try:
        scheduler.parse_timezone(cfg.default_timezone)
    except ValueError as exc:
        raise ConfigError(f"coffee.default_timezone: {exc}") from None
    if cfg.group_size not in (2, 3, 4):
        raise ConfigError(f"coffee.group_size must be 2, 3 or 4, not {cfg.group_size}")
    if not cfg.claim_seconds > 0:
        raise ConfigError(f"coffee.claim_seconds must be more than 0 (seconds), not {cfg.claim_seconds}")


def programme_jobs(db: Database, cfg: CoffeeSettings) -> list[scheduler.JobSpec]:
    """One ``coffee.round`` job per programme, in every workspace."""
    with db.session(None) as s:
        rows = s.scalars(select(CoffeeProgramme)).all()
        return [job_spec(p, cfg) for p in rows]


def job_spec(p: CoffeeProgramme, cfg: CoffeeSettings) -> scheduler.JobSpec:
    return scheduler.JobSpec(
        id=f"{ROUND_JOB}:{p.workspace}:{p.id}",
        job=ROUND_JOB,
        workspace=p.workspace,
        trigger=trigger_fields(p),
        args={"programme_id": p.id},
        grace_seconds=int(cfg.missed_round_grace_hours * 3600),
    )


def trigger_fields(p: CoffeeProgramme) -> dict[str, Any]:
    """CronTrigger fields of a programme. Biweekly fires weekly: the second fire of a fortnight
    finds the fortnight's round already there and does nothing."""
    day = CRON_DAYS[p.weekday]
    fields: dict[str, Any] = {"hour": p.hour, "minute": p.minute, "timezone": p.tz}
    if p.cadence == "monthly":
        fields["day"] = f"1st {day}"
    else:
        fields["day_of_week"] = day
    return fields


def utc(at: dt.datetime | None) -> dt.datetime | None:
    """A stored time as an aware UTC datetime (SQLite gives them back without a zone)."""
    if at is None or at.tzinfo is not None:
        return at
    return at.replace(tzinfo=dt.timezone.utc)


def settings_of(ctx: SkillContext) -> CoffeeSettings:
    return ctx.settings.section("coffee", CoffeeSettings)


# ---- periods and dates ------------------------------------------------------------------------

_FORTNIGHT_EPOCH = dt.date(1970, 1, 5)  # a Monday


def period_of(p: CoffeeProgramme, at: dt.datetime) -> str:
    """The period a time falls in, in the programme's time zone: ``2026-W45``, ``2026-11-02+2w``
    (the Monday starting the fortnight), or ``2026-11``."""
    local = at.astimezone(ZoneInfo(p.tz)).date()
    if p.cadence == "monthly":
        return f"{local.year}-{local.month:02d}"
    if p.cadence == "biweekly":
        start = _FORTNIGHT_EPOCH + dt.timedelta(days=((local - _FORTNIGHT_EPOCH).days // 14) * 14)
        return f"{start.isoformat()}+2w"
    year, week, _ = local.isocalendar()
    return f"{year}-W{week:02d}"


def period_length(p: CoffeeProgramme) -> dt.timedelta:
    return {"weekly": dt.timedelta(days=7), "biweekly": dt.timedelta(days=14)}.get(p.cadence, dt.timedelta(days=30))


def is_paused(p: CoffeeProgramme, at: dt.datetime) -> bool:
    if not p.paused:
        return False
    if p.paused_until is None:
        return True
    return at.astimezone(ZoneInfo(p.tz)).date() < p.paused_until


def next_round_at(session: Session, p: CoffeeProgramme, after: dt.datetime) -> dt.datetime | None:
    """When the next round will run: the next scheduled time whose period has no round yet and
    that is not inside a pause."""
    if p.paused and p.paused_until is None:
        return None
    fields = trigger_fields(p)
    from apscheduler.triggers.cron import CronTrigger

    trigger = CronTrigger(timezone=ZoneInfo(fields.pop("timezone")), **fields)
    done = set(session.scalars(select(CoffeeRound.period).where(CoffeeRound.programme_id == p.id)))
    t = trigger.get_next_fire_time(None, after)
    for _ in range(60):
        if t is None:
            return None
        if period_of(p, t) not in done and not is_paused(p, t):
            return t
        t = trigger.get_next_fire_time(t, t + dt.timedelta(seconds=1))
    return None


def fmt_when(lang: str, at: dt.datetime | None, tz: str) -> str:
    if at is None:
        return T.get(lang, "next_never")
    local = at.astimezone(ZoneInfo(tz))
    return T.get(lang, "date_fmt", weekday=WEEKDAYS.get(lang, WEEKDAYS["en"])[local.weekday()], day=local.day,
                 month=MONTHS.get(lang, MONTHS["en"])[local.month - 1], time=f"{local:%H:%M}")


def schedule_text(lang: str, p: CoffeeProgramme) -> str:
    days = WEEKDAYS.get(lang, WEEKDAYS["en"])
    return T.get(lang, p.cadence, weekday=days[p.weekday], time=f"{p.hour:02d}:{p.minute:02d}", tz=p.tz)


# ---- command parsing (pure; nothing is written before a command is fully understood) -----------


@dataclass(frozen=True)
class Command:
    sub: str
    lang: str | None = None
    cadence: str | None = None
    weekday: int | None = None
    time: tuple[int, int] | None = None
    tz: str | None = None
    size: int | None = None
    until: dt.date | None = None
    days: int | None = None
    channel: str | None = None  # "#name" or a channel id named in the command


def parse(text: str, *, max_snooze_weeks: int = 26) -> Command:
    """Read the arguments of ``coffee``. Raises Malformed with what is wrong (and, in its
    ``lang``, the language the words were in when it could tell)."""
    try:
        return _parse(text, max_snooze_weeks)
    except Malformed as bad:
        first = strip_accents(text.strip().split()[0].lower()) if text.strip() else ""
        bad.lang = SUBCOMMANDS.get(first, ("", None))[1]
        raise


def _parse(text: str, max_snooze_weeks: int) -> Command:
    raw = text.replace("\u2019", "'").strip().split()
    channel = None
    words: list[str] = []
    for w in raw:
        m = _CHANNEL_REF.match(w)
        if m:
            channel = m.group(1) or m.group(3)
        else:
            words.append(w)
    if not words:
        return Command("status", channel=channel)
    key = strip_accents(words[0].lower())
    if key not in SUBCOMMANDS:
        raise Malformed("bad_word", word=words[0])
    sub, lang = SUBCOMMANDS[key]
    rest = words[1:]
    low = [strip_accents(w.lower()) for w in rest]
    if sub == "cadence":
        return _parse_cadence(rest, low, lang, channel)
    if sub == "size":
        if len(low) != 1 or low[0] not in ("2", "3", "4"):
            raise Malformed("bad_size")
        return Command("size", lang, size=int(low[0]), channel=channel)
    if sub == "pause":
        if not low:
            return Command("pause", lang, channel=channel)
        if low[0] in ("until", "till") and len(low) == 2:
            lang = lang or "en"
        elif low[0] in ("jusqu'au", "jusquau", "jusqu'a", "jusqua") and len(low) == 2:
            lang = "fr"
        elif low[:2] == ["jusqu'", "au"] and len(low) == 3:
            lang, low = "fr", ["jusqu'au", low[2]]
        else:
            raise Malformed("bad_word", word=" ".join(rest))
        return Command("pause", lang, until=_parse_date(low[-1]), channel=channel)
    if sub == "run":
        if low not in ([], ["now"], ["maintenant"]):
            raise Malformed("bad_word", word=" ".join(rest))
        return Command("run", "fr" if low == ["maintenant"] else lang, channel=channel)
    if sub == "snooze":
        return Command("snooze", lang or _lang_of_words(low), days=_parse_snooze(low, max_snooze_weeks), channel=channel)
    if low:
        raise Malformed("bad_word", word=" ".join(rest))
    return Command(sub, lang, channel=channel)


def _lang_of_words(low: Sequence[str]) -> str | None:
    if any(w in ("semaine", "semaines", "jour", "jours", "mois") for w in low):
        return "fr"
    return None


def _cadence_words(low: Sequence[str]) -> tuple[str, str | None, int] | None:
    """The cadence the words start with: (cadence, its language when French, how many words)."""
    for n in range(max(map(len, CADENCE_PHRASES)), 1, -1):
        found = CADENCE_PHRASES.get(tuple(low[:n]))
        if found is not None:
            return (*found, n)
    if low and low[0] in CADENCES:
        return CADENCES[low[0]], "fr" if low[0] in FRENCH_CADENCES else None, 1
    return None


def _parse_cadence(rest: list[str], low: list[str], lang: str | None, channel: str | None) -> Command:
    found = _cadence_words(low)
    if found is None:
        raise Malformed("bad_cadence")
    cadence, said_in, n = found
    lang = said_in or lang
    weekday = time = tz = None
    prev = ""
    for word, key in zip(rest[n:], low[n:]):
        after_at, prev = prev in ("at", "a"), key
        if key in FILLERS:
            if key in ("le", "a", "chaque", "tous", "dans", "les"):
                lang = lang or "fr"
            continue
        if key in DAY_WORDS:
            if weekday is not None:
                raise Malformed("bad_word", word=word)
            weekday = DAY_WORDS[key]
            continue
        m = _TIME.match(key)
        if m and time is None:
            hour, minute = int(m.group(1)), int(m.group(2) or 0)
            # A bare number is an hour only after "at" / "à" ("at 10"); alone it could be anything.
            if hour > 23 or minute > 59 or (":" not in key and "h" not in key and not after_at):
                raise Malformed("bad_time", word=word)
            time = (hour, minute)
            continue
        if "/" in word or key in ("utc", "gmt"):
            if tz is not None:
                raise Malformed("bad_word", word=word)
            tz = "UTC" if key in ("utc", "gmt") else word
            try:
                ZoneInfo(tz)
            except (ZoneInfoNotFoundError, ValueError):
                raise Malformed("bad_tz", word=word) from None
            continue
        if key.isalpha() and len(key) > 2 and key[:3] in ("mon", "tue", "wed", "thu", "fri", "sat", "sun"):
            raise Malformed("bad_weekday", word=word)
        if re.match(r"^\d", key):
            raise Malformed("bad_time", word=word)
        raise Malformed("bad_word", word=word)
    return Command("cadence", lang, cadence=cadence, weekday=weekday, time=time, tz=tz, channel=channel)


def _parse_date(word: str) -> dt.date:
    for fmt in ("%Y-%m-%d", "%d/%m/%Y", "%d.%m.%Y"):
        try:
            return dt.datetime.strptime(word, fmt).date()
        except ValueError:
            continue
    raise Malformed("bad_date", word=word)


def _parse_snooze(low: list[str], max_weeks: int) -> int:
    # "2 weeks", "2weeks", "1 semaine", "10 days", "1 month"
    joined = " ".join(low)
    m = re.fullmatch(r"(\d{1,3})\s*([a-z]+)", joined)
    if not m or m.group(2) not in _SNOOZE_UNITS:
        raise Malformed("bad_snooze", max=max_weeks)
    days = int(m.group(1)) * _SNOOZE_UNITS[m.group(2)]
    if days < 1 or days > max_weeks * 7:
        raise Malformed("bad_snooze", max=max_weeks)
    return days


# ---- the command --------------------------------------------------------------------------------


@routes.command("coffee", aliases=("café", "cafe"))
def coffee_command(event: CommandInvoked, ctx: SkillContext) -> Reply | list:
    """coffee join | leave | snooze 2 weeks | status; admins: cadence, size, pause, resume, run now, stats."""
    cfg = settings_of(ctx)
    if _said_in_french(event):
        ctx.lang = "fr"
    try:
        cmd = parse(ctx.args, max_snooze_weeks=cfg.max_snooze_weeks)
    except Malformed as bad:
        ctx.lang = bad.lang or ctx.lang
        return reply(ctx, ctx.t(T, "bad", problem=ctx.t(T, bad.key, **bad.values), usage=ctx.t(T, "usage")), private=True)
    if cmd.lang:
        ctx.lang = cmd.lang
    if cmd.sub == "help":
        return reply(ctx, ctx.t(T, "usage"), private=True)
    if cmd.sub in ADMIN_SUBCOMMANDS and not ctx.is_admin():
        return reply(ctx, ctx.t(T, "not_admin"), private=True)
    if cmd.sub == "cadence":
        return _set_cadence(event, ctx, cmd, cfg)
    found = _programme_for(ctx, event, cmd.channel)
    if isinstance(found, Reply):
        return found
    p = found
    handler = {
        "size": _set_size, "pause": _pause, "resume": _resume, "run": _run_now, "status": _status,
        "stats": _stats, "join": _join, "leave": _leave, "snooze": _snooze,
    }[cmd.sub]
    return handler(ctx, p, cmd, cfg)


# Subcommands anyone may write in a channel without mentioning the bot, when the whole message
# is the command ("coffee join"); an admin's, whatever they are.
EVERYONE_IN_CHANNEL = frozenset({"join", "leave", "snooze", "status", "help"})


@routes.message(en=r"(?:coffee|cafe)\s+(?P<args>\pL.*)", fr=r"café\s+(?P<args>\pL.*)", anywhere=True)
def coffee_in_channel(event: Any, ctx: SkillContext) -> Reply | list | None:
    """``coffee cadence weekly`` written in a channel without mentioning the bot: the command,
    when it starts with a coffee keyword and comes from an admin (any subcommand; a malformed one
    gets the usual private explanation) or is a complete ``join``/``leave``/``snooze``/``status``
    /``help`` from anyone. Other messages that start with "coffee" are only conversation."""
    if event.addressed or event.conversation.kind not in ("channel", "private"):
        return None
    args = ctx.match.get("args", "")
    sub = SUBCOMMANDS.get(strip_accents(args.split(" ", 1)[0].lower()), ("", None))[0]
    if not sub:
        return None
    if not ctx.is_admin():
        try:
            well_formed = parse(args, max_snooze_weeks=settings_of(ctx).max_snooze_weeks).sub in EVERYONE_IN_CHANNEL
        except Malformed:
            well_formed = False
        if not well_formed:
            return None
    ctx.args = args
    # As for the command: the person's language, unless they wrote "café".
    ctx.lang = normalise_locale(ctx.sender.locale if ctx.sender is not None else None) or ctx.lang
    return coffee_command(event, ctx)


def _said_in_french(event: Any) -> bool:
    """``café …`` (the French spelling of the command) asks for answers in French."""
    word = event.command if isinstance(event, CommandInvoked) else (getattr(event, "text", "") or "").lstrip("/ ").split(" ", 1)[0]
    return word.lower() == "café"


def _programme_for(ctx: SkillContext, event: Any, channel: str | None) -> CoffeeProgramme | Reply:
    rows = ctx.db.scalars(select(CoffeeProgramme).order_by(CoffeeProgramme.id)).all()
    if channel:
        for p in rows:
            if channel in (p.channel_id, p.channel_name):
                return p
        return reply(ctx, ctx.t(T, "no_programme"), private=True) if not rows else reply(
            ctx, ctx.t(T, "which_programme", names=", ".join(f"#{p.channel_name or p.channel_id}" for p in rows),
                       first=rows[0].channel_name or rows[0].channel_id), private=True)
    conv = event.conversation
    if conv.kind in ("channel", "private"):
        for p in rows:
            if p.channel_id == conv.id:
                return p
        return reply(ctx, ctx.t(T, "no_programme_here"), private=True)
    if len(rows) == 1:
        return rows[0]
    if not rows:
        return reply(ctx, ctx.t(T, "no_programme"), private=True)
    return reply(ctx, ctx.t(T, "which_programme", names=", ".join(f"#{p.channel_name or p.channel_id}" for p in rows),
                            first=rows[0].channel_name or rows[0].channel_id), private=True)


def _next_text(ctx: SkillContext, p: CoffeeProgramme) -> str:
    return fmt_when(ctx.lang, next_round_at(ctx.db, p, ctx.clock.now()), p.tz)


def _name(p: CoffeeProgramme) -> str:
    return p.channel_name or p.channel_id


def _nudge_scheduler(ctx: SkillContext) -> None:
    # The leader (maybe another process) picks the change up within scheduler.sync_seconds;
    # when it runs here, it does so at once.
    if "scheduler" in ctx.services and ctx.services.built("scheduler"):
        ctx.service("scheduler").request_sync()


def _set_cadence(event: Any, ctx: SkillContext, cmd: Command, cfg: CoffeeSettings) -> Reply:
    conv = event.conversation
    p = None
    if conv.kind in ("channel", "private"):
        p = ctx.db.scalars(select(CoffeeProgramme).where(CoffeeProgramme.channel_id == conv.id)).first()
    elif cmd.channel:
        found = _programme_for(ctx, event, cmd.channel)
        if isinstance(found, Reply):
            return reply(ctx, ctx.t(T, "need_channel"), private=True)
        p = found
    else:
        return reply(ctx, ctx.t(T, "need_channel"), private=True)
    now = ctx.clock.now()
    if p is None:
        default_h, default_m = (int(x) for x in cfg.default_time.split(":"))
        tz = cfg.default_timezone
        if ctx.sender is not None and ctx.sender.tz:
            try:
                ZoneInfo(ctx.sender.tz)
                tz = ctx.sender.tz
            except (ZoneInfoNotFoundError, ValueError):
                pass
        p = CoffeeProgramme(
            channel_id=conv.id, channel_name=conv.name, weekday=DAY_WORDS.get(cfg.default_weekday.lower(), 0),
            hour=default_h, minute=default_m, tz=tz, group_size=cfg.group_size, created_at=now,
        )
        ctx.db.add(p)
    p.cadence = cmd.cadence or "weekly"
    if cmd.weekday is not None:
        p.weekday = cmd.weekday
    if cmd.time is not None:
        p.hour, p.minute = cmd.time
    if cmd.tz is not None:
        p.tz = cmd.tz
    if conv.name and p.channel_id == conv.id:
        p.channel_name = conv.name
    p.updated_at = now
    ctx.db.flush()
    ctx.db.commit()  # so the scheduler's reconciliation sees it at once
    _nudge_scheduler(ctx)
    return reply(ctx, ctx.t(T, "cadence_set", channel=_name(p), schedule=schedule_text(ctx.lang, p), size=p.group_size,
                            next=_next_text(ctx, p)))


def _set_size(ctx: SkillContext, p: CoffeeProgramme, cmd: Command, cfg: CoffeeSettings) -> Reply:
    p.group_size = cmd.size or 2
    p.updated_at = ctx.clock.now()
    return reply(ctx, ctx.t(T, "size_set", channel=_name(p), size=p.group_size))


def _pause(ctx: SkillContext, p: CoffeeProgramme, cmd: Command, cfg: CoffeeSettings) -> Reply:
    today = ctx.clock.now().astimezone(ZoneInfo(p.tz)).date()
    if cmd.until is not None and cmd.until <= today:
        return reply(ctx, ctx.t(T, "bad", problem=ctx.t(T, "date_past", date=cmd.until.isoformat()), usage=ctx.t(T, "usage")), private=True)
    p.paused, p.paused_until, p.updated_at = True, cmd.until, ctx.clock.now()
    if cmd.until is None:
        return reply(ctx, ctx.t(T, "paused", channel=_name(p)))
    return reply(ctx, ctx.t(T, "paused_until", channel=_name(p), date=cmd.until.isoformat()))


def _resume(ctx: SkillContext, p: CoffeeProgramme, cmd: Command, cfg: CoffeeSettings) -> Reply:
    if not is_paused(p, ctx.clock.now()):
        return reply(ctx, ctx.t(T, "not_paused", channel=_name(p), next=_next_text(ctx, p)))
    p.paused, p.paused_until, p.updated_at = False, None, ctx.clock.now()
    return reply(ctx, ctx.t(T, "resumed", channel=_name(p), next=_next_text(ctx, p)))


def _member_row(ctx: SkillContext, p: CoffeeProgramme, user_id: str) -> CoffeeMember | None:
    return ctx.db.scalars(
        select(CoffeeMember).where(CoffeeMember.programme_id == p.id, CoffeeMember.user_id == user_id)
    ).first()


def _join(ctx: SkillContext, p: CoffeeProgramme, cmd: Command, cfg: CoffeeSettings) -> Reply:
    uid = ctx.event.sender.id
    row = _member_row(ctx, p, uid)
    now = ctx.clock.now()
    if row is not None and row.status == "joined" and not (row.snoozed_until and utc(row.snoozed_until) > now):
        return reply(ctx, ctx.t(T, "already_in", channel=_name(p), next=_next_text(ctx, p)), private=True)
    if row is None:
        row = CoffeeMember(programme_id=p.id, user_id=uid)
        ctx.db.add(row)
    row.status, row.snoozed_until, row.updated_at = "joined", None, now
    return reply(ctx, ctx.t(T, "joined", channel=_name(p), next=_next_text(ctx, p)), private=True)


def _leave(ctx: SkillContext, p: CoffeeProgramme, cmd: Command, cfg: CoffeeSettings) -> Reply:
    uid = ctx.event.sender.id
    row = _member_row(ctx, p, uid)
    if row is not None and row.status == "left":
        return reply(ctx, ctx.t(T, "already_out", channel=_name(p)), private=True)
    if row is None:
        row = CoffeeMember(programme_id=p.id, user_id=uid)
        ctx.db.add(row)
    row.status, row.snoozed_until, row.updated_at = "left", None, ctx.clock.now()
    return reply(ctx, ctx.t(T, "left", channel=_name(p)), private=True)


def _snooze(ctx: SkillContext, p: CoffeeProgramme, cmd: Command, cfg: CoffeeSettings) -> Reply:
    uid = ctx.event.sender.id
    row = _member_row(ctx, p, uid)
    now = ctx.clock.now()
    if row is None:
        row = CoffeeMember(programme_id=p.id, user_id=uid, status="joined")
        ctx.db.add(row)
    row.snoozed_until = now + dt.timedelta(days=cmd.days or 7)
    row.updated_at = now
    return reply(ctx, ctx.t(T, "snoozed", channel=_name(p), date=fmt_when(ctx.lang, utc(row.snoozed_until), p.tz)), private=True)


def _in_channel(ctx: SkillContext, p: CoffeeProgramme, user_id: str) -> bool:
    if ctx.chat is None:
        return True
    try:
        return user_id in set(ctx.chat.list_members(p.channel_id))
    except ChatError:
        return True  # the platform did not answer; do not tell someone they are out by mistake


def _status_lines(ctx: SkillContext, p: CoffeeProgramme, user_id: str) -> list[str]:
    """The programme's schedule and where ``user_id`` stands in it (status and the Home tab)."""
    now = ctx.clock.now()
    paused = ""
    if is_paused(p, now):
        until = ctx.t(T, "status_until", date=p.paused_until.isoformat()) if p.paused_until else ""
        paused = ctx.t(T, "status_paused", until=until)
    lines = [ctx.t(T, "status", channel=_name(p), schedule=schedule_text(ctx.lang, p), size=p.group_size, paused=paused,
                   next=_next_text(ctx, p))]
    row = _member_row(ctx, p, user_id)
    if (row is not None and row.status == "left") or (row is None and forgotten(ctx.db, [user_id])):
        lines.append(ctx.t(T, "status_you_out"))
    elif row is None and not _in_channel(ctx, p, user_id):
        lines.append(ctx.t(T, "status_you_not_member", channel=_name(p)))
    elif row is not None and row.snoozed_until and utc(row.snoozed_until) > now:
        lines.append(ctx.t(T, "status_you_snoozed", date=fmt_when(ctx.lang, utc(row.snoozed_until), p.tz)))
    else:
        lines.append(ctx.t(T, "status_you_in"))
    return lines


@routes.home()
def home_section(event: Any, ctx: SkillContext) -> str | None:
    """The Home tab: each coffee programme and the person's place in it."""
    programmes = ctx.db.scalars(select(CoffeeProgramme).order_by(CoffeeProgramme.id)).all()
    return "\n\n".join("\n".join(_status_lines(ctx, p, event.sender.id)) for p in programmes) or None


def _status(ctx: SkillContext, p: CoffeeProgramme, cmd: Command, cfg: CoffeeSettings) -> Reply:
    lines = _status_lines(ctx, p, ctx.event.sender.id)
    if ctx.is_admin():
        last = ctx.db.scalars(select(CoffeeRound).where(CoffeeRound.programme_id == p.id).order_by(CoffeeRound.seq.desc())).first()
        if last is None:
            lines.append(ctx.t(T, "status_no_round"))
        else:
            sent = ctx.db.scalar(select(func.count()).select_from(CoffeeGroup).where(
                CoffeeGroup.round_id == last.id, CoffeeGroup.intro_sent_at.is_not(None))) or 0
            followups = ctx.db.scalar(select(func.count()).select_from(CoffeeGroup).where(
                CoffeeGroup.round_id == last.id, CoffeeGroup.followup_sent_at.is_not(None))) or 0
            lines.append(ctx.t(T, "status_admin", period=last.period, participants=last.participants, groups=last.groups,
                               sent=sent, followups=followups))
    return reply(ctx, "\n".join(lines), private=True)


@dataclass(frozen=True)
class RoundStats:
    period: str
    eligible: int
    participants: int
    groups: int
    answered: int
    met: int
    new_ties: int
    cross_team_pairs: int
    total_pairs: int


def round_stats(session: Session, p: CoffeeProgramme, *, limit: int) -> list[RoundStats]:
    """Aggregates of the last ``limit`` rounds, newest first: no names, only counts."""
    rounds = session.scalars(
        select(CoffeeRound).where(CoffeeRound.programme_id == p.id).order_by(CoffeeRound.seq.desc()).limit(limit)
    ).all()
    out = []
    for r in rounds:
        answers: dict[int, list[bool]] = defaultdict(list)
        for gid, met in session.execute(
            select(CoffeeGroupMember.group_id, CoffeeGroupMember.met).where(
                CoffeeGroupMember.round_id == r.id, CoffeeGroupMember.met.is_not(None))
        ):
            answers[gid].append(bool(met))
        met = sum(1 for v in answers.values() if any(v))
        out.append(RoundStats(r.period, r.eligible, r.participants, r.groups, len(answers), met,
                              r.new_cross_team_ties, r.cross_team_pairs, r.total_pairs))
    return out


def _stats(ctx: SkillContext, p: CoffeeProgramme, cmd: Command, cfg: CoffeeSettings) -> Reply:
    rows = round_stats(ctx.db, p, limit=cfg.stats_rounds)
    if not rows:
        return reply(ctx, ctx.t(T, "stats_none", channel=_name(p)), private=True)
    lines = [ctx.t(T, "stats_title", channel=_name(p))]
    for r in rows:
        met_part = (ctx.t(T, "met_part", rate=f"{100 * r.met / r.answered:.0f} %", met=r.met, answered=r.answered)
                    if r.answered else ctx.t(T, "no_rate"))
        lines.append(ctx.t(T, "stats_line", period=r.period, participants=r.participants, eligible=r.eligible,
                           groups=r.groups, met_part=met_part, new_ties=r.new_ties))
    files: tuple = ()
    if "insights.coffee_chart" in ctx.services:  # the network-health skill draws the rounds' chart
        files = (ctx.service("insights.coffee_chart")(_name(p), rows[::-1], ctx.lang),)
    return reply(ctx, "\n".join(lines), private=True, files=files)


def _run_now(ctx: SkillContext, p: CoffeeProgramme, cmd: Command, cfg: CoffeeSettings) -> Reply:
    now = ctx.clock.now()
    if is_paused(p, now):
        return reply(ctx, ctx.t(T, "run_paused", channel=_name(p)), private=True)
    if ctx.chat is None:
        return reply(ctx, ctx.t(T, "no_chat"), private=True)
    outcome = start_round(ctx, p, scheduled_for=now, manual=True)
    if isinstance(outcome, CoffeeRound):
        existing = outcome
        return reply(ctx, ctx.t(T, "run_exists", period=existing.period, date=fmt_when(ctx.lang, utc(existing.started_at), p.tz),
                                next=_next_text(ctx, p)), private=True)
    if isinstance(outcome, int):
        return reply(ctx, ctx.t(T, "too_few", n=outcome, channel=_name(p), min=max(2, cfg.min_participants)), private=True)
    rnd = outcome.round
    sent, failed = send_intros(ctx, rnd, cfg)
    failed_text = ctx.t(T, "run_failed_part", n=failed) if failed else ""
    return reply(ctx, ctx.t(T, "run_done", period=rnd.period, channel=_name(p), participants=rnd.participants,
                            groups=rnd.groups, sent=sent, failed=failed_text))


# ---- rounds ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NewRound:
    round: CoffeeRound
    result: pairing.PairingResult


def _seed(workspace: str, programme_id: int, period: str) -> int:
    digest = hashlib.sha256(f"{workspace}:{programme_id}:{period}".encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


def _utc_offset(tz: str | None, at: dt.datetime) -> float | None:
    if not tz:
        return None
    try:
        off = at.astimezone(ZoneInfo(tz)).utcoffset()
    except (ZoneInfoNotFoundError, ValueError):
        return None
    return off.total_seconds() / 3600 if off is not None else None


def _chunks(items: Sequence[str], n: int = 500) -> Iterable[Sequence[str]]:
    for i in range(0, len(items), n):
        yield items[i : i + n]


def participants_of(ctx: SkillContext, p: CoffeeProgramme, at: dt.datetime) -> tuple[list[PersonRow], int]:
    """(the people who take part in a round at ``at``, how many could): the channel's members
    and those who joined, minus bots, deactivated people, those who left and those who said
    "forget me" and have not joined since; the snoozed count as could-take-part but do not take
    part."""
    assert ctx.chat is not None
    members = set(ctx.chat.list_members(p.channel_id))
    choices = ctx.db.scalars(select(CoffeeMember).where(CoffeeMember.programme_id == p.id)).all()
    left = {c.user_id for c in choices if c.status == "left"}
    joined = {c.user_id for c in choices if c.status == "joined"}
    snoozed = {c.user_id for c in choices if c.snoozed_until is not None and utc(c.snoozed_until) > at}
    # "forget me" erased their choices; a choice they made since is a "coffee join".
    left |= forgotten(ctx.db, members - joined)
    ids = sorted((members | joined) - left)
    rows: dict[str, PersonRow] = {}
    for chunk in _chunks(ids):
        for r in ctx.db.scalars(select(PersonRow).where(PersonRow.user_id.in_(chunk))):
            rows[r.user_id] = r
    unknown = [u for u in ids if u not in rows]
    if unknown:
        # A large channel of strangers: one directory listing beats thousands of lookups.
        found = ctx.chat.list_users() if len(unknown) > 20 else [x for x in (ctx.chat.lookup_user(u) for u in unknown) if x]
        wanted = set(unknown)
        for person in found:
            if person.id not in wanted:
                continue
            try:
                with ctx.db.begin_nested():
                    row = people.upsert(ctx.db, person)
                    ctx.db.flush()
            except IntegrityError:  # another worker added them meanwhile
                row = people.get(ctx.db, person.id)
            if row is not None:
                rows[person.id] = row
    humans = [rows[u] for u in ids if u in rows and not rows[u].is_bot and not rows[u].deleted]
    return [r for r in humans if r.user_id not in snoozed], len(humans)


def _history(session: Session, p: CoffeeProgramme, seq: int, window: int) -> tuple[dict[frozenset[str], int], set[frozenset[str]]]:
    """(pair -> rounds ago within ``window``, every pair that ever met in this programme)."""
    recent: dict[frozenset[str], int] = {}
    ever: set[frozenset[str]] = set()
    q = (
        select(CoffeeRound.seq, CoffeeGroupMember.group_id, CoffeeGroupMember.user_id)
        .join(CoffeeRound, CoffeeRound.id == CoffeeGroupMember.round_id)
        .where(CoffeeRound.programme_id == p.id)
    )
    groups: dict[int, tuple[int, list[str]]] = {}
    for rseq, gid, uid in session.execute(q):
        groups.setdefault(gid, (rseq, []))[1].append(uid)
    for rseq, members in groups.values():
        ago = seq - rseq
        for i, a in enumerate(members):
            for b in members[i + 1 :]:
                pair = frozenset((a, b))
                ever.add(pair)
                if 1 <= ago <= window and (pair not in recent or recent[pair] > ago):
                    recent[pair] = ago
    return recent, ever


def tie_strengths(session: Session, ids: set[str], *, scale: float) -> dict[frozenset[str], float]:
    """Pair -> 0..1 from interaction counts: 1 - exp(-count / scale)."""
    out: dict[frozenset[str], float] = {}
    for a, b, n in session.execute(select(CoffeeTie.user_a, CoffeeTie.user_b, CoffeeTie.interactions)):
        if a in ids and b in ids and n > 0:
            out[frozenset((a, b))] = 1.0 - math.exp(-n / max(scale, 1e-6))
    return out


def start_round(ctx: SkillContext, p: CoffeeProgramme, *, scheduled_for: dt.datetime, manual: bool) -> NewRound | CoffeeRound | int:
    """Pair the programme for the period of ``scheduled_for`` and store the groups (committed).

    Returns the new round, the round that already exists for that period (nothing done), or the
    number of participants when there are too few to pair."""
    cfg = settings_of(ctx)
    period = period_of(p, scheduled_for)
    existing = ctx.db.scalars(select(CoffeeRound).where(CoffeeRound.programme_id == p.id, CoffeeRound.period == period)).first()
    if existing is not None:
        return existing
    now = ctx.clock.now()
    t0 = time.perf_counter()
    who, eligible = participants_of(ctx, p, now)
    if len(who) < max(2, cfg.min_participants):
        return len(who)
    seq = (ctx.db.scalar(select(func.max(CoffeeRound.seq)).where(CoffeeRound.programme_id == p.id)) or 0) + 1
    history, ever = _history(ctx.db, p, seq, cfg.avoid_rounds)
    ids = {r.user_id for r in who}
    ties = tie_strengths(ctx.db, ids, scale=cfg.tie_scale)
    seed = _seed(p.workspace, p.id, period)
    t1 = time.perf_counter()
    result = pairing.make_groups(
        [pairing.Participant(r.user_id, r.team, _utc_offset(r.tz, scheduled_for)) for r in who],
        seed=seed, group_size=p.group_size, history=history, tie_strength=ties, avoid_rounds=cfg.avoid_rounds,
        max_tz_gap_hours=cfg.max_tz_gap_hours if cfg.max_tz_gap_hours > 0 else None,
    )
    t2 = time.perf_counter()
    team = {r.user_id: r.team for r in who}
    new_ties = 0
    for g in result.groups:
        for i, a in enumerate(g):
            for b in g[i + 1 :]:
                pair = frozenset((a, b))
                if team[a] and team[b] and team[a] != team[b] and pair not in ever and pair not in ties:
                    new_ties += 1
    rnd = CoffeeRound(
        programme_id=p.id, period=period, seq=seq, seed=seed, scheduled_for=scheduled_for, started_at=now, manual=manual,
        eligible=eligible, participants=len(who), groups=len(result.groups), total_pairs=result.total_pairs,
        cross_team_pairs=result.cross_team_pairs, new_cross_team_ties=new_ties, repeats=result.repeats,
        followup_due_at=scheduled_for + period_length(p) * cfg.followup_after,
    )
    try:
        with ctx.db.begin_nested():
            ctx.db.add(rnd)
            ctx.db.flush()
    except IntegrityError:
        # Another worker stored this period's round between our check and our insert.
        return ctx.db.scalars(select(CoffeeRound).where(CoffeeRound.programme_id == p.id, CoffeeRound.period == period)).one()
    starters = shared_topics(ctx.db, result.groups)
    groups = [CoffeeGroup(round_id=rnd.id, number=i, starter=starters.get(i)) for i, _ in enumerate(result.groups)]
    ctx.db.add_all(groups)
    ctx.db.flush()
    ctx.db.add_all(
        CoffeeGroupMember(group_id=g.id, round_id=rnd.id, user_id=u, team=team[u])
        for g, members in zip(groups, result.groups) for u in members
    )
    ctx.db.commit()  # the round and its groups exist before any intro is sent
    ctx.log.info("coffee round %s of programme %s: %d people, %d groups, %d repeats, %d cross-team pairs of %d "
                 "(inputs %.2f s, pairing %.2f s, storing %.2f s)", period, p.id, len(who), len(result.groups),
                 result.repeats, result.cross_team_pairs, result.total_pairs, t1 - t0, t2 - t1, time.perf_counter() - t2)
    return NewRound(rnd, result)


def _group_langs(rows: Sequence[PersonRow], default: str) -> list[str]:
    langs = sorted({normalise_locale(r.locale) or default for r in rows})
    return langs if len(langs) == 1 else ["en", "fr"]


def _names(lang: str, ids: Sequence[str]) -> str:
    mentions = [f"<@{u}>" for u in ids]
    if len(mentions) == 1:
        return mentions[0]
    return f"{', '.join(mentions[:-1])} {T.get(lang, 'and')} {mentions[-1]}"


def intro_text(group: CoffeeGroup, ids: Sequence[str], langs: Sequence[str], channel: str, seed: int) -> str:
    parts = []
    for lang in langs:
        if group.starter:
            starter = T.get(lang, "starter_topic", topic=group.starter)
        else:
            starter = T.get(lang, f"starter_{(seed + group.number) % N_STARTERS}")
        parts.append(T.get(lang, "intro", names=_names(lang, ids), channel=channel, starter=starter))
    return "\n\n".join(parts)


def _group_members(session: Session, round_id: int) -> dict[int, list[str]]:
    out: dict[int, list[str]] = defaultdict(list)
    for gid, uid in session.execute(
        select(CoffeeGroupMember.group_id, CoffeeGroupMember.user_id)
        .where(CoffeeGroupMember.round_id == round_id).order_by(CoffeeGroupMember.group_id, CoffeeGroupMember.user_id)
    ):
        out[gid].append(uid)
    return out


def _people(session: Session, ids: Iterable[str]) -> dict[str, PersonRow]:
    ids = sorted(set(ids))
    out: dict[str, PersonRow] = {}
    for chunk in _chunks(ids):
        for r in session.scalars(select(PersonRow).where(PersonRow.user_id.in_(chunk))):
            out[r.user_id] = r
    return out


# ---- delivery: one claim per group --------------------------------------------------------------------
#
# Each group's next message (its intro, later its follow-up) is claimed on its own: the sender
# takes the group's claim (committed), posts the message with its key, then records the mark and
# clears the claim in one commit. The claim is renewed while the post is in flight; one whose time
# ran out without a mark belongs to a sender that stopped mid-post (kill -9, a lost machine). The
# sender that takes such a group over first asks the platform whether the message got through
# (Slack: the key in the group DM's latest messages) and records it instead of posting again;
# a platform that cannot tell gets no second post (at most once). Other groups never wait for it.

# Who holds a claim: this process (host, pid, and a random part, since a restarted container
# often has the same pid).
PROCESS_ID = f"{socket.gethostname()[:40]}:{os.getpid()}:{secrets.token_hex(4)}"
_KINDS = {
    "intro": (CoffeeGroup.intro_sent_at, CoffeeGroup.intro_attempts),
    "followup": (CoffeeGroup.followup_sent_at, CoffeeGroup.followup_attempts),
}


def _claim(ctx: SkillContext, g: CoffeeGroup, kind: str, cfg: CoffeeSettings) -> str:
    """Take the claim on ``g``'s next message (committed). Returns "fresh", "in_doubt" (the
    previous sender stopped mid-post), "held" (another sender's claim is running) or "done"."""
    sent_col, attempts_col = _KINDS[kind]
    now = ctx.clock.now()
    if _take(ctx, g, kind, cfg, CoffeeGroup.sending_by.is_(None)):  # the usual case: nobody holds it
        return "fresh"
    ctx.db.refresh(g)
    if getattr(g, sent_col.key) is not None or getattr(g, attempts_col.key) >= cfg.intro_max_attempts:
        return "done"
    if g.sending_by is None or g.sending_until is None or utc(g.sending_until) > now:
        return "held"  # running, or just released by its sender: looked at again
    if _take(ctx, g, kind, cfg, CoffeeGroup.sending_by == g.sending_by, CoffeeGroup.sending_until <= now):
        return "in_doubt"
    return "held"  # another sender took it over first


def _take(ctx: SkillContext, g: CoffeeGroup, kind: str, cfg: CoffeeSettings, *held_as: Any) -> bool:
    """One compare-and-set of the claim (committed): True when it is ours now."""
    sent_col, attempts_col = _KINDS[kind]
    until = ctx.clock.now() + dt.timedelta(seconds=cfg.claim_seconds)
    row = ctx.db.execute(
        update(CoffeeGroup)
        .where(CoffeeGroup.id == g.id, sent_col.is_(None), attempts_col < cfg.intro_max_attempts, *held_as)
        .values(sending_by=PROCESS_ID, sending_until=until)
        .returning(attempts_col)
        .execution_options(synchronize_session=False)
    ).first()
    ctx.db.commit()
    if row is None:
        return False
    for key, value in (("sending_by", PROCESS_ID), ("sending_until", until), (attempts_col.key, row[0])):
        set_committed_value(g, key, value)
    return True


def _renew(ctx: SkillContext, g: CoffeeGroup, cfg: CoffeeSettings) -> None:
    """The heartbeat of a post in flight: our claim runs on."""
    ctx.db.execute(
        update(CoffeeGroup).where(CoffeeGroup.id == g.id, CoffeeGroup.sending_by == PROCESS_ID)
        .values(sending_until=ctx.clock.now() + dt.timedelta(seconds=cfg.claim_seconds))
        .execution_options(synchronize_session=False)
    )
    ctx.db.commit()


def _record(ctx: SkillContext, g: CoffeeGroup, kind: str, *, sent: Sent | None = None, error: str | None = None,
            attempts: int | None = None, in_doubt: bool = False) -> None:
    """Record what became of a post and end the claim, in one commit. ``in_doubt`` keeps the
    claim's holder with a time already run out: the next sender checks before posting."""
    if sent is not None:
        setattr(g, f"{kind}_sent_at", ctx.clock.now())
        if kind == "intro":
            g.conversation_id = sent.conversation_id
    setattr(g, f"{kind}_attempts", getattr(g, f"{kind}_attempts") + 1 if attempts is None else attempts)
    if kind == "intro":
        g.intro_error = None if error is None else error[:500]
    g.sending_until = ctx.clock.now() if in_doubt else None
    if not in_doubt:
        g.sending_by = None
    ctx.db.commit()


def _leave_in_doubt(ctx: SkillContext, g: CoffeeGroup) -> None:
    """The post broke off unexpectedly: whether it got through is unknown, so the next sender
    checks first (at once, without waiting for the claim to run out)."""
    try:
        ctx.db.rollback()
        ctx.db.execute(update(CoffeeGroup).where(CoffeeGroup.id == g.id, CoffeeGroup.sending_by == PROCESS_ID)
                       .values(sending_until=ctx.clock.now()).execution_options(synchronize_session=False))
        ctx.db.commit()
    except Exception:  # noqa: BLE001 - the database may be the problem; the claim runs out by itself
        ctx.log.warning("coffee group %s: could not mark its interrupted post; its claim runs out in %.0f s",
                        g.number, settings_of(ctx).claim_seconds)


def _check_sent(ctx: SkillContext, g: CoffeeGroup, kind: str, message: GroupMessage, *, in_doubt: bool, where: str) -> str | None:
    """Before posting again: did an earlier post get through? None: post."""
    assert ctx.chat is not None
    cfg = settings_of(ctx)
    if not ctx.chat.can_find_sent():
        if not in_doubt:
            return None  # the platform refused the earlier post: try again
        _record(ctx, g, kind, attempts=cfg.intro_max_attempts,
                error="the sender stopped mid-post and the platform cannot tell whether it got through; not sent again")
        ctx.log.warning("coffee %s for %s: the previous sender stopped mid-post and this platform cannot tell whether "
                        "it got through, so it is not sent again (at most once); tell the group if they did not get it",
                        kind, where)
        return "dropped"
    try:
        found = ctx.chat.find_sent(message)
    except ChatError as exc:
        _record(ctx, g, kind, error=f"could not check whether the last post got through: {exc}", in_doubt=True)
        ctx.log.warning("coffee %s for %s: could not check whether the previous post got through (%s), so it is not "
                        "posted blind; checked again on the next try (on Slack the app needs im:history and "
                        "mpim:history)", kind, where, exc)
        return "failed"
    if found is None:
        return None
    _record(ctx, g, kind, sent=found)
    ctx.log.info("coffee %s for %s had got through before its sender stopped; recorded, not posted again", kind, where)
    return "found"


def _post(ctx: SkillContext, g: CoffeeGroup, kind: str, message: GroupMessage, where: str) -> str:
    assert ctx.chat is not None
    cfg = settings_of(ctx)
    try:
        result = ctx.chat.send(message, heartbeat=lambda: _renew(ctx, g, cfg), every=max(0.05, cfg.claim_seconds / 3))
    except ChatError as exc:
        _record(ctx, g, kind, error=str(exc))
        ctx.log.warning("coffee %s for %s not delivered (attempt %d): %s", kind, where, getattr(g, f"{kind}_attempts"), exc)
        return "failed"
    except BaseException:
        _leave_in_doubt(ctx, g)
        raise
    _record(ctx, g, kind, sent=result)
    return "sent"


def _deliver(ctx: SkillContext, g: CoffeeGroup, kind: str, message: GroupMessage, where: str) -> str:
    """One group's message under its claim: "sent", "found" (an earlier post had got through),
    "failed", "dropped" (at most once), "held" (another sender's) or "done"."""
    state = _claim(ctx, g, kind, settings_of(ctx))
    if state in ("held", "done"):
        return state
    if state == "in_doubt" or getattr(g, f"{kind}_attempts") > 0:
        checked = _check_sent(ctx, g, kind, message, in_doubt=state == "in_doubt", where=where)
        if checked is not None:
            return checked
    return _post(ctx, g, kind, message, where)


def _pending(rnd: CoffeeRound, kind: str, cfg: CoffeeSettings) -> Any:
    sent_col, attempts_col = _KINDS[kind]
    q = select(CoffeeGroup).where(CoffeeGroup.round_id == rnd.id, sent_col.is_(None), attempts_col < cfg.intro_max_attempts)
    if kind == "followup":
        q = q.where(CoffeeGroup.intro_sent_at.is_not(None))
    return q


def _deliver_round(ctx: SkillContext, rnd: CoffeeRound, kind: str, build: Callable[[CoffeeGroup, list[str]], GroupMessage]) -> dict[str, int]:
    """Send ``kind`` to every group of the round that has not had it, each under its own claim.
    Groups another sender holds are looked at again until their claim ends: taken over when it
    runs out (that sender stopped), left alone when it is renewed (that sender is at work)."""
    cfg = settings_of(ctx)
    members = _group_members(ctx.db, rnd.id)
    counts: dict[str, int] = defaultdict(int)
    todo = ctx.db.scalars(_pending(rnd, kind, cfg).order_by(CoffeeGroup.number)).all()
    held: dict[int, dt.datetime | None] = {}
    deadline: float | None = None  # a claim seen running ends (renewed or not) within claim_seconds
    while True:
        still: dict[int, dt.datetime | None] = {}
        for g in todo:
            ids = members.get(g.id, [])
            if len(ids) < 2:  # everyone else in the group was erased ("forget me"): nothing to send
                setattr(g, f"{kind}_sent_at", ctx.clock.now())
                ctx.db.commit()
                continue
            result = _deliver(ctx, g, kind, build(g, ids), f"group {g.number} of round {rnd.period}")
            if result != "held":
                counts[result] += 1
                continue
            seen, now_until = held.get(g.id), utc(g.sending_until)
            if seen is None or now_until is None or now_until <= seen:
                still[g.id] = now_until  # not renewed since we last looked: watch it
        if deadline is None:
            deadline = time.monotonic() + cfg.claim_seconds + 2.0
        if not still or time.monotonic() >= deadline:
            counts["held"] = len(still)
            return counts
        held, todo = still, [g for g in todo if g.id in still]
        time.sleep(min(0.5, cfg.claim_seconds / 4))


def send_intros(ctx: SkillContext, rnd: CoffeeRound, cfg: CoffeeSettings) -> tuple[int, int]:
    """Send the intros of a round that are not sent yet, group by group (see above). Returns
    (sent now, still unsent)."""
    assert ctx.chat is not None
    p = ctx.db.get(CoffeeProgramme, rnd.programme_id)
    channel = _name(p) if p else "?"
    members = _group_members(ctx.db, rnd.id)
    rows = _people(ctx.db, (u for m in members.values() for u in m))
    default = ctx.settings.bot.default_language

    def intro(g: CoffeeGroup, ids: list[str]) -> GroupMessage:
        langs = _group_langs([rows[u] for u in ids if u in rows], default)
        return GroupMessage(tuple(ids), intro_text(g, ids, langs, channel, rnd.seed), key=f"coffee.intro.{g.id}")

    started = time.perf_counter()
    counts = _deliver_round(ctx, rnd, "intro", intro)
    remaining = _unsent(ctx, rnd, cfg)
    ctx.db.refresh(rnd)
    if remaining == 0 and rnd.intros_done_at is None:
        rnd.intros_done_at = ctx.clock.now()
        ctx.db.commit()
    if any(counts.values()):
        ctx.log.info("coffee round %s: %d intros sent, %d found already sent, %d failed, %d not sent again (delivery "
                     "unknown), %d held by another sender, %d left (%.2f s)", rnd.period, counts["sent"], counts["found"],
                     counts["failed"], counts["dropped"], counts["held"], remaining, time.perf_counter() - started)
    return counts["sent"] + counts["found"], remaining


def _unsent(ctx: SkillContext, rnd: CoffeeRound, cfg: CoffeeSettings) -> int:
    return ctx.db.scalar(select(func.count()).select_from(_pending(rnd, "intro", cfg).subquery())) or 0


def send_followups(ctx: SkillContext, rnd: CoffeeRound, cfg: CoffeeSettings) -> int:
    """Ask each introduced group whether they met (once per group, claimed like the intros)."""
    assert ctx.chat is not None
    members = _group_members(ctx.db, rnd.id)
    rows = _people(ctx.db, (u for m in members.values() for u in m))
    default = ctx.settings.bot.default_language

    def followup(g: CoffeeGroup, ids: list[str]) -> GroupMessage:
        langs = _group_langs([rows[u] for u in ids if u in rows], default)
        text = "\n\n".join(T.get(lang, "followup", names=_names(lang, ids)) for lang in langs)
        label = lambda key: " / ".join(T.get(lang, key) for lang in langs)  # noqa: E731
        buttons = (Button(label("btn_met"), "coffee.met", str(g.id), "primary"), Button(label("btn_not_met"), "coffee.not_met", str(g.id)))
        return GroupMessage(tuple(ids), text, buttons, key=f"coffee.followup.{g.id}")

    counts = _deliver_round(ctx, rnd, "followup", followup)
    remaining = ctx.db.scalar(select(func.count()).select_from(_pending(rnd, "followup", cfg).subquery())) or 0
    if remaining == 0:
        ctx.db.refresh(rnd)
        rnd.followups_done_at = ctx.clock.now()
        ctx.db.commit()
    return counts["sent"] + counts["found"]


# ---- scheduled jobs ------------------------------------------------------------------------------------


@routes.schedule(ROUND_JOB)
def scheduled_round(tick: ScheduledTick, ctx: SkillContext) -> list:
    """A programme's round is due: pair, store, introduce, announce in the channel."""
    cfg = settings_of(ctx)
    p = ctx.db.get(CoffeeProgramme, int(tick.args.get("programme_id", 0)))
    if p is None:
        return []
    spec = tick.args.get("spec")
    if spec is not None and spec != job_spec(p, cfg).spec:
        ctx.log.info("coffee: a round of programme %s fired on an old schedule; the new one takes over", p.id)
        return []
    if is_paused(p, tick.fire_time):
        ctx.log.info("coffee: programme %s is paused; no round in %s", p.id, period_of(p, tick.fire_time))
        return []
    if ctx.chat is None:
        ctx.log.error("coffee: no chat for %s; the round of programme %s cannot run", ctx.workspace.key, p.id)
        return []
    outcome = start_round(ctx, p, scheduled_for=tick.fire_time, manual=False)
    if isinstance(outcome, int):
        return []
    # The period's round may exist already: this job fired again because the process running it
    # stopped mid-round. Its intros go on where they stopped; it is announced once.
    rnd = outcome.round if isinstance(outcome, NewRound) else outcome
    send_intros(ctx, rnd, cfg)
    if not cfg.announce_rounds or rnd.manual:
        return []
    # Marked (committed) before the note is sent, by whoever marks it first: at most once.
    marked = ctx.db.execute(update(CoffeeRound).where(CoffeeRound.id == rnd.id, CoffeeRound.announced_at.is_(None))
                            .values(announced_at=ctx.clock.now()).execution_options(synchronize_session=False))
    ctx.db.commit()
    if marked.rowcount != 1:
        return []
    lang = ctx.settings.bot.default_language
    return [Reply(Conversation(p.channel_id, "channel", p.channel_name),
                  T.get(lang, "announce", participants=rnd.participants, groups=rnd.groups))]


@routes.schedule(SWEEP_JOB)
def sweep(tick: ScheduledTick, ctx: SkillContext) -> None:
    """Every few minutes: finish intros an interrupted round did not send, and send the
    follow-ups that are due."""
    cfg = settings_of(ctx)
    if ctx.chat is None:
        return None
    now = ctx.clock.now()
    for rnd in ctx.db.scalars(select(CoffeeRound).where(CoffeeRound.intros_done_at.is_(None)).order_by(CoffeeRound.id)).all():
        send_intros(ctx, rnd, cfg)
    due = ctx.db.scalars(
        select(CoffeeRound).where(CoffeeRound.followups_done_at.is_(None), CoffeeRound.intros_done_at.is_not(None),
                                  CoffeeRound.followup_due_at <= now).order_by(CoffeeRound.id)
    ).all()
    for rnd in due:
        send_followups(ctx, rnd, cfg)
    return None


# ---- answers, newcomers, ties ------------------------------------------------------------------------


@routes.action("coffee.")
def answer(event: ActionInvoked, ctx: SkillContext) -> Reply | None:
    """A press on "Yes, we met" / "Not yet"."""
    if event.action_id not in ("coffee.met", "coffee.not_met"):
        return None
    try:
        group_id = int(event.value)
    except ValueError:
        return reply(ctx, ctx.t(T, "answer_unknown"), private=True)
    row = ctx.db.scalars(
        select(CoffeeGroupMember).where(CoffeeGroupMember.group_id == group_id, CoffeeGroupMember.user_id == event.sender.id)
    ).first()
    if row is None:
        return reply(ctx, ctx.t(T, "answer_unknown"), private=True)
    row.met = event.action_id == "coffee.met"
    row.answered_at = ctx.clock.now()
    return reply(ctx, ctx.t(T, "answer_met" if row.met else "answer_not_met"), private=True)


@routes.member_joined()
def welcome(event: MemberJoined, ctx: SkillContext) -> DirectMessage | None:
    """Someone joined a programme's channel: they take part from the next round; tell them."""
    if event.person.is_bot:
        return None
    p = ctx.db.scalars(select(CoffeeProgramme).where(CoffeeProgramme.channel_id == event.conversation.id)).first()
    if p is None:
        return None
    row = _member_row(ctx, p, event.person.id)
    if row is not None and row.status == "left":
        return None  # they opted out before; joining the channel again does not undo that
    if row is None and forgotten(ctx.db, [event.person.id]):
        return None  # they said "forget me": only "coffee join" brings them back
    if row is None:
        ctx.db.add(CoffeeMember(programme_id=p.id, user_id=event.person.id, status="joined", updated_at=ctx.clock.now()))
    return DirectMessage(event.person.id, ctx.t(T, "welcome", channel=_name(p), schedule=schedule_text(ctx.lang, p),
                                                next=_next_text(ctx, p)))


@routes.ingest()
def count_ties(batch: Sequence[Any], ctx: SkillContext) -> None:
    """Count who interacts with whom in public channels (a reply in someone's thread, a
    mention): the pairing prefers people with few interactions."""
    counts: dict[tuple[str, str], float] = defaultdict(float)
    last: dict[tuple[str, str], dt.datetime | None] = {}
    for m in batch:
        if m.op != "upsert":
            continue
        others = set(m.mentions)
        if m.parent_user_id and m.thread_ts and m.thread_ts != m.ts:
            others.add(m.parent_user_id)
        others.discard(m.user_id)
        for other in others:
            a, b = sorted((m.user_id, other))
            counts[(a, b)] += 1.0
            when = m.message_time
            if when is not None and (last.get((a, b)) is None or when > last[(a, b)]):
                last[(a, b)] = when
            else:
                last.setdefault((a, b), None)
    if not counts:
        return None
    dialect = ctx.db.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    ws = ctx.workspace.key
    # One statement for the batch's pairs (executemany), not one built and compiled per pair: a
    # backfill's batch of a thousand messages of a large company meets hundreds of pairs.
    T_ = CoffeeTie.__table__
    stmt = insert(T_)
    stmt = stmt.on_conflict_do_update(
        index_elements=["workspace", "user_a", "user_b"],
        set_={"interactions": T_.c.interactions + stmt.excluded.interactions,
              "last_at": func.coalesce(stmt.excluded.last_at, T_.c.last_at)},
    )
    ctx.db.connection().execute(stmt, [
        {"workspace": ws, "user_a": a, "user_b": b, "interactions": n, "last_at": last.get((a, b))}
        for (a, b), n in sorted(counts.items())
    ])
    return None


# ---- demo -------------------------------------------------------------------------------------------------

routes.demo_step("Rebecca", "@liaison coffee cadence weekly on monday at 10:00 Europe/Zurich",
                 "An HR admin starts a weekly random-coffee programme for the members of #coffee, from chat.",
                 channel="coffee")
routes.demo_step("Ben", "@liaison coffee run now",
                 "Only HR admins can run a round; anyone else gets a clear refusal and nothing changes.", channel="coffee")
routes.demo_step("Claire", "café rejoindre",
                 "Claire is not in #coffee but joins the programme from a direct message, in French.")
routes.demo_step("Rebecca", "@liaison coffee size 3", "Groups of three this time.", channel="coffee")
routes.demo_step("Rebecca", "@liaison coffee run now",
                 "The admin runs a round now: colleagues from different teams who rarely talk are grouped, and "
                 "each group gets an intro in its members' language.", channel="coffee")
routes.demo_step("Priya", "coffee status", "Anyone can see the programme and their place in it.")
routes.demo_step("Rebecca", "coffee stats", "Admins see aggregates per round — never who met whom.")

"""What the kudos skill says, in English and French: the one catalogue of its wording, the month
names its views and digest use, and the few helpers that put words together (a list of names, a
month, the language a person reads)."""

from __future__ import annotations

from typing import Sequence

from bot.db.models import PersonRow
from bot.i18n import Catalog, normalise_locale

TEXT = Catalog(
    en={
        "help_thanks": "• *thanks @name for …* — thank a colleague (or react with :{emoji}: to their message)",
        "help_mine": "• *my thanks* — the thanks you received and gave",
        "usage": (
            "You're welcome! To thank a colleague, say *thanks @name for …* — they get a message, "
            "and it counts toward their expertise on what they helped with."
        ),
        "self": "You can't thank yourself — though I'm sure you deserve it! Thank a colleague with *thanks @name for …*.",
        "bot": "{who} is a bot, so I can't pass thanks on. Thank the person behind it instead.",
        "unknown": "I couldn't find {name} in this workspace. Mention them with @ so I know who you mean.",
        "ambiguous": "{name} could be {names}. Mention the one you mean with @.",
        "cap": (
            "You have already thanked {cap} people today, the daily limit, so I didn't pass this on to {who}. "
            "The limit resets at midnight your time."
        ),
        "sent": "Thanks sent to {who}: they'll get a direct message.",
        "sent_topics": "Thanks sent to {who}: they'll get a direct message, and it counts toward their expertise on {topics}.",
        "dm_reason": "🙏 {giver} thanked you for: _{reason}_{where}.{link}",
        "dm_plain": "🙏 {giver} thanked you{where}.{link}",
        "dm_topics": "\nIt counts toward your expertise on {topics}.",
        "where": " in #{channel}",
        "link": " <{url}|See the message>",
        "post_reason": "🙏 {giver} thanked {who} for: _{reason}_{link}",
        "post_plain": "🙏 {giver} thanked {who}.{link}",
        "and": "and",
        "mine_title": "*Your thanks*",
        "mine_totals": "Received: {received} · given: {given}",
        "mine_none": "No thanks yet, received or given. Thank a colleague with *thanks @name for …*.",
        "mine_months": "By month:",
        "mine_month": "• {month}: {received} received{topics}, {given} given",
        "mine_received_topics": "Thanked for: {topics}",
        "mine_given_topics": "You thanked people for: {topics}",
        "mine_only_own": "I only show people their own thanks. Ask {who} to say *my thanks* to me.",
        "board_off": "The thanks leaderboard is off. An admin can turn it on with *thanks leaderboard on*.",
        "board_title": "*Most thanked in {month}*",
        "board_empty": "Nobody has been thanked in {month} yet.",
        "board_line": "{rank}. {who} — {count}",
        "board_on": "The thanks leaderboard is now on: anyone can see it with *thanks leaderboard*.",
        "board_now_off": "The thanks leaderboard is now off.",
        "teams_title": "*Thanks received per team in {month}*",
        "teams_line": "• {team}: {count}",
        "teams_none": "No team of {size} people or more has been thanked in {month} yet.",
        "teams_note": "Teams of fewer than {size} people are not shown.",
        "digest": "🙏 Your help was thanked {times} in {month}{topics}. Thank you for sharing what you know!",
        "digest_topics": ", on {topics}",
        "once": "once",
        "times": "{n} times",
    },
    fr={
        "help_thanks": "• *merci @nom pour …* — remercier un collègue (ou réagir avec :{emoji}: à son message)",
        "help_mine": "• *mes remerciements* — les remerciements reçus et donnés",
        "usage": (
            "Avec plaisir ! Pour remercier un collègue, dites *merci @nom pour …* : il reçoit un message, "
            "et cela compte pour son expertise sur le sujet."
        ),
        "self": "Vous ne pouvez pas vous remercier vous-même, même si vous le méritez sûrement ! Remerciez un collègue avec *merci @nom pour …*.",
        "bot": "{who} est un bot : je ne peux pas lui transmettre de remerciements. Remerciez plutôt la personne derrière.",
        "unknown": "Je ne trouve pas {name} dans cet espace de travail. Mentionnez la personne avec @ pour que je sache de qui il s'agit.",
        "ambiguous": "{name} peut désigner {names}. Mentionnez la bonne personne avec @.",
        "cap": (
            "Vous avez déjà remercié {cap} personnes aujourd'hui, la limite du jour : je n'ai donc pas transmis ce merci à {who}. "
            "La limite repart à zéro à minuit, heure locale."
        ),
        "sent": "Merci transmis à {who} : un message direct va lui parvenir.",
        "sent_topics": "Merci transmis à {who} : un message direct va lui parvenir, et cela compte pour son expertise sur {topics}.",
        "dm_reason": "🙏 {giver} vous remercie pour : _{reason}_{where}.{link}",
        "dm_plain": "🙏 {giver} vous remercie{where}.{link}",
        "dm_topics": "\nCela compte pour votre expertise sur {topics}.",
        "where": " dans #{channel}",
        "link": " <{url}|Voir le message>",
        "post_reason": "🙏 {giver} remercie {who} pour : _{reason}_{link}",
        "post_plain": "🙏 {giver} remercie {who}.{link}",
        "and": "et",
        "mine_title": "*Vos remerciements*",
        "mine_totals": "Reçus : {received} · donnés : {given}",
        "mine_none": "Aucun remerciement pour l'instant, ni reçu ni donné. Remerciez un collègue avec *merci @nom pour …*.",
        "mine_months": "Par mois :",
        "mine_month": "• {month} : {received} reçus{topics}, {given} donnés",
        "mine_received_topics": "Remercié pour : {topics}",
        "mine_given_topics": "Vous avez remercié pour : {topics}",
        "mine_only_own": "Je ne montre à chacun que ses propres remerciements. Demandez à {who} de me dire *mes remerciements*.",
        "board_off": "Le classement des remerciements est désactivé. Un admin peut l'activer avec *merci classement on*.",
        "board_title": "*Les plus remerciés en {month}*",
        "board_empty": "Personne n'a encore été remercié en {month}.",
        "board_line": "{rank}. {who} — {count}",
        "board_on": "Le classement des remerciements est activé : chacun peut le voir avec *merci classement*.",
        "board_now_off": "Le classement des remerciements est désactivé.",
        "teams_title": "*Remerciements reçus par équipe en {month}*",
        "teams_line": "• {team} : {count}",
        "teams_none": "Aucune équipe de {size} personnes ou plus n'a encore été remerciée en {month}.",
        "teams_note": "Les équipes de moins de {size} personnes ne sont pas affichées.",
        "digest": "🙏 Votre aide a été remerciée {times} en {month}{topics}. Merci de partager ce que vous savez !",
        "digest_topics": ", sur {topics}",
        "once": "une fois",
        "times": "{n} fois",
    },
)

MONTHS = {
    "en": ("January", "February", "March", "April", "May", "June", "July", "August", "September",
           "October", "November", "December"),
    "fr": ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre",
           "octobre", "novembre", "décembre"),
}


def month_name(key: str, lang: str) -> str:
    """A "YYYY-MM" month as people read it: "August 2026", "août 2026"."""
    year, month = key.split("-")
    return f"{MONTHS.get(lang, MONTHS['en'])[int(month) - 1]} {year}"


def join(items: Sequence[str], lang: str) -> str:
    """Names as a sentence lists them: "a, b and c", "a, b et c"."""
    items = list(items)
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} {TEXT.get(lang, 'and')} {items[-1]}"


def lang_of(row: PersonRow | None, fallback: str) -> str:
    """The language a person reads: their locale's, else ``fallback``."""
    return normalise_locale(row.locale if row is not None else None) or fallback

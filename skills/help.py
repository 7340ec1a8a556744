"""Help: "help" / "aide" lists what the bot can do, in the asker's language, from the help
lines each skill declares. "privacy" / "vie privée" / "confidentialité" (or `/liaison privacy`)
explains what the bot keeps about people."""

from __future__ import annotations

from bot.context import SkillContext
from bot.dispatch import reply
from bot.i18n import Catalog
from bot.router import Routes

TEXT = Catalog(
    en={
        "intro": "Hi, I'm {name}. I help you find and meet colleagues. Here is what you can ask me:",
        "line_help": "• *help* — this list",
        "line_privacy": "• *privacy* — what I keep about you, and how to see or erase it",
        "privacy": (
            "*What I keep.* I read only public channels I have been added to — never direct messages, "
            "group messages or private channels. From those messages I keep topics and links to the "
            "messages, not their text; of a thanks, who thanked whom and its topics, not its words. "
            "You can see everything I hold about you, remove a topic, stop "
            "me from indexing you, or have everything about you erased at once: say *what do you know about me?*, "
            "*forget topic Kafka*, *stop indexing me* or *forget me*."
        ),
    },
    fr={
        "intro": "Bonjour, je suis {name}. Je vous aide à trouver et rencontrer vos collègues. Voici ce que vous pouvez me demander :",
        "line_help": "• *aide* — cette liste",
        "line_privacy": "• *vie privée* — ce que je garde sur vous, et comment le voir ou l'effacer",
        "privacy": (
            "*Ce que je garde.* Je ne lis que les canaux publics où l'on m'a ajouté — jamais les messages "
            "directs, les messages de groupe ni les canaux privés. De ces messages je garde des sujets et "
            "des liens, pas leur texte ; d'un remerciement, qui a remercié qui et ses sujets, pas ses mots. "
            "Vous pouvez voir tout ce que je sais de vous, retirer un sujet, "
            "me demander de ne plus vous indexer, ou tout faire effacer d'un coup : dites *que sais-tu de moi ?*, "
            "*oublie le sujet Kafka*, *arrête de m'indexer* ou *oublie-moi*."
        ),
    },
)

routes = Routes(
    "help",
    help={"en": [TEXT.get("en", "line_help"), TEXT.get("en", "line_privacy")],
          "fr": [TEXT.get("fr", "line_help"), TEXT.get("fr", "line_privacy")]},
)


def help_text(ctx: SkillContext) -> str:
    lines = [ctx.t(TEXT, "intro", name=ctx.settings.bot.name), *ctx.router.help_lines(ctx.lang)]
    return "\n".join(lines)


@routes.message(en=[r"help", r"what can you do", r"hi|hello|hey"], fr=[r"aide", r"qu'est-ce que tu sais faire", r"bonjour|salut"])
def show_help(event, ctx: SkillContext):  # noqa: ANN001
    """help / aide: what the bot can do."""
    return reply(ctx, help_text(ctx))


# "privacy" typed to the bot, alone or as a short question ("privacy?", "what about privacy",
# "vie privée", "confidentialité", "données personnelles"): what the bot keeps.
_PRIVACY_EN = r"(?:(?:what\s+about|and|your)\s+)?(?:privacy|data\s+privacy|privacy\s+policy)"
_PRIVACY_FR = (r"(?:et\s+)?(?:la\s+)?(?:vie\s+priv[ée]e|confidentialit[ée]|donn[ée]es\s+personnelles|"
               r"protection\s+des\s+donn[ée]es)")
_PRIVACY_ARGS = {"privacy", "confidentialité", "confidentialite", "vie privée", "vie privee"}


@routes.message(en=_PRIVACY_EN, fr=_PRIVACY_FR)
def show_privacy(event, ctx: SkillContext):  # noqa: ANN001
    """privacy / vie privée / confidentialité: what the bot keeps about people."""
    return reply(ctx, ctx.t(TEXT, "privacy"))


@routes.command("liaison")
def liaison_command(event, ctx: SkillContext):  # noqa: ANN001
    """/liaison help | privacy"""
    if ctx.args.strip().lower() in _PRIVACY_ARGS:
        return reply(ctx, ctx.t(TEXT, "privacy"), private=True)
    return reply(ctx, help_text(ctx), private=True)


routes.demo_step("Camille", "aide", "Anyone can ask what the bot does, in English or French.")

"""Help: "help" / "aide" lists what the bot can do, in the asker's language, from the help
lines each skill declares. "privacy" / "vie privée" / "confidentialité" (or `/liaison privacy`)
explains what the bot keeps about people."""

from __future__ import annotations

from bot.context import SkillContext
from bot.dispatch import reply
from bot.i18n import Catalog
from bot.router import Routes

TEXT = Catalog("help")

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

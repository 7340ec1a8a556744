"""The ``coffee`` command as people say it: ``/coffee ...``, ``coffee ...`` or ``café ...``
typed to the bot, or written in a programme's channel without mentioning the bot
(``coffee_in_channel``). The words are read by ``commands.parse``; each subcommand is answered
by ``admin.py`` (HR admins) or ``member.py`` (everyone).
"""

from __future__ import annotations

from typing import Any

from bot.context import SkillContext
from bot.dispatch import reply
from bot.events import CommandInvoked, Reply
from bot.i18n import normalise_locale, strip_accents
from skills.coffee import admin, member
from skills.coffee.commands import ADMIN_SUBCOMMANDS, EVERYONE_IN_CHANNEL, SUBCOMMANDS, Malformed, parse
from skills.coffee.programmes import programme_for
from skills.coffee.settings import settings_of
from skills.coffee.text import T


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
        return admin.set_cadence(event, ctx, cmd, cfg)
    found = programme_for(ctx, event, cmd.channel)
    if isinstance(found, Reply):
        return found
    p = found
    handler = {
        "size": admin.set_size, "pause": admin.pause, "resume": admin.resume, "run": admin.run_now, "stats": admin.stats,
        "status": member.status, "join": member.join, "leave": member.leave, "snooze": member.snooze,
    }[cmd.sub]
    return handler(ctx, p, cmd, cfg)


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

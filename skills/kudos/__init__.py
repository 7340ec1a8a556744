"""Thank a colleague: thanks that reach the helper and count as expertise.

How people thank, in English and French:
- a message that starts with thanks and names people — "thanks @alice for the Kafka fix",
  "thank you @alice and @bob!", "kudos to @alice", "@alice thanks!", "merci @alice pour ton aide
  sur Kafka", "un grand merci à @bob" — addressed to the bot, or anywhere in a public channel the
  bot is in (``[kudos] in_channels``);
- the command ``/thanks @alice for …`` (aliases ``merci`` and ``kudos``), or the same words typed
  to the bot;
- a reaction with the configured emoji (``[kudos] reaction``, default :pray:) on someone's message.
("thank you" said to the bot itself, or "thanks @Liaison", gets a welcome and a hint on how to thank a
colleague; nothing is stored.)

What a thanks does: the receiver gets a direct message (who, for what, with a link); the giver
gets a confirmation only they see; the recognition channel, when configured, gets a post; and the
topics of the reason, plus those of the thread it was said in, become "thanked" evidence for the
receiver in the expertise index — with a link for a thanks said in a public channel, without one
for a thanks told to the bot in a DM, and not at all for one said in a private channel or a group
DM, whose topics stay out of everyone else's answers.

What is kept of a thanks (``kudos`` rows): who thanked whom, when and how, the conversation's id
(its name and a link only for a public channel), the reason's topic keys and the few topic names
"my thanks" and the digest show. The reason's text is never kept: it goes into the receiver's
direct message and the recognition post, then only its topics remain.

Rules: nobody thanks themselves or a bot; each giver may thank ``daily_cap`` people a day,
counted from midnight in the giver's time zone; a thanks is stored once per (source, receiver)
— the source being the message (so edits and redeliveries count once) or one person's reaction
on one message (so reacting twice counts once). A thanks counts at the time it was written; one
older than ``notify_max_age_hours`` when it arrives (an imported history) is recorded and counts
as evidence, but nobody is messaged about it.

Pairs who keep thanking each other still get every message, but their thanks weigh less as
evidence. With ``r`` the thanks B gave A and ``f`` the earlier thanks A gave B within the last
``reciprocal_window_days``, the exchanges back and forth are ``m = min(r, f + 1)`` and A's new
thanks to B weighs ``max(reciprocal_min_weight, 1 / (1 + max(0, m - reciprocal_free_exchanges)))``.
With the defaults (14 days, 1 free exchange, floor 0.2): A→B 1, B→A 1, A→B 1, B→A 0.5, A→B 0.5,
B→A 0.33, … down to 0.2.

Views: "my thanks" / "mes remerciements" (received and given, by month and by topic, to the
person only); "thanks leaderboard" (off unless ``leaderboard`` is set or an admin says
"thanks leaderboard on"); "thanks teams" (per-team totals, only for teams of ``min_team_size``
people or more). Nothing shows one person's figures to anyone else.

The monthly digest (job ``kudos.digest``, cron ``digest_cron``) sends each person thanked in the
previous calendar month (UTC) a direct message in their language; a (person, month) row written
before sending makes a second fire of the same month send nothing.

Where things are: ``parsing.py`` (who is thanked, for what), ``rules.py`` (the settings and the
rules above), ``giving.py`` (what a thanks does, and the message, command and reaction that say
it), ``views.py`` (my thanks, leaderboard, teams), ``digest.py`` (the monthly digest), ``text.py``
(the wording) and ``api.py`` (what other skills may read of the thanks). This module lists the
routes, in the order the router tries them.
"""

from __future__ import annotations

from typing import Any

from bot.router import Routes
from skills.kudos import digest, giving, views
from skills.kudos.parsing import PATTERNS_EN, PATTERNS_FR
from skills.kudos.rules import KudosSettings
from skills.kudos.text import TEXT

routes = Routes(
    "kudos",
    help={
        "en": [TEXT.get("en", "help_thanks", emoji="pray"), TEXT.get("en", "help_mine")],
        "fr": [TEXT.get("fr", "help_thanks", emoji="pray"), TEXT.get("fr", "help_mine")],
    },
)

routes.command("thanks", aliases=("merci", "kudos"))(giving.thanks_command)
routes.message(en=PATTERNS_EN, fr=PATTERNS_FR, anywhere=True, priority=10)(giving.thanks_message)
routes.message(en=[r"(?:thank\s+you|thanks|thx|ty)(?:\s+(?:so\s+much|a\s+lot|again))?"],
               fr=[r"(?:un\s+grand\s+)?merci(?:\s+(?:beaucoup|bien|encore))?"])(giving.thanks_to_the_bot)
routes.reaction("*")(giving.thanks_reaction)
routes.message(en=[r"my\s+(?:thanks|kudos)", r"(?:the\s+)?thanks\s+i(?:'ve)?\s+(?:got|received|gave)"],
               fr=[r"mes\s+(?:remerciements|mercis|kudos)"])(views.my_thanks)
routes.message(en=[r"(?:thanks|kudos)\s+leaderboard", r"leaderboard"],
               fr=[r"classement(?:\s+des\s+(?:remerciements|mercis))?"])(views.leaderboard_message)
routes.message(en=[r"(?:thanks|kudos)\s+(?:per|by)\s+teams?", r"team\s+thanks"],
               fr=[r"remerciements\s+par\s+[ée]quipes?"])(views.team_totals_message)
routes.schedule("kudos.digest")(digest.monthly_digest)


def services(app: Any) -> dict[str, Any]:
    """Register the monthly digest with the scheduler's registry (from ``digest_cron``); the
    skill provides no shared service of its own."""
    settings = app.settings.section("kudos", KudosSettings)
    if settings.digest_enabled:
        from bot import scheduler

        scheduler.register_cron(app, "kudos.digest", settings.digest_cron, timezone="UTC")
    return {}


routes.demo_step("Priya", "thanks @Lukas for the Kafka consumer lag fix!",
                 "Thanks in a channel reach the helper by direct message and count toward their expertise.",
                 channel="data-eng")
routes.demo_step("Camille", "merci @Théo pour ton aide sur Airflow",
                 "The same in French: Théo is told in French.", channel="dev-fr")
routes.demo_step("Lukas", "my thanks", "Anyone can see the thanks they received and gave, by month and topic.")
routes.demo_step("Théo", "mes remerciements", "… in their language.")

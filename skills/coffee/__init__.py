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
   snoozed; groups them with ``pairing.make_groups`` using the groups of past rounds (no
   repeats), the interaction counts of the ``coffee_ties`` table (fed by this skill's ingest
   handler: thread replies and mentions) and time zones;
3. sends each group an intro (``GroupMessage``) in its members' language with a conversation
   starter from a topic they share in the expertise index, when there is one. Each group is
   claimed on its own and marked sent right after its send succeeds, so a round interrupted by a
   crash resumes at once for every other group (the round's job fires again, or the sweep), and
   the group whose post was cut off is checked with the platform before anything is posted
   again (see ``delivery.py`` and docs/ARCHITECTURE.md);
4. halfway through the period the sweep job asks each group "did you meet?" with buttons
   (``coffee.met`` / ``coffee.not_met``); answers feed ``coffee stats``.

Scheduling lives in ``bot.scheduler`` (the composition root builds the scheduler): this package
lists one job per programme (``coffee.round``) and registers the ``coffee.sweep`` cron job.

The package, in the order a command or a round goes through it:
- ``chat.py``: the ``coffee`` command, typed or said in a channel; ``commands.py`` reads its
  words (pure); ``admin.py`` and ``member.py`` answer each subcommand, with ``programmes.py``
  (which programme, a person's row in it);
- ``jobs.py``: the scheduled round and the sweep; ``rounds.py``: who takes part, the pairing's
  inputs, the stored round and the interaction counts; ``pairing.py`` (with
  ``pairing_weights.py`` and ``pairing_search.py``): who meets whom, a pure function;
  ``delivery.py``: intros and follow-ups, one claim per group;
- ``calendar.py``: periods, schedules, next rounds, time zones and dates in words;
  ``settings.py``: the ``[coffee]`` settings; ``text.py``: everything the skill says.
"""

from __future__ import annotations

from typing import Any

from bot import scheduler
from bot.router import Routes
from skills.coffee import chat, jobs, member, rounds
from skills.coffee.jobs import SWEEP_JOB, programme_jobs
from skills.coffee.settings import CoffeeSettings, check_settings
from skills.coffee.text import T

routes = Routes(
    "coffee",
    help={lang: [T.get(lang, "help_line"), T.get(lang, "help_line_more")] for lang in ("en", "fr")},
)
routes.command("coffee", aliases=("café", "cafe"))(chat.coffee_command)
routes.message(en=r"(?:coffee|cafe)\s+(?P<args>\pL.*)", fr=r"café\s+(?P<args>\pL.*)", anywhere=True)(chat.coffee_in_channel)
routes.home()(member.home_section)
routes.schedule(jobs.ROUND_JOB)(jobs.scheduled_round)
routes.schedule(jobs.SWEEP_JOB)(jobs.sweep)
routes.action("coffee.")(member.answer)
routes.member_joined()(member.welcome)
routes.ingest()(rounds.count_ties)

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


def services(app: Any) -> dict[str, Any]:
    """The sweep cron and one job per programme (the scheduler itself is the app's)."""
    cfg = app.settings.section("coffee", CoffeeSettings)
    check_settings(cfg)
    scheduler.register_cron(app, SWEEP_JOB, cfg.sweep_cron, grace_seconds=6 * 3600)
    scheduler.register_provider(app, lambda db: programme_jobs(db, cfg))
    return {}

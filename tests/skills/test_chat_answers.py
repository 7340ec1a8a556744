"""What people type to the bot, answered as they would expect, in English and French: "privacy",
"I know" with nothing after, a thanks to the bot itself, the main help pointing at the coffee
commands, multi-word coffee cadences, and an admin's coffee command written in the programme's
channel without mentioning the bot.

The app is built by the real bootstrap and every message goes through the real dispatcher and
router; the ChatPort is the console's. Each test runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import io
from typing import Any

import pytest
from sqlalchemy import func, select

from adapters.console.chat import ConsoleChat
from bot.db.coffee import CoffeeMember, CoffeeProgramme
from bot.db.expertise import ExpertiseEvidence
from bot.db.kudos import KudosRow
from bot.events import Conversation, Reply
from tests.conftest import WS, dm, message, person

from skills.coffee.commands import parse

HR = person("U0HR", "Hana Ruiz", team="People", tz="Europe/Zurich", locale="en")
ANNA = person("U0ANNA", "Anna Berg", team="Alpha", tz="Europe/Zurich", locale="en")
BEA = person("U0BEA", "Béatrice Roy", team="Beta", tz="Europe/Paris", locale="fr")
BOT = person("U0BOT", "Liaison", is_bot=True)
COFFEE = Conversation("C0COFFEE", "channel", "coffee")
MEMBERS = (HR, ANNA, BEA)


@pytest.fixture
def chat() -> ConsoleChat:
    everyone = {p.id: p for p in (*MEMBERS, BOT)}
    return ConsoleChat(people=everyone, channels={COFFEE.id: [p.id for p in MEMBERS]},
                       channel_names={COFFEE.id: "coffee"}, out=io.StringIO())


@pytest.fixture
def app(make_app, database_url, chat):  # noqa: ANN001
    return make_app(database_url=database_url, chats={"console": chat}, bot={"hr_admins": [HR.id]})


async def answer(app: Any, event: Any) -> tuple[Any, list[Reply]]:
    outcome = await app.dispatcher.handle(event)
    return outcome, [m for m in outcome.outbound if isinstance(m, Reply)]


def in_coffee(sender: Any, text: str) -> Any:
    """A plain message in #coffee, not mentioning the bot."""
    return message(sender, text, channel=COFFEE.id, channel_name="coffee")


def count(app: Any, model: Any) -> int:
    with app.db.session(WS.key) as s:
        return s.scalar(select(func.count()).select_from(model))


def programme(app: Any) -> CoffeeProgramme | None:
    with app.db.session(WS.key) as s:
        row = s.scalars(select(CoffeeProgramme)).first()
        if row is not None:
            s.expunge(row)
        return row


# ---- privacy --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [("privacy", "*What I keep.*"), ("What about privacy?", "*What I keep.*"),
     ("vie privée", "*Ce que je garde.*"), ("Confidentialité ?", "*Ce que je garde.*")],
)
async def test_privacy_typed_to_the_bot_explains_what_it_keeps(app, text, expected) -> None:  # noqa: ANN001
    outcome, [said] = await answer(app, dm(ANNA, text))
    assert outcome.status == "ok" and outcome.route == "help.show_privacy"
    assert said.text.startswith(expected)
    # It says how to act on it, in the same language.
    assert ("*forget me*" in said.text) if expected.startswith("*What") else ("*oublie-moi*" in said.text)


# ---- "I know" with nothing after ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [("I know", "What do you know about?"), ("I know:", "What do you know about?"),
     ("je connais", "Sur quoi vous y connaissez-vous ?"), ("Je m'y connais en", "Sur quoi vous y connaissez-vous ?")],
)
async def test_i_know_with_nothing_after_is_asked_what_they_know(app, text, expected) -> None:  # noqa: ANN001
    outcome, [said] = await answer(app, dm(ANNA, text))
    assert outcome.route == "expertise.declare" and said.text.startswith(expected)
    assert count(app, ExpertiseEvidence) == 0


# ---- thanking the bot itself ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("event", "expected"),
    [(dm(ANNA, "thanks @Liaison"), "You're welcome!"),
     (dm(BEA, "merci @liaison !"), "Avec plaisir !"),
     (dm(ANNA, "thanks <@U0BOT> for the help"), "You're welcome!"),  # a real mention of the bot's account
     (in_coffee(ANNA, "thanks @Liaison!"), "You're welcome!")],  # typed as text in a channel
)
async def test_thanking_the_bot_gets_a_welcome_and_stores_nothing(app, event, expected) -> None:  # noqa: ANN001
    outcome, [said] = await answer(app, event)
    assert said.text.startswith(expected) and "thank a colleague" in said.text.replace("remercier un collègue", "thank a colleague")
    assert "couldn't find" not in said.text and "Je ne trouve pas" not in said.text
    assert said.ephemeral_to == (event.sender.id if event.conversation.kind != "dm" else None)
    assert count(app, KudosRow) == 0


# ---- help -----------------------------------------------------------------------------------------


async def test_main_help_points_at_the_coffee_help(app) -> None:  # noqa: ANN001
    _, [said] = await answer(app, dm(ANNA, "help"))
    assert "*coffee help*" in said.text
    _, [dit] = await answer(app, dm(BEA, "aide"))
    assert "*café aide*" in dit.text
    # And what it points at answers.
    _, [usage] = await answer(app, dm(BEA, "café aide"))
    assert usage.text.startswith("*Café au hasard* — mode d'emploi")


# ---- coffee cadences in words -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "cadence", "lang", "weekday"),
    [("cadence toutes les deux semaines", "biweekly", "fr", None),
     ("cadence toutes les 2 semaines le mardi à 9h", "biweekly", "fr", 1),
     ("cadence une semaine sur deux", "biweekly", "fr", None),
     ("cadence tous les quinze jours", "biweekly", "fr", None),
     ("cadence toutes les semaines", "weekly", "fr", None),
     ("cadence tous les mois le jeudi", "monthly", "fr", 3),
     ("cadence every other week on friday", "biweekly", None, 4),
     ("cadence every two weeks", "biweekly", None, None),
     ("cadence every month", "monthly", None, None)],
)
def test_cadences_said_in_several_words(text, cadence, lang, weekday) -> None:  # noqa: ANN001
    got = parse(text)
    assert (got.sub, got.cadence, got.lang, got.weekday) == ("cadence", cadence, lang, weekday)


async def test_the_cadence_the_error_message_offers_is_accepted(app) -> None:  # noqa: ANN001
    # The refusal of a cadence it cannot read names "toutes les deux semaines"...
    _, [refused] = await answer(app, in_coffee(HR, "café cadence quotidienne"))
    assert "bimensuel (toutes les deux semaines)" in refused.text and programme(app) is None
    # ... and saying it works.
    outcome, [said] = await answer(app, in_coffee(HR, "café cadence toutes les deux semaines"))
    assert outcome.status == "ok", outcome
    assert said.text.startswith("☕ Le café de #coffee est réglé : une semaine sur deux")
    assert programme(app).cadence == "biweekly"


# ---- coffee commands in the programme's channel, without a mention ------------------------------


async def test_an_admin_runs_coffee_commands_in_the_channel_without_mentioning_the_bot(app) -> None:  # noqa: ANN001
    # Told in a DM where to say it...
    _, [where] = await answer(app, dm(HR, "coffee cadence weekly"))
    assert "then say `coffee cadence weekly` there (no need to mention me)" in where.text
    assert programme(app) is None
    # ... the admin says it there, as a plain message.
    event = in_coffee(HR, "coffee cadence weekly on monday at 10:00 Europe/Zurich")
    outcome, [said] = await answer(app, event)
    assert outcome.route == "coffee.coffee_in_channel"
    assert said.text.startswith("☕ Coffee in #coffee is set: every week on Monday at 10:00 (Europe/Zurich)")
    assert said.conversation.id == COFFEE.id and said.thread_ts == event.ts and said.ephemeral_to is None
    p = programme(app)
    assert (p.channel_id, p.cadence, p.weekday, p.hour, p.tz) == (COFFEE.id, "weekly", 0, 10, "Europe/Zurich")
    # A malformed one is explained to the admin only; nothing changes.
    _, [bad] = await answer(app, in_coffee(HR, "coffee size 7"))
    assert bad.ephemeral_to == HR.id and "the group size must be 2, 3 or 4" in bad.text
    assert programme(app).group_size == 2
    # In French too.
    _, [taille] = await answer(app, in_coffee(HR, "café taille 3"))
    assert taille.text.startswith("Les groupes café de #coffee seront de 3 personnes")
    assert programme(app).group_size == 3


async def test_coffee_words_in_a_channel_are_conversation_unless_a_command(app) -> None:  # noqa: ANN001
    await answer(app, in_coffee(HR, "coffee cadence weekly"))
    # Chat that starts with "coffee" gets no answer, from an admin or anyone else.
    for sender, text in ((HR, "coffee time, anyone?"), (HR, "Coffee machine is broken again"),
                         (ANNA, "coffee cadence monthly"), (ANNA, "coffee stats look great this month"),
                         (BEA, "café pause jusqu'au 2027-01-15")):
        outcome, said = await answer(app, in_coffee(sender, text))
        assert said == [], (text, said)
    p = programme(app)
    assert (p.cadence, p.paused) == ("weekly", False)
    # A complete command anyone may give is answered, to them only.
    _, [left] = await answer(app, in_coffee(ANNA, "coffee leave"))
    assert left.ephemeral_to == ANNA.id and left.text.startswith("Done: you won't be matched in #coffee")
    with app.db.session(WS.key) as s:
        assert s.scalars(select(CoffeeMember.status).where(CoffeeMember.user_id == ANNA.id)).one() == "left"

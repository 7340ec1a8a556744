"""Thank a colleague: every form in English and French, every rule, the direct message and the
evidence it adds, duplicates through retries, the views and the monthly digest on a fixed clock.

The app is built by the real bootstrap; the ChatPort is the console's (it records what it sent);
the NLP is the real one, with the pipelines the settings name.
"""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

import pytest
from sqlalchemy import select

from adapters.console.chat import ConsoleChat
from bot.db.expertise import ExpertiseEvidence
from bot.db.kudos import KudosDigestRow, KudosRow
from bot.events import (
    CommandInvoked,
    Conversation,
    DirectMessage,
    ReactionAdded,
    Reply,
    ScheduledTick,
)
from bot.config import load_settings
from skills.expertise.nlp import Nlp, NlpSettings
from bot.router import Router
from tests.conftest import T0, WS, dm, message, person

import skills.kudos as kudos
from skills.kudos import digest, giving, parsing, rules, views
from skills.kudos.text import month_name

ALICE = person("U0ALICE", "Alice Martin", team="Data", tz="Europe/Zurich", locale="en")
BRUNO = person("U0BRUNO", "Bruno Leroy", team="Data", tz="Europe/Paris", locale="fr")
CHEN = person("U0CHEN", "Chen Wei", team="Data", tz="Asia/Singapore", locale="en")
DANA = person("U0DANA", "Dana Smith", team="Data", tz="America/New_York", locale="en")
EMMA = person("U0EMMA", "Emma Stone", team="Data", tz="Europe/Lisbon", locale="en")
FRED = person("U0FRED", "Fred Roy", team="Design", tz="Europe/Paris", locale="fr")
GINA = person("U0GINA", "Gina Lopez", team="Design", tz="Europe/Madrid", locale="en")
HUGO = person("U0HUGO", "Hugo Boss", team="Data", tz="Europe/Zurich", locale="en", is_admin=True)
DEPLOY = person("U0DEPLOY", "Deploy Bot", is_bot=True)
EVERYONE = (ALICE, BRUNO, CHEN, DANA, EMMA, FRED, GINA, HUGO, DEPLOY)


@pytest.fixture(scope="module")
def nlp() -> Any:
    # The pipelines the settings name, loaded once for the module rather than once per app.
    return Nlp(load_settings({}).section("nlp", NlpSettings))


@pytest.fixture
def chat() -> ConsoleChat:
    return ConsoleChat(
        people={p.id: p for p in EVERYONE},
        channels={"C-GENERAL": [p.id for p in EVERYONE]},
        channel_names={"C-GENERAL": "general", "C-KUDOS": "kudos"},
        out=io.StringIO(),
    )


@pytest.fixture
def build(make_app, database_url, chat, nlp):  # noqa: ANN001
    def make(**overrides: dict) -> Any:
        app = make_app(database_url=database_url, chats={"console": chat}, **overrides)
        if not app.services.built("nlp"):
            app.services.provide("nlp", nlp)
        return app

    return make


@pytest.fixture
def app(build):  # noqa: ANN001
    return build()


def dms(outcome: Any, user_id: str | None = None) -> list[DirectMessage]:
    return [m for m in outcome.outbound if isinstance(m, DirectMessage) and (user_id is None or m.user_id == user_id)]


def replies(outcome: Any) -> list[Reply]:
    return [m for m in outcome.outbound if isinstance(m, Reply)]


def kudos_rows(app: Any) -> list[KudosRow]:
    with app.db.session(WS.key) as s:
        return list(s.scalars(select(KudosRow).order_by(KudosRow.id)))


def evidence(app: Any, user_id: str) -> list[ExpertiseEvidence]:
    with app.db.session(WS.key) as s:
        return list(s.scalars(select(ExpertiseEvidence).where(
            ExpertiseEvidence.user_id == user_id, ExpertiseEvidence.kind == "thanked").order_by(ExpertiseEvidence.id)))


# ---- the forms (no database) ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def router() -> Router:
    r = Router()
    r.include(kudos.routes)
    return r


@pytest.mark.parametrize(
    ("text", "lang", "who", "reason"),
    [
        ("thanks <@U1> for the Kafka fix", "en", ["<@U1>"], "the Kafka fix"),
        ("thank you <@U1> and <@U2>!", "en", ["<@U1>", "<@U2>"], ""),
        ("kudos to <@U1>", "en", ["<@U1>"], ""),
        ("Many thanks <@U1>, <@U2> & <@U3> for the review.", "en", ["<@U1>", "<@U2>", "<@U3>"], "the review"),
        ("<@U1> thanks!", "en", ["<@U1>"], ""),
        ("thanks for the help with dbt <@U1>", "en", ["<@U1>"], "the help with dbt"),
        ("merci <@U1> pour ton aide sur Kafka", "fr", ["<@U1>"], "ton aide sur Kafka"),
        ("un grand merci à <@U2>", "fr", ["<@U2>"], ""),
        ("Merci beaucoup <@U1> et <@U2> pour la revue de Terraform !", "fr", ["<@U1>", "<@U2>"], "la revue de Terraform"),
        ("<@U1> merci pour Airflow", "fr", ["<@U1>"], "Airflow"),
        ("merci pour le coup de main <@U1>", "fr", ["<@U1>"], "le coup de main"),
    ],
)
def test_every_form_is_read_with_its_language_people_and_reason(router, text, lang, who, reason) -> None:  # noqa: ANN001
    m = router.match_text(text, addressed=False)
    assert m is not None and m.route.handler is giving.thanks_message
    assert m.lang == lang
    assert parsing.names_in(m.groups["who"]) == who
    assert parsing.clean_reason(m.groups.get("reason")) == reason
    assert parsing.read_thanks(text) == (who, reason)


@pytest.mark.parametrize(
    ("text", "who", "reason"),
    [
        ("Merci <@U1> :pray:", ["<@U1>"], ""),
        ("thanks <@U1> :raised_hands: for the review :tada:", ["<@U1>"], "the review"),
        ("thanks <@U1> for the dbt session, the snapshot part was gold :clap:", ["<@U1>"], "the dbt session, the snapshot part was gold"),
    ],
)
def test_emoji_codes_are_left_out_of_the_reason(text, who, reason) -> None:  # noqa: ANN001
    assert parsing.read_thanks(text) == (who, reason)


@pytest.mark.parametrize("text", ["thanks everyone", "thanks", "merci à tous", "no thanks <@U1>", "I said thanks <@U1>", "my thanks"])
def test_text_that_does_not_clearly_thank_someone_is_not_a_thanks(router, text) -> None:  # noqa: ANN001
    m = router.match_text(text, addressed=False)
    assert m is None or m.route.handler is not giving.thanks_message


@pytest.mark.parametrize(
    ("args", "who", "reason"),
    [
        ("<@U1|alice> for the Kafka fix", ["<@U1>"], "the Kafka fix"),
        ("to <@U1> for the review!", ["<@U1>"], "the review"),
        ("à <@U1> pour ton aide sur Kafka", ["<@U1>"], "ton aide sur Kafka"),
        ("@alice and @bob", ["@alice", "@bob"], ""),
        ("<@U1> :pray:", ["<@U1>"], ""),
    ],
)
def test_command_arguments(args, who, reason) -> None:  # noqa: ANN001
    assert parsing.parse_thanks(args) == (who, reason)


@pytest.mark.parametrize("args", ["", "for nothing", "everyone"])
def test_command_arguments_naming_nobody(args) -> None:  # noqa: ANN001
    assert parsing.parse_thanks(args) is None


def test_local_midnight_is_the_givers() -> None:
    now = dt.datetime(2026, 11, 2, 23, 30, tzinfo=dt.timezone.utc)
    assert rules.local_midnight(now, "Europe/Zurich") == dt.datetime(2026, 11, 2, 23, 0, tzinfo=dt.timezone.utc)
    assert rules.local_midnight(now, "America/New_York") == dt.datetime(2026, 11, 2, 5, 0, tzinfo=dt.timezone.utc)
    assert rules.local_midnight(now, None) == dt.datetime(2026, 11, 2, 0, 0, tzinfo=dt.timezone.utc)
    assert rules.local_midnight(now, "Not/AZone") == dt.datetime(2026, 11, 2, 0, 0, tzinfo=dt.timezone.utc)


# ---- thanks in a channel ----------------------------------------------------------------------------


async def test_channel_thanks_reaches_the_receiver_in_their_language_and_adds_evidence(app) -> None:  # noqa: ANN001
    event = message(ALICE, "thanks <@U0BRUNO> for the Kafka consumer fix!")
    outcome = await app.dispatcher.handle(event)

    assert outcome.route == "kudos.thanks_message"
    [note] = dms(outcome, BRUNO.id)
    # Bruno's locale is French: the message is in French, names the giver, the reason and links.
    assert note.text.startswith("🙏 <@U0ALICE> vous remercie pour : _the Kafka consumer fix_ dans #general.")
    assert f"<https://acme.example/archives/general/p{event.ts.replace('.', '')}|Voir le message>" in note.text
    assert "Kafka" in note.text.split("\n")[1]
    [confirm] = replies(outcome)
    assert confirm.ephemeral_to == ALICE.id and confirm.thread_ts == event.ts
    assert confirm.text.startswith("Thanks sent to <@U0BRUNO>: they'll get a direct message, and it counts")

    [row] = kudos_rows(app)
    assert (row.giver_id, row.receiver_id, row.via, row.weight) == (ALICE.id, BRUNO.id, "message", 1.0)
    assert "kafka" in row.topics
    ev = evidence(app, BRUNO.id)
    assert {e.topic_key for e in ev} == set(row.topics)
    assert all(e.conversation_id == "C-GENERAL" and e.ts == event.ts and e.weight == 1.0 for e in ev)
    assert ev[0].permalink and ev[0].permalink.startswith("https://acme.example/archives/general/")
    assert evidence(app, ALICE.id) == []


async def test_french_channel_thanks_reaches_an_english_speaker_in_english(app) -> None:  # noqa: ANN001
    outcome = await app.dispatcher.handle(message(BRUNO, "merci <@U0ALICE> pour ton aide sur Terraform"))

    [note] = dms(outcome, ALICE.id)
    assert note.text.startswith("🙏 <@U0BRUNO> thanked you for: _ton aide sur Terraform_ in #general.")
    assert note.text.endswith("It counts toward your expertise on Terraform.")
    [confirm] = replies(outcome)
    assert confirm.text == (
        "Merci transmis à <@U0ALICE> : un message direct va lui parvenir, et cela compte pour son expertise sur Terraform."
    )
    assert [e.topic_key for e in evidence(app, ALICE.id)] == ["terraform"]


async def test_thanks_to_several_people_reach_each_one(app) -> None:  # noqa: ANN001
    outcome = await app.dispatcher.handle(dm(ALICE, "thank you <@U0BRUNO> and <@U0CHEN>!"))

    assert {m.user_id for m in dms(outcome)} == {BRUNO.id, CHEN.id}
    assert dms(outcome, CHEN.id)[0].text == "🙏 <@U0ALICE> thanked you."  # a DM to the bot has no public link
    [confirm] = replies(outcome)
    assert confirm.text == "Thanks sent to <@U0BRUNO> and <@U0CHEN>: they'll get a direct message."
    assert confirm.ephemeral_to is None  # in a DM with the bot, the answer is private anyway
    assert sorted(r.receiver_id for r in kudos_rows(app)) == [BRUNO.id, CHEN.id]


async def test_kudos_and_merci_typed_to_the_bot(app) -> None:  # noqa: ANN001
    first = await app.dispatcher.handle(dm(ALICE, "kudos to <@U0CHEN> for the Airflow upgrade"))
    second = await app.dispatcher.handle(dm(ALICE, "un grand merci à <@U0DANA>"))

    assert first.route == "kudos.thanks_command"
    assert dms(first, CHEN.id)[0].text.startswith("🙏 <@U0ALICE> thanked you for: _the Airflow upgrade_.")
    assert second.route == "kudos.thanks_message"
    assert replies(second)[0].text == "Merci transmis à <@U0DANA> : un message direct va lui parvenir."
    assert dms(second, DANA.id)[0].text == "🙏 <@U0ALICE> thanked you."


async def test_in_a_thread_the_threads_topics_count_too(app) -> None:  # noqa: ANN001
    from skills.expertise.evidence import record_evidence
    from skills.expertise.model import EvidenceRef
    from skills.expertise.topics import Topic

    root = message(CHEN, "How do I size a Postgres connection pool?")
    with app.db.session(WS.key) as s:
        record_evidence(s, user_id=CHEN.id, topics=[Topic("postgres", "Postgres", "en"), Topic("connection pool", "connection pool", "en")],
                        kind="wrote", at=T0, ref=EvidenceRef("C-GENERAL", root.ts))
    outcome = await app.dispatcher.handle(message(CHEN, "thanks <@U0BRUNO>!", thread_ts=root.ts))

    assert dms(outcome, BRUNO.id)
    assert {e.topic_key for e in evidence(app, BRUNO.id)} == {"postgres", "connection pool"}
    assert "Postgres" in replies(outcome)[0].text


async def test_a_receiver_who_opted_out_of_indexing_is_thanked_without_evidence(app) -> None:  # noqa: ANN001
    from bot import people

    with app.db.session(WS.key) as s:
        people.upsert(s, EMMA).indexing_opt_out = True
    outcome = await app.dispatcher.handle(message(ALICE, "thanks <@U0EMMA> for the Kafka help"))

    [note] = dms(outcome, EMMA.id)
    assert note.text.startswith("🙏 <@U0ALICE> thanked you for: _the Kafka help_ in #general. <https://acme.example/")
    assert "expertise" not in note.text
    assert evidence(app, EMMA.id) == []


async def test_channel_thanks_can_be_turned_off(build) -> None:  # noqa: ANN001
    app = build(kudos={"in_channels": False})
    quiet = await app.dispatcher.handle(message(ALICE, "thanks <@U0BRUNO> for the Kafka fix"))
    asked = await app.dispatcher.handle(message(ALICE, "thanks <@U0BRUNO> for the Kafka fix", addressed=True))

    assert quiet.outbound == []
    assert [m.user_id for m in dms(asked)] == [BRUNO.id]
    assert len(kudos_rows(app)) == 1


async def test_recognition_channel_gets_a_post(build) -> None:  # noqa: ANN001
    app = build(kudos={"recognition_channel": "C-KUDOS"})
    outcome = await app.dispatcher.handle(message(ALICE, "thanks <@U0BRUNO> for the Kafka fix"))

    [post] = [r for r in replies(outcome) if r.conversation.id == "C-KUDOS"]
    assert post.text.startswith("🙏 <@U0ALICE> thanked <@U0BRUNO> for: _the Kafka fix_ <https://acme.example/")
    assert post.ephemeral_to is None


async def test_no_recognition_post_for_thanks_in_a_private_channel(build) -> None:  # noqa: ANN001
    app = build(kudos={"recognition_channel": "C-KUDOS"})
    outcome = await app.dispatcher.handle(
        message(ALICE, "thanks <@U0BRUNO> for the Kafka fix", kind="private", channel="G-SECRET", addressed=True))

    assert dms(outcome, BRUNO.id)
    assert all(r.conversation.id != "C-KUDOS" for r in replies(outcome))


async def test_old_thanks_from_an_imported_history_count_without_messaging_anyone(app) -> None:  # noqa: ANN001
    written = T0 - dt.timedelta(days=40)
    outcome = await app.dispatcher.handle(message(ALICE, "thanks <@U0BRUNO> for the Kafka fix :pray:", time=written))

    assert outcome.outbound == []
    [row] = kudos_rows(app)
    assert rules.as_utc(row.at) == written and "kafka" in row.topics
    assert {e.topic_key for e in evidence(app, BRUNO.id)} >= {"kafka"}


async def test_emoji_codes_are_not_part_of_the_reason_or_its_topics(app) -> None:  # noqa: ANN001
    outcome = await app.dispatcher.handle(message(ALICE, "thanks <@U0BRUNO> for the Terraform review :raised_hands:"))

    assert "_the Terraform review_" in dms(outcome, BRUNO.id)[0].text
    assert "raised_hands" not in kudos_rows(app)[0].topics


# ---- the command and the reaction ---------------------------------------------------------------------


def command(sender: Any, text: str, *, name: str = "thanks", event_id: str = "", conv: str = "C-GENERAL") -> CommandInvoked:
    return CommandInvoked(workspace=WS, conversation=Conversation(conv, "channel", "general"), sender=sender,
                          command=name, text=text, event_id=event_id)


async def test_slash_command_thanks(app) -> None:  # noqa: ANN001
    outcome = await app.dispatcher.handle(command(ALICE, "<@U0BRUNO|bruno> for the Kafka review", event_id="Ev1"))
    again = await app.dispatcher.handle(command(ALICE, "<@U0BRUNO|bruno> for the Kafka review", event_id="Ev1"))

    assert dms(outcome, BRUNO.id)[0].text.startswith("🙏 <@U0ALICE> vous remercie pour : _the Kafka review_ dans #general.")
    assert replies(outcome)[0].ephemeral_to == ALICE.id
    assert again.status == "duplicate" and again.outbound == []
    assert len(kudos_rows(app)) == 1


async def test_slash_command_without_ids_counts_a_double_submit_once(app) -> None:  # noqa: ANN001
    first = await app.dispatcher.handle(command(ALICE, "@Bruno for the Kafka review"))
    second = await app.dispatcher.handle(command(ALICE, "@bruno for the Kafka review"))

    assert [m.user_id for m in dms(first)] == [BRUNO.id]
    assert second.outbound == []
    assert len(kudos_rows(app)) == 1


async def test_merci_command_answers_in_french(app) -> None:  # noqa: ANN001
    outcome = await app.dispatcher.handle(command(ALICE, "", name="merci", event_id="Ev2"))
    assert replies(outcome)[0].text.startswith("Avec plaisir ! Pour remercier un collègue, dites *merci @nom pour …*")


async def test_thanking_the_bot_itself_gets_a_welcome_and_a_hint(app) -> None:  # noqa: ANN001
    en = await app.dispatcher.handle(dm(ALICE, "thank you!"))
    fr = await app.dispatcher.handle(dm(BRUNO, "merci beaucoup"))
    channel = await app.dispatcher.handle(message(ALICE, "thank you"))

    assert replies(en)[0].text.startswith("You're welcome! To thank a colleague, say *thanks @name for …*")
    assert replies(fr)[0].text.startswith("Avec plaisir !")
    assert channel.outbound == []  # a plain "thank you" between people in a channel is not for the bot
    assert kudos_rows(app) == []


async def test_a_typed_name_that_is_nobody_or_several_people(app) -> None:  # noqa: ANN001
    from bot import people

    with app.db.session(WS.key) as s:
        people.upsert(s, person("U0ALEX", "Alice Cooper"))
    nobody = await app.dispatcher.handle(command(ALICE, "@Zoe for the help", event_id="Ev3"))
    several = await app.dispatcher.handle(command(BRUNO, "@Alice for the help", event_id="Ev4"))

    assert replies(nobody)[0].text == "I couldn't find @Zoe in this workspace. Mention them with @ so I know who you mean."
    assert replies(several)[0].text.startswith("@Alice peut désigner ")
    assert kudos_rows(app) == []


def reaction(sender: Any, author: str | None, *, emoji: str = "pray", item_ts: str = "1762070000.000100") -> ReactionAdded:
    return ReactionAdded(workspace=WS, conversation=Conversation("C-GENERAL", "channel", "general"), sender=sender,
                         reaction=emoji, item_ts=item_ts, item_author=author, event_id=f"Ev-{emoji}-{sender.id}")


async def test_a_pray_reaction_thanks_the_author_once(app) -> None:  # noqa: ANN001
    first = await app.dispatcher.handle(reaction(ALICE, CHEN.id))
    toned = await app.dispatcher.handle(reaction(ALICE, CHEN.id, emoji="pray::skin-tone-3"))
    other = await app.dispatcher.handle(reaction(ALICE, CHEN.id, emoji="tada"))
    by_bruno = await app.dispatcher.handle(reaction(BRUNO, CHEN.id))

    [note] = dms(first, CHEN.id)
    assert note.text == (
        "🙏 <@U0ALICE> thanked you in #general. <https://acme.example/archives/general/p1762070000000100|See the message>"
    )
    assert replies(first)[0].ephemeral_to == ALICE.id
    assert toned.outbound == [] and other.outbound == []
    assert [m.user_id for m in dms(by_bruno)] == [CHEN.id]
    assert [(r.giver_id, r.via) for r in kudos_rows(app)] == [(ALICE.id, "reaction"), (BRUNO.id, "reaction")]


async def test_the_reaction_can_be_configured(build) -> None:  # noqa: ANN001
    app = build(kudos={"reaction": "heart"})
    assert (await app.dispatcher.handle(reaction(ALICE, CHEN.id))).outbound == []
    assert dms(await app.dispatcher.handle(reaction(ALICE, CHEN.id, emoji="heart")), CHEN.id)


async def test_a_reaction_on_a_message_with_no_known_author_does_nothing(app) -> None:  # noqa: ANN001
    assert (await app.dispatcher.handle(reaction(ALICE, None))).outbound == []
    assert kudos_rows(app) == []


async def test_a_reaction_without_an_author_finds_it_in_the_index(app) -> None:  # noqa: ANN001
    """Teams names only the reactor; the author of a public message is known from the index."""
    from bot.ingest import IngestWorker

    await app.dispatcher.handle(message(CHEN, "The Kafka retention is now seven days", ts="1762070000.000100"))
    queued = await app.dispatcher.handle(reaction(BRUNO, None))  # still in the ingestion queue
    assert [m.user_id for m in dms(queued)] == [CHEN.id]
    IngestWorker(app).drain()
    indexed = await app.dispatcher.handle(reaction(ALICE, None))  # now only in the index
    assert [m.user_id for m in dms(indexed)] == [CHEN.id]
    assert sorted(r.giver_id for r in kudos_rows(app)) == sorted([ALICE.id, BRUNO.id])


# ---- the rules -------------------------------------------------------------------------------------------


async def test_nobody_thanks_themselves(app) -> None:  # noqa: ANN001
    en = await app.dispatcher.handle(message(ALICE, "thanks <@U0ALICE> for the Kafka fix"))
    fr = await app.dispatcher.handle(message(BRUNO, "merci <@U0BRUNO>"))
    react = await app.dispatcher.handle(reaction(CHEN, CHEN.id))

    assert dms(en) == [] and dms(fr) == [] and dms(react) == []
    assert replies(en)[0].text.startswith("You can't thank yourself")
    assert replies(en)[0].ephemeral_to == ALICE.id
    assert replies(fr)[0].text.startswith("Vous ne pouvez pas vous remercier vous-même")
    assert replies(react)[0].text.startswith("You can't thank yourself")
    assert kudos_rows(app) == []


async def test_nobody_thanks_a_bot(app) -> None:  # noqa: ANN001
    en = await app.dispatcher.handle(message(ALICE, "thanks <@U0DEPLOY> and <@U0CHEN>"))
    fr = await app.dispatcher.handle(message(BRUNO, "merci <@U0DEPLOY>"))

    assert [m.user_id for m in dms(en)] == [CHEN.id]
    assert replies(en)[0].text.splitlines() == [
        "Thanks sent to <@U0CHEN>: they'll get a direct message.",
        "<@U0DEPLOY> is a bot, so I can't pass thanks on. Thank the person behind it instead.",
    ]
    assert replies(fr)[0].text.startswith("<@U0DEPLOY> est un bot")
    assert [r.receiver_id for r in kudos_rows(app)] == [CHEN.id]


async def test_daily_cap_resets_at_the_givers_local_midnight(build, clock) -> None:  # noqa: ANN001
    app = build(kudos={"daily_cap": 2})
    # T0 is 09:00 UTC, 10:00 in Zurich where Alice lives.
    assert dms(await app.dispatcher.handle(message(ALICE, "thanks <@U0BRUNO>")))
    assert dms(await app.dispatcher.handle(message(ALICE, "thanks <@U0CHEN>")))
    capped = await app.dispatcher.handle(message(ALICE, "thanks <@U0DANA> and <@U0EMMA> for the dbt models"))
    assert dms(capped) == []
    assert replies(capped)[0].text == (
        "You have already thanked 2 people today, the daily limit, so I didn't pass this on to <@U0DANA> and <@U0EMMA>. "
        "The limit resets at midnight your time."
    )

    clock.set(dt.datetime(2026, 11, 2, 22, 59, tzinfo=dt.timezone.utc))  # 23:59 in Zurich: same day
    fr = await app.dispatcher.handle(message(ALICE, "merci <@U0DANA>"))
    assert dms(fr) == [] and replies(fr)[0].text.startswith("Vous avez déjà remercié 2 personnes aujourd'hui")

    clock.set(dt.datetime(2026, 11, 2, 23, 0, tzinfo=dt.timezone.utc))  # midnight in Zurich, still the 2nd in UTC
    assert [m.user_id for m in dms(await app.dispatcher.handle(message(ALICE, "thanks <@U0DANA>")))] == [DANA.id]
    assert len(kudos_rows(app)) == 3


async def test_the_cap_lets_through_as_many_as_fit(build) -> None:  # noqa: ANN001
    app = build(kudos={"daily_cap": 2})
    outcome = await app.dispatcher.handle(message(ALICE, "thanks <@U0BRUNO>, <@U0CHEN> and <@U0DANA>"))

    assert [m.user_id for m in dms(outcome)] == [BRUNO.id, CHEN.id]
    assert "didn't pass this on to <@U0DANA>" in replies(outcome)[0].text


async def test_a_retried_or_redelivered_or_edited_message_counts_once(app) -> None:  # noqa: ANN001
    event = message(ALICE, "thanks <@U0BRUNO> for the Kafka fix", event_id="EvA")
    first = await app.dispatcher.handle(event)
    retried = await app.dispatcher.handle(event)
    new_id = await app.dispatcher.handle(message(ALICE, event.text, ts=event.ts, event_id="EvB"))
    edited = await app.dispatcher.handle(message(ALICE, "thanks <@U0BRUNO> for the Kafka fix, again!", ts=event.ts,
                                                 event_id="EvC", edited=True))

    assert len(dms(first)) == 1
    assert retried.status == "duplicate" and new_id.status == "duplicate"
    assert edited.route == "kudos.thanks_message" and edited.outbound == []
    assert len(kudos_rows(app)) == 1
    assert len({(e.topic_key) for e in evidence(app, BRUNO.id)}) == len(evidence(app, BRUNO.id))


async def test_an_edit_that_adds_someone_thanks_only_the_newcomer(app) -> None:  # noqa: ANN001
    event = message(ALICE, "thanks <@U0BRUNO>")
    await app.dispatcher.handle(event)
    edited = await app.dispatcher.handle(message(ALICE, "thanks <@U0BRUNO> and <@U0CHEN>", ts=event.ts, edited=True))

    assert [m.user_id for m in dms(edited)] == [CHEN.id]
    assert sorted(r.receiver_id for r in kudos_rows(app)) == [BRUNO.id, CHEN.id]


async def test_pairs_who_keep_thanking_each_other_weigh_less(app, clock) -> None:  # noqa: ANN001
    weights = []
    for giver, receiver in [(ALICE, BRUNO), (BRUNO, ALICE), (ALICE, BRUNO), (BRUNO, ALICE), (ALICE, BRUNO), (BRUNO, ALICE)]:
        clock.advance(dt.timedelta(hours=1))
        outcome = await app.dispatcher.handle(message(giver, f"thanks <@{receiver.id}> for the Kafka fix"))
        assert dms(outcome, receiver.id), "every thanks still reaches the receiver"
        weights.append(kudos_rows(app)[-1].weight)
    assert weights == pytest.approx([1.0, 1.0, 1.0, 0.5, 0.5, 1 / 3])
    assert sorted(e.weight for e in evidence(app, ALICE.id) if e.topic_key == "kafka") == pytest.approx([1 / 3, 0.5, 1.0])

    clock.advance(dt.timedelta(days=15))  # outside the window: a fresh start
    await app.dispatcher.handle(message(ALICE, "thanks <@U0BRUNO> for the Kafka fix"))
    assert kudos_rows(app)[-1].weight == 1.0


async def test_someone_else_thanking_is_not_a_reciprocal_pair(app, clock) -> None:  # noqa: ANN001
    for giver in (ALICE, CHEN, DANA, EMMA):
        clock.advance(dt.timedelta(minutes=5))
        await app.dispatcher.handle(message(giver, "thanks <@U0BRUNO> for the Kafka fix"))
    assert [r.weight for r in kudos_rows(app)] == [1.0] * 4


# ---- views ---------------------------------------------------------------------------------------------


async def test_my_thanks_received_and_given_by_month_and_topic(app, clock) -> None:  # noqa: ANN001
    await app.dispatcher.handle(message(ALICE, "thanks <@U0BRUNO> for the Kafka fix"))
    clock.set(dt.datetime(2026, 12, 3, 9, 0, tzinfo=dt.timezone.utc))
    await app.dispatcher.handle(message(CHEN, "thanks <@U0BRUNO> for the Terraform plan"))
    await app.dispatcher.handle(message(BRUNO, "merci <@U0CHEN> pour ton aide sur Airflow"))

    fr = await app.dispatcher.handle(dm(BRUNO, "mes remerciements"))
    en = await app.dispatcher.handle(dm(BRUNO, "my thanks"))

    assert replies(fr)[0].text.splitlines() == [
        "*Vos remerciements*",
        "Reçus : 2 · donnés : 1",
        "Par mois :",
        "• décembre 2026 : 1 reçu (Terraform), 1 donné",
        "• novembre 2026 : 1 reçu (Kafka), 0 donné",
        "Remercié pour : Kafka, Terraform",
        "Vous avez remercié pour : Airflow",
    ]
    assert replies(en)[0].text.splitlines()[:4] == [
        "*Your thanks*", "Received: 2 · given: 1", "By month:", "• December 2026: 1 received (Terraform), 1 given",
    ]


async def test_my_thanks_with_nothing_yet_and_nobody_elses_figures(app) -> None:  # noqa: ANN001
    await app.dispatcher.handle(message(ALICE, "thanks <@U0BRUNO> for the Kafka fix"))
    empty = await app.dispatcher.handle(dm(DANA, "my thanks"))
    other = await app.dispatcher.handle(dm(HUGO, "thanks stats <@U0BRUNO>"))

    assert replies(empty)[0].text.startswith("No thanks yet, received or given.")
    # The name is said back as plain words: repeating the mention would notify Bruno.
    assert replies(other)[0].text == "I only show people their own thanks. Ask @Bruno Leroy to say *my thanks* to me."


async def test_leaderboard_is_off_until_an_admin_turns_it_on(app) -> None:  # noqa: ANN001
    await app.dispatcher.handle(message(ALICE, "thanks <@U0BRUNO> and <@U0CHEN> for the Kafka fix"))
    await app.dispatcher.handle(message(DANA, "thanks <@U0BRUNO> for the Kafka fix"))

    off = await app.dispatcher.handle(dm(ALICE, "thanks leaderboard"))
    refused = await app.dispatcher.handle(dm(ALICE, "thanks leaderboard on"))
    turned_on = await app.dispatcher.handle(dm(HUGO, "thanks leaderboard on"))
    board = await app.dispatcher.handle(dm(ALICE, "leaderboard"))
    classement = await app.dispatcher.handle(dm(BRUNO, "classement"))

    assert replies(off)[0].text.startswith("The thanks leaderboard is off.")
    assert replies(refused)[0].text.startswith("Only HR admins and workspace admins can do that.")
    assert replies(turned_on)[0].text.startswith("The thanks leaderboard is now on")
    assert replies(board)[0].text.splitlines() == ["*Most thanked in November 2026*", "1. <@U0BRUNO> — 2", "2. <@U0CHEN> — 1"]
    assert replies(classement)[0].text.splitlines()[0] == "*Les plus remerciés en novembre 2026*"


async def test_leaderboard_enabled_by_setting(build) -> None:  # noqa: ANN001
    app = build(kudos={"leaderboard": True})
    outcome = await app.dispatcher.handle(dm(ALICE, "thanks leaderboard"))
    assert replies(outcome)[0].text == "Nobody has been thanked in November 2026 yet."


async def test_team_totals_only_for_teams_of_five_or_more(app) -> None:  # noqa: ANN001
    from bot import people

    with app.db.session(WS.key) as s:
        for p in EVERYONE:
            people.upsert(s, p)
    await app.dispatcher.handle(message(ALICE, "thanks <@U0BRUNO> and <@U0FRED> for the review"))
    await app.dispatcher.handle(message(GINA, "thanks <@U0CHEN>"))

    outcome = await app.dispatcher.handle(dm(ALICE, "thanks per team"))
    assert replies(outcome)[0].text.splitlines() == [
        "*Thanks received per team in November 2026*", "• Data: 2", "Teams of fewer than 5 people are not shown.",
    ]
    fr = await app.dispatcher.handle(dm(BRUNO, "remerciements par équipe"))
    assert replies(fr)[0].text.splitlines()[1] == "• Data : 2"


# ---- the monthly digest ------------------------------------------------------------------------------------


def tick(at: dt.datetime, **args: Any) -> ScheduledTick:
    return ScheduledTick(workspace=WS, job="kudos.digest", fire_time=at, args=args)


async def test_monthly_digest_by_dm_in_each_persons_language_once(app, clock) -> None:  # noqa: ANN001
    await app.dispatcher.handle(message(ALICE, "thanks <@U0BRUNO> for the Kafka fix"))
    clock.advance(dt.timedelta(days=1))
    await app.dispatcher.handle(message(CHEN, "thanks <@U0BRUNO> for the Terraform module"))
    await app.dispatcher.handle(message(BRUNO, "merci <@U0ALICE> pour Kafka"))
    clock.set(dt.datetime(2026, 12, 1, 8, 0, tzinfo=dt.timezone.utc))
    await app.dispatcher.handle(message(DANA, "thanks <@U0CHEN> for Airflow"))  # December: next digest

    fire = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.timezone.utc)
    clock.set(fire)
    outcome = await app.dispatcher.handle(tick(fire, spec="0 9 1 * *"))
    again = await app.dispatcher.handle(tick(fire))

    assert outcome.route == "kudos.monthly_digest"
    assert {m.user_id: m.text for m in dms(outcome)} == {
        BRUNO.id: "🙏 Votre aide a été remerciée 2 fois en novembre 2026, sur Kafka et Terraform. "
                  "Merci de partager ce que vous savez !",
        ALICE.id: "🙏 Your help was thanked once in November 2026, on Kafka. Thank you for sharing what you know!",
    }
    assert again.outbound == []
    with app.db.session(WS.key) as s:
        assert sorted((r.user_id, r.month, r.thanks) for r in s.scalars(select(KudosDigestRow))) == [
            (ALICE.id, "2026-11", 1), (BRUNO.id, "2026-11", 2)]


async def test_digest_of_a_named_month_and_bad_input(app) -> None:  # noqa: ANN001
    await app.dispatcher.handle(message(ALICE, "thanks <@U0CHEN>"))
    later = dt.datetime(2027, 3, 1, 9, 0, tzinfo=dt.timezone.utc)

    nothing = await app.dispatcher.handle(tick(later))  # February: nobody was thanked
    bad = await app.dispatcher.handle(tick(later, month="2026-13"))
    named = await app.dispatcher.handle(tick(later, month="2026-11"))

    assert nothing.outbound == [] and bad.outbound == [] and bad.status == "ok"
    assert [m.text for m in dms(named, CHEN.id)] == [
        "🙏 Your help was thanked once in November 2026. Thank you for sharing what you know!"]


async def test_digest_can_be_turned_off(build, clock) -> None:  # noqa: ANN001
    app = build(kudos={"digest_enabled": False})
    await app.dispatcher.handle(message(ALICE, "thanks <@U0CHEN>"))
    outcome = await app.dispatcher.handle(tick(dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.timezone.utc)))
    assert outcome.outbound == []


def test_month_helpers() -> None:
    assert digest.previous_month(dt.datetime(2026, 1, 1, 0, 0, tzinfo=dt.timezone.utc)) == "2025-12"
    assert views.month_bounds("2026-12") == (
        dt.datetime(2026, 12, 1, tzinfo=dt.timezone.utc), dt.datetime(2027, 1, 1, tzinfo=dt.timezone.utc))
    assert month_name("2026-08", "fr") == "août 2026"


# ---- privacy -------------------------------------------------------------------------------------------------


async def test_forget_me_erases_thanks_given_and_received(app) -> None:  # noqa: ANN001
    from bot.privacy import forget_person

    await app.dispatcher.handle(message(ALICE, "thanks <@U0BRUNO>"))
    await app.dispatcher.handle(message(CHEN, "thanks <@U0DANA>"))
    await app.dispatcher.handle(message(DANA, "thanks <@U0ALICE>"))
    with app.db.session(WS.key) as s:
        counts = forget_person(s, ALICE.id)
    assert counts["kudos"] == 2
    assert [(r.giver_id, r.receiver_id) for r in kudos_rows(app)] == [(CHEN.id, DANA.id)]

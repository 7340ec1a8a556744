"""The bot never says back a mention someone typed: ``<!here>``, ``<!channel>``, ``<!everyone>``,
user groups (``<!subteam^…>``) and people (``<@U…>``) in a who-knows subject or a thanks reason
reach Slack and Teams as plain words, which notify nobody. Checked on every body the fake Slack
Web API and the fake Bot Connector received."""

from __future__ import annotations

import json

import pytest

from tests.conftest import T0
from tests.http.fake_connector import CHANNEL_ID, Activities, FakeConnector, post, served
from tests.http.fake_slack import FakeSlack, channel_message, running_bot, slack_user

TS = f"{int(T0.timestamp())}.000100"


def directory() -> list[dict]:
    return [
        slack_user("U0ADA", "Ada Lovelace", title="Platform"),
        slack_user("U0BOB", "Bob Martin", title="Sales"),
        slack_user("U0DAN", "Dan Brown", title="Platform"),
    ]


def everything_sent(fake: FakeSlack) -> list[str]:
    """Every body the bot sent to Slack (Web API calls and response_url posts), as text."""
    return [json.dumps(c.body, ensure_ascii=False) for c in fake.calls_] + [
        json.dumps(c.body, ensure_ascii=False) for c in fake.responses]


def texts(fake: FakeSlack) -> list[str]:
    return [c["text"] for m in ("chat.postMessage", "chat.postEphemeral") for c in fake.calls(m)] + [
        c.body.get("text", "") for c in fake.responses]


async def test_whoknows_a_broadcast_is_answered_without_it(make_app, sqlite_url) -> None:  # noqa: ANN001
    pytest.importorskip("skills.expertise")
    fake = FakeSlack(users=directory())
    async with running_bot(make_app, fake, database_url=sqlite_url) as bot:
        for n, subject in enumerate(["<!here>", "<!subteam^S123|@platform-team> deploys", "<!everyone>"], 1):
            resp = await bot.command("/whoknows", subject, user="U0BOB", trigger=str(n))
            assert resp.status == 200
        await bot.event(channel_message("U0BOB", "who knows <!channel> and <@U0DAN>?", TS, channel="D0BOB",
                                        channel_type="im"), event_id="EvW1")
        await bot.settle()
    answers = texts(fake)
    assert len(answers) == 4
    assert all("<!" not in body and "<@U0DAN>" not in body for body in everything_sent(fake))
    for subject in ("*@here*", "*@platform-team deploys*", "*@everyone*", "*@channel and @Dan Brown*"):
        assert len([a for a in answers if subject in a]) == 1, subject


async def test_words_said_back_from_commands_carry_no_broadcast(make_app, sqlite_url) -> None:  # noqa: ANN001
    pytest.importorskip("skills.coffee")
    fake = FakeSlack(users=directory())
    async with running_bot(make_app, fake, database_url=sqlite_url) as bot:
        await bot.command("/coffee", "<!channel>", user="U0BOB", trigger="1")
        await bot.event(channel_message("U0BOB", "forget topic <!everyone>", TS, channel="D0BOB", channel_type="im"),
                        event_id="EvW2")
        await bot.settle()
    answers = texts(fake)
    assert len(answers) == 2
    assert all("<!" not in body for body in everything_sent(fake))
    assert [a for a in answers if "@channel" in a] and [a for a in answers if "*@everyone*" in a]


async def test_a_thanks_reason_with_broadcasts_and_mentions_is_passed_on_plainly(make_app, sqlite_url) -> None:  # noqa: ANN001
    pytest.importorskip("skills.kudos")
    fake = FakeSlack(users=directory())
    async with running_bot(make_app, fake, database_url=sqlite_url, kudos={"recognition_channel": "C0KUDOS"}) as bot:
        said = ("thanks <@U0ADA> for the <!everyone> heads-up and the <!subteam^S123|@platform-team> review "
                "with <@U0DAN>!")
        await bot.event(channel_message("U0BOB", said, TS), event_id="EvT1")
        await bot.command("/thanks", "<@U0DAN|dan> for <!here> and <!channel>", user="U0BOB", trigger="5")
        await bot.settle()
    to_ada = [c["text"] for c in fake.calls("chat.postMessage") if c["channel"] == "D-U0ADA"]
    to_dan = [c["text"] for c in fake.calls("chat.postMessage") if c["channel"] == "D-U0DAN"]
    posts = [c["text"] for c in fake.calls("chat.postMessage") if c["channel"] == "C0KUDOS"]
    assert len(to_ada) == len(to_dan) == 1 and len(posts) == 2
    assert "the @everyone heads-up and the @platform-team review with @Dan Brown" in to_ada[0]
    assert "@here and @channel" in to_dan[0]
    assert all("<!" not in body for body in everything_sent(fake))
    # The people thanked and the giver are still named with real mentions, by the bot itself.
    [post_for_ada] = [p for p in posts if "<@U0ADA>" in p]
    assert "<@U0BOB>" in to_ada[0] and "<@U0BOB>" in post_for_ada
    assert "<@U0DAN>" not in to_ada[0] and "<@U0DAN>" not in post_for_ada


async def test_teams_mentions_in_a_subject_or_a_reason_are_said_back_as_words(make_app, sqlite_url) -> None:  # noqa: ANN001
    pytest.importorskip("skills.kudos")
    from tests.http.test_teams_wire import ALICE, BOB, CAROL, teams_app

    channel = (CHANNEL_ID, "General")
    app = teams_app(make_app, sqlite_url)
    async with FakeConnector() as teams, served(app) as url:
        acts = Activities(teams.service_url)
        question = acts.personal_message(ALICE, "who knows {General}?", mentions=(channel,))
        thanks = acts.channel_message(ALICE, "thanks {Bob Durand} for the help with {Carol Smith} in {General}",
                                      mentions=(BOB, CAROL, channel))
        for activity in (question, thanks):
            assert (await post(url + "/api/messages", activity))[0] == 200
            await app.adapters["teams"].wait_idle()
    sent = teams.messages()
    answer = next(m.body for m in sent if m.conversation_id == question["conversation"]["id"])
    to_bob = next(m.body for m in sent if m.conversation_id.startswith("a:fake-personal-"))
    assert "@General" in answer["text"] and "<at>" not in answer["text"]
    assert not [e for e in answer.get("entities") or () if e.get("type") == "mention"]
    assert "the help with @Carol Smith in @General" in to_bob["text"]
    # Only Alice, the giver, is a mention (the bot names her); Carol and the channel are words.
    mentioned = [e["mentioned"]["id"] for e in to_bob.get("entities") or () if e.get("type") == "mention"]
    assert mentioned == [ALICE[0]]

"""In a Slack channel, at the wire: an admin's coffee command written as a plain message (no
mention of the bot) sets the programme and is answered in the message's thread; a member's
chat that starts with "coffee" gets nothing; "privacy" typed to the bot in a DM explains what
it keeps. Every request is signed like Slack signs it; the answers are read from what the fake
Slack Web API received."""

from __future__ import annotations

import pytest

from tests.http.fake_slack import FakeSlack, channel_message, running_bot, slack_user


def directory() -> list[dict]:
    return [
        slack_user("U0ADA", "Ada Lovelace", title="People", is_admin=True),
        slack_user("U0BOB", "Bob Martin", title="Sales"),
        slack_user("U0CAM", "Camille Durand", title="People", locale="fr-FR"),
    ]


async def test_an_admins_coffee_command_in_the_channel_needs_no_mention(make_app, database_url) -> None:  # noqa: ANN001
    pytest.importorskip("skills.coffee")
    fake = FakeSlack(users=directory(), members={"C0COFFEE": ["U0ADA", "U0BOB", "U0CAM"]})
    async with running_bot(make_app, fake, database_url=database_url) as bot:
        # A member's chat about coffee: no answer at all.
        await bot.event(channel_message("U0BOB", "coffee cadence weekly would be nice", "1762070700.000100",
                                        channel="C0COFFEE"), event_id="EvCof1")
        await bot.settle()
        assert fake.calls("chat.postMessage") == [] and fake.calls("chat.postEphemeral") == []

        await bot.event(channel_message("U0ADA", "coffee cadence weekly on monday at 10:00 Europe/Zurich",
                                        "1762070700.000200", channel="C0COFFEE"), event_id="EvCof2")
        await bot.settle()
        [said] = fake.calls("chat.postMessage")
        assert said["channel"] == "C0COFFEE" and said["thread_ts"] == "1762070700.000200"
        assert "every week on Monday at 10:00 (Europe/Zurich)" in said["text"]

        # French, from the same admin: a malformed size is explained to them only.
        await bot.event(channel_message("U0ADA", "café taille sept", "1762070700.000300", channel="C0COFFEE"),
                        event_id="EvCof3")
        await bot.settle()
        [refusal] = fake.calls("chat.postEphemeral")
        assert (refusal["channel"], refusal["user"]) == ("C0COFFEE", "U0ADA")
        assert "la taille des groupes doit être 2, 3 ou 4" in refusal["text"]


async def test_privacy_typed_in_a_dm_explains_what_the_bot_keeps(make_app, sqlite_url) -> None:  # noqa: ANN001
    fake = FakeSlack(users=directory())
    async with running_bot(make_app, fake, database_url=sqlite_url) as bot:
        await bot.event(channel_message("U0CAM", "vie privée ?", "1762070800.000100", channel="D0CAM",
                                        channel_type="im"), event_id="EvPriv1")
        await bot.settle()
    [said] = fake.calls("chat.postMessage")
    assert said["channel"] == "D0CAM" and said["text"].startswith("*Ce que je garde.*")

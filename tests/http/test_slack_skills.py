"""The skills through Slack, end to end at the wire: channel messages in, the ingestion worker,
questions as DMs and slash commands, thanks, coffee commands and buttons; every answer checked
on what the fake Slack received."""

from __future__ import annotations

import asyncio
import json

import pytest

from bot.ingest import IngestWorker
from tests.http.fake_slack import BOT_USER_ID, FakeSlack, channel_message, running_bot, slack_user


def directory() -> list[dict]:
    return [
        slack_user("U0ADA", "Ada Lovelace", title="Platform", is_admin=True),
        slack_user("U0BOB", "Bob Martin", title="Sales"),
        slack_user("U0CAM", "Camille Durand", title="People", locale="fr-FR"),
        slack_user("U0DAN", "Dan Brown", title="Platform"),
    ]


async def test_who_knows_end_to_end(make_app, database_url) -> None:  # noqa: ANN001
    pytest.importorskip("skills.expertise")
    fake = FakeSlack(users=directory())
    async with running_bot(make_app, fake, database_url=database_url) as bot:
        said = [
            ("U0ADA", "Our Kafka consumers lag behind; I tuned the Kafka partitions and the consumer groups today."),
            ("U0ADA", "Kafka retention is now seven days on the events topic, ping me for Kafka questions."),
            ("U0DAN", "The Terraform plan for the staging VPC is ready for review."),
        ]
        for n, (user, text) in enumerate(said, 1):
            await bot.event(channel_message(user, text, f"1762070500.00{n}000"), event_id=f"EvK{n}")
        # An answer in someone else's thread is strong evidence.
        await bot.event(channel_message("U0ADA", "Set max.poll.records lower, the Kafka rebalance comes from slow polls.",
                                        "1762070500.009000", thread_ts="1762070500.008000", parent_user_id="U0BOB"),
                        event_id="EvK9")
        await bot.settle()
        done = await asyncio.to_thread(IngestWorker(bot.app).drain)
        assert done == 4

        await bot.event(channel_message("U0BOB", "who knows Kafka?", "1762070600.000100", channel="D0BOB",
                                        channel_type="im"), event_id="EvQ1")
        await bot.settle()
        answer = fake.calls("chat.postMessage")[-1]
        assert answer["channel"] == "D0BOB" and "thread_ts" not in answer
        assert "Ada Lovelace" in answer["text"] and "Dan Brown" not in answer["text"]
        # The proof links are the messages' permalinks, built without an API call.
        assert "https://acme.slack.com/archives/C0GENERAL/p" in answer["text"]

        resp = await bot.command("/whoknows", "kafka", user="U0BOB", trigger="7")
        assert resp.status == 200 and (await resp.text()) == ""  # empty ack; the answer comes after
        await bot.settle()
        answer = fake.calls("chat.postMessage")[-1]
        assert answer["channel"] == "C0GENERAL" and "Ada Lovelace" in answer["text"]


async def test_thanks_by_slash_command_reaches_the_person_and_confirms_privately(make_app, database_url) -> None:  # noqa: ANN001
    pytest.importorskip("skills.kudos")
    fake = FakeSlack(users=directory())
    async with running_bot(make_app, fake, database_url=database_url) as bot:
        # Slack escapes mentions in slash command text as <@U…|name>.
        resp = await bot.command("/thanks", "<@U0ADA|ada> for the Kafka rebalance fix", user="U0BOB", trigger="8")
        assert resp.status == 200 and (await resp.text()) == ""
        await bot.settle()
    assert fake.calls("conversations.open") == [{"users": "U0ADA"}]
    [dm] = fake.calls("chat.postMessage")
    assert dm["channel"] == "D-U0ADA" and "<@U0BOB>" in dm["text"] and "the Kafka rebalance fix" in dm["text"]
    [confirmation] = fake.calls("chat.postEphemeral")
    assert (confirmation["channel"], confirmation["user"]) == ("C0GENERAL", "U0BOB")
    assert "<@U0ADA>" in confirmation["text"]


async def test_thanks_without_anyone_to_thank_is_refused_privately(make_app, sqlite_url) -> None:  # noqa: ANN001
    pytest.importorskip("skills.kudos")
    fake = FakeSlack(users=directory())
    async with running_bot(make_app, fake, database_url=sqlite_url) as bot:
        await bot.command("/thanks", "", user="U0BOB", trigger="9")
        await bot.settle()
    assert fake.calls("chat.postMessage") == []
    [ephemeral] = fake.calls("chat.postEphemeral")
    assert ephemeral["channel"] == "C0GENERAL" and ephemeral["user"] == "U0BOB"


async def test_coffee_commands_refuse_non_admins_privately_and_work_for_admins(make_app, database_url) -> None:  # noqa: ANN001
    pytest.importorskip("skills.coffee")
    fake = FakeSlack(users=directory(), members={"C0COFFEE": ["U0ADA", "U0BOB", "U0CAM", "U0DAN"]})
    async with running_bot(make_app, fake, database_url=database_url) as bot:
        await bot.command("/coffee", "cadence weekly", user="U0BOB", channel="C0COFFEE", channel_name="coffee", trigger="10")
        await bot.settle()
        [refusal] = fake.calls("chat.postEphemeral")
        assert refusal["channel"] == "C0COFFEE" and refusal["user"] == "U0BOB"
        assert "Only HR admins" in refusal["text"]
        assert fake.calls("chat.postMessage") == []

        # A workspace admin (from the directory sync) may.
        await bot.command("/coffee", "cadence weekly", user="U0ADA", channel="C0COFFEE", channel_name="coffee", trigger="11")
        await bot.settle()
        [announcement] = fake.calls("chat.postMessage")  # the programme's settings, for the whole channel
        assert announcement["channel"] == "C0COFFEE" and "every week" in announcement["text"]

        # Anyone may ask for the status; Camille's Slack locale is French.
        await bot.command("/coffee", "status", user="U0CAM", channel="C0COFFEE", channel_name="coffee", trigger="12")
        await bot.settle()
    status = fake.calls("chat.postEphemeral")[-1]
    assert (status["channel"], status["user"]) == ("C0COFFEE", "U0CAM")
    assert "Vous participez" in status["text"]


async def test_a_command_where_the_bot_cannot_post_is_answered_through_response_url(make_app, sqlite_url) -> None:  # noqa: ANN001
    fake = FakeSlack(users=directory())
    # A DM between two people: the bot is not in it, so chat.post* answers channel_not_found.
    fake.fail("chat.postMessage", "channel_not_found", when=lambda body: body.get("channel") == "D0BOBCAM")
    fake.fail("chat.postEphemeral", "channel_not_found", when=lambda body: body.get("channel") == "D0BOBCAM")
    async with running_bot(make_app, fake, database_url=sqlite_url) as bot:
        await bot.command("/liaison", "privacy", user="U0BOB", channel="D0BOBCAM", channel_name="directmessage", trigger="13")
        await bot.settle()
        assert [o.status for o in bot.outcomes] == ["ok"] and bot.outcomes[0].error is None
    [answer] = fake.responses
    assert answer.method.endswith("/13")
    assert answer.body["response_type"] == "ephemeral" and "What I keep" in answer.body["text"]


async def test_a_button_press_reaches_the_coffee_skill_and_is_answered_privately(make_app, sqlite_url) -> None:  # noqa: ANN001
    pytest.importorskip("skills.coffee")
    fake = FakeSlack(users=directory())
    async with running_bot(make_app, fake, database_url=sqlite_url) as bot:
        resp = await bot.button("coffee.met", "999", user="U0BOB", channel="D0BOB", message_ts="1762070700.000100")
        assert resp.status == 200
        await bot.settle()
    assert [o.route for o in bot.outcomes] == ["coffee.answer"]
    [sent] = fake.calls("chat.postMessage")  # in a DM, "private" is simply the DM
    assert sent["channel"] == "D0BOB" and sent["text"]


async def test_a_message_with_buttons_becomes_block_kit_and_a_group_opens_one_conversation(make_app, sqlite_url) -> None:  # noqa: ANN001
    from bot.events import Button, GroupMessage

    fake = FakeSlack(users=directory())
    async with running_bot(make_app, fake, database_url=sqlite_url) as bot:
        sent = await bot.adapter.chat.send(bot.adapter.workspace, GroupMessage(
            ("U0ADA", "U0CAM"), "Meet *Ada* and *Camille*!",
            (Button("Yes, we met", "coffee.met", "7", "primary"), Button("Not yet", "coffee.not_met", "7"))))
    assert fake.calls("conversations.open") == [{"users": "U0ADA,U0CAM"}]
    [post] = fake.calls("chat.postMessage")
    assert sent.conversation_id == post["channel"] == "G-U0ADA-U0CAM"
    blocks = post["blocks"] if isinstance(post["blocks"], list) else json.loads(post["blocks"])
    assert blocks[0] == {"type": "section", "text": {"type": "mrkdwn", "text": "Meet *Ada* and *Camille*!"}}
    assert blocks[1]["type"] == "actions"
    assert [(e["action_id"], e["value"], e.get("style")) for e in blocks[1]["elements"]] == [
        ("coffee.met", "7", "primary"), ("coffee.not_met", "7", None)]


async def test_reply_in_thread_off_answers_beside_the_question(make_app, sqlite_url) -> None:  # noqa: ANN001
    fake = FakeSlack(users=directory())
    async with running_bot(make_app, fake, database_url=sqlite_url,
                           slack={"min_seconds_between_messages": 0.0, "reply_in_thread": False}) as bot:
        await bot.event(channel_message("U0BOB", f"<@{BOT_USER_ID}> help", "1762070800.000100"), event_id="EvT1")
        # A question asked inside an existing thread is still answered there.
        await bot.event(channel_message("U0BOB", f"<@{BOT_USER_ID}> help", "1762070800.000300",
                                        thread_ts="1762070800.000200", parent_user_id="U0CAM"), event_id="EvT2")
        await bot.settle()
    first, second = fake.calls("chat.postMessage")
    assert first["channel"] == "C0GENERAL" and "thread_ts" not in first
    assert second["thread_ts"] == "1762070800.000200"


async def test_an_edited_message_is_reindexed_and_a_deleted_one_drops_its_evidence(make_app, database_url) -> None:  # noqa: ANN001
    pytest.importorskip("skills.expertise")
    fake = FakeSlack(users=directory())
    async with running_bot(make_app, fake, database_url=database_url) as bot:
        worker = IngestWorker(bot.app)
        await bot.event(channel_message("U0DAN", "I rebuilt the Terraform modules for the staging VPC.", "1762070510.000100"),
                        event_id="EvE1")
        await bot.settle()
        await asyncio.to_thread(worker.drain)

        async def ask(n: int, topic: str) -> str:
            await bot.event(channel_message("U0BOB", f"who knows {topic}?", f"1762070600.00{n}000", channel="D0BOB",
                                            channel_type="im"), event_id=f"EvEQ{n}")
            await bot.settle()
            return fake.calls("chat.postMessage")[-1]["text"]

        assert "Dan Brown" in await ask(1, "Terraform")
        edit = {"type": "message", "subtype": "message_changed", "channel": "C0GENERAL", "channel_type": "channel",
                "hidden": True, "ts": "1762070511.000100", "event_ts": "1762070511.000100",
                "message": {"type": "message", "user": "U0DAN", "text": "I rebuilt the Ansible playbooks for staging.",
                            "ts": "1762070510.000100", "edited": {"user": "U0DAN", "ts": "1762070511.000100"}},
                "previous_message": {"type": "message", "user": "U0DAN",
                                     "text": "I rebuilt the Terraform modules for the staging VPC.", "ts": "1762070510.000100"}}
        await bot.event(edit, event_id="EvE2")
        await bot.settle()
        await asyncio.to_thread(worker.drain)
        assert "Dan Brown" in await ask(2, "Ansible")

        deletion = {"type": "message", "subtype": "message_deleted", "channel": "C0GENERAL", "channel_type": "channel",
                    "hidden": True, "deleted_ts": "1762070510.000100", "ts": "1762070512.000100",
                    "event_ts": "1762070512.000100",
                    "previous_message": {"type": "message", "user": "U0DAN",
                                         "text": "I rebuilt the Ansible playbooks for staging.", "ts": "1762070510.000100"}}
        await bot.event(deletion, event_id="EvE3")
        await bot.settle()
        await asyncio.to_thread(worker.drain)
        assert "Dan Brown" not in await ask(3, "Ansible")

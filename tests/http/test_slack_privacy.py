"""Which channel is public is decided from Slack when an event does not say (app_mention,
reactions, commands), at the wire: conversations.info on the fake Slack, kept a while, asked again
after a rename or a conversion, and failing closed. What a thanks leaves behind is checked in the
database: no reason text, no link or evidence from a private channel."""

from __future__ import annotations

import asyncio
import logging

import pytest
from sqlalchemy import inspect, select

from bot.db.expertise import ExpertiseEvidence
from bot.db.kudos import KudosRow
from bot.db.models import IngestItem
from bot.ingest import IngestWorker
from tests.http.fake_slack import BOT_USER_ID, TEAM_ID, FakeSlack, channel_message, running_bot, slack_user

WS_KEY = f"slack:{TEAM_ID}"
SECRET = "C0SECRET"  # a private channel whose id starts with C, as Slack gives them today


def directory() -> list[dict]:
    return [
        slack_user("U0ADA", "Ada Lovelace", title="Platform"),
        slack_user("U0BOB", "Bob Martin", title="Payroll"),
        slack_user("U0CAM", "Camille Durand", title="People"),
        slack_user("U0DAN", "Dan Brown", title="Finance"),
    ]


def mention(user: str, text: str, ts: str, *, channel: str) -> dict:
    """An app_mention as Slack sends it: no channel_type."""
    return {"type": "app_mention", "user": user, "text": f"<@{BOT_USER_ID}> {text}", "ts": ts, "channel": channel,
            "event_ts": ts, "client_msg_id": f"m-{ts}"}


async def ask(bot, fake: FakeSlack, question: str, ts: str) -> str:  # noqa: ANN001
    await bot.event(channel_message("U0CAM", question, ts, channel="D0CAM", channel_type="im"), event_id=f"EvQ{ts}")
    await bot.settle()
    return fake.calls("chat.postMessage")[-1]["text"]


def kudos_values(bot) -> list[object]:  # noqa: ANN001
    with bot.app.db.session(WS_KEY) as s:
        return [getattr(row, col.key) for row in s.scalars(select(KudosRow)) for col in KudosRow.__table__.columns]


async def test_a_thanks_mentioning_the_bot_in_a_private_c_channel_leaves_nothing_public(make_app, database_url) -> None:  # noqa: ANN001
    pytest.importorskip("skills.kudos")
    pytest.importorskip("skills.expertise")
    fake = FakeSlack(users=directory(), private_channels={SECRET: "payroll-secret"})
    async with running_bot(make_app, fake, database_url=database_url,
                           kudos={"recognition_channel": "C0KUDOS"}) as bot:
        await bot.event(channel_message("U0DAN", "The pulsarpayroll export runs nightly from the finance cluster.",
                                        "1793609500.000100"), event_id="EvP1")
        await bot.event(mention("U0ADA", "thanks <@U0BOB> for the pulsarpayroll migration plan", "1793609501.000100",
                                channel=SECRET), event_id="EvP2")
        await bot.event(mention("U0ADA", "help", "1793609501.000200", channel=SECRET), event_id="EvP2b")
        await bot.settle()
        await asyncio.to_thread(IngestWorker(bot.app).drain)
        answer = await ask(bot, fake, "who knows pulsarpayroll?", "1793609600.000100")

        with bot.app.db.session(WS_KEY) as s:
            evidence = s.scalars(select(ExpertiseEvidence)).all()
            queued = s.scalars(select(IngestItem).where(IngestItem.conversation_id == SECRET)).all()
            [kudos] = s.scalars(select(KudosRow)).all()
        values = kudos_values(bot)
        columns = {c["name"] for c in inspect(bot.app.db.engine).get_columns("kudos")}

    assert {"channel": SECRET} in fake.calls("conversations.info")
    # The thanks still reaches Bob, without a link nobody else could open.
    [dm] = [c for c in fake.calls("chat.postMessage") if c["channel"] == "D-U0BOB"]
    assert "<@U0ADA>" in dm["text"] and "pulsarpayroll migration plan" in dm["text"]
    assert SECRET not in dm["text"] and "payroll-secret" not in dm["text"]
    # A question in the private channel is still answered in its thread.
    [help_answer] = [c for c in fake.calls("chat.postMessage") if c["channel"] == SECRET]
    assert help_answer["thread_ts"] == "1793609501.000200"
    # Nothing is posted in the public recognition channel; the confirmation is Ada's alone.
    assert all(c["channel"] != "C0KUDOS" for c in fake.calls("chat.postMessage"))
    assert [(c["channel"], c["user"]) for c in fake.calls("chat.postEphemeral")] == [(SECRET, "U0ADA")]
    # No evidence from the private channel, nothing queued from it.
    assert queued == []
    assert [(e.user_id, e.conversation_id) for e in evidence if e.user_id == "U0BOB" or e.conversation_id == SECRET] == []
    # Another person's question finds the public evidence only.
    assert "Dan Brown" in answer and "Bob Martin" not in answer and "<@U0BOB>" not in answer
    assert SECRET not in answer and "payroll-secret" not in answer
    # The thanks row keeps no text, no link and no name of the private channel.
    assert "reason" not in columns
    assert (kudos.giver_id, kudos.receiver_id, kudos.permalink, kudos.conversation_name) == ("U0ADA", "U0BOB", None, None)
    assert not any(isinstance(v, str) and "migration plan" in v for v in values)


async def test_when_slack_cannot_say_the_channel_counts_as_private_and_one_line_says_what_to_do(
        make_app, sqlite_url, caplog) -> None:  # noqa: ANN001
    pytest.importorskip("skills.kudos")
    fake = FakeSlack(users=directory())
    fake.fail("conversations.info", "missing_scope")
    async with running_bot(make_app, fake, database_url=sqlite_url) as bot:
        with caplog.at_level(logging.WARNING, logger="liaison.slack"):
            await bot.event(mention("U0ADA", "thanks <@U0BOB> for the Kafka fix", "1793609502.000100",
                                    channel="C0GENERAL"), event_id="EvP4")
            await bot.event(mention("U0DAN", "thanks <@U0BOB> for the Kafka review", "1793609502.000200",
                                    channel="C0GENERAL"), event_id="EvP5")
            await bot.settle()
        with bot.app.db.session(WS_KEY) as s:
            rows = s.scalars(select(KudosRow)).all()
            evidence = s.scalars(select(ExpertiseEvidence)).all()

    assert len(rows) == 2 and {r.permalink for r in rows} == {None}
    assert evidence == []
    assert len(fake.calls("conversations.info")) == 1  # the failure is kept a while, not asked per event
    lines = [r.getMessage() for r in caplog.records if "conversations.info" in r.getMessage()
             or "is public" in r.getMessage()]
    assert len(lines) == 1 and "\n" not in lines[0]
    assert "C0GENERAL" in lines[0] and "missing_scope" in lines[0] and "private" in lines[0]
    assert "channels:read" in lines[0] and "groups:read" in lines[0]
    assert all(r.exc_info is None for r in caplog.records)


async def test_a_channel_made_private_or_renamed_is_asked_about_again(make_app, sqlite_url) -> None:  # noqa: ANN001
    pytest.importorskip("skills.kudos")
    fake = FakeSlack(users=directory(), channel_names={"C0TEAM": "team"})
    async with running_bot(make_app, fake, database_url=sqlite_url) as bot:
        await bot.event(mention("U0ADA", "thanks <@U0BOB> for the Kafka fix", "1793609503.000100", channel="C0TEAM"),
                        event_id="EvR1")
        await bot.event(mention("U0ADA", "thanks <@U0DAN> for the Kafka review", "1793609503.000200", channel="C0TEAM"),
                        event_id="EvR2")
        await bot.settle()
        assert fake.calls("conversations.info") == [{"channel": "C0TEAM"}]  # kept between events
        # Public, as Slack said: the thanks links to the message, in the DM and in the index.
        link = "https://acme.slack.com/archives/C0TEAM/p1793609503000100"
        [dm] = [c for c in fake.calls("chat.postMessage") if c["channel"] == "D-U0BOB"]
        assert link in dm["text"] and "#team" in dm["text"]
        with bot.app.db.session(WS_KEY) as s:
            links = {e.permalink for e in s.scalars(select(ExpertiseEvidence).where(ExpertiseEvidence.user_id == "U0BOB"))}
        assert links == {link}

        # The channel is made private: Slack posts a notice in it, and answers differently now.
        del fake.channel_names["C0TEAM"]
        fake.private_channels["C0TEAM"] = "team"
        notice = {"type": "message", "subtype": "channel_convert_to_private", "user": "U0ADA", "channel": "C0TEAM",
                  "channel_type": "group", "ts": "1793609503.000300", "event_ts": "1793609503.000300",
                  "text": "made this channel *private*. Now, it can only be viewed or joined by invitation."}
        await bot.event(notice, event_id="EvR3")
        await bot.event(mention("U0DAN", "thanks <@U0CAM> for the payroll review", "1793609503.000400",
                                channel="C0TEAM"), event_id="EvR4")
        await bot.settle()

        # Renamed (and public again): the next event reads the new name.
        del fake.private_channels["C0TEAM"]
        fake.channel_names["C0TEAM"] = "team-renamed"
        await bot.event({"type": "channel_rename", "channel": {"id": "C0TEAM", "name": "team-renamed",
                                                                "created": 1360782804}}, event_id="EvR5")
        await bot.event(mention("U0CAM", "thanks <@U0ADA> for the onboarding", "1793609503.000500", channel="C0TEAM"),
                        event_id="EvR6")
        await bot.settle()
        with bot.app.db.session(WS_KEY) as s:
            rows = {r.receiver_id: r for r in s.scalars(select(KudosRow))}
            cam_evidence = s.scalars(select(ExpertiseEvidence).where(ExpertiseEvidence.user_id == "U0CAM")).all()

    assert len(fake.calls("conversations.info")) == 3
    assert (rows["U0BOB"].permalink, rows["U0BOB"].conversation_name) == (link, "team")
    assert rows["U0DAN"].permalink
    # Made private: no link, no name, no evidence.
    assert (rows["U0CAM"].permalink, rows["U0CAM"].conversation_name) == (None, None)
    assert cam_evidence == []
    assert rows["U0ADA"].conversation_name == "team-renamed" and rows["U0ADA"].permalink

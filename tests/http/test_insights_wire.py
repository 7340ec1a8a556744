"""The network report's charts at the wire: uploaded to the fake Slack Web API with
files_upload_v2 (files.getUploadURLExternal, the bytes to the upload URL,
files.completeUploadExternal), and sent to the fake Bot Connector as inline images."""

from __future__ import annotations

import base64

from tests.http.fake_connector import TENANT, Activities, FakeConnector, post, served
from tests.http.fake_slack import TEAM_ID, FakeSlack, channel_message, running_bot, slack_user
from tests.http.test_teams_wire import ALICE, teams_app
from tests.skills import insights_sample as sample

PNG = b"\x89PNG\r\n\x1a\n"


async def test_the_report_charts_are_uploaded_to_slack_in_the_admins_dm(make_app, database_url) -> None:  # noqa: ANN001
    fake = FakeSlack(users=[slack_user("U0ADA", "Ada Lovelace", title="Platform", is_admin=True),
                            slack_user("U0BOB", "Bob Martin", title="Sales")])
    async with running_bot(make_app, fake, database_url=database_url, clock_=_clock()) as bot:
        sample.load(bot.app, f"slack:{TEAM_ID}")
        await bot.event(channel_message("U0ADA", "network report", "1763640000.000100", channel="D0ADA",
                                        channel_type="im"), event_id="EvR1")
        await bot.settle()
    [text] = fake.calls("chat.postMessage")
    assert text["channel"] == "D0ADA" and "Network report" in text["text"] and "Nov 2026" in text["text"]
    asked = fake.calls("files.getUploadURLExternal")
    assert [a["filename"] for a in asked] == ["network-activity-2026-11.png", "network-thanks-2026-11.png"]
    [done] = fake.calls("files.completeUploadExternal")
    assert done["channel_id"] == "D0ADA"
    uploads = list(fake.uploads.values())
    assert len(uploads) == 2
    for asked_for, upload in zip(asked, uploads):
        assert upload["data"].startswith(PNG) and len(upload["data"]) == int(asked_for["length"]) > 10_000
        assert upload["channel"] == "D0ADA"
    assert {u["title"] for u in uploads} == {"Coffee and ties per month", "Thanks between teams"}


async def test_the_report_asked_in_a_channel_goes_to_the_admin_by_dm(make_app, sqlite_url) -> None:  # noqa: ANN001
    fake = FakeSlack(users=[slack_user("U0ADA", "Ada Lovelace", title="Platform", is_admin=True)])
    async with running_bot(make_app, fake, database_url=sqlite_url, clock_=_clock()) as bot:
        sample.load(bot.app, f"slack:{TEAM_ID}")
        await bot.event(channel_message("U0ADA", "<@U0BOT> network report", "1763640000.000200"), event_id="EvR2")
        await bot.settle()
    [dm] = fake.calls("chat.postMessage")
    assert dm["channel"] == "D-U0ADA" and "Network report" in dm["text"]
    [note] = fake.calls("chat.postEphemeral")
    assert note["channel"] == "C0GENERAL" and "direct message" in note["text"]
    assert {u["channel"] for u in fake.uploads.values()} == {"D-U0ADA"}  # never in the channel


async def test_the_report_charts_reach_teams_as_inline_images(make_app, database_url) -> None:  # noqa: ANN001
    app = teams_app(make_app, database_url, bot={"hr_admins": [ALICE[0]]}, clock_=_clock())
    sample.load(app, f"teams:{TENANT}")
    async with FakeConnector() as teams, served(app) as url:
        acts = Activities(teams.service_url)
        activity = acts.personal_message(ALICE, "network report")
        assert (await post(url + "/api/messages", activity))[0] == 200
        await app.adapters["teams"].wait_idle()
    text, *images = teams.messages()
    assert "**Network report**" in text.body["text"]
    assert len(images) == 2
    for sent in images:
        assert sent.conversation_id == activity["conversation"]["id"]
        [attachment] = sent.body["attachments"]
        assert attachment["contentType"] == "image/png" and attachment["name"].endswith(".png")
        prefix = "data:image/png;base64,"
        assert attachment["contentUrl"].startswith(prefix)
        assert base64.b64decode(attachment["contentUrl"][len(prefix):]).startswith(PNG)


def _clock():  # noqa: ANN202
    from bot.ports import FixedClock

    return FixedClock(sample.NOW)

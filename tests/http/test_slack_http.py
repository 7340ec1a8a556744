"""The Slack app over HTTP, at the wire: signed requests into POST /slack/events of the real web
app, answers checked on what a fake Slack Web API received."""

from __future__ import annotations

import json
import time

import pytest
from sqlalchemy import select

from bot import people
from bot.db.models import EventSeen, IngestItem, Installation, PersonRow
from tests.http.fake_slack import BOT_USER_ID, TEAM_ID, FakeSlack, channel_message, running_bot, slack_user

WS_KEY = f"slack:{TEAM_ID}"


def directory() -> list[dict]:
    return [
        slack_user("U0ADA", "Ada Lovelace", title="Platform", is_admin=True),
        slack_user("U0BOB", "Bob Martin", title="Sales", locale="fr-FR"),
        slack_user("U0CAM", "Camille Durand", title="People"),
        slack_user("U0OLD", "Old Account", deleted=True),
        slack_user("U0ROBOT", "Deploy Bot", is_bot=True),
    ]


async def test_url_verification_is_answered(make_app, sqlite_url) -> None:  # noqa: ANN001
    async with running_bot(make_app, FakeSlack(users=directory()), database_url=sqlite_url) as bot:
        body = json.dumps({"token": "x", "challenge": "3eZbrw1aBm2rZgRNFdxV", "type": "url_verification"})
        resp = await bot.post(body, content_type="application/json")
        assert resp.status == 200
        assert (await resp.json()) == {"challenge": "3eZbrw1aBm2rZgRNFdxV"}


async def test_start_reads_auth_test_and_syncs_the_directory_page_by_page(make_app, database_url) -> None:  # noqa: ANN001
    fake = FakeSlack(users=directory(), page_size=2)
    async with running_bot(make_app, fake, database_url=database_url) as bot:
        assert bot.adapter.bot_user_id == BOT_USER_ID
        assert [c.get("cursor", "") for c in fake.calls("users.list")] == ["", "2", "4"]
        with bot.app.db.session(WS_KEY) as s:
            rows = {r.user_id: r for r in s.scalars(select(PersonRow)).all()}
            installed = s.get(Installation, WS_KEY)
        assert set(rows) == {"U0ADA", "U0BOB", "U0CAM"}  # deleted accounts and bots left out
        assert rows["U0ADA"].name == "Ada Lovelace" and rows["U0ADA"].team == "Platform" and rows["U0ADA"].is_admin
        assert rows["U0BOB"].tz == "Europe/Paris" and rows["U0BOB"].locale == "fr-FR" and not rows["U0BOB"].is_admin
        assert installed is not None and installed.active


async def test_help_in_a_dm_is_answered_in_the_dm(make_app, database_url) -> None:  # noqa: ANN001
    fake = FakeSlack(users=directory())
    async with running_bot(make_app, fake, database_url=database_url) as bot:
        resp = await bot.event(channel_message("U0CAM", "help", "1762070401.000100", channel="D0CAM", channel_type="im"),
                               event_id="Ev0001")
        assert resp.status == 200
        await bot.settle()
    posted = fake.calls("chat.postMessage")
    assert len(posted) == 1
    assert posted[0]["channel"] == "D0CAM" and "thread_ts" not in posted[0]
    assert "Here is what you can ask me" in posted[0]["text"]


async def test_a_mention_in_a_channel_is_answered_in_its_thread_in_the_askers_language(make_app, database_url) -> None:  # noqa: ANN001
    fake = FakeSlack(users=directory())
    async with running_bot(make_app, fake, database_url=database_url) as bot:
        mention = {"type": "app_mention", "user": "U0BOB", "text": f"<@{BOT_USER_ID}> aide", "ts": "1762070402.000200",
                   "channel": "C0GENERAL", "event_ts": "1762070402.000200"}
        # Slack sends both the channel message and the app_mention for the same ts.
        await bot.event(channel_message("U0BOB", f"<@{BOT_USER_ID}> aide", "1762070402.000200"), event_id="Ev0002")
        await bot.event(mention, event_id="Ev0003")
        await bot.settle()
        with bot.app.db.session(WS_KEY) as s:
            queued = s.scalars(select(IngestItem)).all()
    posted = fake.calls("chat.postMessage")
    assert len(posted) == 1, posted  # answered once, not twice
    assert posted[0]["channel"] == "C0GENERAL" and posted[0]["thread_ts"] == "1762070402.000200"
    assert "Voici ce que vous pouvez me demander" in posted[0]["text"]
    assert queued == []  # a question to the bot is not indexed
    assert sorted(o.status for o in bot.outcomes) == ["duplicate", "ok"]


async def test_a_wrong_signature_gets_401_and_does_nothing(make_app, sqlite_url) -> None:  # noqa: ANN001
    fake = FakeSlack(users=directory())
    async with running_bot(make_app, fake, database_url=sqlite_url) as bot:
        before = len(fake.calls_)
        event = channel_message("U0CAM", "help", "1762070403.000300", channel="D0CAM", channel_type="im")
        wrong = await bot.event(event, event_id="Ev0004", secret="not-the-secret")
        missing = await bot.event(event, event_id="Ev0004", signature="")
        await bot.settle()
        assert (wrong.status, missing.status) == (401, 401)
        assert fake.calls_[before:] == [] and bot.outcomes == []
        with bot.app.db.session(WS_KEY) as s:
            assert s.scalars(select(EventSeen)).all() == []


async def test_a_stale_timestamp_gets_401_and_does_nothing(make_app, sqlite_url) -> None:  # noqa: ANN001
    fake = FakeSlack(users=directory())
    async with running_bot(make_app, fake, database_url=sqlite_url) as bot:
        event = channel_message("U0CAM", "help", "1762070404.000400", channel="D0CAM", channel_type="im")
        stale = await bot.event(event, event_id="Ev0005", timestamp=int(time.time()) - 6 * 60)
        await bot.settle()
        assert stale.status == 401
        assert fake.calls("chat.postMessage") == [] and bot.outcomes == []


async def test_a_retried_event_is_handled_once(make_app, database_url) -> None:  # noqa: ANN001
    fake = FakeSlack(users=directory())
    async with running_bot(make_app, fake, database_url=database_url) as bot:
        event = channel_message("U0CAM", "help", "1762070405.000500", channel="D0CAM", channel_type="im")
        first = await bot.event(event, event_id="Ev0006")
        await bot.settle()
        again = await bot.event(event, event_id="Ev0006", retry_num=1)
        # The same message under a new event id (Slack does that too) is still the same message.
        other_id = await bot.event(event, event_id="Ev0007", retry_num=2)
        await bot.settle()
    assert (first.status, again.status, other_id.status) == (200, 200, 200)
    assert len(fake.calls("chat.postMessage")) == 1
    assert [o.status for o in bot.outcomes] == ["ok", "duplicate", "duplicate"]


async def test_an_unknown_event_type_is_acknowledged_and_ignored(make_app, sqlite_url) -> None:  # noqa: ANN001
    fake = FakeSlack(users=directory())
    async with running_bot(make_app, fake, database_url=sqlite_url) as bot:
        before = len(fake.calls_)
        resp = await bot.event({"type": "emoji_changed", "subtype": "add", "name": "partyparrot",
                                "value": "https://emoji.example/partyparrot.gif", "event_ts": "1762070406.000600"},
                               event_id="Ev0008")
        await bot.settle()
        assert resp.status == 200
        # bolt checks the token once (auth.test) on the first request; nothing else is called.
        assert [c.method for c in fake.calls_[before:]] in ([], ["auth.test"]) and bot.outcomes == []


async def test_bot_messages_and_the_bots_own_messages_never_trigger_a_reply(make_app, sqlite_url) -> None:  # noqa: ANN001
    fake = FakeSlack(users=directory())
    async with running_bot(make_app, fake, database_url=sqlite_url) as bot:
        classic = {"type": "message", "subtype": "bot_message", "text": "help", "ts": "1762070407.000700",
                   "username": "classic-bot", "bot_id": "B888", "channel": "D0CAM", "channel_type": "im"}
        other_app = channel_message("U0ROBOT", "help", "1762070407.000800", channel="D0CAM", channel_type="im",
                                    bot_id="B999", bot_profile={"id": "B999", "name": "other-app"})
        ourselves = channel_message(BOT_USER_ID, "help", "1762070407.000900", channel="D0CAM", channel_type="im")
        for n, event in enumerate((classic, other_app, ourselves)):
            assert (await bot.event(event, event_id=f"Ev01{n}")).status == 200
        await bot.settle()
        assert fake.calls("chat.postMessage") == [] and fake.calls("chat.postEphemeral") == []


async def test_public_channel_messages_are_queued_for_indexing_and_private_ones_never(make_app, database_url) -> None:  # noqa: ANN001
    fake = FakeSlack(users=directory())
    async with running_bot(make_app, fake, database_url=database_url) as bot:
        await bot.event(channel_message("U0ADA", "We moved the Kafka cluster to Kubernetes", "1762070408.000100"),
                        event_id="Ev0101")
        await bot.event(channel_message("U0BOB", "Reply in the thread about Kafka partitions", "1762070408.000200",
                                        thread_ts="1762070408.000100", parent_user_id="U0ADA"), event_id="Ev0102")
        await bot.event(channel_message("U0ADA", "secret roadmap", "1762070408.000300", channel="G0PRIV",
                                        channel_type="group"), event_id="Ev0103")
        await bot.event(channel_message("U0ADA", "group chat", "1762070408.000400", channel="G0MPIM",
                                        channel_type="mpim"), event_id="Ev0104")
        await bot.settle()
        with bot.app.db.session(WS_KEY) as s:
            queued = {r.ts: r for r in s.scalars(select(IngestItem)).all()}
    assert set(queued) == {"1762070408.000100", "1762070408.000200"}
    reply = queued["1762070408.000200"]
    assert reply.thread_ts == "1762070408.000100" and reply.parent_user_id == "U0ADA"
    assert reply.permalink == "https://acme.slack.com/archives/C0GENERAL/p1762070408000200?thread_ts=1762070408.000100&cid=C0GENERAL"
    # Events name channels by id only; the name is asked once per channel and kept.
    assert {r.conversation_name for r in queued.values()} == {"general"}
    assert [c["channel"] for c in fake.calls("conversations.info")] == ["C0GENERAL", "G0PRIV"]
    assert fake.calls("chat.postMessage") == []  # nobody spoke to the bot


async def test_edits_are_reindexed_and_deletions_queue_a_delete(make_app, database_url) -> None:  # noqa: ANN001
    fake = FakeSlack(users=directory())
    async with running_bot(make_app, fake, database_url=database_url) as bot:
        await bot.event(channel_message("U0ADA", "Terraform modules for the VPC", "1762070409.000100"), event_id="Ev0201")
        edit = {"type": "message", "subtype": "message_changed", "channel": "C0GENERAL", "channel_type": "channel",
                "hidden": True, "ts": "1762070409.000900", "event_ts": "1762070409.000900",
                "message": {"type": "message", "user": "U0ADA", "text": "Terraform modules for the VPC and Ansible",
                            "ts": "1762070409.000100", "edited": {"user": "U0ADA", "ts": "1762070409.000900"}},
                "previous_message": {"type": "message", "user": "U0ADA", "text": "Terraform modules for the VPC",
                                     "ts": "1762070409.000100"}}
        await bot.event(edit, event_id="Ev0202")
        await bot.settle()
        with bot.app.db.session(WS_KEY) as s:
            row = s.scalars(select(IngestItem)).one()
            assert (row.op, row.text) == ("upsert", "Terraform modules for the VPC and Ansible")
        deletion = {"type": "message", "subtype": "message_deleted", "channel": "C0GENERAL", "channel_type": "channel",
                    "hidden": True, "deleted_ts": "1762070409.000100", "ts": "1762070409.001000",
                    "event_ts": "1762070409.001000",
                    "previous_message": {"type": "message", "user": "U0ADA", "text": "Terraform modules for the VPC and Ansible",
                                         "ts": "1762070409.000100"}}
        await bot.event(deletion, event_id="Ev0203")
        await bot.settle()
        with bot.app.db.session(WS_KEY) as s:
            row = s.scalars(select(IngestItem)).one()
            assert (row.op, row.text) == ("delete", "")
    assert fake.calls("chat.postMessage") == []


async def test_a_429_is_retried_after_retry_after_and_delivered_once(make_app, sqlite_url) -> None:  # noqa: ANN001
    fake = FakeSlack(users=directory())
    async with running_bot(make_app, fake, database_url=sqlite_url) as bot:
        fake.rate_limit_once("chat.postMessage", retry_after=0)
        await bot.event(channel_message("U0CAM", "help", "1762070410.000100", channel="D0CAM", channel_type="im"),
                        event_id="Ev0301")
        await bot.settle()
    attempts = fake.calls("chat.postMessage")
    assert len(attempts) == 2 and attempts[0] == attempts[1]  # the same message, sent again after the 429
    assert [o.status for o in bot.outcomes] == ["ok"] and len(bot.outcomes[0].sent) == 1


async def test_team_join_and_user_change_keep_the_directory_current(make_app, database_url) -> None:  # noqa: ANN001
    fake = FakeSlack(users=directory())
    async with running_bot(make_app, fake, database_url=database_url) as bot:
        newcomer = slack_user("U0DAN", "Dan Brown", title="Finance")
        await bot.event({"type": "team_join", "user": newcomer, "event_ts": "1762070411.000100"}, event_id="Ev0401")
        moved = slack_user("U0BOB", "Bob Martin", title="Marketing", locale="fr-FR")
        await bot.event({"type": "user_change", "user": moved, "event_ts": "1762070411.000200"}, event_id="Ev0402")
        gone = slack_user("U0CAM", "Camille Durand", title="People", deleted=True)
        await bot.event({"type": "user_change", "user": gone, "event_ts": "1762070411.000300"}, event_id="Ev0403")
        await bot.settle()
        with bot.app.db.session(WS_KEY) as s:
            dan, bob, cam = people.get(s, "U0DAN"), people.get(s, "U0BOB"), people.get(s, "U0CAM")
            assert dan is not None and dan.team == "Finance" and dan.name == "Dan Brown"
            assert bob is not None and bob.team == "Marketing"
            assert cam is not None and cam.deleted


async def test_opening_the_home_tab_publishes_a_view_in_the_users_language(make_app, sqlite_url) -> None:  # noqa: ANN001
    fake = FakeSlack(users=directory())
    async with running_bot(make_app, fake, database_url=sqlite_url) as bot:
        await bot.event({"type": "app_home_opened", "user": "U0BOB", "channel": "D0BOB", "tab": "home",
                         "event_ts": "1762070412.000100"}, event_id="Ev0501")
        # Opening the Messages tab is not a visit to the home.
        await bot.event({"type": "app_home_opened", "user": "U0BOB", "channel": "D0BOB", "tab": "messages",
                         "event_ts": "1762070412.000200"}, event_id="Ev0502")
        await bot.settle()
    published = fake.calls("views.publish")
    assert len(published) == 1 and published[0]["user_id"] == "U0BOB"
    view = published[0]["view"] if isinstance(published[0]["view"], dict) else json.loads(published[0]["view"])
    assert view["type"] == "home"
    assert view["blocks"][0]["text"]["text"] == "Bonjour, je suis Liaison"
    assert any("aide" in (b.get("text") or {}).get("text", "") for b in view["blocks"])


async def test_uninstall_marks_the_workspace_inactive_and_erases_it_when_configured(make_app, database_url) -> None:  # noqa: ANN001
    fake = FakeSlack(users=directory())
    async with running_bot(make_app, fake, database_url=database_url,
                           slack={"min_seconds_between_messages": 0.0, "delete_data_on_uninstall": True}) as bot:
        await bot.event(channel_message("U0ADA", "Kafka lag again", "1762070413.000100"), event_id="Ev0601")
        await bot.settle()
        await bot.event({"type": "app_uninstalled", "event_ts": "1762070413.000200"}, event_id="Ev0602")
        await bot.settle()
        with bot.app.db.session(WS_KEY) as s:
            assert s.scalars(select(PersonRow)).all() == []
            assert s.scalars(select(IngestItem)).all() == []
        with bot.app.db.session(None) as s:
            installed = s.get(Installation, WS_KEY)
            assert installed is not None and not installed.active


async def test_uninstall_keeps_the_data_by_default(make_app, sqlite_url) -> None:  # noqa: ANN001
    fake = FakeSlack(users=directory())
    async with running_bot(make_app, fake, database_url=sqlite_url) as bot:
        await bot.event({"type": "tokens_revoked", "tokens": {"oauth": [], "bot": [BOT_USER_ID]},
                         "event_ts": "1762070414.000100"}, event_id="Ev0701")
        await bot.settle()
        with bot.app.db.session(WS_KEY) as s:
            assert len(s.scalars(select(PersonRow)).all()) == 3
        with bot.app.db.session(None) as s:
            assert not s.get(Installation, WS_KEY).active


async def test_a_refused_bot_token_stops_the_start_with_a_clear_message(make_app, sqlite_url) -> None:  # noqa: ANN001
    from bot.ports import ChatError

    fake = await FakeSlack().start()
    try:
        fake.fail("auth.test", "invalid_auth")
        app = make_app(database_url=sqlite_url, platforms=["slack"],
                       env={"SLACK_BOT_TOKEN": "xoxb-revoked", "SLACK_SIGNING_SECRET": "s", "SLACK_API_URL": fake.api_url})
        with pytest.raises(ChatError, match="invalid_auth.*SLACK_BOT_TOKEN"):
            await app.adapters["slack"].start()
        assert fake.calls("users.list") == []
    finally:
        await fake.stop()


def test_slack_without_a_way_to_receive_events_does_not_start(make_app, sqlite_url) -> None:  # noqa: ANN001
    from bot.config import ConfigError

    with pytest.raises(ConfigError, match="SLACK_SIGNING_SECRET.*SLACK_APP_TOKEN"):
        make_app(database_url=sqlite_url, platforms=["slack"], env={"SLACK_BOT_TOKEN": "xoxb-test"})


async def test_a_directory_that_cannot_be_read_does_not_stop_the_start(make_app, sqlite_url, caplog) -> None:  # noqa: ANN001
    fake = FakeSlack(users=directory())
    fake.fail("users.list", "missing_scope")
    async with running_bot(make_app, fake, database_url=sqlite_url) as bot:
        assert bot.adapter.bot_user_id == BOT_USER_ID
        with bot.app.db.session(WS_KEY) as s:
            assert s.scalars(select(PersonRow)).all() == []
    assert any("users:read" in r.getMessage() and "missing_scope" in r.getMessage() for r in caplog.records)

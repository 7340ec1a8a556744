"""Slack payloads -> neutral events (adapters.slack.translate), on payloads shaped like the ones
Slack sends, including the odd and the malformed (the pacing of SlackChat is checked in
test_adapters_common.py, with the Pacer both platforms share)."""

from __future__ import annotations

import datetime as dt

from adapters.slack import translate
from adapters.slack.chat import blocks_for
from bot.events import ActionInvoked, Button, CommandInvoked, MemberJoined, MemberLeft, Workspace
from tests.http.fake_slack import channel_message, event_envelope, slack_user

BOT = "U0BOT"
URL = "https://acme.slack.com/"


def body(event: dict, event_id: str = "Ev1") -> dict:
    return event_envelope(event, event_id=event_id, team_id="T111")


def test_a_public_channel_message_carries_ids_time_permalink_and_mentions() -> None:
    m = translate.message_event(body(channel_message("U1", "ask <@U2> or <@W3|wanda> about Kafka", "1596183880.004200")),
                                bot_user_id=BOT, team_url=URL)
    assert m is not None
    assert m.workspace == Workspace("slack", "T111") and m.event_id == "Ev1" and m.ts == "1596183880.004200"
    assert (m.conversation.id, m.conversation.kind) == ("C0GENERAL", "channel")
    assert m.mentions == ("U2", "W3") and not m.addressed and m.thread_ts is None
    assert m.permalink == "https://acme.slack.com/archives/C0GENERAL/p1596183880004200"
    assert m.time == dt.datetime(2020, 7, 31, 8, 24, 40, 4200, tzinfo=dt.timezone.utc)


def test_channel_types_map_to_conversation_kinds() -> None:
    kinds = {}
    for channel_type, channel in (("channel", "C1"), ("group", "G1"), ("im", "D1"), ("mpim", "G2")):
        m = translate.message_event(body(channel_message("U1", "hello", "1.000001", channel=channel, channel_type=channel_type)),
                                    bot_user_id=BOT)
        kinds[channel_type] = (m.conversation.kind, m.addressed, m.permalink)
    assert kinds == {"channel": ("channel", False, None), "group": ("private", False, None),
                     "im": ("dm", True, None), "mpim": ("group", False, None)}


def test_a_mention_of_the_bot_addresses_it_and_is_stripped() -> None:
    m = translate.message_event(body(channel_message("U1", f"<@{BOT}> who knows Kafka?", "1.000002")), bot_user_id=BOT)
    assert m.addressed and m.text == "who knows Kafka?" and m.mentions == ()
    mention = {"type": "app_mention", "user": "W222", "text": f"<@{BOT}|liaison>: aide", "ts": "1595926230.009600",
               "channel": "C111", "event_ts": "1595926230.009600"}
    m = translate.app_mention_event(body(mention), bot_user_id=BOT)
    assert m.addressed and m.text == "aide"
    # An app_mention does not say whether its channel is public: private until Slack says so.
    assert (m.conversation.kind, m.permalink) == ("private", None)
    # Before auth.test has answered, the first mention of an app_mention is still the bot's.
    m = translate.app_mention_event(body({**mention, "text": "<@W111> Hi there!"}), bot_user_id=None)
    assert m.addressed and m.text == "Hi there!"


def test_thread_replies_and_broadcasts_keep_their_thread() -> None:
    reply = translate.message_event(body(channel_message("U2", "use acks=all", "2.000002", thread_ts="2.000001",
                                                         parent_user_id="U1")), bot_user_id=BOT, team_url=URL)
    assert reply.thread_ts == "2.000001" and reply.parent_user_id == "U1"
    assert reply.permalink.endswith("/p2000002?thread_ts=2.000001&cid=C0GENERAL")
    broadcast = translate.message_event(body(channel_message("U2", "Hi there!", "2.000003", thread_ts="2.000001",
                                                             subtype="thread_broadcast")), bot_user_id=BOT)
    assert broadcast is not None and broadcast.thread_ts == "2.000001"
    # A thread's root message names itself as thread_ts; it is not "in a thread".
    root = translate.message_event(body(channel_message("U1", "root", "2.000001", thread_ts="2.000001")), bot_user_id=BOT)
    assert root.thread_ts is None


def test_file_shares_count_for_their_text_and_notices_are_ignored() -> None:
    shared = translate.message_event(body(channel_message("U1", "Hi there!", "3.000001", subtype="file_share",
                                                          files=[{"id": "F111", "name": "file.png"}])), bot_user_id=BOT)
    assert shared is not None and shared.text == "Hi there!"
    for subtype in ("channel_join", "channel_topic", "bot_message", "message_replied"):
        assert translate.message_event(body(channel_message("U1", "x", "3.000002", subtype=subtype)), bot_user_id=BOT) is None


def test_bots_and_the_bot_itself_are_never_senders() -> None:
    assert translate.message_event(body(channel_message("UB111", "hi", "4.1", bot_id="B999")), bot_user_id=BOT) is None
    assert translate.message_event(body(channel_message(BOT, "hi", "4.2")), bot_user_id=BOT) is None
    classic = {"type": "message", "subtype": "bot_message", "text": "hi", "ts": "4.3", "bot_id": "B888",
               "channel": "C111", "channel_type": "channel"}
    assert translate.message_event(body(classic), bot_user_id=BOT) is None


def test_edits_and_deletions() -> None:
    changed = {"type": "message", "subtype": "message_changed", "channel": "C111", "channel_type": "channel",
               "hidden": True, "ts": "1665102362.013600",
               "message": {"type": "message", "text": "updated message", "user": "U111",
                           "edited": {"user": "U111", "ts": "1665102362.000000"}},
               "previous_message": {"type": "message", "text": "original message", "user": "U111",
                                    "ts": "1665102338.901939"}}
    m = translate.message_event(body(changed), bot_user_id=BOT)
    assert m.edited and m.text == "updated message" and m.ts == "1665102338.901939" and m.sender.id == "U111"
    # An unfurl re-sends the same text: nothing to re-index.
    same = {**changed, "message": {**changed["message"], "text": "original message"}}
    assert translate.message_event(body(same), bot_user_id=BOT) is None
    # Edits in DMs and edits of questions to the bot are not re-answered.
    assert translate.message_event(body({**changed, "channel": "D1", "channel_type": "im"}), bot_user_id=BOT) is None
    asked = {**changed, "message": {**changed["message"], "text": f"<@{BOT}> who knows Kafka"}}
    assert translate.message_event(body(asked), bot_user_id=BOT) is None

    deleted = {"type": "message", "subtype": "message_deleted", "channel": "C111", "channel_type": "channel",
               "hidden": True, "deleted_ts": "1665368619.804829", "ts": "1665368629.007100",
               "previous_message": {"type": "message", "text": "Delete this message", "user": "U111",
                                    "ts": "1665368619.804829"}}
    m = translate.message_event(body(deleted), bot_user_id=BOT)
    assert m.deleted and m.ts == "1665368619.804829" and m.text == "" and m.sender.id == "U111"


def test_malformed_messages_are_dropped_not_raised() -> None:
    assert translate.message_event({"type": "event_callback"}, bot_user_id=BOT) is None  # no event, no team
    assert translate.message_event(body({"type": "message", "text": "x", "ts": "1.1"}), bot_user_id=BOT) is None  # no channel
    assert translate.message_event(body({"type": "message", "channel": "C1", "ts": "1.1"}), bot_user_id=BOT) is None  # no user
    assert translate.message_event(body({"type": "message", "channel": "C1", "user": "U1"}), bot_user_id=BOT) is None  # no ts
    odd = translate.message_event(body(channel_message("U1", "x", "not-a-ts")), bot_user_id=BOT)
    assert odd is not None and odd.time is None
    assert translate.reaction_event(body({"type": "reaction_added", "user": "U1", "reaction": "pray",
                                          "item": {"type": "file", "file": "F1"}})) is None


def test_reactions_and_channel_membership() -> None:
    r = translate.reaction_event(body({"type": "reaction_added", "user": "W111", "reaction": "heart_eyes",
                                       "item": {"type": "message", "channel": "C111", "ts": "1599529504.000400"},
                                       "item_user": "W222", "event_ts": "1599616881.000800"}))
    assert (r.reaction, r.item_ts, r.item_author, r.sender.id, r.conversation.id) == (
        "heart_eyes", "1599529504.000400", "W222", "W111", "C111")
    joined = translate.member_channel_event(body({"type": "member_joined_channel", "user": "W23456789", "channel": "C111",
                                                  "channel_type": "C", "inviter": "U222"}))
    assert isinstance(joined, MemberJoined) and joined.person.id == "W23456789" and joined.conversation.kind == "channel"
    left = translate.member_channel_event(body({"type": "member_left_channel", "user": "W2", "channel": "G1",
                                                "channel_type": "G"}))
    assert isinstance(left, MemberLeft) and left.conversation.kind == "private"


def test_slash_commands() -> None:
    form = {"token": "verification_token", "team_id": "T111", "team_domain": "test-domain", "channel_id": "C111",
            "channel_name": "random", "user_id": "W111", "user_name": "primary-owner", "command": "/WhoKnows",
            "text": "  kafka  ", "response_url": "https://hooks.slack.com/commands/T111/111/xxxxx",
            "trigger_id": "111.111.xxx"}
    c = translate.slash_command(form)
    assert isinstance(c, CommandInvoked)
    assert (c.command, c.text, c.sender.id, c.event_id) == ("whoknows", "kafka", "W111", "command:111.111.xxx")
    # "random" may be a private channel with a C id: private until Slack says so.
    assert (c.conversation.id, c.conversation.kind, c.conversation.name) == ("C111", "private", "random")
    kinds = {name: translate.slash_command({**form, "channel_name": name, "channel_id": cid}).conversation.kind
             for name, cid in (("directmessage", "D1"), ("privategroup", "G1"), ("mpdm-a--b-1", "G2"))}
    assert kinds == {"directmessage": "dm", "privategroup": "private", "mpdm-a--b-1": "group"}
    thanks = translate.slash_command({**form, "command": "/thanks", "text": "<@U0ADA|ada> for the help"})
    assert thanks.mentions == ("U0ADA",)
    assert translate.slash_command({**form, "user_id": ""}) is None


def test_block_actions() -> None:
    payload = {"type": "block_actions", "user": {"id": "W111", "username": "primary-owner", "team_id": "T111"},
               "container": {"type": "message", "message_ts": "111.222", "channel_id": "C111", "is_ephemeral": True},
               "team": {"id": "T111", "domain": "workspace-domain"}, "channel": {"id": "C111", "name": "test-channel"},
               "actions": [{"action_id": "coffee.met", "block_id": "b", "value": "42", "type": "button",
                            "action_ts": "1596530385.194939"}]}
    a = translate.block_action(payload)
    assert isinstance(a, ActionInvoked)
    assert (a.action_id, a.value, a.ts, a.sender.id, a.workspace.id) == ("coffee.met", "42", "111.222", "W111", "T111")
    assert translate.block_action({**payload, "actions": []}) is None


def test_people_from_the_directory() -> None:
    p = translate.person_from_user(slack_user("U1", "Ada Lovelace", title="Platform", is_owner=True, locale="fr-CH"))
    assert (p.id, p.name, p.team, p.tz, p.locale, p.is_admin, p.is_bot) == (
        "U1", "Ada Lovelace", "Platform", "Europe/Paris", "fr-CH", True, False)
    custom = slack_user("U2", "Bob Martin")
    custom["profile"]["fields"] = {"Xf01DEPT": {"value": "Finance", "alt": ""}}
    assert translate.person_from_user(custom, team_field="Xf01DEPT").team == "Finance"
    assert translate.person_from_user(slack_user("U3", "No Title")).team is None
    assert not translate.is_active_human(slack_user("U4", "Gone", deleted=True))
    assert not translate.is_active_human(slack_user("U5", "Robot", is_bot=True))
    assert not translate.is_active_human({"id": "USLACKBOT", "name": "slackbot"})
    assert translate.directory_user(body({"type": "user_change", "user": "not-an-object"})) is None


def test_blocks_split_long_text_and_render_buttons() -> None:
    assert blocks_for("plain", ()) is None
    text = "\n".join(f"line {i} " + "x" * 90 for i in range(60))  # about 6,000 characters
    blocks = blocks_for(text, (Button("Yes", "coffee.met", "1"),))
    sections = [b for b in blocks if b["type"] == "section"]
    assert len(sections) >= 2 and all(len(b["text"]["text"]) <= 3000 for b in sections)
    assert "\n".join(b["text"]["text"] for b in sections) == text
    assert blocks[-1]["elements"][0]["action_id"] == "coffee.met"

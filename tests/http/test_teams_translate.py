"""The pure parts of the Teams adapter: activities to neutral events, neutral markup to Teams
text, Adaptive Cards, and the configuration checks (pacing and retry delays: test_adapters_common.py)."""

from __future__ import annotations

import pytest

from adapters.teams import translate
from adapters.teams.cards import button_card
from adapters.teams.render import render
from bot.config import ConfigError
from bot.events import ActionInvoked, Button, MessageReceived
from tests.http.fake_connector import BOT_ID, CHANNEL_ID, TEAM_ID, TENANT, Activities

ALICE = ("29:1alice", "Alice Martin")
BOB = ("29:1bob", "Bob Durand")
ACTS = Activities("https://smba.trafficmanager.net/amer/")


def test_a_channel_mention_of_the_bot_is_addressed_and_stripped() -> None:
    event = translate.message(ACTS.channel_message(ALICE, "{bot} who knows Kafka?"))
    assert isinstance(event, MessageReceived)
    assert event.text == "who knows Kafka?"
    assert event.addressed and event.mentions == ()
    assert (event.conversation.id, event.conversation.kind) == (CHANNEL_ID, "channel")
    assert event.workspace.key == f"teams:{TENANT}"
    assert event.thread_ts is None  # a new post starts its own thread
    assert event.sender.name == "Alice Martin" and event.sender.locale == "en-US"


def test_mentions_of_people_become_user_references_in_order() -> None:
    body = ACTS.channel_message(ALICE, "thanks {Bob Durand} and {Carol Smith}!", mentions=(BOB, ("29:1carol", "Carol Smith")))
    event = translate.message(body)
    assert event.text == "thanks <@29:1bob> and <@29:1carol>!"
    assert event.mentions == ("29:1bob", "29:1carol")
    assert not event.addressed  # a plain channel message: indexed, not a question to the bot
    assert [p.name for p in translate.mentioned_people(body, BOT_ID)] == ["Bob Durand", "Carol Smith"]


def test_a_reply_in_a_thread_names_its_first_post() -> None:
    event = translate.message(ACTS.channel_message(ALICE, "agreed", thread_root="1571000000000"))
    assert event.thread_ts == "1571000000000" and event.ts != event.thread_ts
    assert event.permalink and "parentMessageId=1571000000000" in event.permalink


def test_the_recorded_teams_mention_payload_is_understood() -> None:
    # The shape Teams really posts (botbuilder-js recordings): text ends with a newline, the
    # bot's mention is glued to the words, the conversation id carries ;messageid=.
    body = {
        "text": "<at>My Combined</at>show members\n", "textFormat": "plain", "type": "message", "id": "1571540169848",
        "channelId": "msteams", "serviceUrl": "https://smba.trafficmanager.net/amer/",
        "from": {"id": "29:1CFIx", "name": "Dana Tester", "aadObjectId": "6b70"},
        "conversation": {"isGroup": True, "conversationType": "channel", "tenantId": TENANT,
                         "id": f"{TEAM_ID};messageid=1571540169848"},
        "recipient": {"id": "28:eac5", "name": "teams2"},
        "entities": [{"mentioned": {"id": "28:eac5", "name": "My Combined"}, "text": "<at>My Combined</at>", "type": "mention"},
                     {"locale": "en-US", "country": "US", "platform": "Windows", "type": "clientInfo"}],
        "channelData": {"teamsChannelId": TEAM_ID, "teamsTeamId": TEAM_ID, "channel": {"id": TEAM_ID},
                        "team": {"id": TEAM_ID}, "tenant": {"id": TENANT}},
        "locale": "en-US",
    }
    event = translate.message(body)
    assert (event.text, event.addressed, event.conversation.id, event.ts) == ("show members", True, TEAM_ID, "1571540169848")


def test_personal_and_group_chats() -> None:
    dm = translate.message(ACTS.personal_message(ALICE, "help"))
    assert (dm.conversation.kind, dm.addressed, dm.text) == ("dm", True, "help")
    group = ACTS.personal_message(ALICE, "lunch?")
    group["conversation"] = {"isGroup": True, "conversationType": "groupChat", "tenantId": TENANT, "id": "19:g@thread.v2"}
    event = translate.message(group)
    assert (event.conversation.kind, event.addressed) == ("group", False)


def test_html_entities_and_tags_teams_leaves_in_text_are_cleaned() -> None:
    body = ACTS.personal_message(ALICE, "")
    body["text"] = "<p>Tom &amp; Jerry&nbsp;know  <b>Kafka</b></p>"
    assert translate.message(body).text == "Tom & Jerry know Kafka"


def test_a_card_submit_is_an_action() -> None:
    event = translate.message(ACTS.card_submit(ALICE, "coffee.met", "42", reply_to="1:abc"))
    assert isinstance(event, ActionInvoked)
    assert (event.action_id, event.value, event.ts, event.conversation.kind) == ("coffee.met", "42", "1:abc", "dm")


def test_an_action_execute_invoke_is_an_action() -> None:
    body = ACTS.card_submit(ALICE, "x", "y", reply_to="1:abc")
    body.update(type="invoke", name="adaptiveCard/action",
                value={"action": {"type": "Action.Execute", "verb": "met", "data": {"liaison_action": "coffee.not_met", "liaison_value": "7"}}})
    event = translate.action(body)
    assert (event.action_id, event.value) == ("coffee.not_met", "7")


def test_a_submit_without_our_action_is_refused() -> None:
    body = ACTS.card_submit(ALICE, "x", "y", reply_to="1:abc")
    body["value"] = {"liaison_action": ""}
    with pytest.raises(translate.MalformedActivity, match="liaison_action"):
        translate.action(body)


@pytest.mark.parametrize(
    "kind, name",
    [("like", "+1"), ("heart", "heart"), ("laugh", "laughing"), ("surprised", "open_mouth"), ("sad", "cry"),
     ("angry", "angry"), ("1f64f_foldedhands", "pray"), ("1f44b_wavinghand", "wave"), ("1f9d0_facewithmonocle", "facewithmonocle"),
     ("Custom", "custom")],
)
def test_reaction_names(kind: str, name: str) -> None:
    assert translate.reaction_name(kind) == name


def test_reactions_can_be_renamed_by_settings() -> None:
    body = ACTS.reaction(BOB, "heart", reply_to="1571000000000")
    [event] = translate.reactions(body, {"heart": "pray"})
    assert (event.reaction, event.item_ts, event.item_author, event.sender.id) == ("pray", "1571000000000", None, BOB[0])


def test_members_added_and_the_bot_itself() -> None:
    change = translate.members_change(ACTS.members_added(ALICE, [BOB], team_name="Engineering"))
    assert [(e.person.id, e.person.team, e.conversation.id) for e in change.joined] == [(BOB[0], "Engineering", TEAM_ID)]
    assert not change.bot_added
    bot = translate.members_change(ACTS.bot_added_to_team(ALICE))
    assert bot.bot_added and bot.joined == ()


@pytest.mark.parametrize(
    "body, why",
    [
        ("text", "not a JSON object"),
        ({"type": "", "conversation": {"id": "a"}, "from": {"id": "b"}, "serviceUrl": "u"}, "no type"),
        ({"type": "message", "conversation": {}, "from": {"id": "b"}, "serviceUrl": "u"}, "no conversation.id"),
        ({"type": "message", "conversation": {"id": "a"}, "from": "b", "serviceUrl": "u"}, "no from.id"),
        ({"type": "message", "conversation": {"id": "a"}, "from": {"id": "b"}}, "no serviceUrl"),
    ],
)
def test_validation_says_what_is_missing(body: object, why: str) -> None:
    with pytest.raises(translate.MalformedActivity, match=why):
        translate.validate(body)


def test_render_mentions_links_bold_and_line_breaks() -> None:
    names = {"29:1bob": "Bob Durand"}
    text, entities = render("*Bob* helped: <@29:1bob> (<https://x.example/a|the fix>, <https://x.example/b>)\nnext <@29:1bob>",
                            lambda i: names.get(i, i))
    assert text == ("**Bob** helped: <at>Bob Durand</at> ([the fix](https://x.example/a), https://x.example/b)\n\n"
                    "next <at>Bob Durand</at>")
    assert entities == [{"type": "mention", "text": "<at>Bob Durand</at>", "mentioned": {"id": "29:1bob", "name": "Bob Durand"}}]


def test_render_leaves_bullets_and_arithmetic_alone() -> None:
    text, _ = render("• 2 * 3 = 6\n• a*b", str)
    assert text == "• 2 * 3 = 6\n\n• a*b"


def test_a_button_card() -> None:
    card = button_card((Button("Yes, we met", "coffee.met", "3", style="primary"), Button("Not yet", "coffee.not_met", "3")))
    actions = card["content"]["actions"]
    assert [a["data"] for a in actions] == [{"liaison_action": "coffee.met", "liaison_value": "3"},
                                            {"liaison_action": "coffee.not_met", "liaison_value": "3"}]
    assert actions[0]["style"] == "positive" and "style" not in actions[1]


def test_teams_without_an_app_id_or_no_auth_does_not_start(make_app) -> None:  # noqa: ANN001
    with pytest.raises(ConfigError, match="MICROSOFT_APP_ID"):
        make_app(platforms=["teams"])


def test_an_app_id_without_a_password_is_refused(make_app) -> None:  # noqa: ANN001
    with pytest.raises(ConfigError, match="MICROSOFT_APP_PASSWORD"):
        make_app(platforms=["teams"], env={"MICROSOFT_APP_ID": "abc"})


def test_single_tenant_needs_its_tenant(make_app) -> None:  # noqa: ANN001
    with pytest.raises(ConfigError, match="MICROSOFT_APP_TENANT_ID"):
        make_app(platforms=["teams"], env={"MICROSOFT_APP_ID": "abc", "MICROSOFT_APP_PASSWORD": "p",
                                           "MICROSOFT_APP_TYPE": "SingleTenant"})


def test_no_auth_refuses_to_listen_on_a_public_address(make_app) -> None:  # noqa: ANN001
    # The address checked is the one given, whatever server.host says (here a loopback one).
    adapter = make_app(platforms=["teams"], env={"LIAISON_TEAMS_NO_AUTH": "1"}, server={"host": "127.0.0.1"}).adapters["teams"]
    for host in ("0.0.0.0", "::", "", "192.0.2.2", "example.org"):
        with pytest.raises(ConfigError, match="loopback address, not"):
            adapter.check_listen_address(host)
    for host in ("127.0.0.1", "127.0.0.2", "::1", "localhost"):
        adapter.check_listen_address(host)
    authenticated = make_app(platforms=["teams"], env={"MICROSOFT_APP_ID": "abc", "MICROSOFT_APP_PASSWORD": "p"})
    authenticated.adapters["teams"].check_listen_address("0.0.0.0")  # tokens are checked: any address


def test_bad_teams_settings_say_which_key(make_app) -> None:  # noqa: ANN001
    with pytest.raises(ConfigError, match="roster_page_size"):
        make_app(platforms=["teams"], env={"LIAISON_TEAMS_NO_AUTH": "1"}, teams={"roster_page_size": 1000})

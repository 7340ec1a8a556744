"""Teams at the wire: the bot built by the real bootstrap, its web app on a loopback port,
activities posted to POST /api/messages as Teams posts them, and a fake Bot Connector (a real
HTTP server) receiving what the bot sends. Assertions are on the bodies Teams would receive and
on what the database holds."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from bot import people
from bot.db.models import ConversationRef, EventSeen, IngestItem, Installation, PersonRow
from bot.events import Button, DirectMessage, GroupMessage, Workspace
from tests.http.fake_connector import (
    BOT_ID,
    CHANNEL_ID,
    TEAM_ID,
    TENANT,
    Activities,
    FakeConnector,
    member,
    post,
    served,
)

WS = Workspace("teams", TENANT)
ALICE = ("29:1alice-Qx_aliceaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "Alice Martin")
BOB = ("29:1bob-Zy_bobbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", "Bob Durand")
CAROL = ("29:1carol-Wv_carolcccccccccccccccccccccccccccccccc", "Carol Smith")
DAVID = ("29:1david-Ut_daviddddddddddddddddddddddddddddddddd", "David Petit")
NO_AUTH = {"LIAISON_TEAMS_NO_AUTH": "1"}


def teams_app(make_app, database_url, *, env=None, **overrides):  # noqa: ANN001, ANN201
    # Retries wait 0 s in tests (a 429 answered once is retried at once); rosters are synced only
    # when a test asks, so the requests the fake records are the ones each test causes. The fake
    # connector is plain http on loopback, which only this setting lets the bot call.
    teams = {"retry_base_seconds": 0.0, "roster_sync_hours": 0, "allowed_service_hosts": ["http://127.0.0.1"],
             **overrides.pop("teams", {})}
    server = {"host": "127.0.0.1", **overrides.pop("server", {})}
    return make_app(database_url=database_url, platforms=["teams"], env=env or NO_AUTH, teams=teams,
                    server=server, **overrides)


def count(app, model, **where) -> int:  # noqa: ANN001
    with app.db.session(None) as s:
        q = select(func.count()).select_from(model)
        for k, v in where.items():
            q = q.where(getattr(model, k) == v)
        return s.scalar(q) or 0


async def test_help_in_a_personal_chat_is_answered_in_that_chat(make_app, database_url) -> None:  # noqa: ANN001
    app = teams_app(make_app, database_url)
    async with FakeConnector() as teams, served(app) as url:
        acts = Activities(teams.service_url)
        activity = acts.personal_message(ALICE, "help")
        status, _ = await post(url + "/api/messages", activity)
        assert status == 200
        await app.adapters["teams"].wait_idle()
    [sent] = teams.messages()
    assert sent.conversation_id == activity["conversation"]["id"]
    assert sent.path == f"/v3/conversations/{activity['conversation']['id']}/activities"
    assert sent.body["type"] == "message" and sent.body["textFormat"] == "markdown"
    assert sent.body["text"].startswith("Hi, I'm Liaison.")
    assert "**help**" in sent.body["text"]  # neutral *bold* became Markdown bold
    assert sent.body["from"]["id"] == BOT_ID
    # The sender and the references of the chat and of the person are stored.
    with app.db.session(WS.key) as s:
        assert people.get(s, ALICE[0]).name == "Alice Martin"
        keys = set(s.scalars(select(ConversationRef.key)).all())
    assert keys == {f"conversation:{activity['conversation']['id']}", f"user:{ALICE[0]}"}


async def test_a_mention_of_the_bot_in_a_channel_is_answered_in_the_thread(make_app, database_url) -> None:  # noqa: ANN001
    app = teams_app(make_app, database_url)
    async with FakeConnector() as teams, served(app) as url:
        acts = Activities(teams.service_url)
        root = acts.channel_message(BOB, "Anyone around?")
        question = acts.channel_message(ALICE, "{bot} help", thread_root=root["id"])
        for activity in (root, question):
            assert (await post(url + "/api/messages", activity))[0] == 200
        await app.adapters["teams"].wait_idle()
    [sent] = teams.messages()
    # Teams threads: the conversation "<channel>;messageid=<first post>", replying to that post.
    assert sent.conversation_id == f"{CHANNEL_ID};messageid={root['id']}"
    assert sent.reply_to == root["id"] and sent.body["replyToId"] == root["id"]
    assert "Liaison" not in sent.body["text"].split(".")[1]  # the bot's own mention is not echoed
    assert sent.body["text"].startswith("Hi, I'm Liaison.")
    # The plain post is queued for the index under the channel (not the thread) id; the question
    # to the bot is not evidence, so it is not queued.
    with app.db.session(WS.key) as s:
        queued = s.scalars(select(IngestItem)).all()
    assert [(q.conversation_id, q.ts, q.user_id, q.text) for q in queued] == [(CHANNEL_ID, root["id"], BOB[0], "Anyone around?")]
    assert queued[0].permalink.startswith("https://teams.microsoft.com/l/message/")


async def test_who_knows_end_to_end(make_app, database_url) -> None:  # noqa: ANN001
    pytest.importorskip("skills.expertise")
    app = teams_app(make_app, database_url)
    async with FakeConnector() as teams, served(app) as url:
        acts = Activities(teams.service_url)
        lines = [
            "We moved the Kafka consumers to the new cluster; the Kafka lag is fine now.",
            "Tip: Kafka consumer lag grows when the partitions are unbalanced, rebalance them.",
            "I tuned the Kafka retention settings for the billing topics.",
        ]
        # Bob answers in the thread of Alice's question: help, which the answer links to.
        root = acts.channel_message(ALICE, "How do we keep the Kafka consumer lag down?")
        assert (await post(url + "/api/messages", root))[0] == 200
        for line in lines:
            reply = acts.channel_message(BOB, line, thread_root=root["id"])
            assert (await post(url + "/api/messages", reply))[0] == 200
        await app.adapters["teams"].wait_idle()
        assert await asyncio_drain(app) == 4
        question = acts.channel_message(ALICE, "{bot} who knows Kafka?")
        assert (await post(url + "/api/messages", question))[0] == 200
        await app.adapters["teams"].wait_idle()
    [answer] = teams.messages()
    assert answer.reply_to == question["id"]
    assert answer.conversation_id == f"{CHANNEL_ID};messageid={question['id']}"
    assert "Bob Durand" in answer.body["text"] and "Kafka" in answer.body["text"]
    assert "Alice Martin" not in answer.body["text"]  # the asker is never listed
    # Links to the help are Markdown links to the Teams messages.
    assert "](https://teams.microsoft.com/l/message/" in answer.body["text"]


async def asyncio_drain(app) -> int:  # noqa: ANN001
    """The ingestion worker's drain (what `liaison worker` runs), off the event loop."""
    import asyncio

    from bot.ingest import IngestWorker

    return await asyncio.to_thread(IngestWorker(app).drain)


async def test_thanks_with_a_mention_entity_reaches_the_person_in_a_new_chat(make_app, database_url) -> None:  # noqa: ANN001
    pytest.importorskip("skills.kudos")
    app = teams_app(make_app, database_url)
    async with FakeConnector() as teams, served(app) as url:
        acts = Activities(teams.service_url)
        thanks = acts.channel_message(ALICE, "thanks {Bob Durand} for the Kafka help!", mentions=(BOB,))
        assert (await post(url + "/api/messages", thanks))[0] == 200
        await app.adapters["teams"].wait_idle()
    # Bob never wrote to the bot: a 1:1 chat is created with the connector, then used.
    [created] = teams.created()
    assert created.body["members"] == [{"id": BOB[0]}]
    assert created.body["bot"]["id"] == BOT_ID and created.body["tenantId"] == TENANT
    assert created.body["isGroup"] is False
    to_bob = [m for m in teams.messages() if m.conversation_id.startswith("a:fake-personal-")]
    assert len(to_bob) == 1
    body = to_bob[0].body
    # Alice is named with a real Teams mention: the tag in the text and its entity.
    assert "<at>Alice Martin</at>" in body["text"]
    assert {"type": "mention", "text": "<at>Alice Martin</at>", "mentioned": {"id": ALICE[0], "name": "Alice Martin"}} in body["entities"]
    # The reference of the new chat is kept for the next time.
    with app.db.session(WS.key) as s:
        ref = s.scalars(select(ConversationRef).where(ConversationRef.key == f"user:{BOB[0]}")).one()
    assert ref.reference["conversation"]["id"] == to_bob[0].conversation_id


async def test_a_typed_admin_command_and_its_refusal(make_app, database_url) -> None:  # noqa: ANN001
    pytest.importorskip("skills.coffee")
    app = teams_app(make_app, database_url, bot={"hr_admins": [ALICE[0]]})
    async with FakeConnector() as teams, served(app) as url:
        acts = Activities(teams.service_url)
        refused = acts.channel_message(BOB, "{bot} coffee cadence weekly on monday at 10:00")
        accepted = acts.channel_message(ALICE, "{bot} coffee cadence weekly on monday at 10:00")
        assert (await post(url + "/api/messages", refused))[0] == 200
        await app.adapters["teams"].wait_idle()
        assert (await post(url + "/api/messages", accepted))[0] == 200
        await app.adapters["teams"].wait_idle()
    no, yes = teams.messages()
    assert no.reply_to == refused["id"] and yes.reply_to == accepted["id"]
    assert "admin" in no.body["text"].lower()
    assert "admin" not in yes.body["text"].lower()
    assert "monday" in yes.body["text"].lower() or "10:00" in yes.body["text"]


async def test_proactive_messages_after_a_restart_use_the_stored_references(make_app, database_url) -> None:  # noqa: ANN001
    async with FakeConnector() as teams:
        acts = Activities(teams.service_url)
        first = teams_app(make_app, database_url)
        chats = {}
        async with served(first) as url:
            for who in (ALICE, BOB, CAROL):
                activity = acts.personal_message(who, "hello")
                chats[who[0]] = activity["conversation"]["id"]
                assert (await post(url + "/api/messages", activity))[0] == 200
            await first.adapters["teams"].wait_idle()
        first.close()
        teams.requests.clear()

        # A new process on the same database: nothing in memory, only the stored references.
        second = teams_app(make_app, database_url)
        chat = second.adapters["teams"].chat
        intro = GroupMessage((ALICE[0], BOB[0], CAROL[0]), "You are paired for a coffee this week!")
        async with served(second):
            sent = await chat.send(WS, intro)
            await chat.send(WS, DirectMessage(ALICE[0], "Did you meet?", buttons=(Button("Yes", "coffee.met", "g1"),)))
    assert teams.created() == []  # every chat was known: none was created
    group = teams.messages()[:3]
    assert [m.conversation_id for m in group] == [chats[ALICE[0]], chats[BOB[0]], chats[CAROL[0]]]
    assert sent.conversation_id == chats[ALICE[0]]
    # Each member is told who the others are, with mentions Teams notifies.
    to_alice = group[0].body
    assert to_alice["text"].startswith("A message for you and <at>Bob Durand</at> and <at>Carol Smith</at>:")
    assert [e["mentioned"]["id"] for e in to_alice["entities"]] == [BOB[0], CAROL[0]]
    assert "You are paired for a coffee this week!" in to_alice["text"]
    to_bob = group[1].body
    assert "<at>Alice Martin</at> and <at>Carol Smith</at>" in to_bob["text"]
    # A button is an Adaptive Card whose submit data brings the action back.
    card = teams.messages()[3].body["attachments"][0]
    assert card["contentType"] == "application/vnd.microsoft.card.adaptive"
    [action] = card["content"]["actions"]
    assert action == {"type": "Action.Submit", "title": "Yes", "data": {"liaison_action": "coffee.met", "liaison_value": "g1"}}


async def test_the_bot_added_to_a_team_says_hello_and_syncs_the_roster(make_app, database_url) -> None:  # noqa: ANN001
    app = teams_app(make_app, database_url, teams={"roster_page_size": 50})
    async with FakeConnector() as teams, served(app) as url:
        roster = [member(ALICE[0], ALICE[1]), member(BOB[0], BOB[1])]
        roster += [member(f"29:1person{i:03d}", f"Person{i:03d} Example") for i in range(58)]
        teams.members[TEAM_ID] = roster
        teams.teams[TEAM_ID] = {"id": TEAM_ID, "name": "Engineering", "aadGroupId": "g"}
        teams.channels[TEAM_ID] = [{"id": TEAM_ID}, {"id": CHANNEL_ID, "name": "Kafka Guild"}]
        acts = Activities(teams.service_url)
        added = acts.bot_added_to_team(ALICE, team_name="Engineering")
        assert (await post(url + "/api/messages", added))[0] == 200
        await app.adapters["teams"].wait_idle()
        # Redelivered: no second hello.
        assert (await post(url + "/api/messages", added))[0] == 200
        await app.adapters["teams"].wait_idle()
        # Channel messages carry no channel name: the one learnt from the team's list is used.
        seen = []
        app.dispatcher.hooks_after.append(lambda event, outcome: seen.append(event.conversation))
        assert (await post(url + "/api/messages", acts.channel_message(BOB, "Morning all")))[0] == 200
        await app.adapters["teams"].wait_idle()
    assert [(c.id, c.kind, c.name) for c in seen] == [(CHANNEL_ID, "channel", "Kafka Guild")]
    [hello] = teams.messages()
    assert hello.conversation_id == TEAM_ID and hello.reply_to is None
    assert hello.body["text"].startswith("Hi, I'm Liaison!")
    pages = [r for r in teams.requests if r.path.endswith("/pagedmembers")]
    # 60 members in pages of 50, each sync following the continuation token.
    assert [r.query.get("continuationToken") for r in pages][:2] == [None, "50"]
    with app.db.session(None) as s:
        assert s.get(Installation, WS.key).active  # scheduled jobs (digests, coffee sweeps) run for it
    with app.db.session(WS.key) as s:
        assert people.count(s) == 60
        bob = people.get(s, BOB[0])
        assert (bob.name, bob.email, bob.team) == ("Bob Durand", "bob@example.com", "Engineering")
        assert s.scalars(select(ConversationRef.key).where(ConversationRef.key == f"team:{TEAM_ID}")).one()


async def test_members_added_become_member_joined_events(make_app, database_url) -> None:  # noqa: ANN001
    app = teams_app(make_app, database_url)
    seen = []
    app.dispatcher.hooks_after.append(lambda event, outcome: seen.append((type(event).__name__, getattr(event, "person", None))))
    async with FakeConnector() as teams, served(app) as url:
        acts = Activities(teams.service_url)
        activity = acts.members_added(ALICE, [BOB, CAROL], team_name="Engineering")
        assert (await post(url + "/api/messages", activity))[0] == 200
        await app.adapters["teams"].wait_idle()
    joined = sorted(p.id for kind, p in seen if kind == "MemberJoined")
    assert joined == sorted([BOB[0], CAROL[0]])
    assert teams.messages() == []  # people joining get no hello from the adapter (skills decide)
    with app.db.session(WS.key) as s:
        assert people.get(s, BOB[0]).team == "Engineering"


async def test_without_authorization_an_app_id_means_401_and_nothing_stored(make_app, database_url) -> None:  # noqa: ANN001
    env = {"MICROSOFT_APP_ID": "eac5e5c6-ab14-4f50-80cb-49213fe51b1a", "MICROSOFT_APP_PASSWORD": "not-a-real-secret"}
    app = teams_app(make_app, database_url, env=env)
    async with FakeConnector() as teams, served(app) as url:
        acts = Activities(teams.service_url)
        status, answer = await post(url + "/api/messages", acts.personal_message(ALICE, "help"))
        await app.adapters["teams"].wait_idle()
    assert status == 401 and "Authorization" in answer["error"]
    assert teams.requests == []
    for model in (PersonRow, ConversationRef, EventSeen, IngestItem):
        assert count(app, model) == 0


async def test_a_token_that_is_not_a_jwt_is_refused(make_app, database_url) -> None:  # noqa: ANN001
    env = {"MICROSOFT_APP_ID": "eac5e5c6-ab14-4f50-80cb-49213fe51b1a", "MICROSOFT_APP_PASSWORD": "not-a-real-secret"}
    app = teams_app(make_app, database_url, env=env)
    async with FakeConnector() as teams, served(app) as url:
        acts = Activities(teams.service_url)
        status, _ = await post(url + "/api/messages", acts.personal_message(ALICE, "help"),
                               headers={"Authorization": "Bearer not.a.jwt"})
        await app.adapters["teams"].wait_idle()
    assert status == 401
    assert teams.requests == [] and count(app, PersonRow) == 0 and count(app, ConversationRef) == 0


@pytest.mark.parametrize(
    "raw, why",
    [
        (b"this is not json", "not JSON"),
        (b"[1, 2]", "not a JSON object"),
        (b'{"text": "help"}', "no type"),
        (b'{"type": "message", "text": "help", "from": {"id": "29:x"}, "serviceUrl": "http://127.0.0.1:9/"}', "no conversation.id"),
        (b'{"type": "message", "conversation": {"id": "a:1"}, "serviceUrl": "http://127.0.0.1:9/"}', "no from.id"),
        (b'{"type": "message", "conversation": {"id": "a:1"}, "from": {"id": "29:x"}}', "no serviceUrl"),
    ],
)
async def test_a_malformed_activity_is_400_and_nothing_is_stored(make_app, sqlite_url, raw, why) -> None:  # noqa: ANN001
    app = teams_app(make_app, sqlite_url)
    async with served(app) as url:
        status, answer = await post(url + "/api/messages", None, raw=raw)
        await app.adapters["teams"].wait_idle()
    assert status == 400 and why in answer["error"]
    for model in (PersonRow, ConversationRef, EventSeen, IngestItem):
        assert count(app, model) == 0


async def test_malformed_activity_on_postgresql_too(make_app, database_url) -> None:  # noqa: ANN001
    app = teams_app(make_app, database_url)
    async with served(app) as url:
        status, _ = await post(url + "/api/messages", {"type": "message", "text": "help"})
    assert status == 400 and count(app, PersonRow) == 0 and count(app, ConversationRef) == 0


async def test_a_redelivered_activity_is_answered_once(make_app, database_url) -> None:  # noqa: ANN001
    app = teams_app(make_app, database_url)
    async with FakeConnector() as teams, served(app) as url:
        activity = Activities(teams.service_url).personal_message(ALICE, "help")
        for _ in range(3):
            assert (await post(url + "/api/messages", activity))[0] == 200
            await app.adapters["teams"].wait_idle()
    assert len(teams.messages()) == 1


@pytest.mark.parametrize("status", [429, 412, 502, 504])
async def test_throttled_once_the_message_is_sent_again(make_app, sqlite_url, status) -> None:  # noqa: ANN001
    app = teams_app(make_app, sqlite_url)
    async with FakeConnector() as teams, served(app) as url:
        teams.fail(status, times=1, method="POST", path_contains="/activities", retry_after="0")
        activity = Activities(teams.service_url).personal_message(ALICE, "help")
        assert (await post(url + "/api/messages", activity))[0] == 200
        await app.adapters["teams"].wait_idle()
    posts = [r for r in teams.requests if r.method == "POST"]
    assert [r.status for r in posts] == [status, 201]
    assert posts[0].body == posts[1].body  # the same message, sent again


async def test_a_connector_that_keeps_failing_gives_up_after_max_attempts(make_app, sqlite_url) -> None:  # noqa: ANN001
    from bot.ports import ChatError

    app = teams_app(make_app, sqlite_url, teams={"max_attempts": 3})
    async with FakeConnector() as teams, served(app) as url:
        acts = Activities(teams.service_url)
        assert (await post(url + "/api/messages", acts.personal_message(ALICE, "hello")))[0] == 200
        await app.adapters["teams"].wait_idle()
        teams.requests.clear()
        teams.fail(502, times=10)
        with pytest.raises(ChatError, match="after 3 attempts") as failed:
            await app.adapters["teams"].chat.send(WS, DirectMessage(ALICE[0], "hi"))
        assert failed.value.retryable
        teams.fail(403, times=1)
    assert len(teams.requests) == 3


async def test_a_client_error_is_not_retried_and_says_what_teams_answered(make_app, sqlite_url) -> None:  # noqa: ANN001
    from bot.ports import ChatError

    app = teams_app(make_app, sqlite_url)
    async with FakeConnector() as teams, served(app) as url:
        acts = Activities(teams.service_url)
        assert (await post(url + "/api/messages", acts.personal_message(ALICE, "hello")))[0] == 200
        await app.adapters["teams"].wait_idle()
        teams.requests.clear()
        teams.fail(403, times=1)
        with pytest.raises(ChatError, match="403") as failed:
            await app.adapters["teams"].chat.send(WS, DirectMessage(ALICE[0], "hi"))
    assert not failed.value.retryable and len(teams.requests) == 1


async def test_a_direct_message_to_someone_in_a_tenant_never_seen_says_so(make_app, sqlite_url) -> None:  # noqa: ANN001
    from bot.ports import ChatError

    app = teams_app(make_app, sqlite_url)
    async with served(app):
        with pytest.raises(ChatError, match="Install the app"):
            await app.adapters["teams"].chat.send(WS, DirectMessage(ALICE[0], "hi"))


async def test_a_coffee_intro_is_sent_proactively_after_a_restart(make_app, database_url, clock) -> None:  # noqa: ANN001
    pytest.importorskip("skills.coffee")
    from bot.db.coffee import CoffeeProgramme
    from bot.events import ScheduledTick

    async with FakeConnector() as teams:
        acts = Activities(teams.service_url)
        teams.members[CHANNEL_ID] = [member(*who) for who in (ALICE, BOB, CAROL, DAVID)]
        first = teams_app(make_app, database_url, bot={"hr_admins": [ALICE[0]]})
        chats = {}
        async with served(first) as url:
            setup = acts.channel_message(ALICE, "{bot} coffee cadence weekly on monday at 10:00")
            assert (await post(url + "/api/messages", setup))[0] == 200
            for who in (ALICE, BOB, CAROL, DAVID):
                activity = acts.personal_message(who, "hello")
                chats[who[0]] = activity["conversation"]["id"]
                assert (await post(url + "/api/messages", activity))[0] == 200
            await first.adapters["teams"].wait_idle()
        first.close()
        teams.requests.clear()

        # A new process on the same database: the round fires there.
        second = teams_app(make_app, database_url, bot={"hr_admins": [ALICE[0]]})
        with second.db.session(WS.key) as s:
            programme = s.scalars(select(CoffeeProgramme)).one()
        async with served(second):
            outcome = await second.dispatcher.handle(
                ScheduledTick(WS, "coffee.round", clock.now(), {"programme_id": programme.id}))
    assert outcome.status == "ok", outcome
    assert teams.created() == []  # every member's 1:1 chat came from the stored references
    intros = [m for m in teams.messages() if m.conversation_id.startswith("a:")]
    assert sorted(m.conversation_id for m in intros) == sorted(chats.values())
    names = {uid: name for uid, name in (ALICE, BOB, CAROL, DAVID)}
    partners = {}
    for m in intros:
        me = next(uid for uid, conv in chats.items() if conv == m.conversation_id)
        # The first line, added for Teams, names the others (with mentions Teams notifies).
        first_line = m.body["text"].split("\n")[0]
        assert first_line.startswith("A message for you and <at>")
        assert f"<at>{names[me]}</at>" not in first_line
        partners[me] = {uid for uid, name in names.items() if f"<at>{name}</at>" in first_line}
        assert partners[me] <= set(m["mentioned"]["id"] for m in m.body["entities"])
    # Two pairs: each person's partner names them back.
    assert all(len(p) == 1 and me in partners[next(iter(p))] for me, p in partners.items())
    # The round is announced in the channel.
    assert any(m.conversation_id == CHANNEL_ID for m in teams.messages())


async def test_a_card_button_press_reaches_the_skill_and_is_answered(make_app, database_url) -> None:  # noqa: ANN001
    pytest.importorskip("skills.coffee")
    app = teams_app(make_app, database_url)
    seen = []
    app.dispatcher.hooks_after.append(lambda event, outcome: seen.append((event, outcome)))
    async with FakeConnector() as teams, served(app) as url:
        acts = Activities(teams.service_url)
        press = acts.card_submit(ALICE, "coffee.met", "999", reply_to="1:card")
        assert (await post(url + "/api/messages", press))[0] == 200
        await app.adapters["teams"].wait_idle()
        # The same press as Action.Execute: an invoke, answered in the HTTP response.
        invoke = acts.card_submit(BOB, "x", "y", reply_to="1:card")
        invoke.update(type="invoke", name="adaptiveCard/action",
                      value={"action": {"type": "Action.Execute", "data": {"liaison_action": "coffee.met", "liaison_value": "998"}}})
        status, answer = await post(url + "/api/messages", invoke)
        await app.adapters["teams"].wait_idle()
    assert status == 200 and answer["statusCode"] == 200 and answer["type"] == "application/vnd.microsoft.activity.message"
    actions = [(e.action_id, e.value, e.sender.id, o.route) for e, o in seen]
    assert actions == [("coffee.met", "999", ALICE[0], "coffee.answer"), ("coffee.met", "998", BOB[0], "coffee.answer")]
    # No such group: the skill says so, in the chat the card was in.
    first = teams.messages()[0]
    assert first.conversation_id == press["conversation"]["id"] and first.body["text"]


async def test_a_reaction_becomes_a_named_reaction_event(make_app, database_url) -> None:  # noqa: ANN001
    app = teams_app(make_app, database_url, teams={"reaction_names": {"heart": "pray"}})
    seen = []
    app.dispatcher.hooks_after.append(lambda event, outcome: seen.append(event))
    async with FakeConnector() as teams, served(app) as url:
        acts = Activities(teams.service_url)
        for kind in ("heart", "like", "1f64f_foldedhands"):
            assert (await post(url + "/api/messages", acts.reaction(BOB, kind, reply_to="1571000000000")))[0] == 200
        await app.adapters["teams"].wait_idle()
    assert sorted(e.reaction for e in seen) == ["+1", "pray", "pray"]
    assert {(e.conversation.id, e.item_ts, e.sender.id) for e in seen} == {(CHANNEL_ID, "1571000000000", BOB[0])}


async def test_an_edited_then_deleted_channel_message_updates_the_queue(make_app, database_url) -> None:  # noqa: ANN001
    app = teams_app(make_app, database_url)
    async with FakeConnector() as teams, served(app) as url:
        acts = Activities(teams.service_url)
        original = acts.channel_message(BOB, "Kafka tip: watch the consumer lag")
        assert (await post(url + "/api/messages", original))[0] == 200
        edited = dict(original, type="messageUpdate", text="Kafka tip: watch the lag per partition\n",
                      channelData={**original["channelData"], "eventType": "editMessage"})
        assert (await post(url + "/api/messages", edited))[0] == 200
        await app.adapters["teams"].wait_idle()
        with app.db.session(WS.key) as s:
            [row] = s.scalars(select(IngestItem)).all()
            assert (row.op, row.text) == ("upsert", "Kafka tip: watch the lag per partition")
        deleted = dict(original, type="messageDelete", text="", channelData={**original["channelData"], "eventType": "softDeleteMessage"})
        assert (await post(url + "/api/messages", deleted))[0] == 200
        await app.adapters["teams"].wait_idle()
    with app.db.session(WS.key) as s:
        [row] = s.scalars(select(IngestItem)).all()
    assert (row.op, row.text, row.ts) == ("delete", "", original["id"])
    assert teams.messages() == []


async def test_a_message_from_another_bot_is_not_answered(make_app, database_url) -> None:  # noqa: ANN001
    app = teams_app(make_app, database_url)
    async with FakeConnector() as teams, served(app) as url:
        acts = Activities(teams.service_url)
        assert (await post(url + "/api/messages", acts.personal_message(("28:other-bot", "Other Bot"), "help")))[0] == 200
        await app.adapters["teams"].wait_idle()
    assert teams.messages() == []


async def test_installed_in_a_personal_scope_the_bot_says_hello_in_french_to_a_french_user(make_app, database_url) -> None:  # noqa: ANN001
    app = teams_app(make_app, database_url)
    async with FakeConnector() as teams, served(app) as url:
        installed = Activities(teams.service_url).bot_installed_personal(ALICE)
        installed["locale"] = "fr-FR"
        assert (await post(url + "/api/messages", installed))[0] == 200
        await app.adapters["teams"].wait_idle()
    [hello] = teams.messages()
    assert hello.conversation_id == installed["conversation"]["id"]
    assert hello.body["text"].startswith("Bonjour, je suis Liaison !")
    assert [r for r in teams.requests if "members" in r.path] == []  # no team: no roster to read


def _non_loopback_address() -> str | None:
    import ipaddress
    import socket

    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("10.255.255.255", 1))  # no packet is sent: this only picks the outgoing address
            address = s.getsockname()[0]
    except OSError:
        return None
    return None if ipaddress.ip_address(address).is_loopback else address


async def test_no_auth_refuses_activities_that_did_not_arrive_on_loopback(make_app, sqlite_url) -> None:  # noqa: ANN001
    from aiohttp import web

    from bot.web import build_web_app

    address = _non_loopback_address()
    if address is None:
        pytest.skip("this machine has no non-loopback address to listen on")
    app = teams_app(make_app, sqlite_url)
    runner = web.AppRunner(build_web_app(app), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, address, 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        activity = Activities("http://127.0.0.1:9/amer/").personal_message(ALICE, "help")
        status, answer = await post(f"http://{address}:{port}/api/messages", activity)
    finally:
        await runner.cleanup()
        await app.adapters["teams"].stop()
    assert status == 403 and "loopback" in answer["error"]
    assert count(app, PersonRow) == 0 and count(app, ConversationRef) == 0

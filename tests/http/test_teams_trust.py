"""Where the bot sends, and whom it trusts without a token: serviceUrls are accepted only from
Microsoft's Bot Connector hosts (or the setting's loopback fake), a stored conversation reference
is never redirected by an unauthenticated activity, and LIAISON_TEAMS_NO_AUTH looks at the
client's address.

The attacks run at the wire: the legitimate fake Bot Connector, and a second fake on loopback
that records anything it receives and must receive nothing."""

from __future__ import annotations

import aiohttp
import pytest
from sqlalchemy import select

from bot.db.models import ConversationRef, PersonRow
from bot.events import DirectMessage, Workspace
from bot.ports import ChatError
from tests.http.fake_connector import TENANT, Activities, FakeConnector, post, served

WS = Workspace("teams", TENANT)
ALICE = ("29:1alice-Qx_aliceaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "Alice Martin")
NO_AUTH = {"LIAISON_TEAMS_NO_AUTH": "1"}


def _attacks(legit: FakeConnector, recorder: FakeConnector) -> dict[str, tuple[str, str]]:
    """serviceUrls an activity could name, pointing at the recorder where a request could go,
    with the reason the bot must give."""
    rec = recorder.port
    return {
        "credentials": (f"http://alice:secret@127.0.0.1:{rec}/amer/", "credentials"),
        "credentials, host allowed": (f"http://alice:secret@127.0.0.1:{legit.port}/amer/", "credentials"),
        "CRLF": (f"http://127.0.0.1:{rec}/amer/\r\nX-Injected: 1", "control characters"),
        "localhost": (f"http://localhost:{rec}/amer/", "'localhost'"),
        "http, another port": (f"http://127.0.0.1:{rec}/amer/", "not one of"),
        "http to a Microsoft host": ("http://smba.trafficmanager.net/amer/", "plain http"),
        "file": ("file:///etc/passwd", "'file'"),
        "gopher": (f"gopher://127.0.0.1:{rec}/_POST%20/v3/conversations", "'gopher'"),
        "foreign https host": ("https://attacker.example/amer/", "'attacker.example'"),
    }


async def test_a_malicious_service_url_is_never_stored_or_called(make_app, database_url, caplog) -> None:  # noqa: ANN001
    async with FakeConnector() as legit, FakeConnector() as recorder:
        app = make_app(database_url=database_url, platforms=["teams"], env=NO_AUTH,
                       teams={"roster_sync_hours": 0,
                              "allowed_service_hosts": [f"http://127.0.0.1:{legit.port}", "smba.trafficmanager.net"]})
        async with served(app) as url:
            acts = Activities(legit.service_url)
            first = acts.personal_message(ALICE, "hello")
            assert (await post(url + "/api/messages", first))[0] == 200
            await app.adapters["teams"].wait_idle()
            legit.requests.clear()
            answers = {}
            for name, (service_url, why) in _attacks(legit, recorder).items():
                for conversation in (first["conversation"]["id"], f"a:attacker-{len(answers)}"):
                    attack = acts.personal_message(ALICE, "help", conversation_id=conversation)
                    attack["serviceUrl"] = service_url
                    caplog.clear()
                    status, answer = await post(url + "/api/messages", attack)
                    logged = [r.getMessage() for r in caplog.records if r.getMessage().startswith("refused a Teams")]
                    answers[(name, conversation[:10])] = (status, why in answer["error"], len(logged))
            await app.adapters["teams"].wait_idle()
            # The later private message to Alice goes where her own chat is.
            await app.adapters["teams"].chat.send(WS, DirectMessage(ALICE[0], "Your coffee partner is Bob"))
    assert answers == {key: (400, True, 1) for key in answers}
    assert recorder.requests == []
    [dm] = legit.requests
    assert dm.conversation_id == first["conversation"]["id"] and dm.body["text"] == "Your coffee partner is Bob"
    assert "Authorization" not in dm.headers  # no credentials from any URL were sent
    with app.db.session(WS.key) as s:
        stored = {r.key: r.reference["serviceUrl"] for r in s.scalars(select(ConversationRef))}
    assert stored == {f"conversation:{first['conversation']['id']}": legit.service_url, f"user:{ALICE[0]}": legit.service_url}


async def test_an_unauthenticated_activity_cannot_redirect_a_stored_reference(make_app, database_url) -> None:  # noqa: ANN001
    """Without authentication (LIAISON_TEAMS_NO_AUTH), an activity "from Alice" naming another
    chat is handled, but Alice's private messages still go to her own chat."""
    async with FakeConnector() as teams:
        app = make_app(database_url=database_url, platforms=["teams"], env=NO_AUTH,
                       teams={"roster_sync_hours": 0, "allowed_service_hosts": ["http://127.0.0.1"]})
        async with served(app) as url:
            acts = Activities(teams.service_url)
            mine = acts.personal_message(ALICE, "hello")
            forged = acts.personal_message(ALICE, "hello", conversation_id="a:chat-of-the-attacker")
            for activity in (mine, forged):
                assert (await post(url + "/api/messages", activity))[0] == 200
            await app.adapters["teams"].wait_idle()
            teams.requests.clear()
            await app.adapters["teams"].chat.send(WS, DirectMessage(ALICE[0], "Your coffee partner is Bob"))
    [dm] = teams.messages()
    assert dm.conversation_id == mine["conversation"]["id"]


async def test_a_reference_stored_with_a_bad_service_url_is_not_used(make_app, sqlite_url) -> None:  # noqa: ANN001
    """A reference stored before these checks (file://, credentials) is refused when sending."""
    async with FakeConnector() as recorder:
        app = make_app(database_url=sqlite_url, platforms=["teams"], env=NO_AUTH,
                       teams={"roster_sync_hours": 0, "allowed_service_hosts": ["http://127.0.0.1"]})
        bad = f"http://alice:secret@127.0.0.1:{recorder.port}/amer/"
        with app.db.session(WS.key) as s:
            s.add(ConversationRef(workspace=WS.key, key=f"user:{ALICE[0]}", user_id=ALICE[0], reference={
                "serviceUrl": bad, "conversation": {"id": "a:old"}, "bot": {"id": "28:bot"}}))
        async with served(app):
            with pytest.raises(ChatError, match="refused to call the Bot Connector .*credentials"):
                await app.adapters["teams"].chat.send(WS, DirectMessage(ALICE[0], "hi"))
    assert recorder.requests == []


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


async def _post_from(source: str, url: str, activity: dict) -> int:
    connector = aiohttp.TCPConnector(local_addr=(source, 0))
    async with aiohttp.ClientSession(connector=connector) as client, client.post(url, json=activity) as resp:
        return resp.status


@pytest.mark.parametrize("listen_on, client_from, expected", [
    ("127.0.0.1", "other", 403),  # reached on loopback, but the client is another address
    ("other", "127.0.0.1", 200),  # reached on another address, but the client is this machine
])
async def test_no_auth_looks_at_the_client_address(make_app, sqlite_url, listen_on, client_from, expected) -> None:  # noqa: ANN001
    from aiohttp import web

    from bot.web import build_web_app

    other = _non_loopback_address()
    if other is None:
        pytest.skip("this machine has no non-loopback address")
    listen_on, client_from = (other if a == "other" else a for a in (listen_on, client_from))
    async with FakeConnector() as teams:
        app = make_app(database_url=sqlite_url, platforms=["teams"], env=NO_AUTH, server={"host": "127.0.0.1"},
                       teams={"roster_sync_hours": 0, "allowed_service_hosts": ["http://127.0.0.1"]})
        runner = web.AppRunner(build_web_app(app), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, listen_on, 0)
        await site.start()
        port = runner.addresses[0][1]
        try:
            activity = Activities(teams.service_url).personal_message(ALICE, "hello")
            status = await _post_from(client_from, f"http://{listen_on}:{port}/api/messages", activity)
            await app.adapters["teams"].wait_idle()
        finally:
            await runner.cleanup()
            await app.adapters["teams"].stop()
    assert status == expected
    with app.db.session(None) as s:
        people = s.scalars(select(PersonRow.user_id)).all()
    assert people == ([] if expected == 403 else [ALICE[0]])

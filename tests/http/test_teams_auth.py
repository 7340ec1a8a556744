"""Teams with an app id, at the wire: every request's Bot Framework token is checked against the
keys of a fake Bot Framework (a real HTTP server on loopback, on its own thread), forged tokens
get 401 whether or not the keys can be fetched, the fetch never holds up the event loop, and
bodies nested absurdly deep get 400, never 500.

Activities here are channel posts, which the bot indexes without answering: with an app id an
answer would need a token from Microsoft's login service, which tests do not reach."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging

import aiohttp
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from sqlalchemy import func, select

from bot.db.models import ConversationRef, EventSeen, IngestItem, PersonRow
from bot.events import Workspace
from tests.http.fake_botframework import APP_ID, AUTH, ISSUER, KID, FakeBotFramework, new_key
from tests.http.fake_connector import CHANNEL_ID, TENANT, Activities, FakeConnector, post, served

WS = Workspace("teams", TENANT)
ALICE = ("29:1alice-Qx_aliceaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "Alice Martin")
BOB = ("29:1bob-Zy_bobbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", "Bob Durand")


def auth_app(make_app, database_url, bf: FakeBotFramework, **teams):  # noqa: ANN001, ANN003, ANN201
    settings = {"roster_sync_hours": 0, "allowed_service_hosts": ["http://127.0.0.1"],
                "openid_metadata_url": bf.metadata_url, **teams}
    return make_app(database_url=database_url, platforms=["teams"], env=AUTH, teams=settings)


def rows(app, model) -> int:  # noqa: ANN001
    with app.db.session(None) as s:
        return s.scalar(select(func.count()).select_from(model)) or 0


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_a_request_with_a_valid_token_is_handled(make_app, database_url) -> None:  # noqa: ANN001
    with FakeBotFramework() as bf:
        app = auth_app(make_app, database_url, bf)
        async with FakeConnector() as teams, served(app) as url:
            post_ = Activities(teams.service_url).channel_message(BOB, "Kafka tip: watch the consumer lag")
            status, _ = await post(url + "/api/messages", post_, headers=bearer(bf.token(service_url=teams.service_url)))
            await app.adapters["teams"].wait_idle()
    assert status == 200
    with app.db.session(WS.key) as s:
        ref = s.scalars(select(ConversationRef).where(ConversationRef.key == f"conversation:{CHANNEL_ID}")).one()
        queued = s.scalars(select(IngestItem)).all()
    assert ref.reference["serviceUrl"] == teams.service_url
    assert [(q.user_id, q.text) for q in queued] == [(BOB[0], "Kafka tip: watch the consumer lag")]
    assert (bf.metadata_requests, bf.keys_requests) == (1, 1)


def _b64(data: bytes) -> str:
    return jwt.utils.base64url_encode(data).decode()


def _handmade(header: dict, payload: object, signature: bytes = b"sig") -> str:
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return ".".join([_b64(json.dumps(header).encode()), _b64(raw), _b64(signature)])


def _hmac_with_the_public_key(bf: FakeBotFramework, claims: dict) -> str:
    """The algorithm-confusion forgery: HS256 keyed with the (public) RSA key of the Bot Framework."""
    pem = bf.key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    head = _b64(json.dumps({"alg": "HS256", "kid": KID}).encode()) + "." + _b64(json.dumps(claims).encode())
    return head + "." + _b64(hmac.new(pem, head.encode(), hashlib.sha256).digest())


def _forgeries(bf: FakeBotFramework, service_url: str) -> dict[str, str]:
    """Authorization headers an attacker could send, each refused for its own reason."""
    other = new_key()
    claims = {"iss": ISSUER, "aud": APP_ID, "serviceurl": service_url, "exp": 4102444800}
    nested = b"[" * 2500 + b"]" * 2500  # what fits in one header line
    return {
        "signed with another key": f"Bearer {bf.token(service_url=service_url, key=other)}",
        "signed with an unknown key id": f"Bearer {bf.token(service_url=service_url, key=other, kid='someone-elses')}",
        "without a key id": f"Bearer {bf.token(service_url=service_url, kid=None)}",
        "not signed (alg none)": "Bearer " + _handmade({"alg": "none", "kid": KID}, claims, b""),
        "HMAC keyed with the public key": "Bearer " + _hmac_with_the_public_key(bf, claims),
        "expired": f"Bearer {bf.token(service_url=service_url, expires_in=-3600)}",
        "for another bot": f"Bearer {bf.token(service_url=service_url, app_id='another-app')}",
        "from another issuer": f"Bearer {bf.token(service_url=service_url, issuer='https://sts.windows.net/evil/')}",
        "for another serviceUrl": f"Bearer {bf.token(service_url='https://smba.trafficmanager.net/amer/')}",
        "not a JWT": "Bearer not.a.jwt",
        "not Bearer": f"Basic {bf.token(service_url=service_url)}",
        "payload nested 2,500 deep": "Bearer " + _handmade({"alg": "RS256", "kid": KID}, nested),
    }


@pytest.mark.parametrize("keys_available", [True, False], ids=["keys fetched", "keys unavailable"])
async def test_forged_tokens_are_refused_with_401_and_nothing_is_stored(make_app, sqlite_url, keys_available,
                                                                         caplog) -> None:  # noqa: ANN001
    with FakeBotFramework() as bf:
        bf.status = 200 if keys_available else 503
        app = auth_app(make_app, sqlite_url, bf)
        async with FakeConnector() as teams, served(app) as url:
            acts = Activities(teams.service_url)
            answers = {}
            for why, header in _forgeries(bf, teams.service_url).items():
                caplog.clear()
                status, body = await post(url + "/api/messages", acts.channel_message(ALICE, "hello"),
                                          headers={"Authorization": header})
                refusals = [r for r in caplog.records if r.getMessage().startswith("refused a Teams activity")]
                answers[why] = (status, len(refusals), any(r.exc_info for r in caplog.records))
            await app.adapters["teams"].wait_idle()
    assert answers == {why: (401, 1, False) for why in answers}
    assert teams.requests == []
    for model in (PersonRow, ConversationRef, EventSeen, IngestItem):
        assert rows(app, model) == 0
    # Tokens that fail a check needing no key cost no fetch; the others share one fetch (cached,
    # and after a failure not tried again at once).
    assert bf.metadata_requests == 1


async def test_a_genuine_token_while_the_keys_cannot_be_fetched_is_401_and_the_log_says_why(make_app, sqlite_url,
                                                                                           caplog) -> None:  # noqa: ANN001
    with FakeBotFramework() as bf:
        bf.status = 500
        app = auth_app(make_app, sqlite_url, bf)
        async with FakeConnector() as teams, served(app) as url:
            activity = Activities(teams.service_url).channel_message(BOB, "Morning all")
            statuses = [(await post(url + "/api/messages", activity,
                                    headers=bearer(bf.token(service_url=teams.service_url))))[0] for _ in range(3)]
    assert statuses == [401, 401, 401]
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and "signing keys could not be fetched" in errors[0] and "answered 500" in errors[0]
    assert rows(app, ConversationRef) == 0 and rows(app, IngestItem) == 0


async def test_fetching_the_keys_does_not_hold_up_other_requests(make_app, sqlite_url) -> None:  # noqa: ANN001
    """While the key endpoint has not answered, the process answers other requests (the fake
    holds its answer until released: a blocking fetch would freeze the loop until then)."""
    with FakeBotFramework() as bf:
        bf.hold = True
        app = auth_app(make_app, sqlite_url, bf)
        async with FakeConnector() as teams, served(app) as url:
            activity = Activities(teams.service_url).channel_message(BOB, "Morning all")
            pending = asyncio.create_task(post(url + "/api/messages", activity,
                                               headers=bearer(bf.token(service_url=teams.service_url))))
            assert await asyncio.to_thread(bf.waiting.wait, 10)
            async with aiohttp.ClientSession() as client, client.get(url + "/healthz") as resp:
                health = resp.status
            held_meanwhile = not bf.released.is_set()
            bf.release()
            status, _ = await pending
            # The keys are kept: a second request fetches nothing.
            again, _ = await post(url + "/api/messages", Activities(teams.service_url).channel_message(BOB, "Again"),
                                  headers=bearer(bf.token(service_url=teams.service_url)))
            await app.adapters["teams"].wait_idle()
    assert health == 200 and held_meanwhile
    assert status == 200 and again == 200
    assert (bf.metadata_requests, bf.keys_requests) == (1, 1)


async def test_a_key_endpoint_that_never_answers_is_given_up_after_the_timeout(make_app, sqlite_url, caplog) -> None:  # noqa: ANN001
    with FakeBotFramework() as bf:
        bf.hold = True
        bf.hold_limit = 30.0
        app = auth_app(make_app, sqlite_url, bf, request_timeout_seconds=0.5)
        async with FakeConnector() as teams, served(app) as url:
            activity = Activities(teams.service_url).channel_message(BOB, "Morning all")
            status, body = await post(url + "/api/messages", activity, headers=bearer(bf.token(service_url=teams.service_url)))
            gave_up_before_release = not bf.released.is_set()
    assert status == 401 and gave_up_before_release
    assert any("no answer within the timeout" in r.getMessage() for r in caplog.records)


def _nested(depth: int) -> bytes:
    return b'{"type": "message", "channelData": ' + b"[" * depth + b"]" * depth + b"}"


@pytest.mark.parametrize("depth", [100, 5000])
@pytest.mark.parametrize("mode", ["app id", "no auth"])
async def test_a_body_nested_too_deep_is_400_not_500(make_app, sqlite_url, depth, mode, caplog) -> None:  # noqa: ANN001
    with FakeBotFramework() as bf:
        if mode == "app id":
            app = auth_app(make_app, sqlite_url, bf)
        else:
            app = make_app(database_url=sqlite_url, platforms=["teams"], env={"LIAISON_TEAMS_NO_AUTH": "1"},
                           teams={"allowed_service_hosts": ["http://127.0.0.1"]})
        async with served(app) as url:
            status, answer = await post(url + "/api/messages", None, raw=_nested(depth),
                                        headers=bearer(bf.token(service_url="http://127.0.0.1:9/")))
            async with aiohttp.ClientSession() as client, client.get(url + "/healthz") as resp:
                health = resp.status
    assert status == 400 and "nested more than 64 levels" in answer["error"]
    assert health == 200
    assert not any(r.exc_info for r in caplog.records)
    assert bf.metadata_requests == 0  # refused before any token work


async def test_a_token_for_sending_that_cannot_be_had_is_one_chat_error(make_app, sqlite_url) -> None:  # noqa: ANN001
    """With an app id, sending needs a token from Microsoft's login service. When it cannot be
    had (not reachable here; with a network, these credentials are refused), the send fails
    with one ChatError saying so — not an HTTP library's exception — and nothing is sent."""
    from bot.events import DirectMessage
    from bot.ports import ChatError

    with FakeBotFramework() as bf:
        app = auth_app(make_app, sqlite_url, bf, request_timeout_seconds=5.0)
        async with FakeConnector() as teams, served(app):
            with app.db.session(WS.key) as s:
                s.add(ConversationRef(workspace=WS.key, key=f"user:{ALICE[0]}", user_id=ALICE[0], reference={
                    "serviceUrl": teams.service_url, "conversation": {"id": "a:alice"}, "bot": {"id": "28:bot"}}))
            with pytest.raises(ChatError, match="could not get a token for the Bot Connector") as failed:
                await app.adapters["teams"].chat.send(WS, DirectMessage(ALICE[0], "hi"))
    assert len(str(failed.value).splitlines()) == 1
    assert teams.requests == []

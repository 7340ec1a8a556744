""""Ask them for me" on Teams' wire: activities posted to POST /api/messages as Teams posts them,
each with a Bot Framework token the bot checks (it has an app id: authentication is on; the keys
and the login service of its own tokens are a fake Bot Framework's), and a fake Bot Connector
receiving what the bot sends — the offer card under an answer, the private offers in each
expert's 1:1 chat, the accepted question's messages to the asker and the helper, the other offers
replaced with PUT …/activities/{id} ("taken", without their card), "Not me", "Not now", the
timeout with the coffee-with-an-expert proposal, the weekly cap, quiet hours and "don't send me
questions", in English and French. A press without a genuine token gets 401 and accepts nothing."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.db.models import PersonRow
from bot.events import ScheduledTick
from tests.http.fake_botframework import FakeBotFramework, authenticated, new_key
from tests.http.fake_connector import Activities, FakeConnector, post, served
from tests.http.test_teams_wire import WS, teams_app
from tests.skills.test_routing import seed_index

PRIYA = ("29:1priya-Aa_priyaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "Priya Shah")
OMAR = ("29:1omar-Bb_omarbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", "Omar Said")
ADA = ("29:1ada-Cc_adaccccccccccccccccccccccccccccccccccc", "Ada Lovelace")
BEA = ("29:1bea-Dd_beaddddddddddddddddddddddddddddddddddd", "Béatrice Roy")
CARL = ("29:1carl-Ee_carleeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee", "Carl Lund")
DAN = ("29:1dan-Ff_danffffffffffffffffffffffffffffffffffff", "Dan Ito")
EVERYONE = (PRIYA, OMAR, ADA, BEA, CARL, DAN)
EXPERTS = (ADA, BEA, CARL, DAN)


def chat_of(who: tuple[str, str]) -> str:
    return f"a:personal-{who[0][-10:]}"


def card_actions(body: dict) -> list[dict]:
    return [a for att in body.get("attachments") or [] for a in att["content"].get("actions", [])]


class Teams:
    """The app served on loopback, the fake connector, and what people do (each request signed
    by the fake Bot Framework, for the connector's serviceUrl)."""

    def __init__(self, app: Any, connector: FakeConnector, url: str, bf: FakeBotFramework, french: tuple = ()) -> None:
        self.app, self.connector, self.url, self.bf = app, connector, url, bf
        self.acts = Activities(connector.service_url)
        self.french = {who[0] for who in french}  # their Teams client says fr-FR

    async def send(self, activity: dict) -> None:
        if activity["from"]["id"] in self.french:
            activity["locale"] = "fr-FR"
        status, _ = await post(self.url + "/api/messages", activity, headers=self.bf.bearer(self.connector.service_url))
        assert status == 200
        await self.app.adapters["teams"].wait_idle()

    async def say(self, who: tuple[str, str], text: str) -> dict:
        await self.send(self.acts.personal_message(who, text))
        return self.to(who)[-1]

    async def press(self, who: tuple[str, str], action: dict) -> None:
        data = action["data"]
        await self.send(self.acts.card_submit(who, data["liaison_action"], data["liaison_value"], reply_to="1:card"))

    def to(self, who: tuple[str, str]) -> list[dict]:
        return [m.body for m in self.connector.messages() if m.conversation_id == chat_of(who)]

    def offer_to(self, who: tuple[str, str]) -> dict:
        (found,) = [b for b in self.to(who) if any(a["data"]["liaison_action"] == "routing.accept" for a in card_actions(b))]
        return found

    def updated(self) -> dict[str, dict]:
        return {r.conversation_id: r.body for r in self.connector.updates()}

    async def sweep(self, clock: Any) -> None:
        outcome = await self.app.dispatcher.handle(ScheduledTick(WS, "routing.sweep", clock.now()))
        assert outcome.status == "ok", outcome
        await self.app.adapters["teams"].wait_idle()


def auth_app(make_app, database_url, bf: FakeBotFramework, **overrides):  # noqa: ANN001, ANN003, ANN201
    """The Teams app with an app id: it checks each request's token and gets its own from ``bf``."""
    return teams_app(make_app, database_url, env=bf.env, teams=bf.teams_settings(), **overrides)


async def started(app: Any, connector: FakeConnector, url: str, bf: FakeBotFramework, *, french: tuple = ()) -> Teams:
    """Everyone has the bot in a 1:1 chat (so the bot may write to them) and is in the index."""
    t = Teams(app, connector, url, bf, french)
    for who in EVERYONE:
        await t.send(t.acts.personal_message(who, "hello"))
    with app.db.session(WS.key) as s:
        assert s.scalar(select(func.count()).where(PersonRow.locale.like("fr%"))) == len(french)
    seed_index(app, WS, [w[0] for w in EXPERTS])
    connector.requests.clear()
    return t


async def test_offer_card_private_offers_one_accepts_the_others_see_taken(make_app, database_url,
                                                                          monkeypatch) -> None:  # noqa: ANN001
    with authenticated(monkeypatch) as bf:
        app = auth_app(make_app, database_url, bf)
        await _offer_one_accepts_the_others_see_taken(app, bf)


async def _offer_one_accepts_the_others_see_taken(app: Any, bf: FakeBotFramework) -> None:
    async with FakeConnector() as connector, served(app) as url:
        t = await started(app, connector, url, bf, french=(BEA,))
        answer = await t.say(PRIYA, "who knows Terraform?")
        (offer,) = card_actions(answer)
        assert offer["title"] == "Ask them for me" and offer["data"]["liaison_action"] == "routing.offer"
        await t.press(PRIYA, offer)
        assert "I've sent your question privately to" in t.to(PRIYA)[-1]["text"]
        asked = [m.conversation_id for m in connector.messages() if m.conversation_id in map(chat_of, EXPERTS)]
        assert asked == [chat_of(ADA), chat_of(BEA), chat_of(CARL)]
        assert [a["title"] for a in card_actions(t.offer_to(ADA))] == ["I can help", "Not me", "Not now"]
        assert [a["title"] for a in card_actions(t.offer_to(BEA))] == ["Je peux aider", "Pas pour moi", "Pas maintenant"]

        await t.press(BEA, card_actions(t.offer_to(BEA))[0])
        await t.press(BEA, card_actions(t.offer_to(BEA))[0])  # pressed twice: acts once
        # Teams cannot start a group chat: each of the two gets the introduction in their 1:1 chat.
        intro_priya = [b for b in t.to(PRIYA) if "meet <at>Béatrice Roy</at>" in b["text"]]
        intro_bea = [b for b in t.to(BEA) if "<at>Priya Shah</at>, meet" in b["text"]]
        assert len(intro_priya) == 1 and len(intro_bea) == 1
        updated = t.updated()
        assert set(updated) == {chat_of(ADA), chat_of(BEA), chat_of(CARL)}
        assert "is already helping" in updated[chat_of(ADA)]["text"] and updated[chat_of(ADA)]["attachments"] == []
        assert updated[chat_of(BEA)]["text"].startswith("✅ Merci d'aider")
        assert all(r.reply_to.startswith("1:fake-activity-") for r in connector.updates())
        # Every call to the Bot Connector carried the token the login service gave (MSAL keeps it).
        assert bf.issued == ["fake-connector-token-1"]
        assert {r.headers.get("Authorization") for r in connector.requests} == {"Bearer fake-connector-token-1"}


async def test_not_me_not_now_timeout_cap_and_opt_out_in_french(make_app, database_url, clock,
                                                                monkeypatch) -> None:  # noqa: ANN001
    with authenticated(monkeypatch) as bf:
        app = auth_app(make_app, database_url, bf, expertise={"route_weekly_cap": 1})
        await _not_me_not_now_timeout_cap_and_opt_out(app, bf, clock)


async def _not_me_not_now_timeout_cap_and_opt_out(app: Any, bf: FakeBotFramework, clock: Any) -> None:
    async with FakeConnector() as connector, served(app) as url:
        t = await started(app, connector, url, bf, french=(OMAR,))
        said = await t.say(DAN, "ne m'envoie plus de questions")
        assert said["text"].startswith("C'est fait")
        answer = await t.say(OMAR, "qui connaît Terraform ?")
        (offer,) = card_actions(answer)
        assert offer["title"] == "Demande-leur pour moi"
        await t.press(OMAR, offer)
        await t.press(ADA, card_actions(t.offer_to(ADA))[1])  # Not me
        await t.press(CARL, card_actions(t.offer_to(CARL))[2])  # Not now
        updated = t.updated()
        assert "for 90 days" in updated[chat_of(ADA)]["text"] and "passed it on" in updated[chat_of(CARL)]["text"]
        assert len(t.to(DAN)) == 1  # only his own answer: he asked for no questions

        # Nobody else may be asked this week (the cap is one): Priya's question reaches nobody.
        answer = await t.say(PRIYA, "who knows Terraform?")
        await t.press(PRIYA, card_actions(answer)[0])
        assert "couldn't send your question to anyone" in t.to(PRIYA)[-1]["text"]

        clock.advance(dt.timedelta(days=3))
        await t.sweep(clock)
        proposal = t.to(OMAR)[-1]
        assert proposal["text"].startswith("⏳ Personne n'a pu prendre votre question")
        (coffee,) = card_actions(proposal)
        assert coffee["title"] == "Trouve-moi un café avec un expert"
        assert "est close" in t.updated()[chat_of(BEA)]["text"] or "closed now" in t.updated()[chat_of(BEA)]["text"]


async def test_quiet_hours_hold_the_offer_until_the_morning(make_app, database_url, clock,
                                                            monkeypatch) -> None:  # noqa: ANN001
    clock.set(dt.datetime(2026, 11, 2, 21, 0, tzinfo=dt.timezone.utc))
    with authenticated(monkeypatch) as bf:
        app = auth_app(make_app, database_url, bf)
        async with FakeConnector() as connector, served(app) as url:
            t = await started(app, connector, url, bf)
            answer = await t.say(PRIYA, "who knows Terraform?")
            await t.press(PRIYA, card_actions(answer)[0])
            assert "at the start of their working day" in t.to(PRIYA)[-1]["text"]
            assert all(t.to(who) == [] for who in EXPERTS)
            clock.set(dt.datetime(2026, 11, 3, 9, 0, tzinfo=dt.timezone.utc))  # Teams gave no time zone: UTC
            await t.sweep(clock)
            assert [len(t.to(who)) for who in EXPERTS] == [1, 1, 1, 0]


async def test_a_press_without_a_genuine_token_is_401_and_accepts_nothing(make_app, database_url,
                                                                          monkeypatch) -> None:  # noqa: ANN001
    with authenticated(monkeypatch) as bf:
        app = auth_app(make_app, database_url, bf)
        async with FakeConnector() as connector, served(app) as url:
            t = await started(app, connector, url, bf)
            answer = await t.say(PRIYA, "who knows Terraform?")
            await t.press(PRIYA, card_actions(answer)[0])
            accept, ada_accepts = card_actions(t.offer_to(BEA))[0]["data"], card_actions(t.offer_to(ADA))[0]
            press = t.acts.card_submit(BEA, accept["liaison_action"], accept["liaison_value"], reply_to="1:card")
            forged = {"Authorization": f"Bearer {bf.token(service_url=connector.service_url, key=new_key())}"}
            connector.requests.clear()
            statuses = [(await post(url + "/api/messages", press, headers=h))[0] for h in (forged, {})]
            await app.adapters["teams"].wait_idle()
            assert statuses == [401, 401]
            assert connector.requests == []  # no introduction, no offer replaced
            # The question is still open: Ada's genuine press takes it, and Béatrice's offer says so.
            await t.press(ADA, ada_accepts)
            assert len([b for b in t.to(PRIYA) if "meet <at>Ada Lovelace</at>" in b["text"]]) == 1
            assert "is already helping" in t.updated()[chat_of(BEA)]["text"]


@pytest.fixture(autouse=True)
def _skills() -> None:
    pytest.importorskip("skills.routing")

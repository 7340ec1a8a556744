""""Ask them for me" on Slack's wire: signed requests to POST /slack/events (messages, Block Kit
button presses), a fake Slack Web API receiving what the bot sends — the offer button under an
answer, the private offers (with their key as message metadata), the group DM opened for the
asker and the helper, the other offers edited to "taken" with chat.update, "Not me", "Not now",
the timeout with the coffee-with-an-expert proposal, the weekly cap, quiet hours and "don't send
me questions", in English and French."""

from __future__ import annotations

import datetime as dt
import itertools
import json
from typing import Any

import pytest

from bot.db.coffee import CoffeeProgramme
from bot.events import ScheduledTick, Workspace
from tests.http.fake_slack import TEAM_ID, FakeSlack, channel_message, running_bot, slack_user
from tests.skills.test_routing import seed_index

WS = Workspace("slack", TEAM_ID)
_ts = itertools.count(1)


def directory() -> list[dict]:
    return [
        slack_user("U0PRIYA", "Priya Shah", title="Product", tz="Europe/Zurich"),
        slack_user("U0OMAR", "Omar Said", title="Sales", tz="Europe/Paris", locale="fr-FR"),
        slack_user("U0ADA", "Ada Lovelace", title="Platform", tz="Europe/Zurich"),
        slack_user("U0BEA", "Béatrice Roy", title="Platform", tz="Europe/Paris", locale="fr-FR"),
        slack_user("U0CARL", "Carl Lund", title="Data", tz="Europe/London"),
        slack_user("U0DAN", "Dan Ito", title="Data", tz="Asia/Tokyo"),
    ]


EXPERTS = ("U0ADA", "U0BEA", "U0CARL", "U0DAN")


def blocks(call: dict) -> list[dict]:
    raw = call.get("blocks") or []
    return json.loads(raw) if isinstance(raw, str) else raw


def buttons(call: dict) -> list[dict]:
    return [e for b in blocks(call) if b["type"] == "actions" for e in b["elements"]]


def posted_to(fake: FakeSlack, channel: str) -> list[dict]:
    return [c for c in fake.calls("chat.postMessage") if c["channel"] == channel]


def offer_to(fake: FakeSlack, user: str) -> dict:
    (found,) = [c for c in posted_to(fake, f"D-{user}") if any(b["action_id"] == "routing.accept" for b in buttons(c))]
    return found


def metadata_key(call: dict) -> str:
    meta = call.get("metadata")
    meta = json.loads(meta) if isinstance(meta, str) else meta
    return meta["event_payload"]["key"]


async def ask(bot: Any, user: str, text: str) -> dict:
    n = next(_ts)
    await bot.event(channel_message(user, text, f"1762071000.{n:06d}", channel=f"D0{user[2:]}", channel_type="im"),
                    event_id=f"EvAsk{n}")
    await bot.settle()
    return posted_to(bot.fake, f"D0{user[2:]}")[-1]


async def click(bot: Any, user: str, action: str, value: str, channel: str, ts: str = "1762070400.000001") -> None:
    resp = await bot.button(action, value, user=user, channel=channel, message_ts=ts)
    assert resp.status == 200
    await bot.settle()


async def sweep(bot: Any, clock: Any) -> Any:
    outcome = await bot.app.dispatcher.handle(ScheduledTick(WS, "routing.sweep", clock.now(), event_id=f"tick{next(_ts)}"))
    assert outcome.status == "ok", outcome
    await bot.settle()
    return outcome


async def test_offer_three_private_offers_one_accepts_the_others_see_taken(make_app, database_url) -> None:  # noqa: ANN001
    fake = FakeSlack(users=directory())
    async with running_bot(make_app, fake, database_url=database_url) as bot:
        seed_index(bot.app, WS, EXPERTS)
        answer = await ask(bot, "U0PRIYA", "who knows Terraform?")
        (offer_button,) = buttons(answer)
        assert (offer_button["text"]["text"], offer_button["action_id"]) == ("Ask them for me", "routing.offer")

        await click(bot, "U0PRIYA", "routing.offer", offer_button["value"], "D0PRIYA")
        confirmation = posted_to(fake, "D0PRIYA")[-1]
        assert "I've sent your question privately to <@U0ADA>, <@U0BEA> and <@U0CARL>" in confirmation["text"]
        # Dan is in Tokyo, where it is evening: not asked (three at once, best first, in working hours).
        assert [c["channel"] for c in fake.calls("chat.postMessage") if c["channel"].startswith("D-")] == \
            ["D-U0ADA", "D-U0BEA", "D-U0CARL"]
        ada, bea = offer_to(fake, "U0ADA"), offer_to(fake, "U0BEA")
        assert [b["text"]["text"] for b in buttons(ada)] == ["I can help", "Not me", "Not now"]
        assert [b["text"]["text"] for b in buttons(bea)] == ["Je peux aider", "Pas pour moi", "Pas maintenant"]
        assert metadata_key(ada).startswith("routing.offer.")
        assert "<@U0PRIYA> is looking for help with *Terraform*" in ada["text"] and "who knows Terraform?" in ada["text"]

        ts_of = {c["channel"]: m["ts"] for c in [ada, bea, offer_to(fake, "U0CARL")]
                 for m in fake.history[c["channel"]] if m["text"] == c["text"]}
        await click(bot, "U0BEA", "routing.accept", buttons(bea)[0]["value"], "D-U0BEA", ts_of["D-U0BEA"])
        # A retry of the same press (another envelope) acts once.
        await click(bot, "U0BEA", "routing.accept", buttons(bea)[0]["value"], "D-U0BEA", ts_of["D-U0BEA"])
        intros = [c for c in fake.calls("chat.postMessage") if c["channel"] == "G-U0BEA-U0PRIYA"]
        assert len(intros) == 1 and "<@U0PRIYA>, meet <@U0BEA>" in intros[0]["text"]
        updates = {c["channel"]: c for c in fake.calls("chat.update")}
        assert set(updates) == {"D-U0ADA", "D-U0BEA", "D-U0CARL"}
        assert "<@U0BEA> is already helping <@U0PRIYA>" in updates["D-U0ADA"]["text"]
        assert updates["D-U0ADA"]["ts"] == ts_of["D-U0ADA"] and blocks(updates["D-U0ADA"]) == []
        assert updates["D-U0BEA"]["text"].startswith("✅ Merci d'aider")


async def test_not_me_not_now_and_the_timeout_in_french(make_app, database_url, clock) -> None:  # noqa: ANN001
    # Béatrice is in the #coffee programme: the coffee with an expert goes to her, the one expert
    # from another team who agreed to meet colleagues.
    fake = FakeSlack(users=directory(), members={"C0COFFEE": ["U0BEA", "U0OMAR"]})
    async with running_bot(make_app, fake, database_url=database_url) as bot:
        seed_index(bot.app, WS, EXPERTS)
        with bot.app.db.session(WS.key) as s:
            s.add(CoffeeProgramme(channel_id="C0COFFEE", channel_name="coffee"))
        answer = await ask(bot, "U0OMAR", "qui connaît Terraform ?")
        (offer_button,) = buttons(answer)
        assert offer_button["text"]["text"] == "Demande-leur pour moi"
        await click(bot, "U0OMAR", "routing.offer", offer_button["value"], "D0OMAR")
        assert posted_to(fake, "D0OMAR")[-1]["text"].startswith("📨 J'ai envoyé votre question en privé")

        await click(bot, "U0ADA", "routing.decline", buttons(offer_to(fake, "U0ADA"))[1]["value"], "D-U0ADA")
        await click(bot, "U0CARL", "routing.pass", buttons(offer_to(fake, "U0CARL"))[2]["value"], "D-U0CARL")
        updates = {c["channel"]: c["text"] for c in fake.calls("chat.update")}
        assert "I won't send you questions about *Terraform* for 90 days" in updates["D-U0ADA"]
        assert "passed it on" in updates["D-U0CARL"]
        # Dan, the next one, is in Tokyo: his offer waits for his morning.
        assert posted_to(fake, "D-U0DAN") == []
        clock.advance(dt.timedelta(hours=15))  # 09:00 in Tokyo
        await sweep(bot, clock)
        assert len(posted_to(fake, "D-U0DAN")) == 1

        clock.advance(dt.timedelta(days=3))
        await sweep(bot, clock)
        proposal = posted_to(fake, "D-U0OMAR")[-1]
        assert proposal["text"].startswith("⏳ Personne n'a pu prendre votre question sur *Terraform*")
        (coffee,) = buttons(proposal)
        assert coffee["text"]["text"] == "Trouve-moi un café avec un expert"
        closed = [c for c in fake.calls("chat.update") if "est close" in c["text"] or "closed now" in c["text"]]
        assert {c["channel"] for c in closed} == {"D-U0BEA", "D-U0DAN"}
        await click(bot, "U0OMAR", "routing.coffee", coffee["value"], "D-U0OMAR")
        intro = fake.calls("chat.postMessage")[-2]
        assert intro["channel"].startswith("G-") and "U0OMAR" in intro["channel"] and "U0BEA" in intro["channel"]
        assert intro["text"].startswith("☕ <@U0OMAR>, voici <@U0BEA>")


async def test_weekly_cap_quiet_hours_and_dont_send_me_questions(make_app, database_url) -> None:  # noqa: ANN001
    fake = FakeSlack(users=directory())
    async with running_bot(make_app, fake, database_url=database_url, expertise={"route_weekly_cap": 1}) as bot:
        seed_index(bot.app, WS, EXPERTS)
        await ask(bot, "U0ADA", "don't send me questions")
        assert posted_to(fake, "D0ADA")[-1]["text"].startswith("Done: I won't send you other people's questions")
        answer = await ask(bot, "U0PRIYA", "who knows Terraform?")
        await click(bot, "U0PRIYA", "routing.offer", buttons(answer)[0]["value"], "D0PRIYA")
        text = posted_to(fake, "D0PRIYA")[-1]["text"]
        assert "<@U0ADA>" not in text and "<@U0BEA>, <@U0CARL> and <@U0DAN>" in text
        assert "<@U0DAN> will get it at the start of their working day" in text  # quiet hours in Tokyo
        assert posted_to(fake, "D-U0ADA") == [] and posted_to(fake, "D-U0DAN") == []

        answer = await ask(bot, "U0OMAR", "who knows Terraform?")
        await click(bot, "U0OMAR", "routing.offer", buttons(answer)[0]["value"], "D0OMAR")
        # Béatrice and Carl had their one question this week; Dan's first is still waiting (an offer
        # counts once sent), so he is the one asked for Omar, in his morning.
        text = posted_to(fake, "D0OMAR")[-1]["text"]
        assert "<@U0BEA>" not in text and "<@U0CARL>" not in text and "<@U0DAN>" in text
        assert len(posted_to(fake, "D-U0BEA")) == 1 and len(posted_to(fake, "D-U0CARL")) == 1
        await ask(bot, "U0ADA", "send me questions again")
        assert posted_to(fake, "D0ADA")[-1]["text"].startswith("Done: other people's questions can reach you again")


@pytest.fixture(autouse=True)
def _skills() -> None:
    pytest.importorskip("skills.routing")

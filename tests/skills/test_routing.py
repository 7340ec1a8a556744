""""Ask them for me" through the real bootstrap and dispatcher, on the console ChatPort (which
keeps what it sent and what it edited), on SQLite and PostgreSQL: the offer under an answer,
the private offers, "I can help" / "Not me" / "Not now", timeouts, quiet hours, the weekly cap,
"don't send me questions", the evidence it gives, privacy and the admins' figures."""

from __future__ import annotations

import datetime as dt
import io
import itertools
from typing import Any, Sequence

import pytest
from sqlalchemy import func, select

from adapters.console.chat import ConsoleChat
from bot import people
from bot.db.expertise import ExpertiseEvidence, ExpertisePerson
from bot.db.models import PersonRow
from bot.db.coffee import CoffeeProgramme
from bot.db.routing import RoutedQuestion, RoutingNotMe, RoutingOffer
from bot.events import ActionInvoked, Conversation, DirectMessage, GroupMessage, Person, Reply, ScheduledTick
from skills.expertise.evidence import record_evidence
from skills.expertise.topics import Topic
from tests.conftest import WS, dm, person

ASKER = person("U0PRIYA", "Priya Shah", team="Product", tz="Europe/Zurich", locale="en")
OTHER = person("U0OMAR", "Omar Said", team="Sales", tz="Europe/Zurich", locale="en")
ADA = person("U0ADA", "Ada Lovelace", team="Platform", tz="Europe/Zurich", locale="en")
BEA = person("U0BEA", "Béatrice Roy", team="Platform", tz="Europe/Paris", locale="fr")
CARL = person("U0CARL", "Carl Lund", team="Data", tz="Europe/London", locale="en")
DAN = person("U0DAN", "Dan Ito", team="Data", tz="Europe/Berlin", locale="en")
ADMIN = person("U0HR", "Hana Ruiz", team="People", tz="Europe/Zurich", locale="en")
EVERYONE = (ASKER, OTHER, ADA, BEA, CARL, DAN, ADMIN)
EXPERTS = (ADA, BEA, CARL, DAN)  # strongest on Terraform first
SETTINGS = {"bot": {"hr_admins": [ADMIN.id]}}
_n = itertools.count(1)


def make_chat(chat_cls: type = ConsoleChat) -> ConsoleChat:
    return chat_cls(people={p.id: p for p in EVERYONE}, channels={"C0GENERAL": [p.id for p in EVERYONE]},
                    channel_names={"C0GENERAL": "general"}, out=io.StringIO())


def seed_index(app: Any, ws: Any, experts: Sequence[str]) -> None:
    """The people of ``ws`` in the index (with a dozen colleagues, so that Terraform is a telling
    topic); ``experts`` declared Terraform, strongest first."""
    at = dt.datetime(2026, 10, 1, tzinfo=dt.timezone.utc)
    with app.db.session(ws.key) as s:
        ids = set(s.scalars(select(PersonRow.user_id))) | set(experts)
        for uid in sorted(ids) + [f"U0FILL{i}" for i in range(12)]:
            s.add(ExpertisePerson(user_id=uid, messages_n=1, answers_n=0, answers_s=0.0, last_at=at))
        for weight, uid in zip((4.0, 3.0, 2.0, 1.0), experts):
            record_evidence(s, user_id=uid, topics=[Topic("terraform", "Terraform", "en")], kind="declared",
                            at=at, weight=weight)


def seed(app: Any) -> None:
    """Everyone in the directory and the index; the experts strongest on Terraform first."""
    with app.db.session(WS.key) as s:
        for p in EVERYONE:
            people.upsert(s, p)
    seed_index(app, WS, [p.id for p in EXPERTS])


@pytest.fixture
def chat() -> ConsoleChat:
    return make_chat()


@pytest.fixture
def app(make_app, database_url, chat):  # noqa: ANN001, ANN201
    app = make_app(database_url=database_url, chats={"console": chat}, **SETTINGS)
    seed(app)
    return app


async def ask(app: Any, who: Person = ASKER, text: str = "who knows Terraform?") -> Reply:
    outcome = await app.dispatcher.handle(dm(who, text))
    assert outcome.status == "ok", outcome
    return outcome.outbound[0]


async def press(app: Any, who: Person, action: str, value: str, *, event_id: str | None = None) -> Any:
    event = ActionInvoked(WS, Conversation(f"D-{who.id}", "dm"), who, action, value,
                          event_id=event_id or f"EvRoute{next(_n)}")
    return await app.dispatcher.handle(event)


async def sweep(app: Any, clock: Any) -> Any:
    outcome = await app.dispatcher.handle(ScheduledTick(WS, "routing.sweep", clock.now(), event_id=f"tick{next(_n)}"))
    assert outcome.status == "ok", outcome
    return outcome


def offers_sent(chat: ConsoleChat) -> list[DirectMessage]:
    return [m for _, m in chat.sent if isinstance(m, DirectMessage) and (m.key or "").startswith("routing.offer.")]


def offer_to(chat: ConsoleChat, who: Person) -> DirectMessage:
    (found,) = [m for m in offers_sent(chat) if m.user_id == who.id]
    return found


def texts(outcome: Any) -> str:
    return "\n".join(m.text for m in outcome.outbound)


async def route(app: Any, chat: ConsoleChat, who: Person = ASKER, text: str = "who knows Terraform?") -> Any:
    answer = await ask(app, who, text)
    (button,) = answer.buttons
    assert button.action_id == "routing.offer"
    return await press(app, who, "routing.offer", button.value)


def names_in(answer: Reply) -> list[str]:
    order = [p for p in EXPERTS if p.name in answer.text]
    return sorted(order, key=lambda p: answer.text.index(p.name))


# ---- the whole course ------------------------------------------------------------------------------


async def test_offer_three_private_offers_first_accept_wins_and_others_see_taken(app, chat) -> None:  # noqa: ANN001
    answer = await ask(app)
    assert answer.buttons[0].label == "Ask them for me"
    outcome = await press(app, ASKER, "routing.offer", answer.buttons[0].value)
    assert "I've sent your question privately to <@U0ADA>, <@U0BEA> and <@U0CARL>" in texts(outcome)
    sent = offers_sent(chat)
    assert [m.user_id for m in sent] == [ADA.id, BEA.id, CARL.id]  # best first, three of four
    assert [b.label for b in offer_to(chat, ADA).buttons] == ["I can help", "Not me", "Not now"]
    assert "<@U0PRIYA> is looking for help with *Terraform*" in offer_to(chat, ADA).text
    assert offer_to(chat, BEA).text.startswith("👋 <@U0PRIYA> cherche de l'aide")  # in her language
    assert [b.label for b in offer_to(chat, BEA).buttons] == ["Je peux aider", "Pas pour moi", "Pas maintenant"]

    accepted = await press(app, BEA, "routing.accept", offer_to(chat, BEA).buttons[0].value)
    (group,) = [m for m in accepted.outbound if isinstance(m, GroupMessage)]
    assert set(group.user_ids) == {ASKER.id, BEA.id} and "“who knows Terraform?”" in group.text
    edits = {s.conversation_id: text for s, text, buttons in chat.updated}
    assert "is already helping" in edits[f"D-{ADA.id}"] and "is already helping" in edits[f"D-{CARL.id}"]
    assert edits[f"D-{BEA.id}"].startswith("✅ Merci d'aider")
    assert all(buttons == () for _, _, buttons in chat.updated)

    # A second click (a platform's retry has another event id) acts once; Ada is too late.
    again = await press(app, BEA, "routing.accept", offer_to(chat, BEA).buttons[0].value)
    assert "déjà répondu" in texts(again) and not any(isinstance(m, GroupMessage) for m in again.outbound)
    late = await press(app, ADA, "routing.accept", offer_to(chat, ADA).buttons[0].value)
    assert "<@U0BEA> is already helping" in texts(late)
    with app.db.session(WS.key) as s:
        q = s.scalars(select(RoutedQuestion)).one()
        assert (q.state, q.helper_id) == ("accepted", BEA.id)
        states = dict(s.execute(select(RoutingOffer.expert_id, RoutingOffer.state)).all())
        assert states == {ADA.id: "taken", BEA.id: "accepted", CARL.id: "taken"}
        answered = s.scalars(select(ExpertiseEvidence).where(ExpertiseEvidence.kind == "answered")).all()
        assert [(e.user_id, e.topic_key) for e in answered] == [(BEA.id, "terraform")]
    # The same click pressed twice with the same event id is handled once by the dispatcher.
    offer_value = offer_to(chat, CARL).buttons[2].value
    first = await press(app, CARL, "routing.pass", offer_value, event_id="EvSame")
    second = await press(app, CARL, "routing.pass", offer_value, event_id="EvSame")
    assert second.outbound == [] and first.outbound


async def test_not_me_and_not_now_pass_to_the_next_person(app, chat) -> None:  # noqa: ANN001
    await route(app, chat)
    out = await press(app, ADA, "routing.decline", offer_to(chat, ADA).buttons[1].value)
    assert out.status == "ok"
    assert [m.user_id for m in offers_sent(chat)] == [ADA.id, BEA.id, CARL.id, DAN.id]  # Dan is next
    assert "I won't send you questions about *Terraform* for 90 days" in chat.updated[-1][1]
    await press(app, CARL, "routing.pass", offer_to(chat, CARL).buttons[2].value)
    assert "passed it on" in chat.updated[-1][1]
    await press(app, BEA, "routing.pass", offer_to(chat, BEA).buttons[2].value)
    last = await press(app, DAN, "routing.pass", offer_to(chat, DAN).buttons[2].value)
    # Nobody left: the asker is told, with the coffee option.
    (told,) = last.outbound
    assert isinstance(told, DirectMessage) and told.user_id == ASKER.id and "has passed" in told.text
    assert told.buttons[0].label == "Find me a coffee with an expert"
    with app.db.session(WS.key) as s:
        assert s.scalars(select(RoutingNotMe.expert_id)).all() == [ADA.id]
        assert s.scalars(select(RoutedQuestion.state)).one() == "closed"
    # "Not me" stops that topic reaching Ada for a while, whoever asks.
    chat.sent.clear()
    await route(app, chat, OTHER)
    assert ADA.id not in [m.user_id for m in offers_sent(chat)]


async def test_timeout_proposes_a_coffee_with_an_expert_from_another_team(app, chat, clock) -> None:  # noqa: ANN001
    # Carl (Data) is in the #coffee programme; Ada and Béatrice, stronger, are in none and never
    # accepted a routed question: the coffee goes to Carl.
    with app.db.session(WS.key) as s:
        s.add(CoffeeProgramme(channel_id="C0COFFEE", channel_name="coffee"))
    chat.channels["C0COFFEE"] = [CARL.id, ASKER.id]
    await route(app, chat)
    clock.advance(dt.timedelta(hours=20))
    assert (await sweep(app, clock)).outbound == []  # 24 working hours are not over
    clock.advance(dt.timedelta(days=2))
    outcome = await sweep(app, clock)
    (told,) = outcome.outbound
    assert told.user_id == ASKER.id and told.text.startswith("⏳ Nobody could take your question about *Terraform*")
    assert sum("closed now" in text or "est close" in text for _, text, _ in chat.updated) == 3  # Béatrice reads French
    coffee = await press(app, ASKER, "routing.coffee", told.buttons[0].value)
    (intro,) = [m for m in coffee.outbound if isinstance(m, GroupMessage)]
    assert set(intro.user_ids) == {ASKER.id, CARL.id} and intro.text.startswith("☕ <@U0PRIYA>, meet <@U0CARL>")
    again = await press(app, ASKER, "routing.coffee", told.buttons[0].value)
    assert not any(isinstance(m, GroupMessage) for m in again.outbound)  # once


async def test_no_coffee_with_someone_who_never_agreed_to_meet(app, chat, clock) -> None:  # noqa: ANN001
    # Nobody from another team is in a coffee programme or has accepted a routed question.
    await route(app, chat)
    clock.advance(dt.timedelta(days=3))
    (told,) = (await sweep(app, clock)).outbound
    coffee = await press(app, ASKER, "routing.coffee", told.buttons[0].value)
    assert not any(isinstance(m, GroupMessage) for m in coffee.outbound)
    assert [m.user_id for m in coffee.outbound] == [ASKER.id] and "Terraform" in coffee.outbound[0].text


async def test_quiet_hours_queue_offers_to_the_next_morning(make_app, database_url, chat, clock) -> None:  # noqa: ANN001
    clock.set(dt.datetime(2026, 11, 2, 20, 0, tzinfo=dt.timezone.utc))  # Monday evening in Europe
    app = make_app(database_url=database_url, chats={"console": chat}, **SETTINGS)
    seed(app)
    outcome = await route(app, chat)
    # Nothing went out: the asker is not told it was sent.
    assert "your question will reach them privately at the start of their working day" in texts(outcome)
    assert "I've sent" not in texts(outcome)
    assert offers_sent(chat) == []
    clock.set(dt.datetime(2026, 11, 3, 7, 30, tzinfo=dt.timezone.utc))  # 08:30 in Zurich
    await sweep(app, clock)
    assert offers_sent(chat) == []
    clock.set(dt.datetime(2026, 11, 3, 8, 5, tzinfo=dt.timezone.utc))  # 09:05 in Zurich, 09:05 in Paris
    await sweep(app, clock)
    assert [m.user_id for m in offers_sent(chat)] == [ADA.id, BEA.id]
    clock.set(dt.datetime(2026, 11, 3, 9, 5, tzinfo=dt.timezone.utc))  # 09:05 in London
    await sweep(app, clock)
    await sweep(app, clock)
    assert [m.user_id for m in offers_sent(chat)] == [ADA.id, BEA.id, CARL.id]


async def test_weekly_cap_and_dont_send_me_questions(make_app, database_url, chat) -> None:  # noqa: ANN001
    app = make_app(database_url=database_url, chats={"console": chat}, expertise={"route_weekly_cap": 1}, **SETTINGS)
    seed(app)
    said = await app.dispatcher.handle(dm(ADA, "don't send me questions"))
    assert texts(said).startswith("Done: I won't send you other people's questions")
    await route(app, chat)
    assert [m.user_id for m in offers_sent(chat)] == [BEA.id, CARL.id, DAN.id]
    chat.sent.clear()
    outcome = await route(app, chat, OTHER)  # everyone had their one question this week
    assert offers_sent(chat) == [] and "couldn't send your question to anyone" in texts(outcome)
    undo = await app.dispatcher.handle(dm(ADA, "send me questions again"))
    assert texts(undo).startswith("Done: other people's questions can reach you again")
    fr = await app.dispatcher.handle(dm(BEA, "ne m'envoie plus de questions"))
    assert texts(fr).startswith("C'est fait : je ne vous transmettrai plus")


async def test_french_asker_types_demande_leur_with_context(app, chat) -> None:  # noqa: ANN001
    answer = await ask(app, OTHER, "qui connaît Terraform ?")
    assert answer.buttons[0].label == "Demande-leur pour moi"
    outcome = await app.dispatcher.handle(dm(OTHER, "demande-leur : c'est pour le module VPC"))
    assert texts(outcome).startswith("📨 J'ai envoyé votre question en privé à <@U0ADA>")
    assert "> c'est pour le module VPC" in offer_to(chat, ADA).text
    nothing = await app.dispatcher.handle(dm(ASKER, "ask them"))
    assert "Ask me *who knows …?* first" in texts(nothing)
    # Someone else's button does nothing.
    stranger = await press(app, ASKER, "routing.offer", answer.buttons[0].value)
    assert "belongs to someone else" in texts(stranger)


# ---- learning ------------------------------------------------------------------------------------


async def test_an_accepted_question_ranks_the_helper_higher_and_not_me_lower(app, chat) -> None:  # noqa: ANN001
    before = names_in(await ask(app, OTHER))
    assert before.index(CARL) == 2
    await route(app, chat)
    await press(app, CARL, "routing.accept", offer_to(chat, CARL).buttons[0].value)
    after = names_in(await ask(app, OTHER))  # someone else's question on the same topic
    assert after.index(CARL) < before.index(CARL)

    mine_before = names_in(await ask(app, ASKER))
    await route(app, chat)  # (a new question: Carl already helped once this week)
    await press(app, ASKER, "routing.offer", (await ask(app, ASKER)).buttons[0].value)
    ada_offers = [m for m in offers_sent(chat) if m.user_id == ADA.id]
    await press(app, ADA, "routing.decline", ada_offers[-1].buttons[1].value)
    mine_after = names_in(await ask(app, ASKER))
    assert mine_after.index(ADA) > mine_before.index(ADA)
    theirs = names_in(await ask(app, OTHER))
    assert theirs.index(ADA) < mine_after.index(ADA)  # only for the asker who heard "Not me"


# ---- privacy and figures ----------------------------------------------------------------------------


async def test_what_do_you_know_forget_me_and_routing_stats(app, chat, clock) -> None:  # noqa: ANN001
    await route(app, chat)
    clock.advance(dt.timedelta(minutes=12))
    await press(app, ADA, "routing.accept", offer_to(chat, ADA).buttons[0].value)
    me = await app.dispatcher.handle(dm(ADA, "what do you know about me?"))
    assert "Questions routed to you: 1 received, 1 accepted" in texts(me)
    stats = await app.dispatcher.handle(dm(ADMIN, "routing stats"))
    assert "• Nov 2026: 1 routed, 1 accepted, median time to the first “I can help”: 12 min" in texts(stats)
    assert "Ada" not in texts(stats) and ASKER.id not in texts(stats)
    refused = await app.dispatcher.handle(dm(OTHER, "routing stats"))
    assert "Only HR admins" in texts(refused)
    fr = await app.dispatcher.handle(dm(ADMIN, "statistiques de routage"))
    assert "1 transmises, 1 acceptées" in texts(fr)

    await app.dispatcher.handle(dm(ASKER, "forget me"))
    with app.db.session(WS.key) as s:
        assert s.scalar(select(func.count()).select_from(RoutedQuestion)) == 0
        assert s.scalar(select(func.count()).select_from(RoutingOffer)) == 0
    await route(app, chat, OTHER)
    await app.dispatcher.handle(dm(BEA, "forget me"))
    with app.db.session(WS.key) as s:
        assert BEA.id not in s.scalars(select(RoutingOffer.expert_id)).all()
        assert all(BEA.id not in q.candidates for q in s.scalars(select(RoutedQuestion)))


async def test_thank_button_goes_through_the_existing_thanks(app, chat, clock) -> None:  # noqa: ANN001
    await route(app, chat)
    await press(app, ADA, "routing.accept", offer_to(chat, ADA).buttons[0].value)
    clock.advance(dt.timedelta(hours=25))
    (prompt,) = (await sweep(app, clock)).outbound
    assert prompt.user_id == ASKER.id and prompt.buttons[0].label == "Thank Ada Lovelace"
    assert (await sweep(app, clock)).outbound == []  # once
    thanked = await press(app, ASKER, "routing.thank", prompt.buttons[0].value)
    (to_ada,) = [m for m in thanked.outbound if isinstance(m, DirectMessage) and m.user_id == ADA.id]
    assert "<@U0PRIYA>" in to_ada.text and "Terraform" in to_ada.text


@pytest.mark.parametrize(("section", "message"), [({"route_to": 0}, "expertise.route_to"),
                                                  ({"route_work_hours": "late"}, "expertise.route_work_hours")])
def test_unusable_settings_stop_the_start(make_app, section: dict, message: str) -> None:  # noqa: ANN001
    from bot.config import ConfigError

    with pytest.raises(ConfigError, match=message):
        make_app(expertise=section)

"""Random coffee, from chat: every command in English and French, admin permissions, malformed
commands (nothing changes), joining, leaving and snoozing, a round run now with its intros,
follow-ups and answers, stats, newcomers, the ties counted from channel messages and the
conversation starter from shared expertise.

The app is built by the real bootstrap; the ChatPort is the console's (it records what it sent).
Each database test runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

import pytest
from sqlalchemy import select

from adapters.console.chat import ConsoleChat
from bot.db.coffee import CoffeeGroup, CoffeeGroupMember, CoffeeMember, CoffeeProgramme, CoffeeRound, CoffeeTie
from bot.events import (
    ActionInvoked,
    CommandInvoked,
    Conversation,
    DirectMessage,
    GroupMessage,
    MemberJoined,
    Person,
    Reply,
    ScheduledTick,
)
from bot.ingest import IngestWorker
from bot.ports import ChatError
from tests.conftest import T0, WS, message, person

from skills.coffee.calendar import period_of, utc
from skills.coffee.commands import Malformed, parse
from skills.coffee.jobs import SWEEP_JOB

HR = person("U0HR", "Hana Ruiz", team="People", tz="Europe/Zurich", locale="en")
ANNA = person("U0ANNA", "Anna Berg", team="Alpha", tz="Europe/Zurich", locale="en")
ALEX = person("U0ALEX", "Alex Kim", team="Alpha", tz="Europe/Berlin", locale="en")
BEA = person("U0BEA", "Béatrice Roy", team="Beta", tz="Europe/Paris", locale="fr")
BORIS = person("U0BORIS", "Boris Petit", team="Beta", tz="Europe/Paris", locale="fr")
CARL = person("U0CARL", "Carl Lund", team="Gamma", tz="Europe/London", locale="en")
CORA = person("U0CORA", "Cora Diaz", team="Gamma", tz="Europe/Madrid", locale="en")
DEPLOY = person("U0DEPLOY", "Deploy Bot", is_bot=True)
OUTSIDER = person("U0OUT", "Omar Said", team="Delta", tz="Europe/Zurich", locale="en")
MEMBERS = (HR, ANNA, ALEX, BEA, BORIS, CARL, CORA, DEPLOY)
COFFEE = Conversation("C0COFFEE", "channel", "coffee")
GENERAL = Conversation("C0GENERAL", "channel", "general")
ADMINS = {"bot": {"hr_admins": [HR.id]}}

_n = iter(range(1, 10**9))


def make_chat(members: tuple[Person, ...] = MEMBERS, chat_cls: type = ConsoleChat, **kw: Any) -> ConsoleChat:
    everyone = {p.id: p for p in (*members, OUTSIDER)}
    return chat_cls(
        people=everyone,
        channels={COFFEE.id: [p.id for p in members], GENERAL.id: list(everyone)},
        channel_names={COFFEE.id: "coffee", GENERAL.id: "general"},
        out=io.StringIO(),
        **kw,
    )


def cmd(sender: Person, text: str, *, conv: Conversation = COFFEE, command: str = "coffee") -> CommandInvoked:
    return CommandInvoked(workspace=WS, conversation=conv, sender=sender, command=command, text=text,
                          event_id=f"EvCoffee{next(_n)}")


def in_dm(sender: Person) -> Conversation:
    return Conversation(f"D-{sender.id}", "dm", None)


async def say(app: Any, sender: Person, text: str, **kw: Any) -> tuple[Any, str]:
    outcome = await app.dispatcher.handle(cmd(sender, text, **kw))
    texts = [m.text for m in outcome.outbound if isinstance(m, Reply)]
    return outcome, "\n".join(texts)


def snapshot(app: Any) -> dict[str, list[tuple]]:
    """Every coffee row, as plain values: to check that nothing changed."""
    out: dict[str, list[tuple]] = {}
    with app.db.session(None) as s:
        for model in (CoffeeProgramme, CoffeeMember, CoffeeRound, CoffeeGroup, CoffeeGroupMember):
            cols = [c.key for c in model.__table__.columns]
            out[model.__tablename__] = sorted(tuple(str(getattr(r, c)) for c in cols) for r in s.scalars(select(model)))
    return out


def group_messages(chat: ConsoleChat) -> list[GroupMessage]:
    return [m for _, m in chat.sent if isinstance(m, GroupMessage)]


async def start_programme(app: Any, text: str = "cadence weekly on monday at 10:00 UTC") -> None:
    outcome, _ = await say(app, HR, text)
    assert outcome.status == "ok", outcome


@pytest.fixture
def chat() -> ConsoleChat:
    return make_chat()


@pytest.fixture
def app(make_app, database_url, chat):  # noqa: ANN001
    return make_app(database_url=database_url, chats={"console": chat}, **ADMINS)


# ---- parsing (pure) --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("cadence weekly on monday at 10:00 Europe/Zurich", dict(sub="cadence", cadence="weekly", weekday=0, time=(10, 0), tz="Europe/Zurich")),
        ("cadence biweekly friday 9h30", dict(sub="cadence", cadence="biweekly", weekday=4, time=(9, 30), tz=None)),
        ("cadence monthly", dict(sub="cadence", cadence="monthly", weekday=None, time=None)),
        ("cadence weekly at 9", dict(sub="cadence", cadence="weekly", time=(9, 0))),
        ("cadence hebdomadaire le mardi à 9h Europe/Paris", dict(sub="cadence", cadence="weekly", weekday=1, time=(9, 0), lang="fr")),
        ("rythme mensuel le jeudi", dict(sub="cadence", cadence="monthly", weekday=3, lang="fr")),
        ("size 3", dict(sub="size", size=3)),
        ("taille 4", dict(sub="size", size=4, lang="fr")),
        ("pause", dict(sub="pause", until=None)),
        ("pause until 2027-01-15", dict(sub="pause", until=dt.date(2027, 1, 15))),
        ("pause jusqu'au 15/01/2027", dict(sub="pause", until=dt.date(2027, 1, 15), lang="fr")),
        ("pause jusqu\u2019au 2027-01-15", dict(sub="pause", until=dt.date(2027, 1, 15), lang="fr")),
        ("resume", dict(sub="resume")),
        ("reprendre", dict(sub="resume", lang="fr")),
        ("run now", dict(sub="run")),
        ("lancer maintenant", dict(sub="run", lang="fr")),
        ("status", dict(sub="status")),
        ("", dict(sub="status")),
        ("état", dict(sub="status", lang="fr")),
        ("stats", dict(sub="stats")),
        ("statistiques", dict(sub="stats", lang="fr")),
        ("join", dict(sub="join")),
        ("rejoindre #coffee", dict(sub="join", lang="fr", channel="coffee")),
        ("leave", dict(sub="leave")),
        ("quitter", dict(sub="leave", lang="fr")),
        ("snooze 2 weeks", dict(sub="snooze", days=14)),
        ("snooze 10 days", dict(sub="snooze", days=10)),
        ("snooze 1 semaine", dict(sub="snooze", days=7, lang="fr")),
    ],
)
def test_parse_reads_english_and_french(text: str, expected: dict) -> None:
    got = parse(text)
    for key, value in expected.items():
        assert getattr(got, key) == value, (text, key)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("cadence daily", "bad_cadence"),
        ("cadence", "bad_cadence"),
        ("cadence weekly at 25:00", "bad_time"),
        ("cadence weekly 9", "bad_time"),
        ("cadence weekly on funday", "bad_word"),
        ("cadence weekly Mars/Olympus_Mons", "bad_tz"),
        ("cadence weekly monday tuesday", "bad_word"),
        ("size 5", "bad_size"),
        ("size", "bad_size"),
        ("pause until tomorrow", "bad_date"),
        ("pause for a while", "bad_word"),
        ("run later", "bad_word"),
        ("snooze", "bad_snooze"),
        ("snooze 2 fortnights", "bad_snooze"),
        ("snooze 99 weeks", "bad_snooze"),
        ("join now please", "bad_word"),
        ("dance", "bad_word"),
    ],
)
def test_parse_rejects_malformed_commands(text: str, problem: str) -> None:
    with pytest.raises(Malformed) as err:
        parse(text)
    assert err.value.key == problem


@pytest.mark.parametrize(("section", "message"), [
    ({"default_time": "ten"}, "coffee.default_time"),
    ({"default_weekday": "someday"}, "coffee.default_weekday"),
    ({"default_timezone": "Mars/Base"}, "coffee.default_timezone"),
    ({"group_size": 9}, "coffee.group_size"),
])
def test_unusable_settings_stop_the_start(make_app, section: dict, message: str) -> None:  # noqa: ANN001
    from bot.config import ConfigError

    with pytest.raises(ConfigError, match=message):
        make_app(coffee=section)


def test_periods_are_weeks_fortnights_and_months() -> None:
    p = CoffeeProgramme(channel_id="C", cadence="weekly", weekday=0, hour=10, minute=0, tz="Europe/Zurich")
    assert period_of(p, dt.datetime(2026, 11, 2, 9, tzinfo=dt.timezone.utc)) == "2026-W45"
    # Sunday 23:30 UTC is already Monday in Zurich: the new week.
    assert period_of(p, dt.datetime(2026, 11, 8, 23, 30, tzinfo=dt.timezone.utc)) == "2026-W46"
    p.cadence = "biweekly"
    a = period_of(p, dt.datetime(2026, 11, 2, 9, tzinfo=dt.timezone.utc))
    b = period_of(p, dt.datetime(2026, 11, 9, 9, tzinfo=dt.timezone.utc))
    c = period_of(p, dt.datetime(2026, 11, 16, 9, tzinfo=dt.timezone.utc))
    assert len({a, b, c}) == 2 and (a == b) != (b == c)
    p.cadence = "monthly"
    assert period_of(p, dt.datetime(2026, 11, 30, 9, tzinfo=dt.timezone.utc)) == "2026-11"


# ---- programme commands ----------------------------------------------------------------------------


async def test_admin_sets_cadence_in_the_channel(app: Any) -> None:
    outcome, text = await say(app, HR, "cadence weekly on wednesday at 14:30 Europe/Zurich")
    assert outcome.status == "ok"
    with app.db.session(WS.key) as s:
        p = s.scalars(select(CoffeeProgramme)).one()
        assert (p.channel_id, p.channel_name, p.cadence, p.weekday, p.hour, p.minute, p.tz, p.group_size) == (
            COFFEE.id, "coffee", "weekly", 2, 14, 30, "Europe/Zurich", 2)
    assert "#coffee" in text and "every week on Wednesday at 14:30 (Europe/Zurich)" in text
    assert "Next round: Wednesday 4 Nov, 14:30" in text

    # Changing it changes the same programme.
    _, text = await say(app, HR, "cadence monthly on friday")
    with app.db.session(WS.key) as s:
        p = s.scalars(select(CoffeeProgramme)).one()
        assert (p.cadence, p.weekday, p.hour, p.minute) == ("monthly", 4, 14, 30)
    assert "Next round: Friday 6 Nov, 14:30" in text  # the first Friday of November


async def test_french_admin_sets_cadence_and_gets_french(app: Any) -> None:
    _, text = await say(app, HR, "cadence hebdomadaire le mardi à 9h30 Europe/Paris", command="café")
    with app.db.session(WS.key) as s:
        p = s.scalars(select(CoffeeProgramme)).one()
        assert (p.weekday, p.hour, p.minute, p.tz) == (1, 9, 30, "Europe/Paris")
    assert "chaque semaine le mardi à 09:30 (Europe/Paris)" in text
    assert "Prochain tour : mardi 3 nov., 09:30" in text


async def test_new_programme_takes_the_admins_time_zone(app: Any) -> None:
    await say(app, HR, "cadence weekly")
    with app.db.session(WS.key) as s:
        p = s.scalars(select(CoffeeProgramme)).one()
        assert (p.tz, p.weekday, p.hour, p.minute) == ("Europe/Zurich", 0, 10, 0)


async def test_cadence_from_a_direct_message_asks_for_the_channel(app: Any) -> None:
    before = snapshot(app)
    _, text = await say(app, HR, "cadence weekly", conv=in_dm(HR))
    assert "from the channel whose members should meet" in text
    assert snapshot(app) == before


@pytest.mark.parametrize("text", ["cadence weekly", "size 3", "pause", "pause until 2027-01-15", "resume", "run now", "stats",
                                  "lancer maintenant"])
async def test_non_admins_are_refused_and_nothing_changes(app: Any, chat: ConsoleChat, text: str) -> None:
    await start_programme(app)
    before, sent_before = snapshot(app), len(chat.sent)
    outcome, reply_text = await say(app, ANNA, text)
    assert "Only HR admins and workspace admins can change the coffee programme" in reply_text or \
        "Seuls les admins RH" in reply_text
    reply = outcome.outbound[0]
    assert isinstance(reply, Reply) and reply.ephemeral_to == ANNA.id
    assert snapshot(app) == before
    assert len(chat.sent) == sent_before + 1  # only the refusal


async def test_workspace_admins_are_admins_too(app: Any) -> None:
    boss = person("U0BOSS", "Bo Boss", team="Exec", is_admin=True)
    outcome, text = await say(app, boss, "cadence weekly")
    assert outcome.status == "ok" and "is set" in text


@pytest.mark.parametrize("text", ["cadence daily", "cadence weekly at 25:00", "size 7", "pause until someday",
                                  "snooze forever", "dance", "run tomorrow", "cadence weekly Mars/Olympus_Mons"])
async def test_malformed_commands_get_usage_and_change_nothing(app: Any, text: str) -> None:
    await start_programme(app)
    before = snapshot(app)
    _, reply_text = await say(app, HR, text)
    assert "Nothing changed." in reply_text and "coffee cadence weekly|biweekly|monthly" in reply_text
    assert snapshot(app) == before


async def test_malformed_french_command_gets_french_usage(app: Any) -> None:
    _, text = await say(app, HR, "taille 9")
    assert "la taille des groupes doit être 2, 3 ou 4" in text and "Rien n'a changé" in text


async def test_size_pause_resume(app: Any) -> None:
    await start_programme(app)
    _, text = await say(app, HR, "size 3")
    assert "3 people" in text
    _, text = await say(app, HR, "pause until 2026-12-01")
    assert "paused until 2026-12-01" in text
    with app.db.session(WS.key) as s:
        p = s.scalars(select(CoffeeProgramme)).one()
        assert (p.group_size, p.paused, p.paused_until) == (3, True, dt.date(2026, 12, 1))
    _, text = await say(app, ANNA, "status")
    assert "Paused until 2026-12-01" in text and "Next round: Monday 7 Dec, 10:00" in text
    _, text = await say(app, HR, "resume")
    assert "back on" in text
    _, text = await say(app, HR, "resume")
    assert "isn't paused" in text


async def test_pause_until_a_past_date_is_refused(app: Any) -> None:
    await start_programme(app)
    before = snapshot(app)
    _, text = await say(app, HR, "pause until 2026-01-01")
    assert "2026-01-01 has already passed" in text
    assert snapshot(app) == before


async def test_commands_without_a_programme_say_how_to_start_one(app: Any) -> None:
    _, text = await say(app, ANNA, "join")
    assert "no coffee programme in this channel yet" in text
    _, text = await say(app, ANNA, "join", conv=in_dm(ANNA))
    assert "There is no coffee programme yet" in text


# ---- people ----------------------------------------------------------------------------------------


async def test_join_leave_snooze_and_status(app: Any) -> None:
    await start_programme(app)
    _, text = await say(app, OUTSIDER, "join", conv=in_dm(OUTSIDER))  # one programme: a DM is enough
    assert "You're in" in text
    _, text = await say(app, OUTSIDER, "join", conv=in_dm(OUTSIDER))
    assert "already in" in text
    _, text = await say(app, ANNA, "leave")
    assert "won't be matched" in text
    _, text = await say(app, ANNA, "status")
    assert "You're not taking part" in text
    _, text = await say(app, ALEX, "snooze 2 weeks")
    assert "until Monday 16 Nov" in text
    _, text = await say(app, ALEX, "statut")
    assert "Vous êtes en veille jusqu'au lundi 16 nov." in text
    with app.db.session(WS.key) as s:
        rows = {m.user_id: m for m in s.scalars(select(CoffeeMember))}
    assert rows[OUTSIDER.id].status == "joined"
    assert rows[ANNA.id].status == "left"
    assert utc(rows[ALEX.id].snoozed_until) == T0 + dt.timedelta(days=14)


async def test_status_of_someone_outside_the_channel(app: Any) -> None:
    await start_programme(app)
    _, text = await say(app, OUTSIDER, "status", conv=in_dm(OUTSIDER))
    assert "You're not in #coffee, so you're not taking part" in text
    _, text = await say(app, CARL, "status", conv=in_dm(CARL))
    assert "You're in." in text


async def test_a_second_programme_needs_naming_in_a_dm(app: Any, chat: ConsoleChat) -> None:
    await start_programme(app)
    await say(app, HR, "cadence weekly", conv=GENERAL)
    _, text = await say(app, ANNA, "join", conv=in_dm(ANNA))
    assert "several coffee programmes" in text and "#coffee" in text and "#general" in text
    _, text = await say(app, OUTSIDER, "join #general", conv=in_dm(OUTSIDER))
    assert "#general" in text and "You're in" in text


# ---- a round ---------------------------------------------------------------------------------------


async def test_run_now_introduces_everyone_once(app: Any, chat: ConsoleChat) -> None:
    await start_programme(app)
    await say(app, OUTSIDER, "join", conv=in_dm(OUTSIDER))
    await say(app, ANNA, "leave")
    await say(app, ALEX, "snooze 1 week")
    chat.sent.clear()
    outcome, text = await say(app, HR, "run now")
    intros = group_messages(chat)
    grouped = [u for m in intros for u in m.user_ids]
    expected = {HR.id, BEA.id, BORIS.id, CARL.id, CORA.id, OUTSIDER.id}  # no bot, no leaver, no snoozer
    assert sorted(grouped) == sorted(expected)
    assert all(len(m.user_ids) in (2, 3) for m in intros)
    assert "6 people in 3 groups; 3 intros sent" in text
    for m in intros:
        for u in m.user_ids:
            assert f"<@{u}>" in m.text
    with app.db.session(WS.key) as s:
        rnd = s.scalars(select(CoffeeRound)).one()
        assert (rnd.period, rnd.participants, rnd.eligible, rnd.groups, rnd.manual) == ("2026-W45", 6, 7, 3, True)
        assert rnd.intros_done_at is not None
        assert all(g.intro_sent_at is not None for g in s.scalars(select(CoffeeGroup)))

    # The same period again: nobody is paired twice.
    before = snapshot(app)
    chat.sent.clear()
    _, text = await say(app, HR, "run now")
    assert "already ran" in text and "2026-W45" in text
    assert group_messages(chat) == []
    assert snapshot(app) == before


async def test_the_database_refuses_a_second_round_in_a_period(app: Any) -> None:
    from sqlalchemy.exc import IntegrityError

    await start_programme(app)
    with app.db.session(WS.key) as s:
        pid = s.scalars(select(CoffeeProgramme)).one().id
    row = dict(programme_id=pid, period="2026-W45", scheduled_for=T0, followup_due_at=T0)
    with app.db.session(WS.key) as s:
        s.add(CoffeeRound(**row))
    with pytest.raises(IntegrityError):
        with app.db.session(WS.key) as s:
            s.add(CoffeeRound(**row))


async def test_intros_speak_the_members_language(make_app, database_url) -> None:  # noqa: ANN001
    # Two French speakers only: the intro is in French.
    chat = make_chat((HR, BEA, BORIS))
    app = make_app(database_url=database_url, chats={"console": chat}, **ADMINS)
    await start_programme(app)
    await say(app, HR, "leave")
    chat.sent.clear()
    await say(app, HR, "run now")
    (intro,) = group_messages(chat)
    assert set(intro.user_ids) == {BEA.id, BORIS.id}
    assert intro.text.startswith("☕ Bonjour") and "Hi " not in intro.text


async def test_mixed_languages_get_both(app: Any, chat: ConsoleChat) -> None:
    await start_programme(app)
    chat.sent.clear()
    await say(app, HR, "run now")
    mixed = [m for m in group_messages(chat) if {BEA.id, BORIS.id} & set(m.user_ids) and
             {HR.id, ANNA.id, ALEX.id, CARL.id, CORA.id} & set(m.user_ids)]
    assert mixed, "a French and an English speaker share a group"
    assert all("Hi " in m.text and "Bonjour" in m.text for m in mixed)


async def test_too_few_people_pair_nobody(make_app, database_url) -> None:  # noqa: ANN001
    chat = make_chat((HR, ANNA))
    app = make_app(database_url=database_url, chats={"console": chat}, **ADMINS)
    await start_programme(app)
    await say(app, ANNA, "leave")
    before = snapshot(app)
    _, text = await say(app, HR, "run now")
    assert "Only 1 person can take part" in text
    assert snapshot(app) == before


async def test_paused_programme_does_not_run(app: Any, chat: ConsoleChat) -> None:
    await start_programme(app)
    await say(app, HR, "pause")
    chat.sent.clear()
    _, text = await say(app, HR, "run now")
    assert "paused, so no round ran" in text
    assert group_messages(chat) == []


async def test_next_round_avoids_last_rounds_pairs(make_app, database_url, clock) -> None:  # noqa: ANN001
    chat = make_chat((HR, ANNA, BEA, CARL))
    app = make_app(database_url=database_url, chats={"console": chat}, **ADMINS)
    await start_programme(app)
    seen: list[set[frozenset[str]]] = []
    for week in range(3):
        chat.sent.clear()
        _, text = await say(app, HR, "run now")
        assert "4 people in 2 groups" in text, text
        seen.append({frozenset(m.user_ids) for m in group_messages(chat)})
        clock.advance(dt.timedelta(days=7))
    # 4 people can be paired in 3 ways: three rounds use all three, never a pair twice.
    assert len(set().union(*seen)) == 6


async def test_starter_comes_from_a_topic_the_group_shares(make_app, database_url) -> None:  # noqa: ANN001
    from bot.db.expertise import ExpertiseScore, ExpertiseTopic

    chat = make_chat((ANNA, BEA))
    app = make_app(database_url=database_url, chats={"console": chat}, **ADMINS)
    with app.db.session(WS.key) as s:
        for uid, key, score in ((ANNA.id, "kafka", 3.0), (BEA.id, "kafka", 1.0), (ANNA.id, "figma", 2.0), (BEA.id, "rust", 5.0)):
            s.add(ExpertiseScore(user_id=uid, topic_key=key, wrote_s=score))
        s.add(ExpertiseTopic(key="kafka", display="Kafka", lang="en", people_n=2))
    await start_programme(app)
    chat.sent.clear()
    await say(app, HR, "run now")
    (intro,) = group_messages(chat)
    assert "*Kafka*" in intro.text


async def test_a_topic_most_people_share_is_no_starter(make_app, database_url) -> None:  # noqa: ANN001
    from bot.db.expertise import ExpertiseScore, ExpertiseTopic

    chat = make_chat((ANNA, BEA))
    app = make_app(database_url=database_url, chats={"console": chat}, **ADMINS)
    with app.db.session(WS.key) as s:
        for i in range(20):  # twenty people talk about "team"
            s.add(ExpertiseScore(user_id=f"U0X{i}", topic_key="team", wrote_s=1.0))
        for uid in (ANNA.id, BEA.id):
            s.add(ExpertiseScore(user_id=uid, topic_key="team", wrote_s=4.0))
        s.add(ExpertiseTopic(key="team", display="team", lang="en", people_n=22))
    await start_programme(app)
    chat.sent.clear()
    await say(app, HR, "run now")
    (intro,) = group_messages(chat)
    assert "*team*" not in intro.text and "Starter:" in intro.text


async def test_a_failed_send_is_retried_by_the_sweep_and_nobody_gets_two_intros(make_app, database_url, clock) -> None:  # noqa: ANN001
    class FlakyChat(ConsoleChat):
        """The platform refuses group messages while ``down``."""

        down_after: int | None = None

        async def send(self, workspace, message):  # noqa: ANN001
            if isinstance(message, GroupMessage) and self.down_after is not None:
                if self.down_after <= 0:
                    raise ChatError("rate limited", retryable=True)
                self.down_after -= 1
            return await super().send(workspace, message)

    members = (HR, ANNA, ALEX, BEA, BORIS, CARL, CORA, OUTSIDER)
    chat = make_chat(members, chat_cls=FlakyChat)
    app = make_app(database_url=database_url, chats={"console": chat}, **ADMINS)
    await start_programme(app)
    chat.sent.clear()
    chat.down_after = 2
    _, text = await say(app, HR, "run now")
    assert "2 intros sent, 2 not delivered yet" in text
    chat.down_after = None
    clock.advance(dt.timedelta(minutes=15))
    await app.dispatcher.handle(ScheduledTick(WS, SWEEP_JOB, clock.now()))
    intros = group_messages(chat)
    assert len(intros) == 4
    assert sorted(u for m in intros for u in m.user_ids) == sorted(p.id for p in members)
    with app.db.session(WS.key) as s:
        assert s.scalars(select(CoffeeRound)).one().intros_done_at is not None
        groups = s.scalars(select(CoffeeGroup)).all()
        assert all(g.intro_sent_at is not None for g in groups)
    # Another sweep sends nothing more.
    await app.dispatcher.handle(ScheduledTick(WS, SWEEP_JOB, clock.now()))
    assert len(group_messages(chat)) == 4


async def test_a_crash_mid_round_resumes_without_repeats(make_app, database_url, clock) -> None:  # noqa: ANN001
    class CrashingChat(ConsoleChat):
        """The process "dies" (an unexpected error) at the third group message."""

        crash_at: int | None = 3

        async def send(self, workspace, message):  # noqa: ANN001
            if isinstance(message, GroupMessage) and self.crash_at is not None:
                self.crash_at -= 1
                if self.crash_at == 0:
                    raise RuntimeError("worker killed")
            return await super().send(workspace, message)

    members = (HR, ANNA, ALEX, BEA, BORIS, CARL, CORA, OUTSIDER)
    chat = make_chat(members, chat_cls=CrashingChat)
    app = make_app(database_url=database_url, chats={"console": chat}, **ADMINS)
    await start_programme(app)
    chat.sent.clear()
    outcome, _ = await say(app, HR, "run now")
    assert outcome.status == "error"
    assert len(group_messages(chat)) == 2
    chat.crash_at = None
    await app.dispatcher.handle(ScheduledTick(WS, SWEEP_JOB, clock.now()))
    intros = group_messages(chat)
    assert len(intros) == 4
    assert sorted(u for m in intros for u in m.user_ids) == sorted(p.id for p in members)


# ---- follow-up, answers, stats -----------------------------------------------------------------------


async def test_follow_up_halfway_answers_and_stats(app: Any, chat: ConsoleChat, clock) -> None:  # noqa: ANN001
    await start_programme(app)
    await say(app, HR, "run now")
    chat.sent.clear()
    # Not yet halfway: no follow-up.
    clock.advance(dt.timedelta(days=3))
    await app.dispatcher.handle(ScheduledTick(WS, SWEEP_JOB, clock.now()))
    assert group_messages(chat) == []
    clock.advance(dt.timedelta(days=1))
    await app.dispatcher.handle(ScheduledTick(WS, SWEEP_JOB, clock.now()))
    followups = group_messages(chat)
    assert len(followups) == 3
    assert all([b.action_id for b in m.buttons] == ["coffee.met", "coffee.not_met"] for m in followups)
    await app.dispatcher.handle(ScheduledTick(WS, SWEEP_JOB, clock.now()))
    assert len(group_messages(chat)) == 3  # once per group

    first, second = followups[0], followups[1]

    def press(who: str, action: str, value: str) -> ActionInvoked:
        return ActionInvoked(WS, Conversation(f"G-{who}", "group"), Person(who), action, value, event_id=f"EvAct{next(_n)}")

    outcome = await app.dispatcher.handle(press(first.user_ids[0], "coffee.met", first.buttons[0].value))
    assert "Great" in outcome.outbound[0].text or "Super" in outcome.outbound[0].text
    await app.dispatcher.handle(press(second.user_ids[0], "coffee.not_met", second.buttons[1].value))
    # Someone pressing another group's button records nothing.
    stranger = next(u for u in second.user_ids if u not in first.user_ids)
    outcome = await app.dispatcher.handle(press(stranger, "coffee.met", first.buttons[0].value))
    assert "not in" in outcome.outbound[0].text or "pas partie" in outcome.outbound[0].text
    with app.db.session(WS.key) as s:
        answers = {(m.user_id, m.met) for m in s.scalars(select(CoffeeGroupMember)) if m.met is not None}
    assert answers == {(first.user_ids[0], True), (second.user_ids[0], False)}

    _, text = await say(app, HR, "stats")
    assert "2026-W45: 7 of 7 people took part, 3 groups, met rate 50 % (1 of 2 groups that answered)" in text
    for p in MEMBERS:
        assert p.id not in text and p.name not in text  # aggregates only


async def test_stats_before_any_round(app: Any) -> None:
    await start_programme(app)
    _, text = await say(app, HR, "stats")
    assert "No round has run in #coffee yet" in text


# ---- newcomers and ties ------------------------------------------------------------------------------


async def test_a_newcomer_is_welcomed_and_included(app: Any, chat: ConsoleChat) -> None:
    await start_programme(app)
    outcome = await app.dispatcher.handle(MemberJoined(WS, COFFEE, OUTSIDER, event_id="EvJoin1"))
    (welcome,) = outcome.outbound
    assert isinstance(welcome, DirectMessage) and welcome.user_id == OUTSIDER.id
    assert "Welcome to #coffee" in welcome.text and "every week on Monday at 10:00 (UTC)" in welcome.text
    chat.sent.clear()
    await say(app, HR, "run now")
    assert OUTSIDER.id in {u for m in group_messages(chat) for u in m.user_ids}


async def test_someone_who_left_is_not_welcomed_back(app: Any) -> None:
    await start_programme(app)
    await say(app, CARL, "leave")
    outcome = await app.dispatcher.handle(MemberJoined(WS, COFFEE, CARL, event_id="EvJoin2"))
    assert outcome.outbound == []
    with app.db.session(WS.key) as s:
        assert s.scalars(select(CoffeeMember).where(CoffeeMember.user_id == CARL.id)).one().status == "left"


async def test_ties_are_counted_from_threads_and_mentions(app: Any) -> None:
    root = message(ANNA, "Who has the Kafka runbook?", channel=GENERAL.id)
    await app.dispatcher.handle(root)
    await app.dispatcher.handle(message(BEA, "Here it is", channel=GENERAL.id, thread_ts=root.ts, parent_user_id=ANNA.id))
    await app.dispatcher.handle(message(BEA, "Thanks <@U0ANNA> and <@U0CARL>", channel=GENERAL.id, mentions=(ANNA.id, CARL.id)))
    await app.dispatcher.handle(message(CARL, "Note to self <@U0CARL>", channel=GENERAL.id, mentions=(CARL.id,)))
    IngestWorker(app).drain()
    with app.db.session(WS.key) as s:
        ties = {(t.user_a, t.user_b): t.interactions for t in s.scalars(select(CoffeeTie))}
    assert ties == {tuple(sorted((ANNA.id, BEA.id))): 2.0, tuple(sorted((BEA.id, CARL.id))): 1.0}


async def test_strong_ties_are_not_paired(make_app, database_url) -> None:  # noqa: ANN001
    # Anna and Bea talk all the time, so do Carl and Cora: the round pairs across those ties.
    people = (HR, ANNA, BEA, CARL, CORA)
    chat = make_chat(people)
    app = make_app(database_url=database_url, chats={"console": chat}, **ADMINS)
    await start_programme(app)
    await say(app, HR, "leave")
    with app.db.session(WS.key) as s:
        for a, b in ((ANNA.id, BEA.id), (CARL.id, CORA.id)):
            s.add(CoffeeTie(user_a=min(a, b), user_b=max(a, b), interactions=50.0))
    chat.sent.clear()
    await say(app, HR, "run now")
    pairs = {frozenset(m.user_ids) for m in group_messages(chat)}
    assert frozenset((ANNA.id, BEA.id)) not in pairs and frozenset((CARL.id, CORA.id)) not in pairs


async def test_forget_me_ends_coffee_until_the_person_joins_again(app: Any, chat: ConsoleChat, clock) -> None:  # noqa: ANN001
    from tests.conftest import dm

    await start_programme(app)
    await say(app, CARL, "join")
    outcome = await app.dispatcher.handle(dm(CARL, "forget me"))
    assert "out of coffee rounds" in outcome.outbound[0].text and "*coffee join*" in outcome.outbound[0].text
    # Carl is still in #coffee, whose members take part, and says something to the bot.
    _, text = await say(app, CARL, "status")
    assert "You're not taking part" in text
    rejoined = await app.dispatcher.handle(MemberJoined(WS, COFFEE, CARL, event_id="EvJoinAgain"))
    assert rejoined.outbound == []  # joining the channel again is not "coffee join"
    chat.sent.clear()
    _, text = await say(app, HR, "run now")
    assert "6 people in 3 groups" in text
    assert CARL.id not in {u for m in group_messages(chat) for u in m.user_ids}
    with app.db.session(WS.key) as s:
        assert s.scalars(select(CoffeeRound)).one().eligible == 6

    _, text = await say(app, CARL, "join")
    assert text.startswith("You're in")
    clock.advance(dt.timedelta(days=7))
    chat.sent.clear()
    _, text = await say(app, HR, "run now")
    assert "7 people in 3 groups" in text
    assert CARL.id in {u for m in group_messages(chat) for u in m.user_ids}


async def test_forget_me_erases_a_person_from_coffee_but_keeps_the_aggregates(app: Any, chat: ConsoleChat) -> None:
    from bot.privacy import forget_person

    await start_programme(app)
    await say(app, CARL, "snooze 1 week")
    await say(app, CARL, "join")
    await say(app, HR, "run now")
    with app.db.session(WS.key) as s:
        s.add(CoffeeTie(user_a=CARL.id, user_b=CORA.id, interactions=3.0))
    with app.db.session(WS.key) as s:
        counts = forget_person(s, CARL.id)
    assert counts["coffee_members"] == 1 and counts["coffee_group_members"] == 1 and counts["coffee_ties"] == 1
    with app.db.session(WS.key) as s:
        for model, col in ((CoffeeMember, CoffeeMember.user_id), (CoffeeGroupMember, CoffeeGroupMember.user_id)):
            assert s.scalars(select(model).where(col == CARL.id)).all() == []
        assert s.scalars(select(CoffeeRound)).one().participants == 7
    _, text = await say(app, HR, "stats")
    assert "7 of 7 people took part" in text

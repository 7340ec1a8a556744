"""The router: decorator-declared routes and how events are matched to them."""

import datetime as dt

import pytest

from bot.events import ActionInvoked, CommandInvoked, Conversation, Person, ReactionAdded, ScheduledTick, Workspace
from bot.router import Router, Routes
from tests.conftest import dm, message, person

WS = Workspace("console", "acme")
ALICE = person("U1", "Alice")


def build() -> tuple[Router, dict]:
    r = Routes("demo", help={"en": ["• demo"], "fr": ["• démo"]})
    hits: dict = {}

    @r.command("coffee", aliases=["café"], admin=False)
    def coffee(event, ctx):  # noqa: ANN001
        return None

    @r.message(en=r"who knows (?P<topic>.+?)", fr=r"qui conna[iî]t (?P<topic>.+?)")
    def whoknows(event, ctx):  # noqa: ANN001
        return None

    @r.message(en=r"thanks (?P<rest>.+)", anywhere=True, priority=5)
    def thanks(event, ctx):  # noqa: ANN001
        return None

    @r.reaction("pray")
    def pray(event, ctx):  # noqa: ANN001
        return None

    @r.reaction()
    def any_reaction(event, ctx):  # noqa: ANN001
        return None

    @r.action("coffee.")
    def met(event, ctx):  # noqa: ANN001
        return None

    @r.schedule("coffee.round")
    def round_(event, ctx):  # noqa: ANN001
        return None

    router = Router()
    router.include(r)
    return router, hits


def test_typed_command_with_or_without_slash_and_alias() -> None:
    router, _ = build()
    for text in ("coffee status", "/coffee status", "Café status"):
        m = router.match_text(text, addressed=True)
        assert m is not None and m.route.name == "coffee" and m.args == "status", text


def test_typed_command_only_when_addressed() -> None:
    router, _ = build()
    assert router.match_text("coffee status", addressed=False) is None


def test_bilingual_pattern_sets_language_and_groups() -> None:
    router, _ = build()
    en = router.match_text("Who knows Kafka?", addressed=True)
    fr = router.match_text("qui connaît Terraform ?", addressed=True)
    assert en.route.handler.__name__ == "whoknows" and en.lang == "en" and en.groups == {"topic": "Kafka"}
    assert fr.lang == "fr" and fr.groups == {"topic": "Terraform"}


def test_plain_channel_messages_reach_only_anywhere_routes() -> None:
    router, _ = build()
    assert router.match_text("who knows Kafka?", addressed=False) is None
    m = router.match_text("thanks <@U2> for the fix", addressed=False)
    assert m.route.handler.__name__ == "thanks"


def test_match_events() -> None:
    router, _ = build()
    conv = Conversation("C1")
    cmd = CommandInvoked(WS, conv, ALICE, command="coffee", text="join")
    assert [m.route.name for m in router.match(cmd)] == ["coffee"]
    assert router.match(CommandInvoked(WS, conv, ALICE, command="nope", text="")) == []
    react = ReactionAdded(WS, conv, ALICE, reaction="pray", item_ts="1.0", item_author="U2")
    assert sorted(m.route.handler.__name__ for m in router.match(react)) == ["any_reaction", "pray"]
    other = ReactionAdded(WS, conv, ALICE, reaction="tada", item_ts="1.0", item_author="U2")
    assert [m.route.handler.__name__ for m in router.match(other)] == ["any_reaction"]
    action = ActionInvoked(WS, conv, ALICE, action_id="coffee.met", value="7")
    assert router.match(action)[0].route.handler.__name__ == "met"
    tick = ScheduledTick(WS, job="coffee.round", fire_time=dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc))
    assert router.match(tick)[0].route.handler.__name__ == "round_"
    assert router.match(ScheduledTick(WS, job="other", fire_time=tick.fire_time)) == []


def test_bot_and_deleted_messages_match_nothing() -> None:
    router, _ = build()
    bot = Person("B1", "CI", is_bot=True)
    assert router.match(dm(bot, "who knows kafka")) == []
    assert router.match(message(ALICE, "thanks <@U2>", deleted=True)) == []


def test_a_command_claimed_twice_is_refused() -> None:
    a, b = Routes("a"), Routes("b")
    a.command("coffee")(lambda e, c: None)
    b.command("coffee")(lambda e, c: None)
    router = Router()
    router.include(a)
    with pytest.raises(ValueError, match="claimed by"):
        router.include(b)


def test_help_lines_fall_back_to_english() -> None:
    router, _ = build()
    extra = Routes("x", help={"en": ["• x"]})
    router.include(extra)
    assert router.help_lines("fr") == ["• démo", "• x"]


def test_a_message_route_needs_a_pattern() -> None:
    with pytest.raises(ValueError):
        Routes("x").message()

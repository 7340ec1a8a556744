"""Matching takes time linear in the text: no message, however it is made, freezes the bot.

The skills' own patterns are used (the router bootstrap builds). The time bounds are generous on
purpose (each match here takes well under a millisecond): they stand for the safety property
that one message cannot hold the process for seconds, which these inputs did before (2 s to
47 s each)."""

from __future__ import annotations

import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.app.bootstrap import build_router
from bot.router import MAX_MATCH_CHARS, Routes, normalise

BOUND = 0.5  # seconds; generous, see the module's docstring

ROUTER = build_router()


def timed_match(text: str, *, addressed: bool):  # noqa: ANN201
    started = time.perf_counter()
    found = ROUTER.match_text(text, addressed=addressed)
    elapsed = time.perf_counter() - started
    assert elapsed < BOUND, f"matching {len(text)} characters took {elapsed:.2f} s"
    return found


def route_of(found) -> str | None:  # noqa: ANN001
    return None if found is None else f"{found.route.skill}.{found.route.handler.__name__}"


def test_a_thanks_followed_by_1500_newlines_is_read_at_once() -> None:
    text = "thanks <@U0BOB> x" + "\n" * 1500 + "y"
    assert len(text) == 1518
    found = timed_match(text, addressed=False)
    assert route_of(found) == "kudos.thanks_message"
    assert found.groups["who"] == "<@U0BOB>" and found.groups["reason"] == "x y"


def test_a_question_with_2000_whitespace_characters_inside_is_read_at_once() -> None:
    for spaces in (" " * 2000, "\n" * 2000, " \n\t\u00a0" * 500):
        found = timed_match("who knows x" + spaces + "y", addressed=True)
        assert route_of(found) == "expertise.who_knows_message" and found.groups["q"] == "x y"
        assert timed_match(spaces, addressed=True) is None


@pytest.mark.parametrize("n", [12, 13])
@pytest.mark.parametrize("separator", [" \n ", "\n\n", " \n\n "])
def test_many_mentions_with_whitespace_between_are_read_at_once(n: int, separator: str) -> None:
    mentions = separator.join(["<@U0BOB>"] * n)
    for addressed in (False, True):
        assert timed_match(mentions, addressed=addressed) is None
        assert timed_match(mentions + "!", addressed=addressed) is None
        found = timed_match(mentions + "\n\nthanks!", addressed=addressed)
        assert route_of(found) == "kudos.thanks_message"
        assert found.groups["who"].count("<@U0BOB>") == n


def test_longer_than_the_cap_is_matched_by_nothing() -> None:
    head = "thanks <@U0BOB> for "
    at_cap = head + "x" * (MAX_MATCH_CHARS - len(head))
    assert route_of(timed_match(at_cap, addressed=False)) == "kudos.thanks_message"
    assert timed_match(at_cap + "x", addressed=False) is None
    # Surrounding whitespace does not count.
    assert route_of(timed_match("\n" * 50 + at_cap + " " * 50, addressed=False)) == "kudos.thanks_message"


def test_a_pattern_re2_cannot_run_in_linear_time_is_refused_when_declared() -> None:
    routes = Routes("demo")
    with pytest.raises(ValueError, match="RE2"):
        routes.message(en=r"(?P<x>a)\1")  # a back-reference


# ---- any mix of whitespace, mentions and words ---------------------------------------------------

MENTIONS = ["<@U0BOB>", "<@U0ADA|ada>", "@bob", "@élodie", "<!here>", "<@29:1abc>"]
WORDS = ["thanks", "thank you", "merci", "kudos", "for", "pour", "and", "et", "&", ",", "who knows", "qui connaît",
         "kafka", "x", "the", "help", "forget topic", "i know", ".", "!", "?", ":", "-", "…", "aide"]
SPACE = st.text(alphabet=[" ", "\n", "\t", "\r", "\u00a0", "\u202f", "\u2003"], min_size=0, max_size=6)
LONG_SPACE = st.text(alphabet=[" ", "\n", "\t"], min_size=0, max_size=1500)


STARTS = ["", "thanks <@U0BOB> ", "who knows ", "merci @bob pour ", "<@U0ADA> ", "qui connaît "]


@st.composite
def messages(draw) -> str:  # noqa: ANN001
    # Mentions are drawn as often as all the words together: runs of them are what backtracked.
    tokens = draw(st.lists(st.one_of(st.sampled_from(MENTIONS), st.sampled_from(WORDS)), min_size=0, max_size=40))
    parts: list[str] = [draw(SPACE), draw(st.sampled_from(STARTS))]
    for token in tokens:
        parts += [token, draw(st.one_of(SPACE, SPACE, SPACE, LONG_SPACE))]
    return "".join(parts)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(text=messages(), addressed=st.booleans())
def test_any_mix_of_whitespace_and_mentions_matches_at_once_and_as_its_normal_form(text: str, addressed: bool) -> None:
    found = timed_match(text, addressed=addressed)
    if len(text.strip()) <= MAX_MATCH_CHARS:
        # How words are spaced does not change what a message means.
        again = ROUTER.match_text(normalise(text), addressed=addressed)
        assert route_of(found) == route_of(again)
        assert (found and found.groups) == (again and again.groups)

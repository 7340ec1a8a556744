"""The markup patterns that read every message (Slack's and Teams' translation on the event loop,
the topic extraction in the worker, which shares the process) take time linear in the text:
each one stops at the next angle bracket or line break instead of rescanning to the end of the
text from every opening. The time bound is generous on purpose (each call takes milliseconds);
these inputs took 0.5 s to 9 s before. Each test also reads an ordinary message as before."""

from __future__ import annotations

import time

import pytest

from adapters.slack import translate as slack
from adapters.teams import translate as teams
from skills.expertise.nlp import clean_markup

BOUND = 0.5  # seconds; generous, see the module's docstring


def timed(fn, *args):  # noqa: ANN001, ANN201
    started = time.perf_counter()
    result = fn(*args)
    elapsed = time.perf_counter() - started
    assert elapsed < BOUND, f"{fn.__name__} took {elapsed:.2f} s"
    return result


@pytest.mark.parametrize("text", [
    "\n" * 20_000 + "x",  # blank lines before a line that is not a quote
    "\n \n" * 6_000 + "x",
    "<http" * 4_000,  # link openings never closed
    "<@" * 10_000,  # mention openings never closed
])
def test_topic_markup_is_read_in_linear_time(text: str) -> None:
    timed(clean_markup, text[:20_000])
    # An ordinary message loses its quotes, mentions and link targets as before.
    prose, _ = timed(clean_markup, "> quoted words\n  &gt; more quoted\nmine <@U1|ada> <!here> see <https://x.io/a|the doc>")
    assert "quoted" not in prose and "<" not in prose
    assert "mine" in prose and "the doc" in prose and "x.io" not in prose


@pytest.mark.parametrize("text", ["<@U0BOT|" * 5_000, "<@U1|" * 8_000])
def test_slack_mentions_are_read_in_linear_time(text: str) -> None:
    timed(slack.extract_mentions, text)
    timed(slack.strip_mention, text, "U0BOT")
    assert timed(slack.extract_mentions, "hi <@U1> and <@W2|bob>, <@U1>") == ("U1", "W2")
    assert timed(slack.strip_mention, "<@U0BOT|liaison>: who knows Kafka?", "U0BOT") == ("who knows Kafka?", True)


def activity(text: str, *mentions: tuple[str, str]) -> dict:
    entities = [{"type": "mention", "text": f"<at>{name}</at>", "mentioned": {"id": ident, "name": name}}
                for ident, name in mentions]
    return {"type": "message", "text": text, "entities": entities}


@pytest.mark.parametrize("text", ["<at>" * 7_000, "<p" * 14_000])
def test_teams_tags_are_read_in_linear_time(text: str) -> None:
    timed(teams.clean_text, activity(text), "28:bot")
    ordinary = activity("<p><at>Liaison</at> thanks <at>Bob</at> and <AT>Someone</AT></p>", ("28:bot", "Liaison"),
                        ("29:bob", "Bob"))
    assert timed(teams.clean_text, ordinary, "28:bot") == ("thanks <@29:bob> and Someone", ("29:bob",), True)

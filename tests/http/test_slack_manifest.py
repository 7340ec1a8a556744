"""The Slack app manifest asks for what the adapter listens to: every event it handles and every
slash command a skill declares, so an admin who creates the app from it gets a working bot."""

from __future__ import annotations

import re
from pathlib import Path

from bot.app.bootstrap import build_router

MANIFEST = Path(__file__).resolve().parents[2] / "config" / "slack-manifest.yml"
LISTENERS = Path(__file__).resolve().parents[2] / "adapters" / "slack" / "inbound.py"  # the bolt listeners


def _list_under(text: str, key: str) -> list[str]:
    block = re.search(rf"^(\s*){key}:\n((?:\1\s+- .*\n)+)", text, re.MULTILINE)
    assert block, f"no list {key} in the manifest"
    return [re.sub(r"\s+#.*$", "", line.strip()[2:]).strip() for line in block.group(2).splitlines()]


def test_every_handled_event_is_subscribed() -> None:
    text = MANIFEST.read_text(encoding="utf-8")
    subscribed = set(_list_under(text, "bot_events"))
    handled = set(re.findall(r'@bolt\.event\("([a-z_]+)"\)', LISTENERS.read_text(encoding="utf-8")))
    expected = (handled - {"message"}) | {"message.channels", "message.im"}
    assert expected <= subscribed, expected - subscribed
    assert "message.groups" not in subscribed and "message.mpim" not in subscribed  # never read private talk


def test_every_primary_command_is_a_slash_command_with_escaped_mentions() -> None:
    text = MANIFEST.read_text(encoding="utf-8")
    slash = set(re.findall(r"- command: /(\S+)", text))
    commands = {r.name for r in build_router().of_kind("command")}
    assert commands <= slash, commands - slash
    # should_escape turns "@alice" into <@U…|alice>, which the skills understand.
    assert text.count("should_escape: true") == len(slash)
    scopes = set(_list_under(text, "bot"))
    assert {"chat:write", "commands", "users:read", "channels:history", "im:history", "mpim:write"} <= scopes


def test_the_docs_count_the_urls_to_replace_as_the_manifest_has_them() -> None:
    text = MANIFEST.read_text(encoding="utf-8")
    urls = re.findall(r"^\s*(?:url|request_url): (\S+)$", text, re.MULTILINE)
    assert set(urls) == {"https://liaison.example.com/slack/events"}
    words = {4: "four", 5: "five", 6: "six", 7: "seven", 8: "eight"}
    docs = (MANIFEST.parents[1] / "docs" / "slack.md").read_text(encoding="utf-8")
    assert f"({words[len(urls)]} places" in docs
    assert f"{words[len(urls)]} places" in text.split("display_information:")[0]  # the manifest's own comment

"""The bundled sample workspace (bot/sample/workspace.json): a fictional company, loaded into
the database through the same path as live messages, for the demo and the console chat."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from importlib import resources
from typing import Any

from adapters.console.chat import permalink_for
from bot.events import Conversation, MessageReceived, Person, Workspace
from bot.i18n import strip_accents


@dataclass(frozen=True)
class SampleWorkspace:
    workspace: Workspace
    name: str
    people: dict[str, Person]
    hr_admins: tuple[str, ...]
    channels: dict[str, dict[str, Any]]
    messages: list[dict[str, Any]]

    def conversation(self, channel_id: str) -> Conversation:
        ch = self.channels[channel_id]
        return Conversation(id=channel_id, kind=ch.get("kind", "channel"), name=ch["name"])

    def channel_by_name(self, name: str) -> str | None:
        name = name.lstrip("#").lower()
        for cid, ch in self.channels.items():
            if ch["name"].lower() == name or cid.lower() == name:
                return cid
        return None

    def find(self, who: str) -> list[Person]:
        """People matching a user id, full name or first name (case-insensitive)."""
        w = strip_accents(who.strip().lower())
        exact = [p for p in self.people.values() if p.id.lower() == w or strip_accents(p.name.lower()) == w]
        return exact or [p for p in self.people.values() if strip_accents(p.name.lower()).split(" ")[0] == w]

    def message_events(self) -> list[MessageReceived]:
        """Every sample message as the event a platform would deliver."""
        out = []
        authors = {(m["channel"], m["ts"]): m["user"] for m in self.messages}
        for m in self.messages:
            sender = self.people[m["user"]]
            thread = m.get("thread_ts")
            in_thread = thread if thread and thread != m["ts"] else None
            conversation = self.conversation(m["channel"])
            out.append(
                MessageReceived(
                    workspace=self.workspace,
                    conversation=conversation,
                    sender=sender,
                    text=m["text"],
                    ts=m["ts"],
                    event_id=f"sample-{m['channel']}-{m['ts']}",
                    thread_ts=in_thread,
                    parent_user_id=authors.get((m["channel"], in_thread)) if in_thread else None,
                    mentions=tuple(_mentions(m["text"])),
                    time=dt.datetime.fromtimestamp(float(m["ts"]), dt.timezone.utc),
                    permalink=permalink_for(self.workspace, conversation.name or m["channel"], m["ts"]),
                )
            )
        return out


def _mentions(text: str) -> list[str]:
    import re

    return re.findall(r"<@([A-Z0-9]+)>", text)


def load_sample() -> SampleWorkspace:
    data = json.loads(resources.files("bot.sample").joinpath("workspace.json").read_text(encoding="utf-8"))
    ws = Workspace(data["workspace"].get("platform", "console"), data["workspace"]["id"])
    people = {
        p["id"]: Person(
            id=p["id"], name=p["name"], team=p.get("team"), tz=p.get("tz"), locale=p.get("locale"),
            email=p.get("email"), is_bot=bool(p.get("is_bot")), is_admin=bool(p.get("admin")),
        )
        for p in data["people"]
    }
    hr = tuple(p["id"] for p in data["people"] if p.get("hr_admin"))
    channels = {c["id"]: c for c in data["channels"]}
    return SampleWorkspace(ws, data["workspace"].get("name", ws.id), people, hr, channels, data["messages"])

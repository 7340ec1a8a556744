"""A console session: the bot on the sample workspace, talked to from a terminal.

``liaison chat`` and ``liaison demo`` use it. Messages go through the same dispatcher, queue
and worker as Slack and Teams messages; only the ChatPort differs (it prints). The app is built
by the function the composition root passes in (``build``: its ``bootstrap``), since an adapter
does not know the skills."""

from __future__ import annotations

import asyncio
import logging
import re
import sys
import time
from dataclasses import dataclass
from typing import Any, Callable, TextIO

from sqlalchemy import select

from bot import people
from bot.config import Settings, load_settings
from bot.db.models import Installation, PersonRow
from bot.dispatch import Outcome
from bot.events import CommandInvoked, Conversation, MessageReceived, Person
from bot.ingest import IngestWorker
from bot.ports import Clock

from adapters.console.chat import ConsoleChat, permalink_for
from adapters.console.sample import SampleWorkspace, load_sample

log = logging.getLogger("liaison.console")
BOT_MENTION = ("@liaison ", "@liaison, ", "@liaison: ")


class UnknownPerson(LookupError):
    pass


@dataclass
class ConsoleSession:
    app: Any  # the App the composition root built
    sample: SampleWorkspace
    chat: ConsoleChat

    @classmethod
    def open(cls, *, build: Callable[..., Any], settings: Settings | None = None, out: TextIO | None = None,
             clock: Clock | None = None) -> "ConsoleSession":
        sample = load_sample()
        settings = settings or load_settings()
        # The sample company's HR admins run its coffee programme.
        admins = tuple(dict.fromkeys((*settings.bot.hr_admins, *sample.hr_admins)))
        settings = settings.with_overrides(bot={"hr_admins": list(admins)})
        chat = ConsoleChat(
            people=sample.people,
            channels={cid: ch.get("members", []) for cid, ch in sample.channels.items()},
            channel_names={cid: ch["name"] for cid, ch in sample.channels.items()},
            out=out or sys.stdout,
            bot_name=settings.bot.name,
        )
        app = build(settings, clock=clock, platforms=[], chats={"console": chat})
        return cls(app, sample, chat)

    def is_loaded(self) -> bool:
        with self.app.db.session(None) as s:
            return s.get(Installation, self.sample.workspace.key) is not None

    def other_workspaces(self) -> list[str]:
        """Workspaces in the database other than the sample's: a real installation or import,
        which the sample company must not be mixed into by mistake."""
        with self.app.db.session(None) as s:
            people = set(s.scalars(select(PersonRow.workspace).distinct()))
            installed = set(s.scalars(select(Installation.workspace)))
        return sorted((people | installed) - {self.sample.workspace.key})

    async def load(self, *, progress: Callable[[int, int], None] | None = None) -> int:
        """Put the sample company in the database: its directory, then every message through
        the dispatcher, then the worker until the queue is empty. Safe to run twice."""
        ws = self.sample.workspace
        with self.app.db.session(ws.key) as s:
            people.sync_directory(s, self.sample.people.values())
        if "nlp" in self.app.services:
            # The pipelines first, so the first thanks does not wait for them mid-way.
            await asyncio.to_thread(self.app.services.get, "nlp")
        events = self.sample.message_events()
        if progress:
            progress(0, len(events))
        for i, event in enumerate(events, 1):
            await self.app.dispatcher.handle(event)
            if progress and (i % 50 == 0 or i == len(events)):
                progress(i, len(events))
        worker = IngestWorker(self.app)
        await asyncio.to_thread(worker.drain)
        with self.app.db.session(None) as s:
            if s.get(Installation, ws.key) is None:
                s.add(Installation(workspace=ws.key, name=self.sample.name))
        return len(events)

    def person(self, who: str) -> Person:
        found = self.sample.find(who)
        if len(found) == 1:
            return found[0]
        names = ", ".join(sorted(p.name.split(" ")[0] for p in self.sample.people.values() if not p.is_bot))
        if not found:
            raise UnknownPerson(f"nobody called {who!r} in {self.sample.name}; try one of: {names}")
        raise UnknownPerson(f"{who!r} could be {', '.join(p.name for p in found)}; use the full name")

    def channel(self, name: str) -> str:
        """The id of the sample channel called ``name`` (with or without #)."""
        cid = self.sample.channel_by_name(name)
        if cid is None:
            known = ", ".join("#" + c["name"] for c in self.sample.channels.values())
            raise UnknownPerson(f"{self.sample.name} has no channel {name!r}; choose one of {known}")
        return cid

    async def say(self, who: Person, text: str, *, channel: str | None = None, thread_ts: str | None = None) -> Outcome:
        """``who`` writes ``text``: to the bot in a DM, or in ``channel`` (addressed to the bot
        when it starts with @Liaison). In a channel, ``/thanks …`` is a slash command, as on Slack:
        the bot answers it, and it is not a message of the channel."""
        ws = self.sample.workspace
        # Each run of `liaison chat --say` is a new process: the message id must still be unique,
        # or the dispatcher would take a second message in the same second for a redelivery.
        self._n = getattr(self, "_n", 0) + 1
        micros = (time.time_ns() // 1000 + self._n) % 1_000_000
        ts = f"{self.app.clock.now().timestamp():.0f}.{micros:06d}"
        if channel is None:
            conv = Conversation(id=f"D-{who.id}", kind="dm", name=None)
            addressed = True
        else:
            conv = self.sample.conversation(self.channel(channel))
            if text.lstrip().startswith("/"):
                return await self._command(who, conv, text, ts)
            addressed = text.lower().startswith(BOT_MENTION) or text.lower().strip() == "@liaison"
            if addressed:
                text = text.split(" ", 1)[1] if " " in text else ""
        text = self.link_mentions(text)
        event = MessageReceived(
            workspace=ws, conversation=conv, sender=who, text=text, ts=ts, event_id=f"console-{ts}",
            thread_ts=thread_ts, mentions=tuple(re.findall(r"<@([A-Za-z0-9]+)>", text)), addressed=addressed,
            time=self.app.clock.now(),
            permalink=permalink_for(ws, conv.name, ts) if conv.kind == "channel" and conv.name else None,
        )
        return await self.app.dispatcher.handle(event)

    async def _command(self, who: Person, conv: Conversation, text: str, ts: str) -> Outcome:
        """A slash command typed in a channel (``/thanks @Lukas for …``): a CommandInvoked, as
        Slack delivers it; an unknown command gets the bot's "didn't understand"."""
        command, _, args = text.lstrip().lstrip("/").partition(" ")
        args = self.link_mentions(args.strip())
        event = CommandInvoked(
            workspace=self.sample.workspace, conversation=conv, sender=who, command=command.lower(), text=args,
            event_id=f"console-cmd-{ts}", mentions=tuple(re.findall(r"<@([A-Za-z0-9]+)>", args)),
        )
        return await self.app.dispatcher.handle(event)

    def link_mentions(self, text: str) -> str:
        """``@Alice`` or ``@Alice Martin`` typed in the terminal becomes a real mention."""

        def sub(m: re.Match[str]) -> str:
            for candidate in (f"{m.group(1)} {m.group(2)}" if m.group(2) else None, m.group(1)):
                if candidate:
                    found = self.sample.find(candidate)
                    if len(found) == 1:
                        rest = "" if candidate != m.group(1) or not m.group(2) else f" {m.group(2)}"
                        return f"<@{found[0].id}>{rest}"
            return m.group(0)

        return re.sub(r"(?<![<\w])@([^\W\d_][\w'-]*)(?: ([A-Z][\w'-]*))?", sub, text)

    def close(self) -> None:
        self.app.close()

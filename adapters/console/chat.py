"""ConsoleChat: the ChatPort of the terminal. Messages are printed, as each person would see
them, instead of being sent; the directory is the bundled sample workspace. Files sent with a
message (charts) are written to a folder and their paths printed."""

from __future__ import annotations

import re
import sys
import tempfile
from pathlib import Path
from typing import Callable, Mapping, Sequence, TextIO

from bot.events import Attachment, DirectMessage, GroupMessage, Outbound, Person, Reply, Sent, Workspace

_MENTION = re.compile(r"<@([A-Za-z0-9_:\-]+)>")
_LINK = re.compile(r"<(https?://[^|>]+)\|([^>]+)>")
_BARE_LINK = re.compile(r"<(https?://[^|>]+)>")


def render(text: str, name_of: Callable[[str], str]) -> str:
    """Neutral markup to plain terminal text."""
    text = _MENTION.sub(lambda m: "@" + name_of(m.group(1)), text)
    text = _LINK.sub(lambda m: f"{m.group(2)} ({m.group(1)})", text)
    return _BARE_LINK.sub(lambda m: m.group(1), text)


def permalink_for(workspace: Workspace, channel_name: str, ts: str) -> str:
    """Where a message of the console workspace "lives": a link shaped like Slack's, on the
    workspace's example domain (the evidence links of an answer point there)."""
    return f"https://{workspace.id}.example/archives/{channel_name}/p{ts.replace('.', '')}"


class ConsoleChat:
    platform = "console"

    def __init__(
        self,
        *,
        people: Mapping[str, Person],
        channels: Mapping[str, Sequence[str]],
        channel_names: Mapping[str, str] | None = None,
        out: TextIO | None = None,
        bot_name: str = "Liaison",
        files_dir: str | None = None,
    ) -> None:
        self.people = dict(people)
        self.channels = {k: list(v) for k, v in channels.items()}
        self.channel_names = dict(channel_names or {})
        self.out = out or sys.stdout
        self.bot_name = bot_name
        self.files_dir = files_dir  # where files sent with messages are written (default: a new temporary folder)
        self.sent: list[tuple[str, Outbound]] = []  # (conversation id, message), for the demo and tests
        self._n = 0
        self.updated: list[tuple[Sent, str, tuple]] = []  # (message, new text, new buttons), for tests

    def name_of(self, user_id: str) -> str:
        p = self.people.get(user_id)
        return p.name if p else user_id

    def _print(self, where: str, text: str, buttons=()) -> None:  # noqa: ANN001
        body = render(text, self.name_of)
        lines = body.splitlines() or [""]
        print(f"  {self.bot_name} → {where}: {lines[0]}", file=self.out)
        for line in lines[1:]:
            print(f"      {line}", file=self.out)
        if buttons:
            print("      " + "  ".join(f"[ {b.label} ]" for b in buttons), file=self.out)

    async def send(self, workspace: Workspace, message: Outbound) -> Sent:
        self._n += 1
        ts = f"{self._n}.000000"
        if isinstance(message, Reply):
            conv = message.conversation
            where = "you (DM)" if conv.kind == "dm" else f"#{conv.name or self.channel_names.get(conv.id, conv.id)}"
            if message.ephemeral_to:
                where += f" (only {self.name_of(message.ephemeral_to)} sees this)"
            elif message.thread_ts and conv.kind != "dm":
                where += " (in thread)"
            self._print(where, message.text, message.buttons)
            conv_id = conv.id
        elif isinstance(message, DirectMessage):
            self._print(f"{self.name_of(message.user_id)} (DM)", message.text, message.buttons)
            conv_id = f"D-{message.user_id}"
        elif isinstance(message, GroupMessage):
            names = ", ".join(self.name_of(u) for u in message.user_ids)
            self._print(f"group chat with {names}", message.text, message.buttons)
            conv_id = "G-" + "-".join(sorted(message.user_ids))
        else:  # pragma: no cover - the Outbound union is closed
            raise TypeError(f"cannot send {type(message).__name__}")
        for f in getattr(message, "files", ()):
            print(f"      📎 {f.title or f.name}: {self._write(f)}", file=self.out)
        self.sent.append((conv_id, message))
        return Sent(conversation_id=conv_id, ts=ts)

    async def find_sent(self, workspace: Workspace, message: Outbound) -> Sent | None:
        """A keyed message printed before (the console keeps everything it sent)."""
        key = getattr(message, "key", None)
        if not key:
            raise TypeError("only a keyed message can be looked for")
        for conv_id, earlier in self.sent:
            if getattr(earlier, "key", None) == key:
                return Sent(conversation_id=conv_id)
        return None

    def _write(self, f: Attachment) -> str:
        """Write a file sent with a message to ``files_dir``; its path, to print."""
        if self.files_dir is None:
            self.files_dir = tempfile.mkdtemp(prefix="liaison-files-")
        folder = Path(self.files_dir)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / Path(f.name).name
        path.write_bytes(f.data)
        return str(path)

    async def lookup_user(self, workspace: Workspace, user_id: str) -> Person | None:
        return self.people.get(user_id)

    async def list_members(self, workspace: Workspace, conversation_id: str) -> Sequence[str]:
        return list(self.channels.get(conversation_id, ()))

    async def list_users(self, workspace: Workspace) -> Sequence[Person]:
        return list(self.people.values())

    async def permalink(self, workspace: Workspace, conversation_id: str, ts: str) -> str | None:
        return permalink_for(workspace, self.channel_names.get(conversation_id, conversation_id), ts)

    async def update(self, workspace: Workspace, sent: Sent, text: str, buttons=()) -> None:  # noqa: ANN001
        """Print the new version of a message sent earlier (the console cannot edit what it printed)."""
        conv = sent.conversation_id
        where = f"{self.name_of(conv[2:])} (DM)" if conv.startswith("D-") else conv
        self._print(f"{where}, the message above edited", text, buttons)
        self.updated.append((sent, text, tuple(buttons)))

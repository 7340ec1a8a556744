"""Routes: what each skill handler answers to, declared with decorators, matched here.

A skill module creates one ``Routes`` and decorates plain functions with it; the decorators only
record. ``bootstrap`` includes each skill's Routes in the Router explicitly, so nothing is
registered by importing a module.

Handlers are plain functions ``handler(event, ctx) -> Iterable[Outbound] | None``. They run in a
worker thread (so database and NLP work never blocks the event loop) and return what to send.

Message patterns are compiled with RE2 (the ``google-re2`` package), which matches in time linear
in the text whatever the pattern: no message can make matching backtrack for seconds. RE2 has no
look-around and no back-references; a pattern that uses them is refused when declared. Before
matching, a message's runs of whitespace (newlines, non-breaking spaces) become one space, and a
message longer than ``MAX_MATCH_CHARS`` is matched by nothing (it is still indexed when posted in
a public channel).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Literal, Mapping, Sequence

import re2

from bot.events import (
    ActionInvoked,
    CommandInvoked,
    HomeOpened,
    MemberJoined,
    MessageReceived,
    ReactionAdded,
    ScheduledTick,
)

Handler = Callable[..., Any]
RouteKind = Literal["command", "message", "reaction", "action", "schedule", "member_joined", "ingest", "home"]
LANGS = ("en", "fr")


@dataclass(frozen=True)
class Route:
    skill: str
    kind: RouteKind
    handler: Handler
    name: str = ""  # command name, schedule job, action id prefix or reaction name
    aliases: tuple[str, ...] = ()
    patterns: tuple[tuple[str, Any], ...] = ()  # (lang, pattern compiled by ``compile_pattern``)
    admin: bool = False
    anywhere: bool = False  # message routes: also plain channel messages, not only to the bot
    priority: int = 0  # higher first among message routes that match


@dataclass(frozen=True)
class DemoStep:
    """One line of ``liaison demo``: who says what, with a caption for the reader."""

    as_user: str  # first name, full name or user id in the sample workspace
    text: str
    caption: str = ""
    channel: str | None = None  # a channel name; None: a direct message to the bot


@dataclass(frozen=True)
class Match:
    route: Route
    lang: str | None = None  # language of the pattern that matched, when a message route
    groups: Mapping[str, str] = field(default_factory=dict)
    args: str = ""  # command arguments


# Longer messages are matched by no route: a message to the bot gets a "too long" answer from the
# dispatcher, a channel message is only indexed. Slack allows 40,000 characters, Teams about 28,000.
MAX_MATCH_CHARS = 4000


def compile_pattern(pattern: str) -> Any:
    """A message pattern as routes apply it: the whole message, ignoring case (accents count as
    written), with any end punctuation, in RE2 syntax (``\\pL`` for a letter of any script: RE2's
    ``\\w`` and ``\\s`` are ASCII only)."""
    options = re2.Options()
    options.case_sensitive = False
    options.dot_nl = True
    try:
        return re2.compile(rf"(?:{pattern})\s*[.!?]*", options)
    except re2.error as exc:
        raise ValueError(f"message pattern {pattern!r} is not valid RE2 syntax ({exc}); RE2 has no look-around "
                         "and no back-references") from None


def normalise(text: str) -> str:
    """The text routes are matched against: trimmed, every run of whitespace one space."""
    return " ".join(text.split())


class Routes:
    """The routes of one skill, collected by decorators."""

    def __init__(self, skill: str, *, help: Mapping[str, Sequence[str]] | None = None) -> None:
        self.skill = skill
        self.routes: list[Route] = []
        self.help: dict[str, tuple[str, ...]] = {k: tuple(v) for k, v in (help or {}).items()}
        self.demo: list[DemoStep] = []

    def _add(self, route: Route) -> None:
        self.routes.append(route)

    def command(self, name: str, *, aliases: Iterable[str] = (), admin: bool = False):
        """A command: ``/name args`` on Slack, or ``name args`` typed to the bot anywhere."""

        def deco(fn: Handler) -> Handler:
            self._add(Route(self.skill, "command", fn, name.lower(), tuple(a.lower() for a in aliases), admin=admin))
            return fn

        return deco

    def message(
        self,
        *,
        en: str | Sequence[str] = (),
        fr: str | Sequence[str] = (),
        anywhere: bool = False,
        admin: bool = False,
        priority: int = 0,
    ):
        """Messages matching one of the patterns (whole message, case-insensitive). Named groups
        reach the handler as ``ctx.match``; the language of the pattern becomes ``ctx.lang``."""

        def as_list(p: str | Sequence[str]) -> list[str]:
            return [p] if isinstance(p, str) else list(p)

        compiled = tuple((lang, compile_pattern(p)) for lang, ps in (("en", en), ("fr", fr)) for p in as_list(ps))
        if not compiled:
            raise ValueError("a message route needs at least one pattern")

        def deco(fn: Handler) -> Handler:
            self._add(Route(self.skill, "message", fn, patterns=compiled, anywhere=anywhere, admin=admin, priority=priority))
            return fn

        return deco

    def reaction(self, name: str = "*"):
        """Reactions; ``"*"`` receives every reaction (the handler decides, e.g. from settings)."""

        def deco(fn: Handler) -> Handler:
            self._add(Route(self.skill, "reaction", fn, name))
            return fn

        return deco

    def action(self, prefix: str):
        """Button presses whose action id starts with ``prefix``."""

        def deco(fn: Handler) -> Handler:
            self._add(Route(self.skill, "action", fn, prefix))
            return fn

        return deco

    def schedule(self, job: str):
        """A scheduled job named ``job`` (the scheduler emits ScheduledTick with that name)."""

        def deco(fn: Handler) -> Handler:
            self._add(Route(self.skill, "schedule", fn, job))
            return fn

        return deco

    def member_joined(self):
        def deco(fn: Handler) -> Handler:
            self._add(Route(self.skill, "member_joined", fn))
            return fn

        return deco

    def home(self):
        """A section of someone's home (Slack's Home tab): ``handler(event, ctx)`` returns the
        section's text (mrkdwn), a list of them, or None to show nothing."""

        def deco(fn: Handler) -> Handler:
            self._add(Route(self.skill, "home", fn))
            return fn

        return deco

    def ingest(self):
        """Receives batches of queued public-channel messages: ``handler(batch, ctx)``."""

        def deco(fn: Handler) -> Handler:
            self._add(Route(self.skill, "ingest", fn))
            return fn

        return deco

    def demo_step(self, as_user: str, text: str, caption: str = "", *, channel: str | None = None) -> None:
        """A line of ``liaison demo`` (text said to the bot, or in ``channel``)."""
        self.demo.append(DemoStep(as_user, text, caption, channel))


_LEADING_SLASH = re.compile(r"^\s*/")


class Router:
    """All routes of all included skills, and the matching rules."""

    def __init__(self) -> None:
        self.skills: list[Routes] = []
        self._routes: list[Route] = []

    def include(self, routes: Routes) -> None:
        if any(r.skill == routes.skill for r in self.skills):
            raise ValueError(f"skill {routes.skill!r} is included twice")
        self.skills.append(routes)
        self._routes.extend(routes.routes)
        self._check_commands()

    def _check_commands(self) -> None:
        seen: dict[str, str] = {}
        for r in self._routes:
            if r.kind != "command":
                continue
            for n in (r.name, *r.aliases):
                if n in seen and seen[n] != r.skill:
                    raise ValueError(f"command {n!r} is claimed by {seen[n]!r} and {r.skill!r}")
                seen[n] = r.skill

    def of_kind(self, kind: RouteKind) -> list[Route]:
        return [r for r in self._routes if r.kind == kind]

    def match_command(self, command: str, args: str = "") -> Match | None:
        command = command.lower().lstrip("/")
        for r in self.of_kind("command"):
            if command == r.name or command in r.aliases:
                return Match(r, args=args.strip())
        return None

    def match_text(self, text: str, *, addressed: bool) -> Match | None:
        """Match a message's text: a typed command first (``coffee status``, ``/coffee status``),
        then message patterns by priority. Plain channel messages only reach ``anywhere`` routes.
        A text longer than ``MAX_MATCH_CHARS`` (once trimmed) matches nothing; whitespace runs
        count as one space in what handlers receive (groups, command arguments)."""
        if len(text.strip()) > MAX_MATCH_CHARS:
            return None
        stripped = normalise(text)
        if addressed and stripped:
            head, _, rest = _LEADING_SLASH.sub("", stripped).partition(" ")
            m = self.match_command(head, rest)
            if m is not None:
                return m
        candidates = sorted(
            (r for r in self.of_kind("message") if addressed or r.anywhere),
            key=lambda r: -r.priority,
        )
        for r in candidates:
            for lang, pattern in r.patterns:
                found = pattern.fullmatch(stripped)
                if found:
                    groups = {k: v for k, v in found.groupdict().items() if v is not None}
                    return Match(r, lang=lang, groups=groups)
        return None

    def match(self, event: Any) -> list[Match]:
        """The routes an event goes to. Messages, commands and actions go to one route at most;
        reactions, joins and ticks to every route that wants them."""
        if isinstance(event, CommandInvoked):
            m = self.match_command(event.command, event.text)
            return [m] if m else []
        if isinstance(event, MessageReceived):
            if event.deleted or event.sender.is_bot:
                return []
            m = self.match_text(event.text, addressed=event.addressed)
            return [m] if m else []
        if isinstance(event, ReactionAdded):
            return [Match(r) for r in self.of_kind("reaction") if r.name in ("*", event.reaction)]
        if isinstance(event, ActionInvoked):
            for r in self.of_kind("action"):
                if event.action_id.startswith(r.name):
                    return [Match(r)]
            return []
        if isinstance(event, ScheduledTick):
            return [Match(r) for r in self.of_kind("schedule") if r.name == event.job]
        if isinstance(event, MemberJoined):
            return [Match(r) for r in self.of_kind("member_joined")]
        if isinstance(event, HomeOpened):
            return [Match(r) for r in self.of_kind("home")]
        return []

    def help_lines(self, lang: str) -> list[str]:
        lines: list[str] = []
        for skill in self.skills:
            lines.extend(skill.help.get(lang) or skill.help.get("en") or ())
        return lines

    def demo_steps(self) -> list[DemoStep]:
        return [step for skill in self.skills for step in skill.demo]

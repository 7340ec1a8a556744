"""Reading a standard Slack export (a folder or a .zip): users.json, channels.json and one folder
per public channel of daily JSON files, threads marked with ``thread_ts``.

``read_export`` reads and checks everything before anything is written, so a broken export is
reported (which file, which line, what to do) and leaves no partial import behind.
``import_export`` then queues the messages as the dispatcher queues live ones, a batch per
transaction: each is recorded (keyed by channel and timestamp, so a second import, or the live
bot seeing the same message, changes nothing) and queued; the ingestion worker turns the queue
into expertise evidence.

Only channels listed in channels.json (public channels) are read; groups.json, dms.json and
mpims.json (private conversations) are never opened. No Slack SDK is involved: it is JSON.
"""

from __future__ import annotations

import datetime as dt
import gc
import json
import re
import zipfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

from bot.events import Person, Workspace

# Message subtypes that are not someone writing (joins, topic changes, bots, …).
_SKIPPED_SUBTYPES = frozenset({
    "channel_join", "channel_leave", "channel_topic", "channel_purpose", "channel_name", "channel_archive",
    "channel_unarchive", "group_join", "group_leave", "bot_message", "bot_add", "bot_remove", "pinned_item",
    "unpinned_item", "reminder_add", "tombstone", "joiner_notification",
})
_DAY_FILE = re.compile(r"^\d{4}-\d{2}-\d{2}\.json$")


class ExportError(Exception):
    """The export cannot be imported; the message says which file and what to do."""


@dataclass(frozen=True)
class ExportMessage:
    channel_id: str
    channel_name: str
    user_id: str
    text: str
    ts: str
    thread_ts: str | None  # the thread's root, when this is a reply
    parent_user_id: str | None


@dataclass(frozen=True)
class SlackExport:
    workspace: Workspace
    name: str
    people: tuple[Person, ...]
    channels: tuple[tuple[str, str], ...]  # (id, name)
    messages: tuple[ExportMessage, ...]  # in time order
    skipped: int  # messages left out (bots, joins, unknown users when allowed)


class _Source:
    """Files of a folder or a zip, by path relative to the export's top folder."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._zip: zipfile.ZipFile | None = None
        self._prefix = ""
        if path.is_file():
            try:
                self._zip = zipfile.ZipFile(path)
            except zipfile.BadZipFile as exc:
                raise ExportError(f"{path} is neither a folder nor a valid .zip file ({exc})") from exc
            names = self._zip.namelist()
            if "users.json" not in names:
                tops = {n.split("/", 1)[0] for n in names if "/" in n}
                for top in tops:
                    if f"{top}/users.json" in names:
                        self._prefix = top + "/"
                        break
        elif not path.is_dir():
            raise ExportError(f"{path} does not exist; give the export's folder or .zip file")

    def exists(self, rel: str) -> bool:
        if self._zip is not None:
            return (self._prefix + rel) in self._zip.namelist()
        return (self.path / rel).is_file()

    def read_json(self, rel: str) -> Any:
        where = f"{self.path}{'!' if self._zip else '/'}{self._prefix}{rel}"
        try:
            if self._zip is not None:
                raw = self._zip.read(self._prefix + rel)
            else:
                raw = (self.path / rel).read_bytes()
        except (KeyError, FileNotFoundError) as exc:
            raise ExportError(f"{where} is missing; a Slack export has users.json, channels.json and one folder per channel") from exc
        try:
            return json.loads(raw.decode("utf-8"))
        except UnicodeDecodeError as exc:
            raise ExportError(f"{where} is not UTF-8 text ({exc}); is this a Slack export?") from exc
        except json.JSONDecodeError as exc:
            raise ExportError(f"{where} is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}); "
                              "re-download the export or remove that file") from exc

    def day_files(self, folder: str) -> list[str]:
        if self._zip is not None:
            base = self._prefix + folder + "/"
            names = [n[len(base):] for n in self._zip.namelist() if n.startswith(base)]
        else:
            d = self.path / folder
            names = [p.name for p in d.iterdir()] if d.is_dir() else []
        return sorted(f"{folder}/{n}" for n in names if _DAY_FILE.match(n))

    def close(self) -> None:
        if self._zip is not None:
            self._zip.close()


def _workspace_id(users: list[dict[str, Any]], channels: list[dict[str, Any]], given: str | None) -> str:
    """The workspace's id: the team id the users carry, else the one given (``--workspace``), else
    one derived from the export's content, so the same export read from two folder names (or a
    later export of the same workspace) lands in one workspace: ``export-`` and the id of its
    general channel (the oldest channel when none is marked general)."""
    team = next((t for u in users if isinstance(t := u.get("team_id") or u.get("team"), str) and t), None)
    if given is not None:
        given = given.strip()
        if not re.fullmatch(r"[A-Za-z0-9_.-]{1,80}", given):
            raise ExportError(f"--workspace {given!r} is not a Slack team id; give the id (T…) shown in your workspace's URLs")
        if team and given != team:
            raise ExportError(f"the export belongs to the Slack team {team}, not {given}; leave out --workspace")
        return given
    if team:
        return team
    general = [c for c in channels if c.get("is_general")] or sorted(
        channels, key=lambda c: (c.get("created") if isinstance(c.get("created"), (int, float)) else float("inf"), str(c["id"])))
    return f"export-{general[0]['id']}" if general else "slack-export"


def read_export(path: str | Path, *, allow_unknown_users: bool = False, workspace: str | None = None) -> SlackExport:
    """Read and check a whole export. Raises ExportError, naming the file, when it is broken.
    ``workspace``: the Slack team id, for an export whose users.json carries none."""
    path = Path(path)
    src = _Source(path)
    try:
        for required in ("users.json", "channels.json"):
            if not src.exists(required):
                raise ExportError(f"{path}: {required} is missing; a Slack export has users.json, channels.json "
                                  "and one folder per public channel")
        users = src.read_json("users.json")
        channels = src.read_json("channels.json")
        if not isinstance(users, list) or not all(isinstance(u, dict) and u.get("id") for u in users):
            raise ExportError(f"{path}: users.json must be a list of users, each with an id")
        if not isinstance(channels, list) or not all(isinstance(c, dict) and c.get("id") and c.get("name") for c in channels):
            raise ExportError(f"{path}: channels.json must be a list of channels, each with an id and a name")
        ws = Workspace("slack", _workspace_id(users, channels, workspace))

        people = _people(users)
        messages, unknown, skipped = _read_channels(src, path, channels, {p.id for p in people},
                                                    {p.id for p in people if p.is_bot})
        if unknown and not allow_unknown_users:
            sample = ", ".join(f"{u} (in {rel})" for u, rel in list(unknown.items())[:5])
            raise ExportError(
                f"{path}: {len(unknown)} user(s) write messages but are not in users.json: {sample}. "
                "Nothing was imported. Use a complete export, or pass --skip-unknown-users to leave their messages out."
            )
        messages.sort(key=lambda m: (_ts_key(m.ts), m.channel_id))
        return SlackExport(ws, ws.id, people, tuple((c["id"], c["name"]) for c in channels), tuple(messages), skipped)
    finally:
        src.close()


def _people(users: list[dict[str, Any]]) -> tuple[Person, ...]:
    """The people of users.json (bots and Slackbot marked as bots)."""
    return tuple(
        Person(
            id=u["id"],
            name=(u.get("profile") or {}).get("real_name") or u.get("real_name") or u.get("name") or u["id"],
            tz=u.get("tz"),
            locale=u.get("locale"),
            is_bot=bool(u.get("is_bot")) or u["id"] == "USLACKBOT",
        )
        for u in users
    )


def _read_channels(src: "_Source", path: Path, channels: list[dict[str, Any]], known: set[str],
                   bots: set[str]) -> tuple[list[ExportMessage], dict[str, str], int]:
    """The people's messages of every public channel; the unknown authors (id: first file they
    appear in); how many messages were left out (bots, joins, empty, unknown authors)."""
    messages: list[ExportMessage] = []
    unknown: dict[str, str] = {}
    skipped = 0
    for ch in channels:
        if ch.get("is_private") or ch.get("is_im") or ch.get("is_mpim"):
            continue
        cid, cname = ch["id"], ch["name"]
        for rel in src.day_files(cname):
            day = src.read_json(rel)
            if not isinstance(day, list):
                raise ExportError(f"{path}/{rel} must hold a list of messages")
            for i, m in enumerate(day):
                if not isinstance(m, dict) or not m.get("ts"):
                    raise ExportError(f"{path}/{rel}: message {i + 1} has no ts; the file is damaged")
                user = m.get("user")
                if (m.get("subtype") in _SKIPPED_SUBTYPES or m.get("bot_id") or not user or user in bots
                        or not (m.get("text") or "").strip()):
                    skipped += 1
                    continue
                if user not in known:
                    unknown.setdefault(user, rel)
                    skipped += 1
                    continue
                thread = m.get("thread_ts")
                messages.append(ExportMessage(
                    channel_id=cid, channel_name=cname, user_id=user, text=m["text"], ts=str(m["ts"]),
                    thread_ts=str(thread) if thread and thread != m["ts"] else None,
                    parent_user_id=m.get("parent_user_id") if thread and thread != m["ts"] else None,
                ))
    return messages, unknown, skipped


def _ts_key(ts: str) -> float:
    try:
        return float(ts)
    except ValueError:
        return 0.0


@dataclass(frozen=True)
class ImportResult:
    workspace: str
    people: int
    messages: int
    queued: int  # new messages queued (0 on a second import)
    indexed: int
    skipped: int


def import_export(app: Any, export: SlackExport, *,
                  progress: Callable[[str], Callable[[int, int], None]] | None = None) -> ImportResult:
    """Backfill an export into the app's database through the queue and the ingestion worker.

    The messages are queued as the dispatcher queues live ones (the same idempotency keys, the
    same queue rows, the same rules: nothing from bots or from people who opted out of
    indexing, nothing when ingestion is off), but a batch at a time: one transaction, one
    statement per table, per ``ingest.batch_size`` messages, instead of a transaction and a
    handful of statements per message. The worker then indexes the queue."""
    with _out_of_gc(app):
        return _import(app, export, progress)


@contextmanager
def _out_of_gc(app: Any) -> Iterator[None]:
    """Load the language pipelines, then take every object allocated so far (the pipelines and
    their word lists, the export's messages) out of the garbage collector's full passes for the
    import, as the worker does at start (``warm_up``): otherwise each full pass scans those
    millions of long-lived objects again (measured: about a seventh of a 10,000-message import's
    CPU time). A process that froze its objects already keeps them frozen."""
    if "nlp" in app.services:
        app.services.get("nlp")
    frozen = gc.get_freeze_count()
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        if not frozen:
            gc.unfreeze()


def _import(app: Any, export: SlackExport, progress: Callable[[str], Callable[[int, int], None]] | None) -> ImportResult:
    from bot import people as directory
    from bot.db.bulk import PlannerStatistics
    from bot.ingest import IngestWorker

    ws = export.workspace.key
    with app.db.session(ws) as s:
        rows = directory.upsert_many(s, export.people)
        skip = {uid for uid, row in rows.items() if row.is_bot or row.indexing_opt_out}
    show = progress("messages") if progress else None
    total = len(export.messages)
    queued = 0
    size = max(1, app.settings.ingest.batch_size)
    statistics = PlannerStatistics(app.db, "queueing")  # the queue and the seen keys grow from empty
    for start in range(0, total, size):
        chunk = export.messages[start : start + size]
        queued += _queue_batch(app, ws, chunk, skip)
        statistics.wrote(len(chunk))
        if show:
            show(start + len(chunk), total)
    worker = IngestWorker(app)
    pending = worker.pending()
    show_index = progress("indexing") if progress and pending else None
    indexed = worker.drain(progress=(lambda n: show_index(min(n, pending), pending)) if show_index else None)
    if "expertise" in app.services:
        # The imported history is what the workspace's who-knows ranking learns from.
        with app.db.session(ws) as s:
            app.services.get("expertise").fit(s, now=app.clock.now())
    return ImportResult(ws, len(export.people), total, queued, indexed, export.skipped)


def _queue_batch(app: Any, ws: str, messages: Sequence[ExportMessage], skip: set[str]) -> int:
    """Mark a batch of messages seen and queue those not seen before, in one transaction.
    Returns how many were new (seen for the first time), as the dispatcher counts them.

    The rows go as the index writes its own (``bulk``): on PostgreSQL one INSERT … SELECT per
    table from a JSON array of rows instead of a statement per row; on SQLite the driver's
    executemany without SQLAlchemy's handling of each row."""
    from sqlalchemy import select

    from bot.db.models import EventSeen, IngestItem
    from bot.db.bulk import bulk, where_in

    now = app.clock.now()
    keys = {f"msg:{m.channel_id}:{m.ts}"[:255]: m for m in messages}  # the dispatcher's event_key
    with app.db.session(ws) as s:
        conn = s.connection()
        E = EventSeen.__table__
        # On PostgreSQL the keys go as one array parameter (``where_in``): a thousand separate ones
        # made a statement the driver took longer to prepare than the server to run.
        seen = set(conn.execute(select(E.c.key).where(
            E.c.workspace == ws, where_in(app.db.dialect == "postgresql", E.c.key, list(keys)))).scalars())
        new = [(k, m) for k, m in keys.items() if k not in seen]
        if not new:
            return 0
        bulk(conn, E, _SEEN_COLS, [(ws, k, m.user_id, now) for k, m in new],
             conflict="ON CONFLICT (workspace, key) DO NOTHING")
        settings = app.settings.ingest
        items = [_queue_row(ws, m, now, settings.max_text_chars) for _, m in new if m.user_id not in skip] if settings.enabled else []
        if items:
            bulk(conn, IngestItem.__table__, _QUEUE_COLS, items, conflict=(
                "ON CONFLICT (workspace, conversation_id, ts) DO UPDATE SET "
                + ", ".join(f"{c} = EXCLUDED.{c}" for c in _QUEUE_UPDATED)))
    return len(new)


_SEEN_COLS = ("workspace", "key", "user_id", "seen_at")
_QUEUE_COLS = ("workspace", "op", "conversation_id", "conversation_name", "ts", "thread_ts", "parent_user_id", "user_id",
               "text", "mentions", "permalink", "message_time", "enqueued_at", "attempts", "last_error")
# What a message queued again (the live bot queued it meanwhile) takes of the import's version.
_QUEUE_UPDATED = ("op", "text", "mentions", "thread_ts", "parent_user_id", "enqueued_at", "attempts", "last_error")


def _queue_row(ws: str, m: ExportMessage, now: dt.datetime, max_chars: int) -> tuple[Any, ...]:
    """A queue row, in the order of ``_QUEUE_COLS``."""
    return (ws, "upsert", m.channel_id, m.channel_name, m.ts, m.thread_ts, m.parent_user_id, m.user_id, m.text[:max_chars],
            [], None, dt.datetime.fromtimestamp(_ts_key(m.ts), tz=dt.timezone.utc), now, 0, None)

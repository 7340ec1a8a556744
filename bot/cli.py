"""The `liaison` command.

  liaison demo                     load the sample company into a fresh SQLite file and walk through every skill
  liaison chat --as NAME [--say]   talk to the bot in a terminal, as someone of the sample company
  liaison serve [--no-worker]      the web app (and the worker unless --no-worker)
  liaison worker                   the worker alone: scheduler and ingestion
  liaison db upgrade               migrate the database to the newest schema
  liaison import slack-export PATH backfill the expertise index from a Slack export (folder or .zip)
  liaison ask "who knows X?" --as USER [--json] | --batch FILE|- --json
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import time
from pathlib import Path
from typing import Sequence

from bot.config import ConfigError, load_settings

log = logging.getLogger("liaison")

DEMO_DB = "liaison-demo.db"


class _SecretFilter(logging.Filter):
    """Blank out anything that looks like a token, whatever logs it."""

    import re as _re

    _PATTERN = _re.compile(r"(xox[abposr]-[A-Za-z0-9-]+|xapp-[A-Za-z0-9-]+|Bearer\s+[A-Za-z0-9._-]+)")

    def filter(self, record: logging.LogRecord) -> bool:
        msg = record.getMessage()
        if self._PATTERN.search(msg):
            record.msg, record.args = self._PATTERN.sub("[redacted]", msg), ()
        return True


def setup_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(_SecretFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("apscheduler", "slack_bolt", "slack_sdk", "aiohttp.access", "alembic"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))


def _progress(label: str):  # noqa: ANN202
    """A progress bar on stderr: ``show(done, total)``. The rate counts from the bar's creation,
    or from a call with ``done == 0`` (a caller with set-up work first calls it when its real
    work starts)."""
    started = time.perf_counter()

    def show(done: int, total: int) -> None:
        nonlocal started
        if done == 0:
            started = time.perf_counter()
        width = 30
        filled = int(width * done / total) if total else width
        rate = done / max(time.perf_counter() - started, 1e-6)
        end = "\n" if done >= total else "\r"
        print(f"  {label} [{'#' * filled}{'.' * (width - filled)}] {done}/{total} ({rate:,.0f}/s)", end=end, file=sys.stderr, flush=True)

    return show


# ---- commands ----------------------------------------------------------------------------------


def cmd_demo(args: argparse.Namespace) -> int:
    from adapters.console.demo import run_demo

    path = Path(args.database or DEMO_DB)
    for suffix in ("", "-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)
    env = dict(os.environ, DATABASE_URL=f"sqlite:///{path}")
    settings = load_settings(env)
    return asyncio.run(run_demo(settings, progress=_progress))


def cmd_chat(args: argparse.Namespace) -> int:
    from adapters.console.session import ConsoleSession, UnknownPerson

    session = ConsoleSession.open(settings=load_settings())

    async def main() -> int:
        if not session.is_loaded():
            print(f"Loading the sample company {session.sample.name} (first run only)…", file=sys.stderr)
            await session.load(progress=_progress("messages"))
        try:
            who = session.person(args.as_)
        except UnknownPerson as exc:
            print(f"liaison chat: {exc}", file=sys.stderr)
            return 2
        if args.say is not None:
            await session.say(who, args.say, channel=args.in_)
            return 0
        where = f"#{args.in_}" if args.in_ else "a direct message with the bot"
        print(f"You are {who.name} ({who.team}), in {where}. Type 'help' (or 'aide'); Ctrl-D to quit.")
        loop = asyncio.get_running_loop()
        while True:
            try:
                line = await loop.run_in_executor(None, lambda: input(f"{who.name.split(' ')[0]}> "))
            except EOFError:
                print()
                return 0
            if line.strip():
                await session.say(who, line, channel=args.in_)

    try:
        return asyncio.run(main())
    finally:
        session.close()


def cmd_serve(args: argparse.Namespace) -> int:
    from bot.bootstrap import bootstrap
    from bot.runtime import serve

    settings = load_settings()
    app = bootstrap(settings)
    host = args.host or settings.server.host
    try:
        # Before anything listens: an adapter may refuse the address (Teams without authentication).
        for adapter in app.adapters.values():
            if hasattr(adapter, "check_listen_address"):
                adapter.check_listen_address(host)
        asyncio.run(serve(app, host=host, port=args.port or settings.port, with_worker=not args.no_worker))
    finally:
        app.close()
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    from bot.bootstrap import bootstrap
    from bot.runtime import work

    app = bootstrap(load_settings())
    try:
        asyncio.run(work(app))
    finally:
        app.close()
    return 0


def cmd_db(args: argparse.Namespace) -> int:
    from bot.db import Database, redact
    from bot.db.migrate import upgrade

    settings = load_settings()
    db = Database(settings.database_url)
    try:
        if args.db_command == "upgrade":
            applied = upgrade(db)
            print(f"{redact(db.url)}: {'migrated to the newest schema' if applied else 'already at the newest schema'}")
        return 0
    finally:
        db.dispose()


def cmd_import(args: argparse.Namespace) -> int:
    from bot.bootstrap import bootstrap
    from bot.slack_export import ExportError, import_export, read_export

    try:
        export = read_export(args.path, allow_unknown_users=args.skip_unknown_users)
    except ExportError as exc:
        print(f"liaison import: {exc}", file=sys.stderr)
        return 1
    print(f"Importing {export.workspace.key}: {len(export.people)} people, {len(export.channels)} public channels, "
          f"{len(export.messages)} messages ({export.skipped} left out: bots, joins{', unknown users' if args.skip_unknown_users else ''})",
          file=sys.stderr)
    app = bootstrap(load_settings(), platforms=())
    try:
        result = import_export(app, export, progress=_progress)
    finally:
        app.close()
    print(f"{result.workspace}: {result.queued} new messages queued, {result.indexed} indexed"
          f"{' (already imported: nothing changed)' if result.queued == 0 else ''}")
    return 0


def _ask_workspace(app, wanted: str | None) -> str | None:  # noqa: ANN001
    from sqlalchemy import distinct, select

    from bot.db.models import PersonRow

    with app.db.session(None) as s:
        known = sorted(s.scalars(select(distinct(PersonRow.workspace))))
    if wanted:
        matches = [w for w in known if w == wanted or w.split(":", 1)[-1] == wanted]
        if not matches:
            print(f"liaison ask: no workspace {wanted!r} in the database (known: {', '.join(known) or 'none'})", file=sys.stderr)
            return None
        return matches[0]
    if len(known) != 1:
        print("liaison ask: " + ("the database holds no workspace yet; import one first (liaison import slack-export PATH)"
              if not known else f"several workspaces in the database; choose one with --workspace ({', '.join(known)})"),
              file=sys.stderr)
        return None
    return known[0]


def ask_json(app, workspace: str, *, text: str, as_user: str | None) -> dict:  # noqa: ANN001
    """One question, answered as `liaison ask --json` prints it."""
    from bot.expertise import describe, link_targets

    service = app.services.get("expertise")
    now = app.clock.now()
    with app.db.session(workspace) as s:
        lang = service.nlp.language(text)
        topics, experts = service.ask(s, text=text, asker=as_user, now=now, lang=lang)
    return {
        "experts": [
            {"user": e.user_id, "name": e.name, "score": e.score, "reasons": [describe(e, lang=lang, now=now)],
             "evidence": link_targets(e)}
            for e in experts
        ],
        "topics": [t.key for t in topics],
    }


def cmd_ask(args: argparse.Namespace) -> int:
    import json

    from bot.bootstrap import bootstrap

    if (args.question is None) == (args.batch is None):
        print("liaison ask: give a question, or --batch FILE (or - for standard input)", file=sys.stderr)
        return 2
    if args.question is not None and not args.as_:
        print("liaison ask: say who asks with --as USER_ID", file=sys.stderr)
        return 2
    app = bootstrap(load_settings(), platforms=())
    try:
        ws = _ask_workspace(app, args.workspace)
        if ws is None:
            return 1
        if args.question is not None:
            answer = ask_json(app, ws, text=args.question, as_user=args.as_)
            if args.json:
                print(json.dumps({"experts": answer["experts"]}, ensure_ascii=False))
            else:
                if not answer["experts"]:
                    print("Nobody is known for that yet.")
                for i, e in enumerate(answer["experts"], 1):
                    print(f"{i}. {e['name']} ({e['user']}, score {e['score']}) — {e['reasons'][0]}")
                    for link in e["evidence"]:
                        print(f"     {link}")
            return 0
        stream = sys.stdin if args.batch == "-" else open(args.batch, encoding="utf-8")
        try:
            for n, line in enumerate(stream, 1):
                if not line.strip():
                    continue
                try:
                    item = json.loads(line)
                    text, who = item["text"], item.get("as")
                except (json.JSONDecodeError, KeyError, TypeError) as exc:
                    print(f"liaison ask: line {n} is not {{\"as\": USER_ID, \"text\": \"…\"}} ({exc}); skipped", file=sys.stderr)
                    print(json.dumps({"experts": [], "error": f"line {n}: not a question"}), flush=True)
                    continue
                answer = ask_json(app, ws, text=text, as_user=who)
                print(json.dumps({"experts": answer["experts"]}, ensure_ascii=False), flush=True)
        finally:
            if stream is not sys.stdin:
                stream.close()
        return 0
    finally:
        app.close()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="liaison", description="Liaison: who knows what, thanks, and random coffee, on Slack and Teams.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("demo", help="walk through every skill on the sample company (a fresh SQLite file)")
    p.add_argument("--database", help=f"SQLite file to create (default {DEMO_DB}, replaced if present)")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("chat", help="talk to the bot in a terminal as someone of the sample company")
    p.add_argument("--as", dest="as_", required=True, metavar="NAME", help="first name, full name or user id")
    p.add_argument("--say", help="say this once, print the answer and exit")
    p.add_argument("--in", dest="in_", metavar="CHANNEL", help="post in this channel instead of a DM (start with @Liaison to address the bot)")
    p.set_defaults(func=cmd_chat)

    p = sub.add_parser("serve", help="run the web app (and the worker unless --no-worker)")
    p.add_argument("--host")
    p.add_argument("--port", type=int)
    p.add_argument("--no-worker", action="store_true", help="leave scheduling and ingestion to `liaison worker`")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("worker", help="run the worker alone (scheduler and ingestion)")
    p.set_defaults(func=cmd_worker)

    p = sub.add_parser("import", help="backfill the expertise index from an export")
    isub = p.add_subparsers(dest="import_kind", required=True)
    q = isub.add_parser("slack-export", help="a standard Slack export (folder or .zip); public channels only; idempotent")
    q.add_argument("path", help="the export's folder or .zip file")
    q.add_argument("--skip-unknown-users", action="store_true", help="leave out messages of users missing from users.json instead of stopping")
    p.set_defaults(func=cmd_import)

    p = sub.add_parser("ask", help="ask who knows something, from the command line")
    p.add_argument("question", nargs="?", help='e.g. "who knows Kafka?"')
    p.add_argument("--as", dest="as_", metavar="USER", help="the asking user's id (never listed in the answer)")
    p.add_argument("--json", action="store_true", help="print the answer as one JSON line")
    p.add_argument("--batch", metavar="FILE", help='JSON lines {"as": USER_ID, "text": "…"} (FILE, or - for standard input); one JSON answer per line')
    p.add_argument("--workspace", help="the workspace to ask in, when the database holds several")
    p.set_defaults(func=cmd_ask)

    p = sub.add_parser("db", help="database maintenance")
    dbsub = p.add_subparsers(dest="db_command", required=True)
    dbsub.add_parser("upgrade", help="migrate to the newest schema")
    p.set_defaults(func=cmd_db)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = load_settings()
        quiet = args.command in ("demo", "chat", "ask")
        setup_logging("WARNING" if quiet and settings.bot.log_level.upper() == "INFO" else settings.bot.log_level)
        return args.func(args)
    except ConfigError as exc:
        print(f"liaison: configuration error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # noqa: BLE001 - last resort: one clear line, then the details in the log
        from sqlalchemy.exc import OperationalError

        if isinstance(exc, OperationalError):
            print(f"liaison: cannot use the database: {str(exc.orig).splitlines()[0]}. Check DATABASE_URL.", file=sys.stderr)
            return 1
        from bot.bootstrap import SchemaNotReady

        if isinstance(exc, SchemaNotReady):
            print(f"liaison: {exc}", file=sys.stderr)
            return 1
        raise


if __name__ == "__main__":
    sys.exit(main())

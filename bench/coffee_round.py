"""How long a whole coffee round takes at company scale: participants from the channel, history
and ties from the database, pairing, storing the groups, and one intro per group through the
console chat (which only records), on SQLite or PostgreSQL.

    python bench/coffee_round.py [--people 10000] [--rounds 4] [--database-url URL]

Prints, per round: participants, groups, repeats, cross-team share and seconds. Not part of the
test run.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import io
import logging
import random
import tempfile
import time
from pathlib import Path

from sqlalchemy import delete, select

from adapters.console.chat import ConsoleChat
from bot import people
from bot.app.bootstrap import bootstrap
from bot.config import load_settings
from bot.db.coffee import CoffeeRound, CoffeeTie
from bot.events import CommandInvoked, Conversation, GroupMessage, Person, Workspace
from bot.ports import FixedClock

WS = Workspace("console", "bench")
CHANNEL = Conversation("C0COFFEE", "channel", "coffee")
ZONES = ("Europe/Zurich", "Europe/Paris", "Europe/London", "America/New_York", "America/Toronto", "Asia/Singapore")


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--people", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--ties", type=int, default=30_000, help="interacting pairs in the ties table")
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    # The skill logs where a round's time goes (inputs, pairing, storing, sending).
    logging.basicConfig(level=logging.WARNING, format="    %(message)s")
    logging.getLogger("liaison.skills.coffee").setLevel(logging.INFO)

    rng = random.Random(7)
    staff = [
        Person(f"U{i:06d}", f"Person {i}", team=f"team-{rng.randrange(60)}", tz=rng.choice(ZONES),
               locale=rng.choice(("en", "en", "fr")))
        for i in range(args.people)
    ]
    admin = Person("U0HR", "HR Admin", team="People", tz="Europe/Zurich", locale="en")
    chat = ConsoleChat(people={p.id: p for p in (*staff, admin)}, channels={CHANNEL.id: [p.id for p in staff]},
                       channel_names={CHANNEL.id: "coffee"}, out=io.StringIO())
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        clock = FixedClock(dt.datetime(2026, 11, 2, 8, 0, tzinfo=dt.timezone.utc))
        settings = load_settings({"DATABASE_URL": url}, overrides={"bot": {"hr_admins": [admin.id]}})
        app = bootstrap(settings, clock=clock, platforms=[], chats={"console": chat}, migrate=True)
        with app.db.session(WS.key) as s:
            people.sync_directory(s, [*staff, admin])
            s.execute(delete(CoffeeTie))
            seen = set()
            while len(seen) < args.ties:
                a, b = sorted(rng.sample(range(args.people), 2))
                seen.add((a, b))
            s.add_all(CoffeeTie(user_a=staff[a].id, user_b=staff[b].id, interactions=float(rng.randint(1, 20))) for a, b in seen)
        n = 0

        async def command(text: str) -> str:
            nonlocal n
            n += 1
            outcome = await app.dispatcher.handle(CommandInvoked(WS, CHANNEL, admin, "coffee", text, event_id=f"bench{n}"))
            return "\n".join(getattr(m, "text", "") for m in outcome.outbound)

        await command("cadence weekly on monday at 10:00 UTC")
        print(f"{args.people} people, {args.ties} interacting pairs, database {app.db.dialect}")
        print(f"{'round':>5} {'people':>7} {'groups':>7} {'repeats':>8} {'cross-team':>11} {'seconds':>8}")
        for r in range(args.rounds):
            chat.sent.clear()
            started = time.perf_counter()
            answer = await command("run now")
            took = time.perf_counter() - started
            intros = [m for _, m in chat.sent if isinstance(m, GroupMessage)]
            with app.db.session(WS.key) as s:
                rnd = s.scalars(select(CoffeeRound).order_by(CoffeeRound.seq.desc())).first()
            assert rnd is not None and len(intros) == rnd.groups, answer
            share = rnd.cross_team_pairs / rnd.total_pairs if rnd.total_pairs else 0.0
            print(f"{r + 1:>5} {rnd.participants:>7} {rnd.groups:>7} {rnd.repeats:>8} {share:>10.1%} {took:>8.2f}")
            clock.advance(dt.timedelta(days=7))
        app.close()


if __name__ == "__main__":
    asyncio.run(main())

"""Benchmark of the Teams adapter at the wire: how fast POST /api/messages is answered, how long
an answer takes to reach the Bot Connector, and how the per-conversation pacing spreads a burst.

Run from the repository root: ``python bench/teams_wire.py [--messages 200]``.

The bot is built by the real bootstrap (SQLite in a temporary directory, LIAISON_TEAMS_NO_AUTH=1),
its web app served on a loopback port, and answers go to the tests' fake Bot Connector, also on
loopback. Figures are wall-clock times on this machine; they vary from run to run.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.app.bootstrap import bootstrap  # noqa: E402
from bot.config import load_settings  # noqa: E402
from bot.events import DirectMessage, Workspace  # noqa: E402
from skills import help as help_skill  # noqa: E402
from tests.http.fake_connector import TENANT, Activities, FakeConnector, post, served  # noqa: E402


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


async def run(n: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        env = {"DATABASE_URL": f"sqlite:///{Path(tmp) / 'bench.db'}", "LIAISON_TEAMS_NO_AUTH": "1"}
        settings = load_settings(env, overrides={"server": {"host": "127.0.0.1"},
                                                 "teams": {"roster_sync_hours": 0,
                                                           "allowed_service_hosts": ["http://127.0.0.1"]}})
        app = bootstrap(settings, platforms=["teams"], skills=(help_skill,), migrate=True)
        adapter = app.adapters["teams"]
        async with FakeConnector() as teams, served(app) as url:
            acts = Activities(teams.service_url)
            # 1. Acknowledgement time of POST /api/messages (the handling runs after it).
            acks: list[float] = []
            for i in range(n):
                body = acts.personal_message((f"29:1user{i % 50:04d}", f"User {i % 50}"), "help")
                started = time.perf_counter()
                status, _ = await post(url + "/api/messages", body)
                acks.append((time.perf_counter() - started) * 1000)
                assert status == 200
            started = time.perf_counter()
            await adapter.wait_idle()
            drain = time.perf_counter() - started
            print(f"POST /api/messages acknowledged: n={n} median={statistics.median(acks):.1f} ms "
                  f"p95={pct(acks, 95):.1f} ms max={max(acks):.1f} ms")
            print(f"  answers still being handled after the last ack: {drain * 1000:.0f} ms; "
                  f"answers received by the fake connector: {len(teams.messages())}")

            # 2. One message end to end: activity in, answer at the connector.
            rounds: list[float] = []
            for i in range(20):
                teams.requests.clear()
                body = acts.personal_message(("29:1solo", "Solo"), f"help {i}" if i else "help")
                body["text"] = "help"
                started = time.perf_counter()
                await post(url + "/api/messages", body)
                await adapter.wait_idle()
                rounds.append((time.perf_counter() - started) * 1000)
            print(f"activity in → answer at the connector: median={statistics.median(rounds):.1f} ms "
                  f"p95={pct(rounds, 95):.1f} ms (20 runs)")

            # 3. A burst of 21 proactive messages to one person: paced at 7 per second.
            teams.requests.clear()
            ws = Workspace("teams", TENANT)
            await asyncio.sleep(1.1)  # the answers of step 2 no longer count against this second
            started = time.perf_counter()
            await asyncio.gather(*(adapter.chat.send(ws, DirectMessage("29:1solo", f"note {i}")) for i in range(21)))
            burst = time.perf_counter() - started
            print(f"burst of 21 messages to one conversation: {burst:.2f} s "
                  f"(pacing at 7/s needs at least 2.0 s); delivered {len(teams.messages())}")
        app.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=200, help="activities posted for the acknowledgement figures")
    args = parser.parse_args()
    asyncio.run(run(args.messages))


if __name__ == "__main__":
    main()

"""`liaison demo`: the sample company in a fresh SQLite file, and every skill's demo steps,
printed as each person would see them."""

from __future__ import annotations

import asyncio
import sys
import textwrap
from typing import Any, Callable, TextIO

from bot.config import Settings
from bot.db import redact

from adapters.console.session import ConsoleSession


async def run_demo(settings: Settings, *, build: Callable[..., Any],
                   progress: Callable[[str], Callable[[int, int], None]] | None = None, out: TextIO | None = None) -> int:
    """``build``: the composition root's ``bootstrap``."""
    out = out or sys.stdout
    # The demo runs at any hour: routed questions reach people whatever their working hours.
    settings = settings.with_overrides(expertise={"route_work_hours": "00:00-24:00",
                                                  "route_work_days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]})
    session = ConsoleSession.open(build=build, settings=settings, out=out)
    try:
        sample = session.sample
        humans = [p for p in sample.people.values() if not p.is_bot]
        teams = sorted({p.team for p in humans if p.team})
        print(f"Liaison demo — {sample.name}: {len(humans)} people in {len(teams)} teams, "
              f"{len(sample.channels)} channels, {len(sample.messages)} messages.", file=out)
        print(f"Database: {redact(session.app.db.url)}\n", file=out)
        if "nlp" in session.app.services:
            # Loaded here (``session.load`` would load them too) to say which pipelines run.
            print("Loading the language pipelines…", file=out, flush=True)
            nlp = await asyncio.to_thread(session.app.services.get, "nlp")
            print(f"  {nlp.description}", file=out)
        print("Loading the company's public channels through the ingestion queue…", file=out)
        await session.load(progress=progress("messages") if progress else None)
        steps = session.app.router.demo_steps()
        for step in steps:
            who = session.person(step.as_user)
            where = f"#{step.channel}" if step.channel else "DM to Liaison"
            print(file=out)
            if step.caption:
                print(textwrap.fill(f"— {step.caption}", width=100), file=out)
            print(f"{who.name} ({who.team}, {where}): {step.text}", file=out)
            await session.say(who, step.text, channel=step.channel)
        print(f"\nThat was {len(steps)} exchanges. Try it yourself: liaison chat --as {humans[0].name.split(' ')[0]}", file=out)
        return 0
    finally:
        session.close()

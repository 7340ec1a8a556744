"""Coffee intros survive a kill -9 mid-post: a real worker process sends a scheduled round's
intros to a fake Slack that takes the second one and never answers; the process is killed with
SIGKILL while it waits, and a new worker is started on the same database.

What it proves, on SQLite and PostgreSQL, whether that second post landed or was lost:

- every group gets exactly one intro (Slack's history, by the key each intro carries);
- the groups after the cut-off one go out while the cut-off group's claim still runs, and that
  group is not touched meanwhile: nobody waits for its claim, let alone a ten-minute lease for
  the whole round. The new worker's clock is held at a moment when that claim runs until the
  other intros have reached Slack, so this holds however slowly the machine starts the worker
  (a new worker that waited for the claim would never send them, and the test would fail);
- once its clock goes on, the cut-off group's claim runs out by itself (the dead worker renews it
  no more) and the new worker takes the group over: it asks Slack whether that intro got through
  (conversations.history, by the key) and posts it only if it did not;
- the round's note in #coffee goes out once.
"""

from __future__ import annotations

import datetime as dt

import pytest

from tests.db.workers import (Worker, coffee_setup, fake_slack, intros_by_channel, open_claims, rounds, until, worker_clock,
                              worker_env)


@pytest.mark.parametrize("landed", [True, False], ids=["post-landed", "post-lost"])
async def test_a_worker_killed_mid_post_gives_every_group_exactly_one_intro(make_app, database_url, tmp_path, landed: bool) -> None:  # noqa: ANN001
    fake = await fake_slack().start()
    workers: list[Worker] = []
    try:
        app, _ = await coffee_setup(make_app, database_url, fake)
        env = worker_env(database_url, fake, tmp_path)
        clock = worker_clock(env)
        posting = fake.hold("chat.postMessage", nth=2, landed=landed)  # the second group's intro

        first = await Worker(env, "first").start()
        workers.append(first)
        await until(lambda: posting.reached.is_set(), timeout=120, what="the second intro to be posted")
        await first.kill()
        killed_at = dt.datetime.now(dt.timezone.utc)
        (rnd,) = rounds(app)
        assert rnd.intros_done_at is None
        first_group, cut_off = (c["channel"] for c in fake.calls("chat.postMessage") if c["channel"].startswith("G"))
        assert len(intros_by_channel(fake)) == (2 if landed else 1)
        (claim,) = open_claims(app)  # the cut-off group's, left behind by the killed worker

        # The new worker arrives while that claim runs: its clock stands at the kill (or just
        # before the claim's end, had the dead worker's last renewal run out before the kill).
        clock.hold(min(killed_at, claim[2] - dt.timedelta(seconds=1)))
        second = await Worker(env, "second").start()
        workers.append(second)

        def later_groups() -> set[str]:
            return set(intros_by_channel(fake)) - {first_group, cut_off}

        await until(lambda: len(later_groups()) == 2, timeout=120, what="the later groups' intros")
        assert not [c for c in fake.calls("conversations.history") if c["channel"] == cut_off]  # not looked at
        # Still the dead worker's claim, neither renewed nor taken over:
        assert [c for c in open_claims(app) if c[0] == claim[0]] == [claim]
        clock.release()  # time goes on: the claim runs out, nobody renewing it
        await until(lambda: rounds(app)[0].intros_done_at is not None, timeout=60, what="every intro to be recorded")

        intros = intros_by_channel(fake)
        assert len(intros) == rnd.groups == 4
        assert all(len(keys) == 1 for keys in intros.values()), intros  # exactly one intro per group
        # The others went out before the cut-off group was looked at: nobody waited for its claim.
        order = [(c.method, c.body.get("channel")) for c in fake.calls_
                 if c.method in ("chat.postMessage", "conversations.history") and str(c.body.get("channel")).startswith("G")]
        looked = order.index(("conversations.history", cut_off))
        assert all(order.index(("chat.postMessage", ch)) < looked for ch in later_groups())
        reposted = [c for c in fake.calls("chat.postMessage") if c["channel"] == cut_off]
        assert len(reposted) == (1 if landed else 2)  # asked first; posted again only when it had not landed
        if landed:
            assert second.count("had got through before its sender stopped; recorded, not posted again") == 1
        def announced() -> list[dict]:
            return [m for m in fake.history.get("C0COFFEE", []) if "groups are out" in (m.get("text") or "")]

        await until(announced, timeout=30, what="the round's note in #coffee")
        await second.stop()
        assert len(announced()) == 1
    finally:
        for w in workers:
            await w.stop()
        await fake.stop()

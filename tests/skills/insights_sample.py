"""A fixed sample for the network report: 16 people in three teams (Platform 6, Sales 5, Legal 4,
and one person without a team), a bot, two coffee programmes, threads and thanks; the clock
stands at NOW. The figures it must give are worked out by hand in test_insights_figures.py."""

from __future__ import annotations

import datetime as dt
from typing import Any

from bot.db.coffee import CoffeeGroup, CoffeeGroupMember, CoffeeProgramme, CoffeeRound
from bot.db.expertise import ExpertiseMessage
from bot.db.kudos import KudosRow
from bot.db.models import Installation, PersonRow

UTC = dt.timezone.utc
NOW = dt.datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
ADMIN = "P6"
TEAMS = {**{f"P{i}": "Platform" for i in range(1, 7)}, **{f"S{i}": "Sales" for i in range(1, 6)},
         **{f"L{i}": "Legal" for i in range(1, 5)}, "N1": None}
NAMES = {u: f"Person {u} Example" for u in TEAMS}


def at(month: int, day: int, hour: int = 10) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, 0, tzinfo=UTC)


# (programme, seq, started) -> groups: [(user, met), ...]
ROUNDS: dict[tuple[int, int, dt.datetime], list[list[tuple[str, bool | None]]]] = {
    (2, 1, at(9, 14)): [[("P1", True), ("S1", None)], [("P2", None), ("S2", None)]],
    (1, 1, at(10, 5)): [[("P1", True), ("P2", None)], [("S1", None), ("S2", None)], [("P3", None), ("S3", None)],
                        [("L1", None), ("L2", None)], [("P4", None), ("P5", True)]],
    (1, 2, at(10, 19)): [[("P1", None), ("S2", None)], [("P2", None), ("S1", None)], [("P3", None), ("L2", None)],
                         [("S3", None), ("L1", None)], [("P4", None), ("P5", None)]],
    (1, 3, at(11, 2)): [[("P1", True), ("S1", None)], [("P2", None), ("S2", None)], [("P3", False), ("L1", None)],
                        [("S3", None), ("L2", None)], [("P4", None), ("P5", None)]],
}
THANKS = [("P2", "S2", at(10, 10)), ("S3", "L2", at(11, 10)), ("S2", "P2", at(11, 12)), ("L3", "L4", at(11, 15)),
          ("P6", "P1", at(11, 16))]
# (conversation, thread root ts, ts, user, parent user, when)
MESSAGES = [("C1", None, "100.1", "P1", None, at(11, 5, 10)), ("C1", "100.1", "100.2", "S1", "P1", at(11, 5, 11)),
            ("C1", None, "200.1", "P4", None, at(11, 6, 10)), ("C1", "200.1", "200.2", "P5", "P4", at(11, 6, 11)),
            ("C2", None, "300.1", "P3", None, at(10, 1, 10)), ("C2", "300.1", "300.2", "N1", "P3", at(10, 1, 11))]


def load(app: Any, workspace: str = "console:acme", *, without: tuple[str, ...] = ()) -> None:
    """Write the sample into ``workspace`` (leaving out the people in ``without``)."""
    with app.db.session(None) as s:
        s.merge(Installation(workspace=workspace, name="Acme", active=True))
    with app.db.session(workspace) as s:
        for user, team in TEAMS.items():
            if user not in without:
                s.add(PersonRow(user_id=user, name=NAMES[user], team=team, locale="fr" if user == "S1" else "en"))
        s.add(PersonRow(user_id="B1", name="Some Bot", team="Platform", is_bot=True))
        programmes = {n: CoffeeProgramme(channel_id=f"C-COFFEE-{n}", channel_name=f"coffee{n}") for n in (1, 2)}
        s.add_all(programmes.values())
        s.flush()
        for (prog, seq, started), groups in ROUNDS.items():
            rnd = CoffeeRound(programme_id=programmes[prog].id, period=f"p{seq}", seq=seq, scheduled_for=started,
                              started_at=started, followup_due_at=started + dt.timedelta(days=3),
                              participants=sum(len(g) for g in groups), groups=len(groups))
            s.add(rnd)
            s.flush()
            for number, members in enumerate(groups, 1):
                group = CoffeeGroup(round_id=rnd.id, number=number)
                s.add(group)
                s.flush()
                for user, met in members:
                    s.add(CoffeeGroupMember(group_id=group.id, round_id=rnd.id, user_id=user, team=TEAMS[user],
                                            met=met, answered_at=None if met is None else started + dt.timedelta(days=2)))
        for n, (giver, receiver, when) in enumerate(THANKS):
            s.add(KudosRow(source_key=f"sample:{n}", giver_id=giver, receiver_id=receiver, at=when))
        for conv, thread, ts, user, parent, when in MESSAGES:
            s.add(ExpertiseMessage(conversation_id=conv, ts=ts, thread_ts=thread, parent_user_id=parent, user_id=user,
                                   answer=bool(parent and parent != user), at=when))

"""The directory at the wire, on SQLite and PostgreSQL: fields longer than their columns are cut
to the sizes the model declares (directory sync at start, a sender looked up, a profile change),
and a user object that cannot be stored is left out with one log line while the start goes on."""

from __future__ import annotations

import logging

from sqlalchemy import select

from bot.db import column_length
from bot.db.models import Installation, PersonRow
from tests.http.fake_slack import TEAM_ID, FakeSlack, channel_message, running_bot, slack_user

WS_KEY = f"slack:{TEAM_ID}"
LONG = 10_000
NAME = column_length(PersonRow.name)
TEAM = column_length(PersonRow.team)


def people_by_id(bot) -> dict[str, PersonRow]:  # noqa: ANN001
    with bot.app.db.session(WS_KEY) as s:
        return {p.user_id: p for p in s.scalars(select(PersonRow))}


def long_user(user_id: str, **profile: str) -> dict:
    user = slack_user(user_id, "Ada Lovelace", title="Platform")
    user["profile"].update(profile)
    if "real_name" in profile:
        user["real_name"] = profile["real_name"]
    return user


async def test_the_start_survives_long_directory_fields_and_a_user_it_cannot_read(make_app, database_url, caplog) -> None:  # noqa: ANN001
    fake = FakeSlack(users=[
        long_user("U0NAME", real_name="N" * LONG),
        long_user("U0TITLE", title="T" * LONG),
        long_user("U0DISPLAY", real_name="", display_name="D" * LONG),
        {**slack_user("U0BROKEN", "Broken Profile"), "profile": "not an object"},
        slack_user("U0DAN", "Dan Brown", title="Finance"),
    ], page_size=10)
    fake.team_name = "W" * LONG
    with caplog.at_level(logging.INFO, logger="liaison.slack"):
        async with running_bot(make_app, fake, database_url=database_url) as bot:
            rows = people_by_id(bot)
            with bot.app.db.session(None) as s:
                installation = s.get(Installation, WS_KEY)

    assert NAME == 200 and TEAM == 200  # as the model declares them
    assert set(rows) == {"U0NAME", "U0TITLE", "U0DISPLAY", "U0DAN"}
    assert rows["U0NAME"].name == "N" * NAME
    assert rows["U0TITLE"].team == "T" * TEAM and rows["U0TITLE"].name == "Ada Lovelace"
    assert rows["U0DISPLAY"].name == "D" * NAME
    assert (rows["U0DAN"].name, rows["U0DAN"].team) == ("Dan Brown", "Finance")
    assert installation.name == "W" * column_length(Installation.name)
    left_out = [r for r in caplog.records if "U0BROKEN" in r.getMessage()]
    assert len(left_out) == 1 and left_out[0].levelno == logging.WARNING and left_out[0].exc_info is None
    assert "1 of the 5 people" in left_out[0].getMessage() and "\n" not in left_out[0].getMessage()
    assert any("directory synced (4 people" in r.getMessage() for r in caplog.records)


async def test_a_sender_with_long_fields_is_stored_cut_and_answered(make_app, database_url) -> None:  # noqa: ANN001
    fake = FakeSlack(users=[slack_user("U0DAN", "Dan Brown", title="Finance")])
    async with running_bot(make_app, fake, database_url=database_url) as bot:
        # Someone who joined after the sync: the bot looks them up (users.info) when they write.
        newcomer = long_user("U0NEW", real_name="N" * LONG, title="T" * LONG)
        newcomer["tz"] = "Z" * 100  # not a time zone once cut: left out rather than cut
        fake.users.append(newcomer)
        await bot.event(channel_message("U0NEW", "help", "1762070401.000100", channel="D0NEW", channel_type="im"),
                        event_id="EvL1")
        await bot.settle()
        # A profile change with a long name and title.
        changed = long_user("U0DAN", real_name="R" * LONG, title="F" * LONG)
        await bot.event({"type": "user_change", "user": changed, "cache_ts": 1762070402}, event_id="EvL2")
        await bot.settle()
        rows = people_by_id(bot)

    assert [o.status for o in bot.outcomes] == ["ok"]
    [answer] = fake.calls("chat.postMessage")
    assert answer["channel"] == "D0NEW" and answer["text"]
    assert (rows["U0NEW"].name, rows["U0NEW"].team, rows["U0NEW"].tz) == ("N" * NAME, "T" * TEAM, None)
    assert (rows["U0DAN"].name, rows["U0DAN"].team) == ("R" * NAME, "F" * TEAM)

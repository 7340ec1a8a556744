"""The Home tab carries the skills' sections about the person who opens it (``@routes.home()``),
rendered by the Slack adapter as Block Kit. This module is also the small skill under test."""

from __future__ import annotations

import json
import sys

from bot.context import SkillContext
from bot.router import Routes
from skills import help as help_skill
from tests.http.fake_slack import FakeSlack, running_bot, slack_user

routes = Routes("homecheck")


@routes.home()
def my_status(event, ctx: SkillContext) -> list[str]:  # noqa: ANN001
    name = ctx.sender.name if ctx.sender is not None else "?"
    return [f"*About you*: {name} ({ctx.lang})", "  "]  # blank sections are left out


async def test_home_sections_of_the_skills_are_rendered_for_the_person(make_app, database_url) -> None:  # noqa: ANN001
    fake = FakeSlack(users=[slack_user("U0BOB", "Bob Martin", locale="fr-FR")])
    async with running_bot(make_app, fake, database_url=database_url,
                           skills=(help_skill, sys.modules[__name__])) as bot:
        await bot.event({"type": "app_home_opened", "user": "U0BOB", "channel": "D0BOB", "tab": "home",
                         "event_ts": "1762070412.000100"}, event_id="EvH1")
        # A redelivery publishes nothing more.
        await bot.event({"type": "app_home_opened", "user": "U0BOB", "channel": "D0BOB", "tab": "home",
                         "event_ts": "1762070412.000100"}, event_id="EvH1", retry_num=1)
        await bot.settle()
    [published] = fake.calls("views.publish")
    view = published["view"] if isinstance(published["view"], dict) else json.loads(published["view"])
    texts = [(b.get("text") or {}).get("text") for b in view["blocks"] if b["type"] == "section"]
    assert "*About you*: Bob Martin (fr)" in texts
    assert all(t and t.strip() for t in texts)
    assert sorted((o.status, o.route or "") for o in bot.outcomes) == [("duplicate", ""), ("ok", "homecheck.my_status")]


async def test_the_real_skills_show_what_is_held_and_the_coffee_status(make_app, database_url) -> None:  # noqa: ANN001
    import asyncio

    from bot.ingest import IngestWorker
    from tests.http.fake_slack import channel_message

    fake = FakeSlack(users=[slack_user("U0ADA", "Ada Lovelace", is_admin=True), slack_user("U0BOB", "Bob Martin")])
    async with running_bot(make_app, fake, database_url=database_url) as bot:
        await bot.event(channel_message("U0ADA", "I tuned the Kafka partitions and the Kafka consumer groups today.",
                                        "1762070500.001000"), event_id="EvA1")
        await bot.settle()
        await asyncio.to_thread(IngestWorker(bot.app).drain)
        await bot.command("/coffee", "cadence weekly on monday at 10:00", user="U0ADA")
        await bot.settle()
        await bot.event({"type": "app_home_opened", "user": "U0ADA", "channel": "D0ADA", "tab": "home",
                         "event_ts": "1762070600.000100"}, event_id="EvH2")
        await bot.settle()
    [published] = fake.calls("views.publish")
    assert published["user_id"] == "U0ADA"
    view = published["view"] if isinstance(published["view"], dict) else json.loads(published["view"])
    text = "\n".join((b.get("text") or {}).get("text", "") for b in view["blocks"] if b["type"] == "section")
    assert "Here is what I hold about you" in text and "Kafka" in text
    assert "Coffee in #" in text and "every week on Monday at 10:00" in text

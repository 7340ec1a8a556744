"""The Home tab carries the skills' sections about the person who opens it (``@routes.home()``),
rendered by the Slack adapter as Block Kit. This module is also the small skill under test."""

from __future__ import annotations

import json

from bot.dispatch import SkillContext
from bot.router import Routes
from tests.http.fake_slack import FakeSlack, running_bot, slack_user

routes = Routes("homecheck")


@routes.home()
def my_status(event, ctx: SkillContext) -> list[str]:  # noqa: ANN001
    name = ctx.sender.name if ctx.sender is not None else "?"
    return [f"*About you*: {name} ({ctx.lang})", "  "]  # blank sections are left out


async def test_home_sections_of_the_skills_are_rendered_for_the_person(make_app, database_url) -> None:  # noqa: ANN001
    fake = FakeSlack(users=[slack_user("U0BOB", "Bob Martin", locale="fr-FR")])
    async with running_bot(make_app, fake, database_url=database_url,
                           skills=("skills.help", "tests.http.test_slack_home")) as bot:
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

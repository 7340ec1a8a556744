"""The one-line reason beside each person in an answer, and their evidence as links: shared by the
chat answer and `liaison ask`."""

from __future__ import annotations

import datetime as dt
from typing import Any

from skills.expertise.text import REASONS, month_label
from skills.expertise.model import Expert

def describe(e: "Expert", *, lang: str, now: dt.datetime) -> str:
    """The one-line reason, led by what ranked the person there (``e.reason``): their help on
    the topic, thanks for it, saying they know it, having helped the asker before, or helping
    others often or lately; then where and when last."""
    t = lambda key, **v: REASONS.get(lang, key, **v)  # noqa: E731
    general = {
        "threads": lambda: t("helper", count=e.answers),
        "recent": lambda: t("lately_lead"),
        "pair": lambda: t("pair", times=_times(t, e.pair)),
    }
    if not e.matched or not e.topic:
        return general.get(e.reason, general["threads"])()
    c, topic = e.counts, e.topic
    thanked = c.get("thanked", 0)
    kind = {"thanked": "thanked", "declared": "declared", "topic_wrote": "wrote"}.get(e.reason, "answered")
    if not c.get(kind):
        kind = next((k for k in ("answered", "thanked", "declared", "wrote") if c.get(k)), "declared")
    if kind == "answered":
        n = e.questions if e.questions else c["answered"]
        text = t("answered" if e.questions is None or e.questions_all else "answered_at_least",
                 count=n, topic=topic)
    elif kind == "wrote":
        n = c["wrote"]
        text = t("wrote", count=n, topic=topic)
    elif kind == "thanked":
        text = t("thanked_alone", count=_times(t, thanked), topic=topic)
    else:
        text = t("declared", topic=topic)
    if e.reason in general:
        # Helping often, lately or the asker ranked them: said first, the topic after.
        text = general[e.reason]() + "; " + text
    if kind in ("answered", "wrote"):
        if e.channel:
            text += t("in_channel", channel=e.channel)
        if e.last_at is not None:
            text += t("last", when=month_label(e.last_at, lang=lang, now=now))
    if thanked and kind != "thanked":
        text += t("thanked", count=_times(t, thanked))
    return text


def _times(t: Any, n: int) -> str:
    return t("once") if n == 1 else t("twice") if n == 2 else t("n_times", n=n)


def link_targets(e: "Expert") -> list[str]:
    """The evidence of one person as links (a permalink, else "#channel ts")."""
    return [l.permalink or f"#{l.conversation_name or l.conversation_id} {l.ts}" for l in e.links]

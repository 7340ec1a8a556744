"""Who-knows questions in the network report: counted per workspace and month when the who-knows
handler answers (asked, and answered with at least one person who knows), with nobody named, on
SQLite and PostgreSQL with a fixed clock; shown in the chat report, the admin page's table (and
so its CSV) and the monthly report; "forget me" leaves the counts as they are."""

from __future__ import annotations

import datetime as dt
import io

from sqlalchemy import inspect, select

from adapters.console.chat import ConsoleChat
from bot.db.insights import InsightsQuestions
from bot.events import Person, ScheduledTick
from bot.ingest import IngestWorker
from bot.ports import FixedClock
from bot.privacy import forget_person
from skills.insights import summary
from skills.insights.admin import rows
from skills.insights.figures import build_report
from tests.conftest import WS, dm, message
from tests.skills import insights_sample as sample

ASKER = Person("S2", sample.NAMES["S2"], team="Sales")
EXPERT = Person("P4", sample.NAMES["P4"], team="Platform")


async def ask(app, text: str) -> str:  # noqa: ANN001
    outcome = await app.dispatcher.handle(dm(ASKER, text))
    assert outcome.status == "ok", outcome
    return "\n".join(m.text for m in outcome.outbound)


def counts(app, workspace: str = WS.key) -> set[tuple[str, int, int]]:  # noqa: ANN001
    with app.db.session(workspace) as s:
        return {(r.month, r.asked, r.answered) for r in s.scalars(select(InsightsQuestions))}


async def questions_app(make_app, database_url, tmp_path):  # noqa: ANN001, ANN201
    clock = FixedClock(dt.datetime(2026, 10, 30, 9, tzinfo=dt.timezone.utc))
    chat = ConsoleChat(people={}, channels={}, out=io.StringIO(), files_dir=str(tmp_path / "files"))
    app = make_app(database_url=database_url, chats={"console": chat}, clock_=clock,
                   bot={"hr_admins": [sample.ADMIN]})
    sample.load(app)
    for text in ("Kafka partitions: start from the consumer count, then measure the lag",
                 "Kafka consumer groups rebalance when a pod restarts"):
        assert (await app.dispatcher.handle(message(EXPERT, text))).queued
    IngestWorker(app).drain()
    # October: one question someone can answer, one nobody can; a question without a topic is
    # not a question (the bot asks what about).
    assert "Person P4 Example" in await ask(app, "who knows Kafka?")
    assert "I don't know anyone" in await ask(app, "who knows COBOL mainframes?")
    assert "Tell me the topic" in await ask(app, "who knows?")
    # November: months are UTC calendar months, as in the report.
    clock.set(dt.datetime(2026, 11, 1, 0, 30, tzinfo=dt.timezone.utc))
    await ask(app, "qui connaît Kafka ?")
    clock.set(sample.NOW)
    return app, clock


async def test_questions_are_counted_per_month_and_nobody_is_named(make_app, database_url, tmp_path) -> None:  # noqa: ANN001
    app, _ = await questions_app(make_app, database_url, tmp_path)
    assert counts(app) == {("2026-10", 2, 1), ("2026-11", 1, 1)}
    columns = {c["name"] for c in inspect(app.db.engine).get_columns("insights_questions")}
    assert columns == {"id", "workspace", "month", "asked", "answered"}  # no person, no text, no topic
    assert not getattr(InsightsQuestions, "__person_columns__", ())
    # "forget me" has nothing to erase there: the counts stay.
    with app.db.session(WS.key) as s:
        forget_person(s, ASKER.id, at=sample.NOW)
    assert counts(app) == {("2026-10", 2, 1), ("2026-11", 1, 1)}


async def test_the_counts_are_in_the_report_the_table_and_the_monthly_report(make_app, database_url, tmp_path) -> None:  # noqa: ANN001
    app, clock = await questions_app(make_app, database_url, tmp_path)
    with app.db.session("console:other") as s:  # another workspace's questions are never counted here
        s.add(InsightsQuestions(month="2026-11", asked=50, answered=40))
    with app.db.session(WS.key) as s:
        report = build_report(s, sample.NOW, months=3, min_group=5)
    sep, oct_, nov = report.months
    assert [(m.questions_asked, m.questions_answered) for m in (sep, oct_, nov)] == [(0, 0), (2, 1), (1, 1)]
    assert "❓ Who knows: 1 question asked, 1 of them answered with at least one person who knows." in summary(report, "en")
    assert "❓ Qui connaît : 1 question posée, dont 1 avec au moins une personne qui sait." in summary(report, "fr")
    head, body = rows(report, "en", 3)
    table = {row[0]: dict(zip(head, row)) for row in body}
    assert (table["Oct 2026"]["Who-knows questions"], table["Oct 2026"]["Answered with someone"]) == ("2", "1")
    assert (table["Nov 2026"]["Who-knows questions"], table["Sep 2026"]["Who-knows questions"]) == ("1", "0")
    text = " ".join([summary(report, "en"), *head, *(c for row in body for c in row)])
    assert "Kafka" not in text and "COBOL" not in text and ASKER.name not in text
    # Smaller than min_group: the counts are not shown either.
    with app.db.session(WS.key) as s:
        hidden = build_report(s, sample.NOW, months=3, min_group=50)
    assert "questions" not in summary(hidden, "en") and rows(hidden, "en", 3)[1][0][-2:] == ["fewer than 50"] * 2
    clock.set(dt.datetime(2026, 12, 1, 9, tzinfo=dt.timezone.utc))
    monthly = await app.dispatcher.handle(ScheduledTick(WS, "insights.monthly", clock.now()))
    [to_admin] = monthly.outbound
    assert "❓ Who knows: 1 question asked, 1 of them answered" in to_admin.text


class CountingChat(ConsoleChat):
    """The console's ChatPort, noting the question counts stored when each answer goes out."""

    def __init__(self, app_of, *args, **kwargs) -> None:  # noqa: ANN001, ANN002, ANN003
        super().__init__(*args, **kwargs)
        self.app_of = app_of
        self.counts_at_send: list[set[tuple[str, int, int]]] = []

    async def send(self, workspace, message):  # noqa: ANN001, ANN201
        self.counts_at_send.append(counts(self.app_of()))
        return await super().send(workspace, message)


async def test_a_question_is_counted_once_its_answer_is_sent(make_app, database_url, tmp_path, caplog) -> None:  # noqa: ANN001
    clock = FixedClock(dt.datetime(2026, 10, 30, 9, tzinfo=dt.timezone.utc))
    holder: list = []
    chat = CountingChat(lambda: holder[0], people={}, channels={}, out=io.StringIO(), files_dir=str(tmp_path / "files"))
    app = make_app(database_url=database_url, chats={"console": chat}, clock_=clock)
    holder.append(app)
    sample.load(app)
    assert "I don't know anyone" in await ask(app, "who knows COBOL mainframes?")
    # The answer went out before the count was written; the count is there when handle returns.
    assert chat.counts_at_send == [set()]
    assert counts(app) == {("2026-10", 1, 0)}

    # A listener that fails after the answer: the answer stands, the failure is logged and named
    # on the outcome, and that event's records (all listeners share one transaction) are not kept.
    def broken(ctx, **values):  # noqa: ANN001, ANN003, ANN202
        raise RuntimeError("the listener's table is missing")

    app.services.register("on:who_knows.asked:broken", lambda: broken)
    outcome = await app.dispatcher.handle(dm(ASKER, "who knows COBOL mainframes?"))
    assert outcome.status == "ok" and len(outcome.sent) == 1 and "I don't know anyone" in outcome.outbound[0].text
    assert "after the answer: RuntimeError: the listener's table is missing" in (outcome.error or "")
    assert "was answered, but recording what it told (who_knows.asked) failed" in caplog.text
    assert counts(app) == {("2026-10", 1, 0)}

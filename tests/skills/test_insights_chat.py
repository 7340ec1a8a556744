"""The network report in chat (admins only, by direct message, with two PNG charts, in the
admin's language) and the monthly report (first working day, once per month), through the real
bootstrap and dispatcher with the console ChatPort, on the fixed sample."""

from __future__ import annotations

import datetime as dt
import io

from apscheduler.triggers.cron import CronTrigger
from sqlalchemy import func, select

from adapters.console.chat import ConsoleChat
from bot import scheduler
from bot.db.insights import InsightsReport
from bot.events import DirectMessage, Person, Reply, ScheduledTick, Workspace
from bot.ports import FixedClock
from tests.conftest import dm, message
from tests.skills import insights_sample as sample

WS = Workspace("console", "acme")
PNG = b"\x89PNG\r\n\x1a\n"


def app_and_chat(make_app, database_url, tmp_path, **overrides):  # noqa: ANN001, ANN201
    out = io.StringIO()
    chat = ConsoleChat(people={}, channels={}, out=out, files_dir=str(tmp_path / "files"))
    app = make_app(database_url=database_url, chats={"console": chat}, clock_=FixedClock(sample.NOW),
                   bot={"hr_admins": [sample.ADMIN, "S1"]}, **overrides)
    sample.load(app)
    return app, chat, out


def admin(user: str = sample.ADMIN) -> Person:
    return Person(user, sample.NAMES[user])


async def test_an_admin_gets_the_report_with_two_charts(make_app, database_url, tmp_path) -> None:  # noqa: ANN001
    app, chat, out = app_and_chat(make_app, database_url, tmp_path)
    await app.dispatcher.handle(dm(admin(), "network report"))
    [(_, sent)] = chat.sent
    assert isinstance(sent, Reply) and sent.conversation.kind == "dm"
    assert sent.text.splitlines()[0].startswith("📈 *Network report* — Nov 2026")
    assert "10 people took part in 5 groups; 1 meeting reported, answer rate 40 %" in sent.text
    assert "New cross-team ties: 2 pairs" in sent.text and "5 people have not met anyone in the last 3 rounds" in sent.text
    assert "Thanks: 4 given, 2 of them between teams" in sent.text
    assert [f.name for f in sent.files] == ["network-activity-2026-11.png", "network-thanks-2026-11.png"]
    assert all(f.data.startswith(PNG) for f in sent.files)
    # The console writes the charts and names the files.
    for f in sent.files:
        path = tmp_path / "files" / f.name
        assert path.read_bytes() == f.data and str(path) in out.getvalue()


async def test_in_french_and_from_a_channel_by_direct_message(make_app, database_url, tmp_path) -> None:  # noqa: ANN001
    app, chat, _ = app_and_chat(make_app, database_url, tmp_path)
    await app.dispatcher.handle(message(admin(), "rapport réseau", addressed=True))
    (_, to_admin), (_, note) = chat.sent
    assert isinstance(to_admin, DirectMessage) and to_admin.user_id == sample.ADMIN
    assert "*Rapport réseau* — nov. 2026" in to_admin.text and "dont 2 entre équipes" in to_admin.text
    assert len(to_admin.files) == 2 and to_admin.files[1].title == "Remerciements entre équipes"
    assert isinstance(note, Reply) and note.ephemeral_to == sample.ADMIN and not note.files


async def test_a_non_admin_is_refused_and_sees_no_figure(make_app, database_url, tmp_path) -> None:  # noqa: ANN001
    app, chat, _ = app_and_chat(make_app, database_url, tmp_path)
    await app.dispatcher.handle(dm(admin("S2"), "network report"))
    [(_, sent)] = chat.sent
    assert "Only HR admins" in sent.text and not sent.files and "Coffee" not in sent.text


def tick(at: dt.datetime) -> ScheduledTick:
    return ScheduledTick(workspace=WS, job="insights.monthly", fire_time=at)


async def test_the_monthly_report_goes_to_each_admin_once_per_month(make_app, database_url, tmp_path) -> None:  # noqa: ANN001
    app, chat, _ = app_and_chat(make_app, database_url, tmp_path)
    assert scheduler.registry(app).crons["insights.monthly"].cron == "0 9 1-3 * mon-fri"
    outcome = await app.dispatcher.handle(tick(dt.datetime(2026, 12, 1, 9, tzinfo=dt.timezone.utc)))
    sent = {m.user_id: m for m in outcome.outbound}
    assert set(sent) == {sample.ADMIN, "S1"}
    assert sent[sample.ADMIN].text.startswith("📈 *Monthly network report* — Nov 2026")
    assert sent["S1"].text.startswith("📈 *Rapport réseau mensuel* — nov. 2026")  # S1 reads French
    assert all(len(m.files) == 2 and m.files[0].data.startswith(PNG) for m in sent.values())
    # The next working day fires too: nothing more is sent for that month.
    again = await app.dispatcher.handle(tick(dt.datetime(2026, 12, 2, 9, tzinfo=dt.timezone.utc)))
    assert again.outbound == []
    with app.db.session(WS.key) as s:
        assert s.scalar(select(func.count()).select_from(InsightsReport)) == 1
        assert s.scalar(select(InsightsReport.month)) == "2026-11"


def test_the_default_schedule_is_the_first_working_day() -> None:
    trigger = CronTrigger.from_crontab("0 9 1-3 * mon-fri", timezone=dt.timezone.utc)

    def first(year: int, month: int) -> dt.date:
        start = dt.datetime(year, month, 1, tzinfo=dt.timezone.utc)
        return trigger.get_next_fire_time(None, start).date()

    assert first(2026, 8) == dt.date(2026, 8, 3)  # the 1st is a Saturday: Monday the 3rd
    assert first(2026, 11) == dt.date(2026, 11, 2)  # a Sunday: Monday the 2nd
    assert first(2026, 12) == dt.date(2026, 12, 1)  # a Tuesday

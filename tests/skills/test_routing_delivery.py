"""Routed offers survive a crash: each is claimed before it is sent and recorded after, so a
process that dies between the second and the third offer leaves the first recorded, the second
"in doubt" and the third pending. After the restart the sweep asks the platform about the second
(the console, like Slack, can tell: it is found and recorded, not sent again) and sends the third
once; a platform that cannot tell does not send the second again (at most once)."""

from __future__ import annotations

from typing import Any, Sequence

from sqlalchemy import select

from adapters.console.chat import ConsoleChat
from bot.db.routing import RoutingOffer
from bot.events import DirectMessage, Outbound, Person, Sent, Workspace
from tests.conftest import WS
from tests.skills.test_routing import ADA, BEA, CARL, SETTINGS, make_chat, offers_sent, route, seed, sweep


class DiesAfterPosting(ConsoleChat):
    """The platform takes the ``die_at``-th routed offer, then the sender dies before it hears back."""

    die_at: int | None = None

    async def send(self, workspace: Workspace, message: Outbound) -> Sent:
        sent = await super().send(workspace, message)
        if isinstance(message, DirectMessage) and (message.key or "").startswith("routing.offer.") and self.die_at:
            self.die_at -= 1
            if self.die_at == 0:
                self.die_at = None
                raise RuntimeError("worker killed mid-post")
        return sent


class CannotTell:
    """A platform that cannot say which messages got through (Teams): the console without find_sent."""

    platform = "console"

    def __init__(self, inner: ConsoleChat) -> None:
        self.inner = inner

    async def send(self, workspace: Workspace, message: Outbound) -> Sent:
        return await self.inner.send(workspace, message)

    async def update(self, workspace: Workspace, sent: Sent, text: str, buttons: Sequence = ()) -> None:
        await self.inner.update(workspace, sent, text, buttons)

    async def lookup_user(self, workspace: Workspace, user_id: str) -> Person | None:
        return await self.inner.lookup_user(workspace, user_id)

    async def list_members(self, workspace: Workspace, conversation_id: str) -> Sequence[str]:
        return await self.inner.list_members(workspace, conversation_id)

    async def list_users(self, workspace: Workspace) -> Sequence[Person]:
        return await self.inner.list_users(workspace)

    async def permalink(self, workspace: Workspace, conversation_id: str, ts: str) -> str | None:
        return None


def states(app: Any) -> dict[str, str]:
    with app.db.session(WS.key) as s:
        return dict(s.execute(select(RoutingOffer.expert_id, RoutingOffer.state)).all())


async def crash_at_the_second_offer(make_app: Any, database_url: str) -> tuple[ConsoleChat, Any]:
    chat = make_chat(DiesAfterPosting)
    chat.die_at = 2
    app = make_app(database_url=database_url, chats={"console": chat}, **SETTINGS)
    seed(app)
    outcome = await route(app, chat)
    assert outcome.status == "error"  # the sender "died" once the second offer had reached Béatrice
    assert [m.user_id for m in offers_sent(chat)] == [ADA.id, BEA.id]
    assert states(app) == {ADA.id: "sent", BEA.id: "pending", CARL.id: "pending"}
    app.close()
    return chat, app


async def test_after_a_crash_the_third_offer_is_sent_once_and_the_first_two_not_again(make_app, database_url, clock) -> None:  # noqa: ANN001
    chat, _ = await crash_at_the_second_offer(make_app, database_url)
    # The restart: a new process on the same database and platform; its sweep job runs.
    again = make_app(database_url=database_url, chats={"console": chat}, **SETTINGS)
    await sweep(again, clock)
    assert [m.user_id for m in offers_sent(chat)] == [ADA.id, BEA.id, CARL.id]
    assert states(again) == {ADA.id: "sent", BEA.id: "sent", CARL.id: "sent"}
    await sweep(again, clock)
    assert len(offers_sent(chat)) == 3
    with again.db.session(WS.key) as s:
        bea = s.scalars(select(RoutingOffer).where(RoutingOffer.expert_id == BEA.id)).one()
        assert bea.message_ts is None and bea.conversation_id == f"D-{BEA.id}"  # found, recorded


async def test_a_platform_that_cannot_tell_sends_the_doubtful_offer_at_most_once(make_app, database_url, clock) -> None:  # noqa: ANN001
    chat, _ = await crash_at_the_second_offer(make_app, database_url)
    again = make_app(database_url=database_url, chats={"console": CannotTell(chat)}, **SETTINGS)
    await sweep(again, clock)
    assert [m.user_id for m in offers_sent(chat)] == [ADA.id, BEA.id, CARL.id]
    assert states(again)[BEA.id] == "sent"

"""TeamsChat: the ChatPort of Microsoft Teams, and the stored conversation references it needs.

A bot can only write where it has a ConversationReference (the conversation id and the
serviceUrl of the Bot Connector that serves it). Every inbound activity refreshes the
references of its conversation, of the sender's 1:1 chat (personal scope) and of its team, in
the ``conversation_refs`` table, so proactive messages (coffee intros, kudos DMs, digests,
follow-ups) still work after a restart. Keys:

- ``conversation:<id>``: a channel, group chat or 1:1 chat (channel threads share the channel's);
- ``user:<id>``: the 1:1 chat with a person (created with the connector when there is none);
- ``team:<id>``: a team the bot is in (its roster is synced from there).

Outbound messages: neutral markup is rendered by render.py, buttons become an Adaptive Card
(cards.py), files (charts) follow the text as inline images, one message each; ``Reply.ephemeral_to`` has no Teams equivalent, so the reply is sent normally (in
its thread); a GroupMessage is one 1:1 message to each member, naming the others, because a
bot cannot start a group chat in Teams.
"""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any, Iterable, Mapping, Sequence
from urllib.parse import quote

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from adapters.teams import translate
from adapters.teams.cards import button_card, image_attachment
from adapters.teams.connector import ConnectorClient, ConnectorError, conversation_path
from adapters.teams.render import render
from bot import people
from bot.db import Database
from bot.db.models import ConversationRef, PersonRow
from bot.events import Attachment, Button, DirectMessage, GroupMessage, Outbound, Person, Reply, Sent, Workspace
from bot.i18n import Catalog, join_names, normalise_locale
from bot.ports import ChatError

log = logging.getLogger("liaison.teams")

TEXT = Catalog("teams.chat")


class ReferenceStore:
    """Conversation references in the database, with a small cache so that an unchanged
    reference is not written again on every activity."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._known: dict[tuple[str, str], dict[str, Any]] = {}

    def save(self, workspace: str, key: str, reference: Mapping[str, Any], *, replace: bool = True) -> None:
        """Store ``reference`` under ``key``; with ``replace=False`` a reference already stored
        there is kept as it is (what an unauthenticated activity may do: add, never redirect)."""
        ref = dict(reference)
        known = self._known.get((workspace, key))
        if known == ref or (known is not None and not replace):
            return
        stored = ref
        for _ in range(2):  # a concurrent insert of the same key: the second try finds it
            try:
                with self.db.session(workspace) as s:
                    row = s.scalars(select(ConversationRef).where(ConversationRef.key == key)).first()
                    if row is None:
                        # A person's 1:1 reference names them, so "forget me" erases it too.
                        user_id = key.removeprefix("user:") if key.startswith("user:") else None
                        s.add(ConversationRef(workspace=workspace, key=key, user_id=user_id, reference=ref))
                    elif not replace:
                        stored = dict(row.reference)
                    elif row.reference != ref:
                        row.reference = ref
                break
            except IntegrityError:
                continue
        self._known[(workspace, key)] = stored
        if len(self._known) > 50_000:
            self._known.clear()

    def get(self, workspace: str, key: str) -> dict[str, Any] | None:
        with self.db.session(workspace) as s:
            row = s.scalars(select(ConversationRef).where(ConversationRef.key == key)).first()
            return dict(row.reference) if row is not None else None

    def latest(self, workspace: str) -> dict[str, Any] | None:
        """The most recently refreshed reference of a workspace (its serviceUrl and bot id are
        what creating a new conversation needs)."""
        with self.db.session(workspace) as s:
            row = s.scalars(
                select(ConversationRef).order_by(ConversationRef.updated_at.desc(), ConversationRef.id.desc()).limit(1)
            ).first()
            return dict(row.reference) if row is not None else None

    def channel_name(self, workspace: str, channel_id: str) -> str | None:
        ref = self._known.get((workspace, f"conversation:{channel_id}")) or self.get(workspace, f"conversation:{channel_id}")
        return ((ref or {}).get("conversation") or {}).get("name") or None

    def teams(self, workspace: str) -> list[dict[str, Any]]:
        with self.db.session(workspace) as s:
            rows = s.scalars(select(ConversationRef).where(ConversationRef.key.like("team:%")).order_by(ConversationRef.id)).all()
            return [dict(r.reference) for r in rows]

    def workspaces(self) -> list[str]:
        """Teams workspaces that have at least one team reference (for roster syncs)."""
        with self.db.session(None) as s:
            rows = s.execute(
                select(ConversationRef.workspace).where(ConversationRef.key.like("team:%"),
                                                        ConversationRef.workspace.like("teams:%")).distinct()
            ).all()
            return sorted(r[0] for r in rows)

    def remember(self, body: Mapping[str, Any], *, replace: bool = True) -> None:
        """Store what an inbound activity teaches about where the bot can write. ``replace``:
        whether the activity may change references already stored (only an authenticated one
        may: an unauthenticated activity "from Alice" must not redirect what is sent to Alice)."""
        env = translate.envelope(body)
        ref = translate.reference(body)
        ws = env.workspace.key
        conv_key = f"conversation:{ref['conversation']['id']}"
        if not ref["conversation"].get("name") and env.conversation_type == "channel":
            # Channel messages carry no channel name: keep the one learnt from the team's list.
            known = self._known.get((ws, conv_key)) or self.get(ws, conv_key) or {}
            ref["conversation"]["name"] = (known.get("conversation") or {}).get("name")
        self.save(ws, conv_key, ref, replace=replace)
        if env.conversation_type == "personal" and not env.sender.is_bot:
            self.save(ws, f"user:{env.sender.id}", ref, replace=replace)
        if env.team_id:
            team = {**ref, "conversation": {**ref["conversation"], "id": env.team_id}, "activityId": None, "user": None}
            if not team.get("teamName"):
                # Most activities carry the team's id without its name: keep a name already known.
                known = self._known.get((ws, f"team:{env.team_id}")) or self.get(ws, f"team:{env.team_id}") or {}
                team["teamName"] = known.get("teamName")
            self.save(ws, f"team:{env.team_id}", team, replace=replace)


class TeamsChat:
    """ChatPort for Teams (see the module docstring)."""

    platform = "teams"

    def __init__(
        self,
        *,
        db: Database,
        refs: ReferenceStore,
        connector: ConnectorClient,
        default_language: str = "en",
        bot_app_id: str | None = None,
        roster_page_size: int = 500,
        department_field: str = "",
        team_name_as_department: bool = True,
    ) -> None:
        self.db = db
        self.refs = refs
        self.connector = connector
        self.default_language = default_language
        self.bot_app_id = bot_app_id
        self.roster_page_size = roster_page_size
        self.department_field = department_field
        self.team_name_as_department = team_name_as_department

    # ---- sending -----------------------------------------------------------------------------

    async def send(self, workspace: Workspace, message: Outbound) -> Sent:
        sent = await self._send(workspace, message)
        for f in getattr(message, "files", ()):
            await self._send_file(workspace, message, f)
        return sent

    async def _send_file(self, ws: Workspace, message: Outbound, f: Attachment) -> None:
        """One file as an inline image (a data URL attachment), in its own message after the text."""
        reply_to = None
        if isinstance(message, Reply):
            conv_id = message.conversation.id
            ref = await asyncio.to_thread(self.refs.get, ws.key, f"conversation:{conv_id}") or {}
            if message.thread_ts and message.conversation.kind == "channel":
                conv_id, reply_to = f"{conv_id};messageid={message.thread_ts}", message.thread_ts
        else:
            ref = await self.personal_reference(ws, message.user_id)
            conv_id = ref["conversation"]["id"]
        activity = {"type": "message", "from": ref.get("bot") or {}, "conversation": {"id": conv_id},
                    "attachments": [image_attachment(f)]}
        if reply_to:
            activity["replyToId"] = reply_to
        await self.connector.send_activity(ref["serviceUrl"], conv_id, activity, reply_to=reply_to)

    async def _send(self, workspace: Workspace, message: Outbound) -> Sent:
        if isinstance(message, Reply):
            return await self._reply(workspace, message)
        if isinstance(message, DirectMessage):
            return await self._direct(workspace, message.user_id, message.text, message.buttons)
        if isinstance(message, GroupMessage):
            return await self._group(workspace, message)
        raise TypeError(f"cannot send {type(message).__name__}")

    async def _reply(self, ws: Workspace, message: Reply) -> Sent:
        conv = message.conversation
        ref = await asyncio.to_thread(self.refs.get, ws.key, f"conversation:{conv.id}")
        if ref is None:
            raise ChatError(f"I have no conversation reference for {conv.id} in {ws.key}: Teams has not sent "
                            "anything from there yet (is the app installed in that team or chat?)")
        conv_id, reply_to = conv.id, None
        if message.thread_ts and conv.kind == "channel":
            # In a channel, a thread is the conversation "<channel>;messageid=<first post>".
            conv_id, reply_to = f"{conv.id};messageid={message.thread_ts}", message.thread_ts
        activity = await self._activity(ws, ref, conv_id, message.text, message.buttons, reply_to=reply_to)
        ident = await self.connector.send_activity(ref["serviceUrl"], conv_id, activity, reply_to=reply_to)
        return Sent(conversation_id=conv.id, ts=ident)

    async def _direct(self, ws: Workspace, user_id: str, text: str, buttons: Sequence[Button]) -> Sent:
        ref = await self.personal_reference(ws, user_id)
        conv_id = ref["conversation"]["id"]
        activity = await self._activity(ws, ref, conv_id, text, buttons)
        ident = await self.connector.send_activity(ref["serviceUrl"], conv_id, activity)
        return Sent(conversation_id=conv_id, ts=ident)

    async def _group(self, ws: Workspace, message: GroupMessage) -> Sent:
        ids = list(dict.fromkeys(message.user_ids))
        langs = await asyncio.to_thread(self._languages, ws, ids)
        first: Sent | None = None
        failures: list[str] = []
        for user_id in ids:
            others = [u for u in ids if u != user_id]
            lang = langs.get(user_id, self.default_language)
            text = message.text
            if others:
                names = join_names(lang, [f"<@{u}>" for u in others])
                text = TEXT.get(lang, "group_intro", others=names) + "\n" + message.text
            try:
                sent = await self._direct(ws, user_id, text, message.buttons)
            except ChatError as exc:
                # One member we cannot reach must not keep the others from their message.
                log.warning("could not send a group message to %s in %s: %s", user_id, ws.key, exc)
                failures.append(f"{user_id}: {exc}")
                continue
            first = first or sent
        if first is None:
            raise ChatError("could not reach any member of the group: " + "; ".join(failures))
        return first

    async def personal_reference(self, ws: Workspace, user_id: str) -> dict[str, Any]:
        """The 1:1 conversation with a person: stored, or created with the connector."""
        ref = await asyncio.to_thread(self.refs.get, ws.key, f"user:{user_id}")
        if ref is not None:
            return ref
        base = await asyncio.to_thread(self.refs.latest, ws.key)
        if base is None:
            raise ChatError(f"I cannot open a chat with {user_id}: Teams has not sent anything from tenant "
                            f"{ws.id} yet. Install the app in a team or chat first.")
        bot = dict(base.get("bot") or {})
        if not bot.get("id") and self.bot_app_id:
            bot = {"id": f"28:{self.bot_app_id}"}
        parameters = {
            "isGroup": False,
            "bot": bot,
            "members": [{"id": user_id}],
            "tenantId": ws.id,
            "channelData": {"tenant": {"id": ws.id}},
        }
        try:
            conv_id = await self.connector.create_conversation(base["serviceUrl"], parameters)
        except ConnectorError as exc:
            if exc.status == 403:
                raise ChatError(f"Teams refused to open a chat with {user_id}: the app is probably not installed "
                                "for them (add it to a team they belong to)") from exc
            raise
        ref = {
            **base,
            "activityId": None,
            "user": {"id": user_id, "name": None},
            "bot": bot,
            "conversation": {"id": conv_id, "conversationType": "personal", "tenantId": ws.id, "isGroup": False},
            "teamId": None,
            "teamName": None,
        }
        await asyncio.to_thread(self._store_personal, ws.key, user_id, ref)
        return ref

    def _store_personal(self, workspace: str, user_id: str, ref: Mapping[str, Any]) -> None:
        self.refs.save(workspace, f"user:{user_id}", ref)
        self.refs.save(workspace, f"conversation:{ref['conversation']['id']}", ref)

    async def _activity(self, ws: Workspace, ref: Mapping[str, Any], conv_id: str, text: str,
                        buttons: Sequence[Button], *, reply_to: str | None = None) -> dict[str, Any]:
        names = await asyncio.to_thread(self._names, ws, _mentioned(text))
        body, entities = render(text, lambda ident: names.get(ident, ident))
        activity: dict[str, Any] = {
            "type": "message",
            "text": body,
            "textFormat": "markdown",
            "from": ref.get("bot") or {},
            "conversation": {"id": conv_id},
        }
        if entities:
            activity["entities"] = entities
        if buttons:
            activity["attachments"] = [button_card(buttons)]
        if reply_to:
            activity["replyToId"] = reply_to
        return activity

    def _names(self, ws: Workspace, ids: Iterable[str]) -> dict[str, str]:
        ids = list(ids)
        if not ids:
            return {}
        with self.db.session(ws.key) as s:
            rows = s.scalars(select(PersonRow).where(PersonRow.user_id.in_(ids))).all()
            return {r.user_id: r.name for r in rows if r.name}

    def _languages(self, ws: Workspace, ids: Iterable[str]) -> dict[str, str]:
        with self.db.session(ws.key) as s:
            rows = s.scalars(select(PersonRow).where(PersonRow.user_id.in_(list(ids)))).all()
            return {r.user_id: lang for r in rows if (lang := normalise_locale(r.locale))}

    # ---- directory ---------------------------------------------------------------------------

    async def lookup_user(self, workspace: Workspace, user_id: str) -> Person | None:
        for team in await asyncio.to_thread(self.refs.teams, workspace.key):
            found = await self.connector.member(team["serviceUrl"], team["conversation"]["id"], user_id)
            if found:
                return self._person(found, team)
        return None

    async def list_members(self, workspace: Workspace, conversation_id: str) -> Sequence[str]:
        ref = await asyncio.to_thread(self.refs.get, workspace.key, f"conversation:{conversation_id}")
        if ref is None:
            ref = await asyncio.to_thread(self.refs.get, workspace.key, f"team:{conversation_id}")
        if ref is None:
            raise ChatError(f"I know no conversation {conversation_id} in {workspace.key}; is the app installed there?")
        members = await self.connector.paged_members(ref["serviceUrl"], conversation_id, page_size=self.roster_page_size)
        return [m["id"] for m in members if m.get("id") and not str(m["id"]).startswith("28:")]

    async def list_users(self, workspace: Workspace) -> Sequence[Person]:
        found: dict[str, Person] = {}
        for team in await asyncio.to_thread(self.refs.teams, workspace.key):
            members = await self.connector.paged_members(team["serviceUrl"], team["conversation"]["id"],
                                                         page_size=self.roster_page_size)
            for m in members:
                person = self._person(m, team)
                if person.id and person.id not in found:
                    found[person.id] = person
        return list(found.values())

    def _person(self, member: Mapping[str, Any], team: Mapping[str, Any]) -> Person:
        department = None
        if self.department_field:
            value = member.get(self.department_field)
            department = value.strip() if isinstance(value, str) and value.strip() else None
        if department is None and self.team_name_as_department:
            department = team.get("teamName") or None
        return translate.person_of(member, team=department)

    async def sync_roster(self, workspace: Workspace) -> int:
        """Refresh bot.people from the rosters of every team the bot is in (paged)."""
        users = await self.list_users(workspace)

        def apply() -> int:
            with self.db.session(workspace.key) as s:
                # upsert, not sync_directory: Teams rosters do not say who is an admin, so they
                # must not withdraw the admin flag set elsewhere.
                for person in users:
                    people.upsert(s, person)
            return len(users)

        n = await asyncio.to_thread(apply)
        log.info("Teams roster of %s synced: %d people", workspace.key, n)
        return n

    async def refresh_team(self, workspace: Workspace, team_id: str) -> None:
        """Learn a team's name (people's team) and its channels' names (shown in answers and
        given to skills) from the connector, and where to post in each channel."""
        ref = await asyncio.to_thread(self.refs.get, workspace.key, f"team:{team_id}")
        if ref is None:
            return
        if not ref.get("teamName"):
            details = await self.connector.team_details(ref["serviceUrl"], team_id)
            if details and details.get("name"):
                ref = {**ref, "teamName": details["name"]}
                await asyncio.to_thread(self.refs.save, workspace.key, f"team:{team_id}", ref)
        channels = await self.connector.team_channels(ref["serviceUrl"], team_id)

        def store() -> None:
            for channel in channels:
                name = channel.get("name") or (TEXT.get(self.default_language, "general") if channel["id"] == team_id else None)
                conv = {**ref["conversation"], "id": channel["id"], "conversationType": "channel", "isGroup": True, "name": name}
                self.refs.save(workspace.key, f"conversation:{channel['id']}", {**ref, "conversation": conv})

        await asyncio.to_thread(store)

    async def permalink(self, workspace: Workspace, conversation_id: str, ts: str) -> str | None:
        if not conversation_id.startswith("19:") or not ts:
            return None
        return translate.message_link(channel_id=conversation_id, message_id=ts, tenant_id=workspace.id)

    # ---- editing a sent message --------------------------------------------------------------

    async def update(self, workspace: Workspace, sent: Sent, text: str, buttons: Sequence[Button] = ()) -> None:
        """Replace an activity the bot sent (PUT v3/conversations/{id}/activities/{activityId}):
        new text, and its card replaced (none: the buttons go)."""
        if not sent.ts:
            raise ChatError("Teams cannot update an activity whose id it did not answer")
        ref = await asyncio.to_thread(self.refs.get, workspace.key, f"conversation:{sent.conversation_id}")
        if ref is None:
            raise ChatError(f"I have no conversation reference for {sent.conversation_id} in {workspace.key}")
        activity = await self._activity(workspace, ref, sent.conversation_id, text, buttons)
        activity["id"] = sent.ts
        if not buttons:
            activity["attachments"] = []
        path = f"{conversation_path(sent.conversation_id)}/activities/{quote(sent.ts, safe='')}"
        await self.connector.call("PUT", ref["serviceUrl"], path, body=activity, pace=sent.conversation_id)


def _mentioned(text: str) -> list[str]:
    return list(dict.fromkeys(re.findall(r"<@([^<>|\s]+)>", text)))

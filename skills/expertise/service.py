"""The index as a shared service ("expertise"): the settings and the NLP pipelines bound together,
for the ingest handler, the chat handlers and the command line, with what every question needs of
the whole index kept for a few minutes."""

from __future__ import annotations

import datetime as dt
import importlib.util
import logging
import threading
import time
from typing import Any, Mapping, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.context import SkillContext
from bot.db.expertise import ExpertiseTopic

from skills.expertise.nlp import LANGS, NlpSettings
from skills.expertise.topics import Topic
from skills.expertise.ranker import Model
from skills.expertise.ranker_fit import FitSettings
from skills.expertise.model import Expert, ExpertiseSettings
from skills.expertise.evidence import record_evidence
from skills.expertise.index import index_messages
from skills.expertise.ranking import IndexSnapshot, index_snapshot, who_knows

log = logging.getLogger("liaison.expertise")
# What the skill says when it starts and loads its pipelines (as the skill module always has).
skill_log = logging.getLogger("liaison.skills.expertise")


class ExpertiseService:
    """The index as a shared service ("expertise"): the settings and the NLP pipelines bound
    together, for the ingest handler, the skill and the command line."""

    def __init__(self, *, settings: ExpertiseSettings, nlp: Any, db: Any = None) -> None:
        self.settings = settings
        self.nlp = nlp
        # Per workspace, what every question needs of the whole index's recent help (a read of
        # every answer of the last weeks, a tenth of a second on a large index), kept for a few
        # minutes: it changes slowly next to its half-lives. With ``db`` (a Database), an
        # expired copy is still used while a thread reads the new one, so no question waits.
        self._db = db
        self._snapshots: dict[str | None, tuple[float, IndexSnapshot]] = {}
        self._refreshing: set[str | None] = set()
        self._lock = threading.Lock()

    def ingest(self, session: Session, messages: Sequence[Any], *, now: dt.datetime) -> int:
        self._expire(session.info.get("workspace"))
        return index_messages(session, messages, nlp=self.nlp, settings=self.settings, now=now)

    def fit(self, session: Session, *, now: dt.datetime) -> Model:
        """Learn the session's workspace's ranking from its answered threads and store it (in
        the worker: on a schedule and after an import); its questions use it from their next
        snapshot."""
        from skills.expertise.ranker_fit import fit_workspace

        model = fit_workspace(session, now=now, settings=self.fit_settings())
        self._expire(session.info.get("workspace"))
        return model

    def fit_settings(self) -> FitSettings:
        """The fit's settings, from the [expertise] section."""
        s = self.settings
        return FitSettings(max_examples=s.fit_max_examples, min_examples=s.fit_min_examples, c=s.fit_c,
                           half_life_days=s.half_life_days, drop=tuple(s.fit_drop))

    def snapshot(self, session: Session, *, now: dt.datetime) -> IndexSnapshot:
        """``index_snapshot`` of the session's workspace, read again after
        ``helpers_refresh_seconds`` or after this service ingested messages there (in the
        background when the service has a database and a copy to answer with meanwhile)."""
        workspace = session.info.get("workspace")
        kept = self._snapshots.get(workspace)
        if kept is not None and time.monotonic() - kept[0] < self.settings.helpers_refresh_seconds:
            return kept[1]
        if kept is not None and self._db is not None and workspace is not None:
            self._refresh_later(workspace, now)
            return kept[1]
        snap = index_snapshot(session, now=now, settings=self.settings)
        self._snapshots[workspace] = (time.monotonic(), snap)
        return snap

    def _expire(self, workspace: str | None) -> None:
        kept = self._snapshots.get(workspace)
        if kept is not None:
            self._snapshots[workspace] = (float("-inf"), kept[1])

    def _refresh_later(self, workspace: str, now: dt.datetime) -> None:
        with self._lock:
            if workspace in self._refreshing:
                return
            self._refreshing.add(workspace)

        def refresh() -> None:
            try:
                with self._db.session(workspace) as s:
                    snap = index_snapshot(s, now=now, settings=self.settings)
                self._snapshots[workspace] = (time.monotonic(), snap)
            except Exception:  # noqa: BLE001 - the kept copy stays in use; the next question tries again
                log.exception("could not refresh the expertise snapshot of %s; the previous one stays in use", workspace)
            finally:
                with self._lock:
                    self._refreshing.discard(workspace)

        threading.Thread(target=refresh, name=f"expertise-snapshot-{workspace}", daemon=True).start()

    def query_topics(self, text: str, *, lang: str | None = None) -> list[Topic]:
        return self.nlp.topics(text, lang=lang)

    def ask(self, session: Session, *, text: str, asker: str | None, now: dt.datetime, lang: str | None = None,
            limit: int | None = None, details: bool = True) -> tuple[list[Topic], list[Expert]]:
        """Topics of a question and the people to ask about them."""
        topics = self.query_topics(text, lang=lang)
        return topics, who_knows(session, topics=topics, asker=asker, now=now, settings=self.settings,
                                 limit=limit, details=details, snapshot=self.snapshot(session, now=now))

    def declare(self, session: Session, *, user_id: str, text: str, at: dt.datetime, lang: str | None = None) -> list[Topic]:
        topics = self.query_topics(text, lang=lang)
        if topics:
            record_evidence(session, user_id=user_id, topics=topics, kind="declared", at=at, settings=self.settings)
        return topics


def service_of(ctx: SkillContext) -> ExpertiseService:
    return ctx.service("expertise")


def resolve_pipelines(settings: NlpSettings) -> dict[str, str]:
    """Which configured pipeline each language will use (the first installed), without
    loading any: for the start-up log line."""
    out = {}
    for lang in LANGS:
        chosen = "blank + lookup lemmas"
        for name in getattr(settings, lang) or ("blank",):
            if name == "blank":
                break
            if importlib.util.find_spec(name.replace("-", "_")) is not None:
                chosen = name
                break
        out[lang] = chosen
    return out


def services(app: Any) -> Mapping[str, Any]:
    """The vocabulary a misspelt question is corrected against, and the daily fit job; the
    composition root builds the shared ``nlp`` and ``expertise`` services this skill's handlers use."""
    nlp_settings = app.settings.section("nlp", NlpSettings)
    settings = app.settings.section("expertise", ExpertiseSettings)
    skill_log.info("expertise: pipelines %s (loaded on first use)",
             ", ".join(f"{k}: {v}" for k, v in resolve_pipelines(nlp_settings).items()))

    from bot import scheduler

    scheduler.register_cron(app, "expertise.fit", settings.fit_cron, timezone="UTC")
    return {"expertise_vocabulary": TopicVocabulary}


class TopicVocabulary:
    """Per workspace, its ``size`` most widely known one-word topics, most known first: what a
    misspelt question is corrected against ("kubernets" -> "kubernetes"). Read only when a
    question finds nobody, and kept ``ttl_seconds``."""

    def __init__(self, *, size: int = 5000, ttl_seconds: float = 600.0) -> None:
        self.size = size
        self.ttl_seconds = ttl_seconds
        self._kept: dict[str | None, tuple[float, list[str], dict[str, str]]] = {}
        self._lock = threading.Lock()

    def words(self, session: Any) -> tuple[list[str], dict[str, str]]:
        """(keys, display per key) of the session's workspace."""
        workspace = session.info.get("workspace")
        kept = self._kept.get(workspace)
        if kept is not None and time.monotonic() - kept[0] < self.ttl_seconds:
            return kept[1], kept[2]
        T = ExpertiseTopic
        rows = session.execute(
            select(T.key, T.display).where(T.people_n > 0, ~T.key.contains(" "))
            .order_by(T.people_n.desc(), T.key).limit(self.size)
        ).all()
        keys, displays = [r.key for r in rows], {r.key: r.display for r in rows}
        with self._lock:
            self._kept[workspace] = (time.monotonic(), keys, displays)
        return keys, displays

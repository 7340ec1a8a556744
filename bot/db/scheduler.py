"""The scheduler's job table, shared by every workspace (a truly global table).

APScheduler's SQLAlchemy job store reads and writes it; it is declared here too so that the
schema (and the migrations) know it, instead of the job store creating it on first start. The
columns match what APScheduler 3's ``SQLAlchemyJobStore`` expects."""

from __future__ import annotations

from sqlalchemy import Float, LargeBinary, Unicode
from sqlalchemy.orm import Mapped, mapped_column

from bot.db import Base

JOBS_TABLE = "scheduler_jobs"


class SchedulerJob(Base):
    __tablename__ = JOBS_TABLE

    id: Mapped[str] = mapped_column(Unicode(191), primary_key=True)
    next_run_time: Mapped[float | None] = mapped_column(Float(25), index=True, nullable=True)
    job_state: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)

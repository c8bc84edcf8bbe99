"""The call record table (migration 0006).

One row per call, keyed by (PBX node, Linkedid) as ARCHITECTURE.md's call identity
says, so a replayed or duplicated event (or two service instances writing the same
call) updates the row instead of adding a second one. The columns the KPIs and filters
need are plain columns; the long tail (ring attempts, transfers, timeline) is JSON.
`start_epoch` repeats `started_at` as integer seconds: period buckets (15 min / hour /
day) are then integer arithmetic that PostgreSQL and SQLite compute the same way.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, DateTime, Float, Index, SmallInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from callcenter.models import Base


class CallRecord(Base):
    __tablename__ = "call_records"
    __table_args__ = (
        Index("ix_call_records_start_epoch", "start_epoch"),
        Index("ix_call_records_caller", "caller"),
        Index("ix_call_records_queue_start", "queue", "start_epoch"),
    )

    node: Mapped[str] = mapped_column(String(32), primary_key=True)
    linkedid: Mapped[str] = mapped_column(String(64), primary_key=True)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    start_epoch: Mapped[int] = mapped_column(BigInteger)
    ended_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    dialed: Mapped[str] = mapped_column(String(40), default="")
    unit: Mapped[str] = mapped_column(String(32), default="")
    district: Mapped[str] = mapped_column(String(64), default="")
    mode: Mapped[str] = mapped_column(String(16), default="")
    caller: Mapped[str] = mapped_column(String(40), default="")
    confidential: Mapped[bool] = mapped_column(Boolean, default=False)
    ivr_keys: Mapped[str] = mapped_column(String(64), default="")
    prompts: Mapped[list[str]] = mapped_column(JSON, default=list)
    queue: Mapped[str] = mapped_column(String(48), default="")  # first queue joined
    queues: Mapped[list[str]] = mapped_column(JSON, default=list)
    queue_exit: Mapped[str] = mapped_column(String(16), default="")
    wait_s: Mapped[float | None] = mapped_column(Float, nullable=True)  # None: never queued
    rings: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    agent: Mapped[str] = mapped_column(String(120), default="")  # member interface
    seat: Mapped[str] = mapped_column(String(64), default="")  # MemberName = seat id
    talk_s: Mapped[float] = mapped_column(Float, default=0.0)
    wrapup_s: Mapped[float] = mapped_column(Float, default=0.0)
    transfers: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    hangup_by: Mapped[str] = mapped_column(String(16), default="")
    disposition: Mapped[str] = mapped_column(String(24))
    fallback: Mapped[bool] = mapped_column(Boolean, default=False)  # AGI did not route
    rating: Mapped[int | None] = mapped_column(SmallInteger, nullable=True)
    recording: Mapped[str] = mapped_column(String(255), default="")
    timeline: Mapped[list[list[Any]]] = mapped_column(JSON, default=list)


class ConfidentialMark(Base):
    """A call marked confidential through the API (an agent or supervisor, on the
    caller's request). Kept apart from the record because the mark may come while the
    call is still in progress or waiting in the spool: the store applies it whenever
    the record is written. One-way by design: admin sees numbers anyway, and a caller
    who asked for protection must not be exposed again by a later edit."""

    __tablename__ = "call_confidential_marks"

    node: Mapped[str] = mapped_column(String(32), primary_key=True)
    linkedid: Mapped[str] = mapped_column(String(64), primary_key=True)
    marked_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    marked_by: Mapped[str] = mapped_column(String(100))
    reason: Mapped[str] = mapped_column(String(200))

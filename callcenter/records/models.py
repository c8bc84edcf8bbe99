"""The call record table (migrations 0006, 0011, 0013) and the facts kept beside it.

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

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from callcenter.models import Base


class CallRecord(Base):
    __tablename__ = "call_records"
    __table_args__ = (
        Index("ix_call_records_start_epoch", "start_epoch"),
        Index("ix_call_records_caller_start", "caller", "start_epoch"),
        Index("ix_call_records_seat_ended", "seat", "ended_at"),
        Index("ix_call_records_queue_start", "queue", "start_epoch"),
        Index("ix_call_records_callback_of", "callback_of"),
        # the callbacks alone (kpi.called_back_since): a few in a hundred records
        Index(
            "ix_call_records_callback_start",
            "start_epoch",
            postgresql_where=text("kind = 'callback'"),
            sqlite_where=text("kind = 'callback'"),
        ),
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
    #: seconds from the caller's answer to its first queue entry (greeting and menus);
    #: None: never queued, or the answer was not seen
    queued_after_s: Mapped[float | None] = mapped_column(Float, nullable=True)
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
    #: inbound: a caller rang the hotline; outbound: the service placed the call
    direction: Mapped[str] = mapped_column(String(8), default="inbound", server_default="inbound")
    #: call | callback (a callback's disposition is its outcome: reached | no_answer |
    #: busy | failed); a callback is never an offered call (kpi.py)
    kind: Mapped[str] = mapped_column(String(12), default="call", server_default="call")
    #: a callback's original call: the Linkedid of the abandoned call it answers
    callback_of: Mapped[str] = mapped_column(String(64), default="", server_default="")
    #: who wrote the record: `ami` (the live builder) or `ledger` (rebuilt by the
    #: reconciler from Asterisk's own ledger, for a call the builder never saw)
    source: Mapped[str] = mapped_column(String(16), default="ami", server_default="ami")
    #: who handed the call over: `direct` (the caller dialed) or `110` (the 110
    #: platform's hand-over, callcenter/from110.py); and 110's reference, "" for none
    call_source: Mapped[str] = mapped_column(String(8), default="direct", server_default="direct")
    call_source_ref: Mapped[str] = mapped_column(String(64), default="", server_default="")


class ReconciliationRun(Base):
    """One run of the reconciler (reconcile.py) over a window of one node's ledger,
    dry runs and failed runs included: `window_to` of the last completed run is where
    the next one starts (minus an overlap)."""

    __tablename__ = "reconciliation_runs"
    __table_args__ = (Index("ix_reconciliation_runs_node_started", "node", "started_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    node: Mapped[str] = mapped_column(String(32))
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    window_from: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    window_to: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ledger_calls: Mapped[int] = mapped_column(Integer, default=0)  # inbound, finished
    records: Mapped[int] = mapped_column(Integer, default=0)  # of those, with a record
    rebuilt: Mapped[int] = mapped_column(Integer, default=0)
    corrected: Mapped[int] = mapped_column(Integer, default=0)  # records, not fields
    unexplained: Mapped[int] = mapped_column(Integer, default=0)
    in_progress: Mapped[int] = mapped_column(Integer, default=0)
    dry_run: Mapped[bool] = mapped_column(Boolean, default=False)
    error: Mapped[str] = mapped_column(String(500), default="")


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


class SurveyResult(Base):
    """One satisfaction rating. Keyed by the caller channel's uniqueid (the inbound
    channel starts the call, so it is also the call's Linkedid): a replayed or repeated
    survey session cannot rate a call twice."""

    __tablename__ = "ivr_survey_results"

    uniqueid: Mapped[str] = mapped_column(String(64), primary_key=True)
    rating: Mapped[int] = mapped_column(SmallInteger)  # 1 满意, 2 基本满意, 3 不满意
    caller: Mapped[str] = mapped_column(String(40))
    queue: Mapped[str] = mapped_column(String(48))
    unit: Mapped[str] = mapped_column(String(32))
    agent: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class CallbackRequest(Base):
    """A caller who asked to be called back while waiting (the callback worklist)."""

    __tablename__ = "ivr_callback_requests"

    uniqueid: Mapped[str] = mapped_column(String(64), primary_key=True)
    caller: Mapped[str] = mapped_column(String(40))
    dialed: Mapped[str] = mapped_column(String(40))
    queue: Mapped[str] = mapped_column(String(48))
    unit: Mapped[str] = mapped_column(String(32))
    estimated_wait_s: Mapped[float] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(16), default="open", index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class CallbackTask(Base):
    """A caller to call back: an abandoned caller (source `abandoned`) or one who took
    the IVR's offer and then hung up before their turn (source `virtual_hold`).

    status: open -> calling -> done | open (retry later) | failed (attempts exhausted)
    | cancelled. `due_at` is the task's place in line: for a held caller the moment they
    joined the queue (so nobody who came later is served first), else when it is due.
    `assigned_seat`: a supervisor's choice; only that seat will make the call."""

    __tablename__ = "callback_tasks"
    __table_args__ = (Index("ix_callback_tasks_status_due", "status", "due_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    uniqueid: Mapped[str] = mapped_column(String(64), unique=True)  # the original call
    source: Mapped[str] = mapped_column(String(16))
    caller: Mapped[str] = mapped_column(String(40))
    queue: Mapped[str] = mapped_column(String(48))
    waited_s: Mapped[float] = mapped_column(Float)
    priority: Mapped[int] = mapped_column(Integer, default=0)  # the caller's QUEUE_PRIO
    status: Mapped[str] = mapped_column(String(12))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer)
    due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    assigned_seat: Mapped[str | None] = mapped_column(String(64), nullable=True)
    outcome: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class CallIntake(Base):
    """One version of a call's intake: what the matter was (kind), the unit it concerns,
    the agent's summary, the province platform's ticket. Versions are never changed or
    removed: a correction is a new version, so the city can see what was first written
    and who changed it. `current` marks the latest version of a call (exactly one per
    call), which the KPIs and the caller history join on; it is flipped in the same
    transaction that adds the next version, under the call's lock (locks.py).

    Kept apart from the record, keyed like it, because the agent writes it while the
    call is still in progress (no record yet) and during wrap-up (the record may wait in
    the spool)."""

    __tablename__ = "call_intakes"
    __table_args__ = (
        Index("ix_call_intakes_current", "node", "linkedid", "current"),
        Index("ix_call_intakes_ticket", "ticket"),
    )

    node: Mapped[str] = mapped_column(String(32), primary_key=True)
    linkedid: Mapped[str] = mapped_column(String(64), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    current: Mapped[bool] = mapped_column(Boolean)
    kind: Mapped[str] = mapped_column(String(16))
    unit: Mapped[str] = mapped_column(String(32))  # a legacy directory unit code
    unit_name: Mapped[str] = mapped_column(String(200))  # its name when written
    summary: Mapped[str] = mapped_column(Text)
    ticket: Mapped[str | None] = mapped_column(String(64), nullable=True)
    resolved_on_call: Mapped[bool] = mapped_column(Boolean)
    author: Mapped[str] = mapped_column(String(100))  # the token's name
    role: Mapped[str] = mapped_column(String(16))
    seat: Mapped[str | None] = mapped_column(String(64), nullable=True)
    written_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    correction: Mapped[bool] = mapped_column(Boolean)

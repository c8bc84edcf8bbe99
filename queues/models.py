"""Tables of the seats side: seats and their login/pause sessions.

Sessions are intervals (start, end) rather than counters, so agent statistics can be
cut at any period boundary (shift, day, month) after the fact. The calls a seat took
are not kept here: they are the call records' (callcenter/records/history.py), which
every instance writes alike.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, DateTime, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from callcenter.models import Base


class Seat(Base):
    """A working position: an extension, the interface Asterisk dials, skills per queue.

    `logged_in`/`pause_reason` are what the floor *should* be: Asterisk forgets dynamic
    members on restart, and the resync repair puts back what this row says."""

    __tablename__ = "seats"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    extension: Mapped[str] = mapped_column(String(32), unique=True)
    interface: Mapped[str] = mapped_column(String(120), unique=True)
    node: Mapped[str] = mapped_column(String(32))
    #: queue short name (general, housing, ...) -> level 1 (learning) .. 5 (expert)
    skills: Mapped[dict[str, int]] = mapped_column(JSON)
    logged_in: Mapped[bool] = mapped_column(default=False)
    pause_reason: Mapped[str | None] = mapped_column(String(32), nullable=True)
    changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class SeatSession(Base):
    """One login interval (kind `login`) or pause interval (kind `pause`, with reason)."""

    __tablename__ = "seat_sessions"
    __table_args__ = (Index("ix_seat_sessions_seat_started", "seat_id", "started_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    seat_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(8))  # login | pause
    reason: Mapped[str] = mapped_column(String(32), default="")
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)

"""The audit log's table (created by migration 0007; callcenter/migrations/env.py
imports this module so autogenerate compares it)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from callcenter.models import Base


class AuditEntry(Base):
    __tablename__ = "api_audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    token_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    token_name: Mapped[str | None] = mapped_column(String(100), nullable=True)
    role: Mapped[str | None] = mapped_column(String(20), nullable=True)
    seat: Mapped[str | None] = mapped_column(String(64), nullable=True)
    method: Mapped[str] = mapped_column(String(8))
    path: Mapped[str] = mapped_column(String(500))
    query: Mapped[str] = mapped_column(String(500))
    status: Mapped[int] = mapped_column(Integer)
    client: Mapped[str] = mapped_column(String(64))  # the TCP peer
    forwarded_for: Mapped[str] = mapped_column(String(200))  # as a proxy claims it
    #: requests this row stands for: refusals are counted per client and minute (0014)
    count: Mapped[int] = mapped_column(Integer, server_default="1")
    #: what the status does not say: a change that failed but may have been applied,
    #: a begun change whose outcome was never recorded, a confidential read
    note: Mapped[str] = mapped_column(String(200), server_default="")

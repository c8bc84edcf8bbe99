"""The IVR's own table: database overrides of the flow file (migration 0004)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from callcenter.models import Base


class IvrFlowVersion(Base):
    """A flow uploaded to override agi/ivr/flows.json; the newest valid one is used."""

    __tablename__ = "ivr_flows"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    version: Mapped[int] = mapped_column(Integer)  # the flow's own "version" field
    body: Mapped[str] = mapped_column(Text)  # the JSON document, as validated
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[str] = mapped_column(String(100))

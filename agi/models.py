"""Tables the IVR writes until call records exist (issue 7): survey ratings, callback
requests, and database overrides of the IVR flow file. Migration 0004."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Float, Integer, SmallInteger, String, Text
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

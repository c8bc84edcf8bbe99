"""Tables of the legacy-number directory.

`legacy_numbers` and `legacy_units` hold the latest configuration (what export writes
and the API lists). The `*_versions` tables hold every change — who, when, the new
state, and from when it routes — so `history` can show old → new and `rollback` can
restore any version. Routing reads the versions, because a scheduled change is already
the latest configuration while the previous version still routes until its time.
`legacy_directory_state` is a single row: its counter is bumped by every write (other
instances poll it to know they must reload) and updating it first serializes writers
on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from callcenter.models import Base

NUMBER_LEN = 20


class LegacyUnit(Base):
    """A government unit whose old numbers now land in 12345."""

    __tablename__ = "legacy_units"

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    district: Mapped[str] = mapped_column(String(100), index=True)
    #: the unit's line agents transfer to (derived: its retain code, else a dock line)
    transfer_line: Mapped[str | None] = mapped_column(String(NUMBER_LEN), nullable=True)
    version: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_by: Mapped[str] = mapped_column(String(100))


class LegacyNumber(Base):
    """The latest configuration of one old number (possibly not yet in force)."""

    __tablename__ = "legacy_numbers"

    number: Mapped[str] = mapped_column(String(NUMBER_LEN), primary_key=True)
    unit_code: Mapped[str] = mapped_column(ForeignKey("legacy_units.code"), index=True)
    mode: Mapped[str] = mapped_column(String(10), index=True)  # merge | dock | retain
    queue: Mapped[str] = mapped_column(String(40), index=True)
    transfer_to: Mapped[str | None] = mapped_column(String(NUMBER_LEN), nullable=True)
    note: Mapped[str] = mapped_column(String(500), default="")
    effective_from: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    version: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_by: Mapped[str] = mapped_column(String(100))


class LegacyNumberVersion(Base):
    """One change of a number: its full new state (or its removal)."""

    __tablename__ = "legacy_number_versions"
    __table_args__ = (
        UniqueConstraint("number", "version", name="uq_legacy_number_versions_number_version"),
        Index("ix_legacy_number_versions_effective_from", "effective_from"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    number: Mapped[str] = mapped_column(String(NUMBER_LEN))
    version: Mapped[int] = mapped_column(Integer)
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    unit_code: Mapped[str | None] = mapped_column(String(32), nullable=True)
    mode: Mapped[str | None] = mapped_column(String(10), nullable=True)
    queue: Mapped[str | None] = mapped_column(String(40), nullable=True)
    transfer_to: Mapped[str | None] = mapped_column(String(NUMBER_LEN), nullable=True)
    note: Mapped[str | None] = mapped_column(String(500), nullable=True)
    effective_from: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    actor: Mapped[str] = mapped_column(String(100))
    changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    reason: Mapped[str] = mapped_column(String(200))  # import FILE, api, rollback to vN
    #: the directory_state version of the write that made this row
    batch: Mapped[int] = mapped_column(BigInteger, index=True)


class LegacyUnitVersion(Base):
    """One change of a unit (name, district, transfer line) or its removal."""

    __tablename__ = "legacy_unit_versions"
    __table_args__ = (
        UniqueConstraint("code", "version", name="uq_legacy_unit_versions_code_version"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    code: Mapped[str] = mapped_column(String(32))
    version: Mapped[int] = mapped_column(Integer)
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    district: Mapped[str | None] = mapped_column(String(100), nullable=True)
    transfer_line: Mapped[str | None] = mapped_column(String(NUMBER_LEN), nullable=True)
    actor: Mapped[str] = mapped_column(String(100))
    changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    batch: Mapped[int] = mapped_column(BigInteger)


class LegacyDirectoryState(Base):
    """The single row whose counter says "the directory changed"; also the write lock."""

    __tablename__ = "legacy_directory_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger)
    changed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class QueueCatalogRow(Base):
    """One queue of the catalogue (callcenter/legacy/queues.py says what each field
    means and which values are valid; callcenter/legacy/catalog_store.py writes it)."""

    __tablename__ = "queue_catalog"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    display_zh: Mapped[str] = mapped_column(String(40))
    display_en: Mapped[str] = mapped_column(String(40))
    strategy: Mapped[str] = mapped_column(String(16))
    wrapup_s: Mapped[int] = mapped_column(Integer)
    overflow_after_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    position: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_by: Mapped[str] = mapped_column(String(100))

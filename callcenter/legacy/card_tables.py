"""Tables of the unit cards (callcenter/legacy/cards.py) and their search index.

`unit_cards` has no foreign key to `legacy_units`: a prune of the directory may drop a
unit, and its card then waits (unlisted, unsearchable) in case the unit comes back,
rather than blocking the prune or being lost with it. `indexed_unit` and
`indexed_district` are the unit's name and district as last indexed: when the directory
renames a unit, `UnitCards.refresh_unit_names` re-indexes its card.

`unit_card_grams` holds one row per (gram, card) (callcenter/legacy/card_text.py);
its primary key is the index every search reads, its `unit_code` index the one every
rewrite deletes by. On SQLite it is a WITHOUT ROWID table (the key is the row); on
PostgreSQL the gram compares by code point (COLLATE "C") so a prefix is a range.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Index, Integer, PrimaryKeyConstraint, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from callcenter.models import Base

#: the gram column: characters, compared by code point on both databases
GRAM_TYPE = String(3).with_variant(String(3, collation="C"), "postgresql")


class UnitCardRow(Base):
    __tablename__ = "unit_cards"

    unit_code: Mapped[str] = mapped_column(String(32), primary_key=True)
    responsibilities: Mapped[str] = mapped_column(Text)
    hours: Mapped[str] = mapped_column(String(200))
    transfer_numbers: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    kb_links: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    indexed_unit: Mapped[str] = mapped_column(String(200))
    indexed_district: Mapped[str] = mapped_column(String(100))
    #: the folded fields, one per line: what a search checks its candidates against
    search_text: Mapped[str] = mapped_column(Text)
    version: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_by: Mapped[str] = mapped_column(String(100))


class UnitCardGram(Base):
    __tablename__ = "unit_card_grams"
    __table_args__ = (
        PrimaryKeyConstraint("gram", "unit_code", name="pk_unit_card_grams"),
        Index("ix_unit_card_grams_unit_code", "unit_code"),
        {"sqlite_with_rowid": False},
    )

    gram: Mapped[str] = mapped_column(GRAM_TYPE)
    unit_code: Mapped[str] = mapped_column(String(32))

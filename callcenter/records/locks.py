"""Per-call transaction locks between the record writer and the late facts about a call
(a survey rating, a confidential mark) written by other parts.

Both sides follow "write my fact, then fold in the other's": the writer reads ratings
and marks while upserting a record, the rating/mark writer updates the record if it is
there. Under PostgreSQL's READ COMMITTED that still loses a fact in one interleaving:
the late fact commits after the writer read the fact table but its UPDATE finds no row
because the writer's INSERT is not yet committed. A transaction-scoped advisory lock on
the Linkedid, taken by both sides before touching either table, puts them in order.
SQLite has one writer at a time, but its Python driver starts a transaction only at the
first write, so the writer's reads of the fact tables would run before it and race the
same way; there the lock is the database's write lock, taken up front by a write that
changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

#: separates these keys from any other user of advisory locks in the database
_NAMESPACE = "call_records:"


async def lock_calls(session: AsyncSession, linkedids: Iterable[str]) -> None:
    """Take the per-call locks (in a fixed order: two batches never deadlock) for the
    rest of the session's transaction; call it before reading anything."""
    if session.get_bind().dialect.name == "sqlite":
        await session.execute(text("UPDATE call_records SET rating = rating WHERE 0"))
        return
    keys = sorted({_NAMESPACE + linkedid for linkedid in linkedids})
    if keys:
        await session.execute(
            text(
                "SELECT pg_advisory_xact_lock(hashtextextended(k, 0)) "
                "FROM unnest(CAST(:keys AS text[])) AS k ORDER BY k"
            ),
            {"keys": keys},
        )

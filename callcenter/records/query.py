"""Reading call records back: filters, keyset (cursor) pagination, streamed export.

The cursor is the last row's sort key (start_epoch, node, linkedid), so a page costs the
same at row 10 and at row 10 million and a record written meanwhile never shifts a page.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.records.models import CallRecord

DISPOSITIONS = frozenset(
    {"answered", "abandoned", "ivr_only", "transferred", "callback_requested", "fallback_routed"}
)


MAX_EPOCH = 2**40  # far beyond any call; keeps a bad value out of a BIGINT comparison


class RecordQueryError(ValueError):
    """A bad filter or cursor; the message names which one."""


@dataclass(frozen=True)
class CallFilter:
    start_epoch: int | None = None
    end_epoch: int | None = None
    caller: str | None = None
    number: str | None = None
    unit: str | None = None
    queue: str | None = None
    seat: str | None = None
    disposition: str | None = None

    def __post_init__(self) -> None:
        for name in ("caller", "number", "unit", "queue", "seat", "disposition"):
            value = getattr(self, name)
            if value is not None and ("\x00" in value or len(value) > 120):
                raise RecordQueryError(f"{name}: not a plausible value: {value[:40]!r}")
        for name in ("start_epoch", "end_epoch"):
            value = getattr(self, name)
            if value is not None and not 0 <= value < MAX_EPOCH:
                raise RecordQueryError(f"{name.removesuffix('_epoch')}: out of range")
        if self.disposition is not None and self.disposition not in DISPOSITIONS:
            raise RecordQueryError(
                f"disposition: unknown {self.disposition!r}; one of {sorted(DISPOSITIONS)}"
            )

    def apply(self, query: Select[Any]) -> Select[Any]:
        r = CallRecord
        if self.start_epoch is not None:
            query = query.where(r.start_epoch >= self.start_epoch)
        if self.end_epoch is not None:
            query = query.where(r.start_epoch < self.end_epoch)
        for column, value in (
            (r.caller, self.caller),
            (r.dialed, self.number),
            (r.unit, self.unit),
            (r.queue, self.queue),
            (r.seat, self.seat),
            (r.disposition, self.disposition),
        ):
            if value is not None:
                query = query.where(column == value)
        return query


def encode_cursor(record: CallRecord) -> str:
    raw = f"{record.start_epoch}|{record.node}|{record.linkedid}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[int, str, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        epoch, node, linkedid = raw.split("|", 2)
        if not 0 <= int(epoch) < MAX_EPOCH or "\x00" in raw:
            raise ValueError(raw)
        return int(epoch), node, linkedid
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise RecordQueryError(f"cursor: not a cursor from this API: {cursor!r}") from None


def _newest_first(query: Select[Any]) -> Select[Any]:
    r = CallRecord
    return query.order_by(r.start_epoch.desc(), r.node.desc(), r.linkedid.desc())


async def page(
    session: AsyncSession, where: CallFilter, limit: int, cursor: str | None
) -> tuple[list[CallRecord], str | None]:
    """Up to `limit` records, newest first, after `cursor`; and the next cursor."""
    r = CallRecord
    query = where.apply(select(r))
    if cursor is not None:
        query = query.where(tuple_(r.start_epoch, r.node, r.linkedid) < decode_cursor(cursor))
    rows = list((await session.scalars(_newest_first(query).limit(limit + 1))).all())
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, encode_cursor(rows[-1]) if more and rows else None


async def get(session: AsyncSession, node: str, linkedid: str) -> CallRecord | None:
    return await session.get(CallRecord, (node, linkedid))


EXPORT_COLUMNS = (
    "node",
    "linkedid",
    "started_at",
    "ended_at",
    "dialed",
    "unit",
    "district",
    "mode",
    "caller",
    "confidential",
    "ivr_keys",
    "queue",
    "queue_exit",
    "wait_s",
    "seat",
    "talk_s",
    "wrapup_s",
    "hangup_by",
    "disposition",
    "fallback",
    "rating",
    "recording",
)


async def stream_rows(
    session: AsyncSession, where: CallFilter, chunk: int = 2000
) -> AsyncIterator[list[tuple[Any, ...]]]:
    """Export rows in chunks from a server-side cursor: memory stays flat whatever the
    number of rows."""
    r = CallRecord
    columns = [getattr(r, name) for name in EXPORT_COLUMNS]
    query = _newest_first(where.apply(select(*columns))).execution_options(yield_per=chunk)
    result = await session.stream(query)
    async for part in result.partitions(chunk):
        yield [tuple(row) for row in part]

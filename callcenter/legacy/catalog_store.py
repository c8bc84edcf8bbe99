"""The queue catalogue in the database: load it, change it, keep a process's copy current.

Every change is checked against the whole catalogue it produces (QueueCatalog's rules)
before anything is written, so the table never holds a catalogue the service would
refuse to load. A removal is refused while something still sends callers to the queue
or takes them from it: the checks (`QueueUsers`) come from the domains that know
(directory numbers here, seats' skills in queues/, the IVR flow in agi/ivr/), composed
by the caller, because this layer cannot see the ones above it.

Several service instances share the table: each reloads it every `REFRESH_EVERY_S`
(`keep_current`), so a queue added by one instance's operator (or the CLI) is known to
all within that time, without a restart. Asterisk learns of it only from the rendered
configuration (`callcenter asterisk-conf render`, then `queue reload all`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter.legacy.models import LegacyNumber, QueueCatalogRow
from callcenter.legacy.queues import (
    CatalogError,
    CatalogHolder,
    CatalogQueue,
    Display,
    QueueCatalog,
)

log = logging.getLogger(__name__)

REFRESH_EVERY_S = 30.0
#: users named in a refusal per kind; the rest are counted
MAX_USERS_NAMED = 10

#: who still uses directory queue `name`, each named ("legacy number 043262345678"):
#: run in the removal's session, before anything is deleted
QueueUsers = Callable[[AsyncSession, str], Awaitable[list[str]]]
#: the fields `update` may change
UPDATABLE = ("display_zh", "display_en", "strategy", "wrapup_s", "overflow_after_s", "position")


class QueueInUse(CatalogError):
    """A removal refused: `problems` names who still uses the queue."""


def named_users(kind: str, names: Sequence[str]) -> list[str]:
    """`kind x`, ... for at most MAX_USERS_NAMED of `names`, then how many more."""
    shown = [f"{kind} {n}" for n in names[:MAX_USERS_NAMED]]
    if len(names) > MAX_USERS_NAMED:
        shown.append(f"{len(names) - MAX_USERS_NAMED} more {kind}s")
    return shown


async def directory_users(session: AsyncSession, name: str) -> list[str]:
    """Legacy numbers routed to queue `name` (their latest configuration)."""
    numbers = await session.scalars(
        select(LegacyNumber.number).where(LegacyNumber.queue == name).order_by(LegacyNumber.number)
    )
    return named_users("legacy number", list(numbers))


def _queue(row: QueueCatalogRow) -> CatalogQueue:
    return CatalogQueue(
        name=row.name,
        display=Display(row.display_zh, row.display_en),
        strategy=row.strategy,
        wrapup_s=row.wrapup_s,
        overflow_after_s=row.overflow_after_s,
        position=row.position,
    )


def _fill(row: QueueCatalogRow, queue: CatalogQueue, when: datetime, actor: str) -> None:
    row.display_zh = queue.display.zh
    row.display_en = queue.display.en
    row.strategy = queue.strategy
    row.wrapup_s = queue.wrapup_s
    row.overflow_after_s = queue.overflow_after_s
    row.position = queue.position
    row.updated_at = when
    row.updated_by = actor[:100]


class CatalogStore:
    """The `queue_catalog` table. Writes return the catalogue they produced; every
    rule broken raises CatalogError (UnknownQueue for a name it does not have), and
    then nothing was written."""

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], clock: Callable[[], datetime]
    ) -> None:
        self._sessions = sessions
        self._clock = clock

    async def load(self) -> QueueCatalog:
        async with self._sessions() as session:
            return await self._load(session)

    @staticmethod
    async def _load(session: AsyncSession) -> QueueCatalog:
        rows = (await session.scalars(select(QueueCatalogRow))).all()
        return QueueCatalog.of(_queue(r) for r in rows)

    async def add(self, queue: CatalogQueue, actor: str) -> QueueCatalog:
        exists = CatalogError([f"queue {queue.name!r} exists already (update it)"])
        try:
            async with self._sessions() as session, session.begin():
                catalog = await self._load(session)
                if queue.name in catalog:
                    raise exists
                changed = catalog.with_queue(queue)
                row = QueueCatalogRow(name=queue.name)
                _fill(row, queue, self._clock(), actor)
                session.add(row)
        except IntegrityError:  # another instance added it between our read and write
            raise exists from None
        return changed

    async def update(self, name: str, changes: Mapping[str, Any], actor: str) -> QueueCatalog:
        """Change some of `UPDATABLE` of queue `name` (None for `overflow_after_s`:
        never overflows)."""
        unknown = sorted(set(changes) - set(UPDATABLE))
        if unknown:
            raise CatalogError([f"cannot change {', '.join(unknown)} of a queue"])
        async with self._sessions() as session, session.begin():
            catalog = await self._load(session)
            old = catalog.queue(name)
            display = Display(
                changes.get("display_zh", old.display.zh), changes.get("display_en", old.display.en)
            )
            fields = {k: v for k, v in changes.items() if not k.startswith("display_")}
            new = replace(old, display=display, **fields)
            changed = catalog.with_queue(new)
            row = await session.get(QueueCatalogRow, name)
            assert row is not None  # it was just loaded, in this transaction
            _fill(row, new, self._clock(), actor)
        return changed

    async def remove(self, name: str, users: Sequence[QueueUsers]) -> QueueCatalog:
        """Remove queue `name`; QueueInUse naming whoever still uses it."""
        async with self._sessions() as session, session.begin():
            catalog = await self._load(session)
            changed = catalog.without(name)
            in_use = [u for check in users for u in await check(session, name)]
            if in_use:
                raise QueueInUse([f"queue {name!r} is still used by: {', '.join(in_use)}"])
            await session.execute(delete(QueueCatalogRow).where(QueueCatalogRow.name == name))
        return changed


async def keep_current(
    store: CatalogStore, holder: CatalogHolder, every_s: float = REFRESH_EVERY_S
) -> None:
    """The reload loop of `serve`: what another instance (or the CLI) changed is in
    force here within `every_s`. A failed load raises to the supervisor (its readiness
    check shows why) while the catalogue in force stays."""
    while True:
        await asyncio.sleep(every_s)
        if holder.replace(await store.load()):
            log.info("queue catalogue reloaded: %s", ", ".join(holder.current.names))

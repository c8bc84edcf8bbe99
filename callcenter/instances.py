"""Service instances announce themselves in the database and keep a heartbeat.

With several `callcenter serve` processes behind one PostgreSQL, each needs to know
which others are alive; an instance whose heartbeat is older than `stale_after` is
considered gone.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter import __version__
from callcenter.models import ServiceInstance

Clock = Callable[[], datetime]


@dataclass(frozen=True)
class InstanceInfo:
    instance_id: str
    hostname: str
    pid: int
    version: str
    started_at: datetime
    heartbeat_at: datetime


def new_instance_id() -> str:
    return f"{socket.gethostname()[:40]}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


class InstanceRegistry:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        instance_id: str | None = None,
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self.instance_id = instance_id or new_instance_id()
        self._started_at = clock()

    async def heartbeat(self) -> None:
        """Insert or refresh this instance's row (idempotent on both backends)."""
        now = self._clock()
        values = {
            "instance_id": self.instance_id,
            "hostname": socket.gethostname()[:255],
            "pid": os.getpid(),
            "version": __version__,
            "started_at": self._started_at,
            "heartbeat_at": now,
        }
        async with self._sessions() as session, session.begin():
            dialect = session.get_bind().dialect.name
            insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
            stmt = insert(ServiceInstance).values(**values)
            stmt = stmt.on_conflict_do_update(
                index_elements=[ServiceInstance.instance_id],
                set_={"heartbeat_at": now, "version": __version__},
            )
            await session.execute(stmt)

    async def alive(self, stale_after: timedelta) -> list[InstanceInfo]:
        cutoff = self._clock() - stale_after
        async with self._sessions() as session:
            rows = await session.scalars(
                select(ServiceInstance)
                .where(ServiceInstance.heartbeat_at >= cutoff)
                .order_by(ServiceInstance.started_at)
            )
            return [
                InstanceInfo(
                    r.instance_id, r.hostname, r.pid, r.version, r.started_at, r.heartbeat_at
                )
                for r in rows
            ]

    async def deregister(self) -> None:
        async with self._sessions() as session, session.begin():
            await session.execute(
                delete(ServiceInstance).where(ServiceInstance.instance_id == self.instance_id)
            )

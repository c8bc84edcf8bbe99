"""Which flow runs: the newest valid database override, else the repo's flow file.

An override that fails validation is never used; on load it is logged and the previous
flow keeps running, so a bad upload cannot take the IVR down. `save` validates before
writing, so only a flow the catalog can play reaches the table.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agi.ivr.catalog import PromptCatalog
from agi.ivr.model import Flow, FlowError, load_flow_file, validate_flow
from agi.ivr.models import IvrFlowVersion
from callcenter.legacy.queues import QueueCatalog

log = logging.getLogger(__name__)


class FlowStore:
    def __init__(
        self,
        catalog: PromptCatalog,
        sessions: async_sessionmaker[AsyncSession] | None,
        clock: Callable[[], datetime],
        file_flow: Flow | None = None,
        *,
        queues: Callable[[], QueueCatalog],
    ) -> None:
        """`queues`: the queue catalogue in force (a flow is checked against the one in
        force when it is loaded or saved)."""
        self.catalog = catalog
        self.queues = queues
        self.sessions = sessions
        self.clock = clock
        self.file_flow = file_flow or load_flow_file(catalog, queues=queues())
        self.current = self.file_flow
        self.source = "file"

    def __call__(self) -> Flow:
        return self.current

    async def reload(self) -> Flow:
        """Switch to the newest database override if it validates."""
        if self.sessions is None:
            return self.current
        async with self.sessions() as session:
            row = await session.scalar(
                select(IvrFlowVersion).order_by(IvrFlowVersion.id.desc()).limit(1)
            )
        if row is None:
            self.current, self.source = self.file_flow, "file"
            return self.current
        try:
            flow = validate_flow(
                json.loads(row.body), self.catalog, f"ivr_flows id {row.id}", queues=self.queues()
            )
        except (FlowError, json.JSONDecodeError) as exc:
            log.error("IVR flow override rejected, keeping %s: %s", self.source, exc)
            return self.current
        self.current, self.source = flow, f"database id {row.id}"
        return flow

    async def save(self, data: object, created_by: str) -> int:
        """Validate and store an override; its id. FlowError names every problem."""
        if self.sessions is None:
            raise RuntimeError("no database configured")
        flow = validate_flow(data, self.catalog, "uploaded flow", queues=self.queues())
        async with self.sessions() as session, session.begin():
            row = IvrFlowVersion(
                version=flow.version,
                body=json.dumps(data, ensure_ascii=False),
                created_at=self.clock(),
                created_by=created_by,
            )
            session.add(row)
            await session.flush()
            return row.id

    async def run(self, interval_s: float = 60.0) -> None:
        """Poll for a new override (a task of `serve`); database errors are logged."""
        while True:
            await asyncio.sleep(interval_s)
            try:
                await self.reload()
            except Exception:
                log.warning("IVR flow reload failed; keeping %s", self.source, exc_info=True)

"""The FastAGI part of `callcenter serve`: one call builds it from the service's parts,
so callcenter/process/service.py only starts, checks and stops it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from prometheus_client import CollectorRegistry
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agi.ivr.catalog import load_catalog
from agi.ivr.flows import PriorityHook
from agi.ivr.live_calls import LiveCallGate
from agi.ivr.lookups import LiveWaitEstimator, RouteLookup
from agi.ivr.model import load_flow_file
from agi.ivr.routes import build_agi
from agi.ivr.store import FlowStore
from agi.protocol.metrics import AgiMetrics
from agi.protocol.server import FastAgiServer, ServerConfig
from callcenter.legacy.queues import QueueCatalog
from callcenter.live.live_state import LiveState
from callcenter.records.facts import CallFacts


@dataclass
class AgiService:
    server: FastAgiServer
    flows: FlowStore

    async def start(self) -> None:
        await self.flows.reload()
        await self.server.start()

    async def stop(self) -> None:
        await self.server.stop()

    def ready(self) -> tuple[bool, str]:
        if not self.server.serving:
            return False, "FastAGI server not listening"
        return True, (
            f"listening on {self.server.config.host}:{self.server.port}, "
            f"{self.server.active} sessions, flow from {self.flows.source}"
        )


def build_agi_service(
    config: ServerConfig,
    sessions: async_sessionmaker[AsyncSession],
    facts: CallFacts,
    routes: RouteLookup,
    live: LiveState,
    registry: CollectorRegistry,
    clock: Callable[[], datetime],
    flow_file: Path | None = None,
    priority: PriorityHook | None = None,
    *,
    queues: Callable[[], QueueCatalog],
) -> AgiService:
    """`queues`: the queue catalogue in force (what an IVR flow may send callers to)."""
    catalog = load_catalog()
    flows = FlowStore(
        catalog, sessions, clock, load_flow_file(catalog, flow_file, queues=queues()), queues=queues
    )
    metrics = AgiMetrics(registry)
    server = build_agi(
        config,
        flows,
        catalog,
        routes,
        facts,
        clock,
        LiveWaitEstimator(live),
        metrics,
        priority,
        gate=LiveCallGate(live, metrics.request_refused),
    )
    return AgiService(server, flows)

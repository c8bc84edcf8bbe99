"""Process wiring for `callcenter serve`: builds every service once, runs, shuts down.

Nothing here holds logic of its own; it connects configuration, database, the PBX link
and the HTTP app, and owns their lifetimes (start order, clean stop on SIGINT/SIGTERM).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import uvicorn
from prometheus_client import CollectorRegistry, Gauge
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncEngine

from api.app import create_app
from api.health import CheckResult, ReadinessCheck
from callcenter import __version__, migrate
from callcenter.config import Settings
from callcenter.db import create_engine, session_factory
from callcenter.instances import InstanceRegistry
from callcenter.pbx_process import PbxSimProcess

log = logging.getLogger(__name__)

HEARTBEAT_EVERY_S = 10.0
DEMO_LEGACY_CSV = Path(__file__).with_name("demo_data") / "legacy_numbers.csv"


def utcnow() -> datetime:
    return datetime.now(UTC)


def database_check(engine: AsyncEngine) -> ReadinessCheck:
    async def check() -> CheckResult:
        revision = await asyncio.wait_for(migrate.current_revision(engine), 5.0)
        head = migrate.head_revision()
        if revision != head:
            return CheckResult(False, f"schema at {revision}, expected {head}")
        return CheckResult(True, f"schema at {revision}")

    return check


def pbxsim_check(pbx: PbxSimProcess) -> ReadinessCheck:
    async def check() -> CheckResult:
        if pbx.running:
            return CheckResult(True, f"pbxsim serving AMI on 127.0.0.1:{pbx.ami_port}")
        return CheckResult(False, "pbxsim (the demo PBX) is not running")

    return check


@dataclass
class Service:
    settings: Settings
    demo: bool = False
    metrics: CollectorRegistry = field(default_factory=CollectorRegistry)

    async def run(self) -> None:
        settings = self.settings
        engine = create_engine(settings.database_url)
        await migrate.upgrade(engine)
        log.info("database schema at %s", migrate.head_revision())
        instances = InstanceRegistry(session_factory(engine), utcnow)
        await instances.heartbeat()

        checks: dict[str, ReadinessCheck] = {"database": database_check(engine)}
        pbx: PbxSimProcess | None = None
        if self.demo:
            node = settings.ami_nodes[0]
            demo_secret = secrets.token_urlsafe(18)
            settings.ami_nodes[0] = node.model_copy(update={"secret": SecretStr(demo_secret)})
            pbx = PbxSimProcess(
                ami_port=node.port,
                ami_user=node.username,
                ami_secret=demo_secret,
                agi_url=f"agi://{settings.agi_host}:{settings.agi_port}/incoming",
                seats=settings.demo_seats,
                calls_per_hour=settings.demo_calls_per_hour,
                speed=settings.demo_speed,
                seed=settings.demo_seed,
                legacy_csv=settings.legacy_csv or DEMO_LEGACY_CSV,
            )
            await pbx.start()
            checks["pbxsim"] = pbxsim_check(pbx)

        Gauge("callcenter_info", "Service version", ["version"], registry=self.metrics).labels(
            __version__
        ).set(1)
        app = create_app(checks, self.metrics, __version__)
        server = uvicorn.Server(
            uvicorn.Config(
                app,
                host=settings.http_host,
                port=settings.http_port,
                log_level=settings.log_level.lower(),
                lifespan="on",
            )
        )
        heartbeat = asyncio.create_task(self._heartbeat(instances))
        try:
            log.info("HTTP on http://%s:%s/", settings.http_host, settings.http_port)
            await server.serve()
        finally:
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeat
            if pbx is not None:
                await pbx.stop()
            with contextlib.suppress(Exception):
                await instances.deregister()
            await engine.dispose()

    @staticmethod
    async def _heartbeat(instances: InstanceRegistry) -> None:
        while True:
            await asyncio.sleep(HEARTBEAT_EVERY_S)
            try:
                await instances.heartbeat()
            except Exception:  # the DB may be briefly away; readiness reports it
                log.warning("heartbeat to the database failed", exc_info=True)


STALE_AFTER = timedelta(seconds=3 * HEARTBEAT_EVERY_S)

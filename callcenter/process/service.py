"""Process wiring for `callcenter serve`: builds every service once, runs, shuts down.

Nothing here holds logic of its own; it connects configuration, database, the PBX link
and the HTTP app, and owns their lifetimes (start order, clean stop on SIGINT/SIGTERM).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import signal
import time
from dataclasses import dataclass, field
from datetime import timedelta
from types import FrameType
from typing import Any

import uvicorn
from prometheus_client import CollectorRegistry, Gauge
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from agi.protocol.server import ServerConfig
from ami.fanout import FanOut
from ami.node import NodeConfig, PbxNode
from api.app import body_limits, create_app
from api.http_server import (
    FD_RESERVE,
    ConnectionLimits,
    HttpCollector,
    accept_batch_for,
    connection_cap,
    http_config,
    raise_file_limit,
)
from api.services import ApiServices, CheckResult, ReadinessCheck
from api.unit_cards import card_lookup
from callcenter import __version__, migrate
from callcenter.asterisk_conf import DEMO_FROM_110
from callcenter.audit.repository import AuditLog
from callcenter.clock import CityTime, utcnow
from callcenter.config import AmiNode, Settings
from callcenter.db import create_engine, session_factory
from callcenter.from110 import From110
from callcenter.heap import freeze_startup_heap
from callcenter.instances import InstanceRegistry
from callcenter.legacy.astdb_mirror import AstDbMirror
from callcenter.legacy.card_store import UnitCards
from callcenter.legacy.catalog_store import CatalogStore, keep_current
from callcenter.legacy.directory import Directory
from callcenter.legacy.queues import CatalogError, CatalogHolder
from callcenter.legacy.repository import LegacyRepository
from callcenter.live.audit import Auditor
from callcenter.live.live_state import LiveState
from callcenter.live.queue_params import poll_queue_params
from callcenter.process.agi import AgiService, build_agi_service
from callcenter.process.demo import (
    DEMO_AGENT_SEAT,
    DEMO_LEGACY_CSV,
    demo_agent_token,
    demo_wallboard_token,
    seed_demo_directory,
    seed_demo_seats,
)
from callcenter.process.metrics import register_node_metrics
from callcenter.process.pbxsim_child import PbxSimPortBusy, PbxSimProcess
from callcenter.process.supervisor import LoopFactory, Supervisor, SupervisorCollector
from callcenter.records.metrics import register_reconcile_metrics, register_records_metrics
from callcenter.records.reconcile import Reconciler
from callcenter.records.reconcile_runner import ReconcileRunner
from callcenter.records.store import RecordWriter
from callcenter.records.wiring import (
    RecordsSystem,
    build_records,
    directory_routes,
    directory_units,
)
from callcenter.tokens import TokenStore
from callcenter.transfers.service import TransferService
from callcenter.transfers.targets import WhitelistSource
from callcenter.webhooks.deliveries import SqlDeliveries
from callcenter.webhooks.dispatcher import Dispatcher, HttpSender
from callcenter.webhooks.metrics import DispatcherCollector
from callcenter.webhooks.outbox import Outbox
from callcenter.webhooks.retry import RetryPolicy
from queues.callbacks import CallbackPolicy
from queues.priority import PriorityRules
from queues.wiring import SeatsSystem, build_seats, follow_wrapups

log = logging.getLogger(__name__)

HEARTBEAT_EVERY_S = 10.0
QUEUE_PARAMS_EVERY_S = 15.0
#: an instance whose heartbeat is older than this is considered gone
STALE_AFTER = timedelta(seconds=3 * HEARTBEAT_EVERY_S)


def proxy_options(settings: Settings) -> dict[str, Any]:
    """uvicorn's reading of X-Forwarded-For: only from `CALLCENTER_TRUSTED_PROXIES`.
    uvicorn's own default believes it from 127.0.0.1, which let any local process (or
    a proxy that passes the header through) write whatever client address it liked
    into the audit log."""
    if not settings.trusted_proxies:
        return {"proxy_headers": False}
    return {"proxy_headers": True, "forwarded_allow_ips": list(settings.trusted_proxies)}


def _stop_after_sigterm(signum: int, _frame: FrameType | None) -> None:
    """uvicorn takes SIGTERM while it serves and raises it again once it has stopped;
    with the default action the process would die right there, before the clean stop
    (records flushed, the demo's simulator stopped). This handler lets the stop run."""
    log.info("signal %d: stopping", signum)


def database_check(engine: AsyncEngine, instances: InstanceRegistry) -> ReadinessCheck:
    async def check() -> CheckResult:
        revision = await asyncio.wait_for(migrate.current_revision(engine), 5.0)
        head = migrate.head_revision()
        if revision != head:
            return CheckResult(False, f"schema at {revision}, expected {head}")
        alive = await asyncio.wait_for(instances.alive(STALE_AFTER), 5.0)
        return CheckResult(True, f"schema at {revision}; {len(alive)} service instance(s) alive")

    return check


def reconcile_check(reconciler: Reconciler) -> ReadinessCheck:
    async def check() -> CheckResult:
        last = reconciler.last
        if last is None:
            return CheckResult(True, "no reconciliation with the ledger yet")
        if last.error:
            return CheckResult(False, f"last reconciliation failed: {last.error}")
        return CheckResult(
            True,
            f"last reconciliation to {last.window_to.isoformat()}: {len(last.rebuilt)} rebuilt,"
            f" {last.corrected} corrected, {len(last.unexplained)} unexplained",
        )

    return check


def node_check(node: PbxNode, live: LiveState) -> ReadinessCheck:
    async def check() -> CheckResult:
        if not node.connected:
            return CheckResult(False, f"{node.state.value}: {node.detail}")
        state = live.nodes.get(node.name)
        if state is None or state.stale:
            return CheckResult(False, "connected; live state resyncing (stale)")
        return CheckResult(True, f"{node.detail}; live state in sync")

    return check


def records_check(writer: RecordWriter) -> ReadinessCheck:
    async def check() -> CheckResult:
        return CheckResult(*writer.health())

    return check


def agi_check(agi: AgiService) -> ReadinessCheck:
    async def check() -> CheckResult:
        return CheckResult(*agi.ready())

    return check


def pbxsim_check(pbx: PbxSimProcess) -> ReadinessCheck:
    async def check() -> CheckResult:
        if pbx.running:
            return CheckResult(True, f"pbxsim serving AMI on 127.0.0.1:{pbx.ami_port}")
        return CheckResult(False, "pbxsim (the demo PBX) is not running")

    return check


async def _refreshed(cards: UnitCards) -> None:
    """After a directory reload: re-index the cards of units renamed or moved."""
    count = await cards.refresh_unit_names()
    if count:
        log.info("unit cards re-indexed after the directory renamed their units: %d", count)


@dataclass
class Service:
    settings: Settings
    demo: bool = False
    metrics: CollectorRegistry = field(default_factory=CollectorRegistry)

    async def run(self) -> None:
        settings = self.settings
        file_limit = raise_file_limit()  # before the database, AGI and HTTP take any
        engine = create_engine(settings.database_url)
        await migrate.upgrade(engine)
        log.info("database schema at %s", migrate.head_revision())
        sessions = session_factory(engine)
        instances = InstanceRegistry(sessions, utcnow)
        await instances.heartbeat()
        checks: dict[str, ReadinessCheck] = {"database": database_check(engine, instances)}
        catalog_store = CatalogStore(sessions, utcnow)
        try:
            catalog = CatalogHolder(await catalog_store.load())
        except CatalogError as exc:  # a row edited by hand past the catalogue's rules
            raise SystemExit(f"the queue_catalog table cannot be used: {exc}") from None
        log.info("queue catalogue: %s", ", ".join(catalog.current.names))
        pbx = await self._start_demo_pbx(checks) if self.demo else None

        city = CityTime.named(settings.timezone)
        live = LiveState(time.time)
        records = build_records(
            sessions,
            live,
            settings.records_spool_dir,
            flush_every_s=settings.records_flush_every_s,
            batch_size=settings.records_batch_size,
            city=city,
            intake_wrapup_s=settings.intake_wrapup_s,
            outbox=Outbox(settings.webhooks, city.iso) if settings.webhooks else None,
        )
        webhook_deliveries = SqlDeliveries(sessions)
        dispatcher = self._build_dispatcher(webhook_deliveries)
        listeners = FanOut([live, records.listener])
        nodes = [PbxNode(self._node_config(n), listeners) for n in settings.ami_nodes]
        for node in nodes:
            checks[f"pbx:{node.name}"] = node_check(node, live)
        auditor = Auditor(live, settings.audit_interval_s)
        register_records_metrics(self.metrics, records)
        Gauge("callcenter_info", "Service version", ["version"], registry=self.metrics).labels(
            __version__
        ).set(1)
        directory = await self._build_directory(sessions, live, nodes, catalog)
        unit_cards = UnitCards(sessions, utcnow)
        await _refreshed(unit_cards)  # renames made while no instance was running
        directory.add_listener(lambda: _refreshed(unit_cards))
        records.store.route = directory_routes(directory)
        records.intake.units = directory_units(directory)
        seats = await self._build_seats(sessions, live, records, catalog)
        records.queue_wrapup.update(seats.wrapups)  # the catalogue's wrap-up times
        follow_wrapups(catalog, records.queue_wrapup)
        register_node_metrics(self.metrics, nodes, live, auditor, seats.wrapups)
        counted = await records.day.refresh()
        log.info("today's figures start from %d calls already recorded", counted)
        agi = self._build_agi(sessions, directory, live, seats, records, catalog)
        await agi.start()
        checks["agi"] = agi_check(agi)
        reconcile = self._build_reconciler(sessions, live, records, checks)
        tokens = TokenStore(sessions, utcnow)
        audit = AuditLog(sessions, utcnow, retention_days=settings.audit_retention_days)
        wallboard_url = f"http://{settings.http_host}:{settings.http_port}/"
        desk_url = wallboard_url + "agent"
        if self.demo:
            wallboard_url += "#token=" + await demo_wallboard_token(tokens)
            desk_url += "#token=" + await demo_agent_token(tokens)
        transfers = TransferService(
            live,
            WhitelistSource(
                LegacyRepository(sessions, utcnow),
                lambda: agi.flows().transfer_numbers(),
                time.time,
            ),
            time.time,
            records.builder.legs_in_progress,
        )
        services = ApiServices.from_systems(
            readiness=checks,
            city=city,
            tokens=tokens,
            live=live,
            seats=seats,
            records=records,
            legacy=directory,
            unit_cards=unit_cards,
            cards=card_lookup(unit_cards, city),
            audit=audit,
            ivr=agi.flows,
            catalog=catalog,
            catalog_store=catalog_store,
            webhook_deliveries=webhook_deliveries,
            transfers=transfers,
        )
        limits = body_limits(settings.http_max_json_bytes, settings.http_max_import_bytes)
        app = create_app(services, self.metrics, __version__, limits)
        server = uvicorn.Server(
            http_config(
                app,
                self._connection_limits(file_limit),
                host=settings.http_host,
                port=settings.http_port,
                log_level=settings.log_level.lower(),
                lifespan="on",
                **proxy_options(settings),
            )
        )
        self.metrics.register(HttpCollector(server))
        loops: dict[str, LoopFactory] = {
            "heartbeat": lambda: self._heartbeat(instances),
            "directory": directory.run,
            "queue catalogue": lambda: keep_current(catalog_store, catalog),
            "ivr flows": agi.flows.run,
            "seat watcher": seats.watcher.run,
            "callbacks": seats.callbacks.run,
            "overflow": seats.overflow.run,
            "queue params poller": lambda: poll_queue_params(live, QUEUE_PARAMS_EVERY_S),
            "record writer": records.writer.run,
            "call answers": records.answers.run,
            "day book refresh": records.day.run,
            "audit log": audit.run,
        }
        if settings.audit_interval_s > 0:
            loops["auditor"] = auditor.run
        if reconcile is not None:
            loops["reconciler"] = reconcile.run
        if dispatcher is not None:
            loops["webhooks"] = dispatcher.run
        supervisor = Supervisor(utcnow, city.iso)
        self.metrics.register(SupervisorCollector(supervisor))
        for name, loop in loops.items():
            supervisor.start(name, loop)
        checks.update(supervisor.checks())
        checks["records"] = records_check(records.writer)
        log.debug("start-up heap frozen: %d objects", freeze_startup_heap())
        for node in nodes:
            node.start()
        try:
            log.info("HTTP on http://%s:%s/", settings.http_host, settings.http_port)
            if self.demo:
                print(
                    f"\n  12345 wallboard (demo): {wallboard_url}"
                    f"\n  agent desk of seat {DEMO_AGENT_SEAT} (demo): {desk_url}\n",
                    flush=True,
                )
            with contextlib.suppress(ValueError):  # not the main thread: no signals to take
                signal.signal(signal.SIGTERM, _stop_after_sigterm)
            await server.serve()
        finally:
            stopping_pbx = asyncio.create_task(pbx.stop()) if pbx is not None else None
            await supervisor.stop()
            await agi.stop()
            for node in nodes:
                await node.stop()
            with contextlib.suppress(Exception):  # answers of calls still in progress
                await records.answers.flush()
            with contextlib.suppress(Exception):  # what is not written stays in the spool
                await records.writer.flush()
            with contextlib.suppress(Exception):  # the last minute's counted refusals
                await audit.flush()
            records.writer.close()
            if dispatcher is not None:
                await dispatcher.sender.close()
            if stopping_pbx is not None:
                await stopping_pbx
            with contextlib.suppress(Exception):
                await instances.deregister()
            await engine.dispose()

    def _build_dispatcher(self, deliveries: SqlDeliveries) -> Dispatcher | None:
        """The webhook delivery loop, when any subscription is configured."""
        settings = self.settings
        if not settings.webhooks:
            return None
        dispatcher = Dispatcher(
            deliveries,
            settings.webhooks,
            HttpSender(settings.webhook_timeout_s, settings.webhook_concurrency),
            policy=RetryPolicy(give_up_after_s=settings.webhook_retry_hours * 3600),
            concurrency=settings.webhook_concurrency,
            timeout_s=settings.webhook_timeout_s,
        )
        self.metrics.register(DispatcherCollector(dispatcher))
        names = ", ".join(s.key for s in settings.webhooks)
        log.info("webhooks to %s", names)
        return dispatcher

    def _connection_limits(self, file_limit: int) -> ConnectionLimits:
        """The HTTP connection cap: as configured, or what the open-file limit leaves
        after the service's own files and FastAGI's sessions."""
        settings = self.settings
        reserved = FD_RESERVE + settings.agi_max_sessions
        cap = settings.http_max_connections or connection_cap(file_limit, reserved)
        log.info("open-file limit %d; at most %d HTTP connections", file_limit, cap)
        return ConnectionLimits(
            max_connections=cap,
            header_timeout_s=settings.http_header_timeout_s,
            keepalive_timeout_s=settings.http_keepalive_timeout_s,
            accept_batch=accept_batch_for(reserved),
        )

    def _build_reconciler(
        self,
        sessions: async_sessionmaker[AsyncSession],
        live: LiveState,
        records: RecordsSystem,
        checks: dict[str, ReadinessCheck],
    ) -> ReconcileRunner | None:
        """The ledger reconciler of the node, unless switched off; the ledger has no
        node column, so with several nodes (one ledger each) it is not run here."""
        settings = self.settings
        if settings.reconcile_interval_s <= 0:
            return None
        if len(settings.ami_nodes) != 1:
            log.warning("ledger reconciliation off: it runs with a single AMI node only")
            return None
        reconciler = Reconciler(
            sessions,
            records.store,
            settings.ami_nodes[0].name,
            utcnow,
            from_110=self._from_110(),
        )
        runner = ReconcileRunner(reconciler, settings.reconcile_interval_s)
        live.connect_hooks.append(runner.on_connected)
        register_reconcile_metrics(self.metrics, reconciler)
        checks["reconciliation"] = reconcile_check(reconciler)
        return runner

    async def _start_demo_pbx(self, checks: dict[str, ReadinessCheck]) -> PbxSimProcess:
        """The bundled simulator as the first node's PBX, with a fresh AMI secret."""
        settings = self.settings
        first = settings.ami_nodes[0]
        demo_secret = secrets.token_urlsafe(18)
        settings.ami_nodes[0] = first.model_copy(update={"secret": SecretStr(demo_secret)})
        pbx = PbxSimProcess(
            ami_port=first.port,
            ami_user=first.username,
            ami_secret=demo_secret,
            agi_url=f"agi://{settings.agi_host}:{settings.agi_port}",
            seats=settings.demo_seats,
            calls_per_hour=settings.demo_calls_per_hour,
            speed=settings.demo_speed,
            seed=settings.demo_seed,
            legacy_csv=settings.legacy_csv or DEMO_LEGACY_CSV,
            login_seats=False,  # the seat service logs the provisioned seats in
            ledger_url=settings.database_url,
        )
        try:
            await pbx.start()
        except PbxSimPortBusy as busy:
            raise SystemExit(f"serve --demo: {busy}") from None
        checks["pbxsim"] = pbxsim_check(pbx)
        return pbx

    async def _build_directory(
        self,
        sessions: async_sessionmaker[AsyncSession],
        live: LiveState,
        nodes: list[PbxNode],
        catalog: CatalogHolder,
    ) -> Directory:
        """The legacy directory, mirrored into every node's AstDB at each (re)connect."""
        repository = LegacyRepository(
            sessions, utcnow, prune_max_share=self.settings.legacy_prune_max_share
        )
        if self.demo:
            csv_path = self.settings.legacy_csv or DEMO_LEGACY_CSV
            await seed_demo_directory(repository, csv_path, catalog.current)
        directory = Directory(repository, utcnow)
        await directory.reload()
        mirror = AstDbMirror(directory, lambda: nodes)
        directory.add_listener(mirror.sync)
        live.connect_hooks.append(mirror.on_connected)
        return directory

    async def _build_seats(
        self,
        sessions: async_sessionmaker[AsyncSession],
        live: LiveState,
        records: RecordsSystem,
        catalog: CatalogHolder,
    ) -> SeatsSystem:
        settings = self.settings
        seats = build_seats(
            sessions,
            live,
            utcnow,
            settings.seat_pause_reasons,
            catalog,
            settings.seat_login_concurrency,
            CallbackPolicy(
                min_wait_s=settings.callback_min_wait_s,
                max_attempts=settings.callback_max_attempts,
                retry_s=settings.callback_retry_s,
                dial_template=settings.callback_dial_template,
            ),
            PriorityRules(
                repeat_within_s=settings.priority_repeat_within_h * 3600,
                repeat_priority=settings.priority_repeat,
                numbers=settings.priority_numbers,
                units=settings.priority_units,
                from_110=settings.from_110_priority,
            ),
            records.callback_tasks,
            records.history,
        )
        if self.demo:
            await seed_demo_seats(seats, settings)
        await seats.refresh_seat_index()
        return seats

    def _build_agi(
        self,
        sessions: async_sessionmaker[AsyncSession],
        directory: Directory,
        live: LiveState,
        seats: SeatsSystem,
        records: RecordsSystem,
        catalog: CatalogHolder,
    ) -> AgiService:
        settings = self.settings
        return build_agi_service(
            ServerConfig(
                host=settings.agi_host,
                port=settings.agi_port,
                max_sessions=settings.agi_max_sessions,
                max_sessions_per_peer=settings.agi_max_sessions_per_peer,
                env_timeout_s=settings.agi_env_timeout_s,
                read_timeout_s=settings.agi_read_timeout_s,
                allowed_peers=tuple(settings.agi_allowed_peers),
            ),
            sessions,
            records.facts,
            directory,
            live,
            self.metrics,
            utcnow,
            settings.ivr_flow_file,
            seats.priority.queue_priority,
            queues=catalog,
        )

    def _from_110(self) -> From110:
        """Which calls are 110's hand-overs for the reconciler's rebuilt records: the
        settings' rule, or with `--demo` and none configured, the one the simulator's
        dialplan (asterisk-conf/extensions.conf) was rendered with."""
        rule = self.settings.from_110()
        return DEMO_FROM_110 if self.demo and not rule.configured else rule

    def _node_config(self, node: AmiNode) -> NodeConfig:
        if node.secret is None:
            raise SystemExit(
                f"AMI node {node.name!r} has no secret: set it in CALLCENTER_AMI_NODES "
                "(the JSON list of nodes; or a TOML file named by CALLCENTER_CONFIG_FILE)"
            )
        return NodeConfig(
            name=node.name,
            host=node.host,
            port=node.port,
            username=node.username,
            secret=node.secret.get_secret_value(),
            action_timeout=self.settings.ami_timeout_s,
        )

    @staticmethod
    async def _heartbeat(instances: InstanceRegistry) -> None:
        while True:
            await asyncio.sleep(HEARTBEAT_EVERY_S)
            try:
                await instances.heartbeat()
            except Exception:  # the DB may be briefly away; readiness reports it
                log.warning("heartbeat to the database failed", exc_info=True)

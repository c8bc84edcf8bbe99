"""pbxsim in-process with the repo's asterisk-conf/ (hotline-* queues) and PJSIP
softphones 1001..., reached over a real AMI socket, plus the seats side built on a
fresh database: the harness of the seat tests.

Callers come in on the trunk; with no FastAGI listening the dialplan's fallback queues
them by the AstDB map (`route(did, queue)`), else in hotline-general. `restart()` is an
Asterisk restart: a new PBX on the same port, with no members and no calls.
"""

from __future__ import annotations

import asyncio
import random
import socket
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from ami.fanout import FanOut
from ami.node import NodeConfig, PbxNode
from callcenter import migrate
from callcenter.db import create_engine, session_factory
from callcenter.legacy.queues import CatalogHolder, QueueCatalog
from callcenter.live.live_state import LiveState
from callcenter.records.wiring import RecordsSystem, build_records
from callcenter.webhooks.outbox import Outbox
from pbxsim.ami_server import AmiServer
from pbxsim.asterisk_ledger_db import LedgerWriter, start_ledger
from pbxsim.channel import Channel
from pbxsim.clock import AsyncioScheduler
from pbxsim.events import EventBus
from pbxsim.telephony.pbx import PbxSystem, build_pbx
from pbxsim.telephony.softphone import RingPolicy, Softphone, fixed_policy
from queues.callbacks import CallbackPolicy
from queues.wiring import SeatsSystem, build_seats
from tests.conftest import TRANSCRIPTS

REPO = Path(__file__).resolve().parents[2]
CONF = REPO / "asterisk-conf"
USER, SECRET = "callcenter", "rec-secret"
SPEED = 20.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Sim:
    scheduler: AsyncioScheduler
    system: PbxSystem
    server: AmiServer
    port: int
    phones: dict[str, Softphone] = field(default_factory=dict)
    trunk: Softphone | None = None
    #: Asterisk's own ledger (cdr/cel/queue_log) this PBX writes, when asked to
    ledger: LedgerWriter | None = None
    ledger_url: str | None = None

    @property
    def queues(self):  # type: ignore[no-untyped-def]
        return self.system.queues

    def call(self, caller: str, did: str = "12345") -> Channel:
        assert self.trunk is not None
        return self.trunk.incoming(did, caller, "")

    def hang_up(self, channel: Channel) -> None:
        assert self.trunk is not None
        self.trunk.bye(channel)

    def phone(self, number: str, policy: RingPolicy) -> Softphone:
        """A caller's own phone, reachable as PJSIP/<number> (for callbacks)."""
        return Softphone(self.system.pbx, number, "from-seats", policy=policy)

    def route(self, did: str, queue: str) -> None:
        self.system.pbx.astdb.put("hotline-legacy", did, queue)

    def members(self, queue: str) -> list[str]:
        return sorted(m.interface for m in self.system.queues.queues[queue].members)

    def member(self, queue: str, interface: str):  # type: ignore[no-untyped-def]
        return next(m for m in self.system.queues.queues[queue].members if m.interface == interface)


async def start_pbx(
    seats: int,
    port: int = 0,
    policy: Callable[[str], RingPolicy] | None = None,
    speed: float = SPEED,
    start: float | None = None,
    ledger_url: str | None = None,
    ledger_create: bool = False,
    conf_dir: Path = CONF,
) -> Sim:
    """`conf_dir`: the configuration read (extensions.conf, queues.conf, and -- when
    there -- features.conf and confbridge.conf); default: the repo's asterisk-conf/.
    `start`: the simulated Unix time the PBX clock starts at (default: now);
    `ledger_url`: write Asterisk's ledger there, as `python -m pbxsim --ledger-url`
    (`ledger_create`: make its tables when missing)."""
    scheduler = AsyncioScheduler(asyncio.get_running_loop(), speed=speed, start=start)
    bus = EventBus()
    system = build_pbx(
        scheduler,
        bus,
        random.Random(3),
        extensions_conf=conf_dir / "extensions.conf",
        queues_conf=conf_dir / "queues.conf",
        manager_conf=TRANSCRIPTS / "config" / "manager.conf",
    )
    system.pbx.agi_connect_to = ("127.0.0.1", free_port())  # no FastAGI: fallback routing
    system.pbx.default_sound_length = 0.5
    sim = Sim(scheduler, system, None, 0)  # type: ignore[arg-type]
    sim.trunk = Softphone(system.pbx, "trunk", "from-trunk")
    for i in range(seats):
        ext = str(1001 + i)
        ring = policy(ext) if policy else fixed_policy(0.5, 5.0)
        sim.phones[ext] = Softphone(system.pbx, ext, "from-seats", policy=ring)
    if ledger_url is not None:
        sim.ledger_url = ledger_url
        sim.ledger = await start_ledger(system.pbx, ledger_url, create=ledger_create)
    # as the rendered manager.conf (timestampevents = yes): every instance then reads
    # the same PBX time off an event, however late it reached it
    sim.server = AmiServer(
        scheduler, bus, system.actions, system.users, system.cli, port=port, timestampevents=True
    )
    await sim.server.start()
    sim.port = sim.server.port
    return sim


@dataclass
class Floor:
    """The PBX, our AMI link and live state, and the seats side on a database."""

    sim: Sim
    live: LiveState
    node: PbxNode
    engine: AsyncEngine
    seats: SeatsSystem
    #: call records beside the live state (the day's figures are theirs)
    records: RecordsSystem
    watcher_task: asyncio.Task[None] | None = None
    writer_task: asyncio.Task[None] | None = None
    answers_task: asyncio.Task[None] | None = None

    async def restart_pbx(self) -> None:
        port = self.sim.port
        await self.sim.server.stop()
        if self.sim.ledger is not None:
            await self.sim.ledger.close()
        self.sim = await start_pbx(len(self.sim.phones), port=port, ledger_url=self.sim.ledger_url)

    async def close(self) -> None:
        running = (self.watcher_task, self.writer_task, self.answers_task)
        tasks = [t for t in running if t is not None]
        for task in tasks:
            task.cancel()
        # every task gone before the database goes: a write cancelled half-way must not
        # outlive the engine it was writing through
        await asyncio.gather(*tasks, return_exceptions=True)
        self.records.writer.spool.close()
        await self.node.stop()
        await self.sim.server.stop()
        if self.sim.ledger is not None:
            await self.sim.ledger.close()
        await self.engine.dispose()


async def open_floor(
    database_url: str,
    seats: int,
    skills: Callable[[int], dict[str, int]],
    callback_policy: CallbackPolicy | None = None,
    overflow_s: dict[str, float] | None = None,
    outbox: Outbox | None = None,
    **kw: object,
) -> Floor:
    """`outbox`: the records announce to webhooks through it (and the answers' task
    runs)."""
    sim = await start_pbx(seats, **kw)  # type: ignore[arg-type]
    live = LiveState(sim.scheduler.now)
    engine = create_engine(database_url)
    await migrate.upgrade(engine)
    system = build_seats(
        session_factory(engine),
        live,
        lambda: datetime.now(UTC),
        ["break", "meal", "training", "meeting", "after-call-work"],
        CatalogHolder(QueueCatalog.default().with_overflow(overflow_s or {})),
        callback_policy=callback_policy,
    )
    await system.repo.provision(seats, 1001, skills, "PJSIP/{extension}", "pbx1")
    await system.refresh_seat_index()
    records = build_records(
        session_factory(engine),
        live,
        Path(tempfile.mkdtemp(prefix="floor-spool-")),
        flush_every_s=0.05,
        queue_wrapup=system.wrapups,
        outbox=outbox,
    )
    node = PbxNode(
        NodeConfig(
            name="pbx1",
            host="127.0.0.1",
            port=sim.port,
            username=USER,
            secret=SECRET,
            action_timeout=5.0,
            ping_interval=1.0,
            backoff_initial=0.05,
            backoff_max=0.3,
        ),
        FanOut([live, records.listener]),
    )
    node.start()
    await asyncio.wait_for(live.synced.wait(), 10)
    floor = Floor(sim, live, node, engine, system, records)
    floor.watcher_task = asyncio.create_task(system.watcher.run())
    floor.writer_task = asyncio.create_task(records.writer.run())
    if outbox is not None:
        floor.answers_task = asyncio.create_task(records.answers.run())
    return floor


async def wait_until(predicate: Callable[[], bool], timeout: float = 5.0) -> float:
    start = time.monotonic()
    while not predicate():
        if time.monotonic() - start > timeout:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.01)
    return time.monotonic() - start

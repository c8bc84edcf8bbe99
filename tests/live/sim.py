"""pbxsim in-process, for the live-state tests: the transcripts' dialplan and queues
(simulated handsets and softphones are Local channels running [sim-caller] and
[sim-agent]), a sped-up clock, and an AMI listener that can be killed and restarted."""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass
from pathlib import Path

from ami.node import NodeConfig
from pbxsim.ami_server import AmiServer
from pbxsim.clock import AsyncioScheduler
from pbxsim.events import EventBus
from pbxsim.telephony.pbx import PbxSystem, build_pbx
from tests.conftest import TRANSCRIPTS

CONFIG = TRANSCRIPTS / "config"
USER, SECRET = "callcenter", "rec-secret"


@dataclass
class SimPbx:
    scheduler: AsyncioScheduler
    bus: EventBus
    system: PbxSystem
    server: AmiServer
    port: int

    async def kill_ami(self) -> None:
        await self.server.stop()

    async def start_ami(self) -> None:
        self.server = AmiServer(
            self.scheduler,
            self.bus,
            self.system.actions,
            self.system.users,
            self.system.cli,
            port=self.port,
        )
        await self.server.start()

    async def stop(self) -> None:
        await self.server.stop()

    def node_config(self, **kw: object) -> NodeConfig:
        args: dict[str, object] = dict(
            name="pbx1",
            host="127.0.0.1",
            port=self.port,
            username=USER,
            secret=SECRET,
            action_timeout=5.0,
            ping_interval=1.0,
            backoff_initial=0.05,
            backoff_max=0.5,
        )
        args.update(kw)
        return NodeConfig(**args)  # type: ignore[arg-type]


async def start_sim(
    speed: float = 20.0,
    seed: int = 1,
    port: int = 0,
    extensions: Path = CONFIG / "extensions.conf",
    queues: Path = CONFIG / "queues.conf",
) -> SimPbx:
    scheduler = AsyncioScheduler(asyncio.get_running_loop(), speed=speed)
    bus = EventBus()
    system = build_pbx(
        scheduler,
        bus,
        random.Random(seed),
        extensions_conf=extensions,
        queues_conf=queues,
        manager_conf=CONFIG / "manager.conf",
    )
    server = AmiServer(scheduler, bus, system.actions, system.users, system.cli, port=port)
    await server.start()
    return SimPbx(scheduler, bus, system, server, server.port)

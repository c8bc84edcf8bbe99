"""pbxsim in-process with the repo's asterisk-conf/ dialplan and queues, its FastAGI
pointed at our server: the end-to-end harness of the IVR tests.

A `Call` is an INVITE on the trunk; the harness records what the PBX did with it
(HOTLINE_* variables as VarSet events, the queue it joined, the contexts it ran) and
presses keys at given simulated delays after each AGI session starts, or after the
call first joins a queue (script "queue").
"""

from __future__ import annotations

import asyncio
import random
import socket
from dataclasses import dataclass, field
from pathlib import Path

from pbxsim.asterisk_ledger_db import LedgerWriter, start_ledger
from pbxsim.channel import Channel
from pbxsim.clock import AsyncioScheduler
from pbxsim.events import AmiEvent, EventBus
from pbxsim.telephony.pbx import PbxSystem, build_pbx
from pbxsim.telephony.softphone import Softphone, fixed_policy

REPO = Path(__file__).resolve().parents[2]
CONF = REPO / "asterisk-conf"
SPEED = 25.0  # simulated seconds per real second
PROMPT_S = 5.0


@dataclass
class Call:
    dialed: str
    #: per AGI script ("incoming", "queue-key", "survey"), and "queue" (the first queue
    #: entry): (seconds after it starts, key or "hangup")
    script: dict[str, list[tuple[float, str]]]
    #: `place` returns once the call joined a queue this many times (or ended)
    until_joins: int = 1
    channel: Channel | None = None
    variables: dict[str, str] = field(default_factory=dict)
    queue: str | None = None
    contexts: list[str] = field(default_factory=list)
    agi_runs: list[str] = field(default_factory=list)
    done: asyncio.Event = field(default_factory=asyncio.Event)
    agi_status: list[str] = field(default_factory=list)
    #: (PBX time, Position) of each QueueCallerJoin
    joins: list[tuple[float, int]] = field(default_factory=list)


class Pbx:
    def __init__(
        self,
        agi_port: int,
        seats: int = 0,
        talk_time: float = 3.0,
        queues: tuple[str, ...] = ("hotline-general",),
        extensions_conf: Path = CONF / "extensions.conf",
        trunk: str = "trunk",
    ) -> None:
        """`extensions_conf`: another rendering of the dialplan; `trunk`: the PJSIP
        endpoint calls arrive on."""
        self.scheduler = AsyncioScheduler(asyncio.get_running_loop(), speed=SPEED)
        self.bus = EventBus()
        self.system: PbxSystem = build_pbx(
            self.scheduler,
            self.bus,
            random.Random(5),
            extensions_conf=extensions_conf,
            queues_conf=CONF / "queues.conf",
        )
        self.pbx = self.system.pbx
        self.pbx.agi_connect_to = ("127.0.0.1", agi_port)
        #: our prompts last a few seconds; key presses below are timed against this
        self.pbx.default_sound_length = PROMPT_S
        self.trunk = Softphone(self.pbx, trunk, "from-trunk")
        self.calls: dict[str, Call] = {}
        self._placing: Call | None = None
        for i in range(seats):
            ext = str(1001 + i)
            Softphone(self.pbx, ext, "from-seats", policy=fixed_policy(0.5, talk_time))
            for queue in queues:
                self.system.queues.add_member(queue, f"PJSIP/{ext}")
        self.bus.subscribe(self._on_event)

    async def write_ledger(self, url: str, *, create: bool = False) -> LedgerWriter:
        """Write Asterisk's ledger (cdr/cel/queue_log) to `url` from now on, as
        `python -m pbxsim --ledger-url` does; close the writer to flush it."""
        return await start_ledger(self.pbx, url, create=create)

    def astdb_put(self, family: str, key: str, value: str) -> None:
        self.pbx.astdb.put(family, key, value)

    async def place(
        self,
        call: Call,
        caller: str = "13900001111",
        timeout: float = 10.0,
        headers: tuple[tuple[str, str], ...] = (),
    ) -> Call:
        """`headers`: the INVITE's own (PJSIP_HEADER reads them)."""
        # the dialplan starts synchronously inside incoming(): its first events arrive
        # before the channel is returned, so they are claimed by the call being placed
        self._placing = call
        try:
            channel = self.trunk.incoming(call.dialed, caller, "", headers=headers)
        finally:
            self._placing = None
        call.channel = channel
        self.calls[channel.uniqueid] = call
        await asyncio.wait_for(call.done.wait(), timeout)
        return call

    def _on_event(self, event: AmiEvent) -> None:
        uniqueid = event.get("Uniqueid") or ""
        call = self.calls.get(uniqueid)
        if call is None and self._placing is not None and uniqueid:
            call = self.calls[uniqueid] = self._placing
        if call is None:
            return
        name = event.name
        if name == "VarSet":
            call.variables[event.get("Variable") or ""] = event.get("Value") or ""
            if event.get("Variable") == "AGISTATUS":
                call.agi_status.append(event.get("Value") or "")
        elif name == "Newexten":
            context = event.get("Context") or ""
            if not call.contexts or call.contexts[-1] != context:
                call.contexts.append(context)
            if event.get("Application") == "AGI":
                data = event.get("AppData") or ""
                script = next((s for s in ("survey", "queue-key") if f"/{s}" in data), "incoming")
                call.agi_runs.append(script)
                self._run_script(call, script)
            if context == "hotline-transfer":
                call.done.set()
        elif name == "QueueCallerJoin":
            call.queue = event.get("Queue")
            call.joins.append((self.scheduler.now(), int(event.get("Position") or 0)))
            if len(call.joins) == 1:
                self._run_script(call, "queue")
            if "survey" not in call.script and len(call.joins) >= call.until_joins:
                call.done.set()
        elif name == "Hangup":
            call.done.set()

    def _run_script(self, call: Call, script: str) -> None:
        for delay, action in call.script.get(script, []):
            self.scheduler.call_later(delay, self._act, call, action)

    def _act(self, call: Call, action: str) -> None:
        assert call.channel is not None
        if action == "hangup":
            self.trunk.bye(call.channel)
        else:
            self.trunk.press(call.channel, action)

    def hang_up_all(self) -> None:
        for call in self.calls.values():
            if call.channel is not None and not call.channel.hungup:
                self.trunk.bye(call.channel)


def free_port() -> int:
    """A port nobody listens on (the "AGI server is down" case)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])

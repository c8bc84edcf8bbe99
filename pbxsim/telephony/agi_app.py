"""`AGI(agi://host[:port]/script[,arg1[,arg2...]])`: the dialplan side of FastAGI.

The wire protocol is pbxsim/agi_client.py's; this module is the `AgiHost` it talks to,
backed by the PBX (variables with `VarSet`, answer, hangup, DTMF the channel receives,
applications for `EXEC`, `AGIExecStart`/`AGIExecEnd` for every command), and the
application that sets `AGISTATUS` when the session ends: `SUCCESS` (the server closed),
`FAILURE` (could not connect: the dialplan goes on, which is how the transcripts'
fallback path queues the caller anyway), `HANGUP` (the channel hung up meanwhile: the
application returns -1, so the run posts `SoftHangupRequest` and ends, as ami.log
scenario 6 shows).

A hangup does not stop AGI at once: the session tells its server (`HANGUP`) and keeps
serving it until the server closes, so the application registers a no-op interrupt
hook and lets the session decide when it returns.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable

from pbxsim.agi_client import (
    FAILURE,
    HANGUP,
    NOTFOUND,
    AgiDatabase,
    FastAgiSession,
    start_fastagi,
)
from pbxsim.channel import Channel
from pbxsim.clock import Scheduler
from pbxsim.dialplan import FunctionError, assign, split_args
from pbxsim.telephony.pbx import Done, Pbx


class PbxAgiHost:
    """`AgiHost` over one channel of the PBX."""

    def __init__(self, pbx: Pbx, channel: Channel) -> None:
        self.pbx = pbx
        self._channel = channel

    @property
    def channel(self) -> Channel:
        return self._channel

    @property
    def scheduler(self) -> Scheduler:
        return self.pbx.scheduler

    @property
    def db(self) -> AgiDatabase | None:
        db: AgiDatabase | None = self.pbx.astdb
        return db

    def get_variable(self, name: str) -> str | None:
        scope = self.pbx.scope(self._channel)
        if name.endswith(")"):
            return scope.read_function(name)
        return scope.variable(name)

    def set_variable(self, name: str, value: str) -> None:
        try:
            assign(self.pbx.scope(self._channel), name, value)
        except FunctionError:
            pass  # res_agi answers 200 result=1 regardless

    def substitute(self, text: str, channel_name: str | None = None) -> str | None:
        channel: Channel | None = self._channel
        if channel_name is not None and channel_name != self._channel.name:
            channel = self.pbx.find_channel(channel_name)
            if channel is None:
                return None
        return self.pbx.substitute(channel, text)

    def answer(self) -> int:
        if self.is_hung_up():
            return -1
        self.pbx.answer(self._channel)
        return 0

    def hangup(self, channel_name: str | None = None) -> bool:
        target = self._channel
        if channel_name is not None:
            found = self.pbx.find_channel(channel_name)
            if found is None:
                return False
            target = found
        self.pbx.soft_hangup(target, 16)
        return True

    def is_hung_up(self) -> bool:
        leg = self.pbx.legs.find(self._channel.name)
        return self._channel.hungup or leg is None or leg.soft_hangup

    def channel_state(self, channel_name: str) -> int | None:
        channel = self.pbx.find_channel(channel_name)
        return channel.state if channel is not None else None

    def on_hangup(self, callback: Callable[[], None]) -> Callable[[], None]:
        leg = self.pbx.leg(self._channel)

        def fire(_channel: Channel) -> None:
            callback()

        leg.hangup_callbacks.append(fire)

        def unsubscribe() -> None:
            if fire in leg.hangup_callbacks:
                leg.hangup_callbacks.remove(fire)

        return unsubscribe

    def on_dtmf(self, callback: Callable[[str], None]) -> Callable[[], None]:
        leg = self.pbx.leg(self._channel)
        leg.dtmf_listeners.append(callback)

        def unsubscribe() -> None:
            if callback in leg.dtmf_listeners:
                leg.dtmf_listeners.remove(callback)

        return unsubscribe

    def sound_length(self, name: str) -> float | None:
        return self.pbx.sound_length(name)

    def exec_app(self, app: str, data: str, done: Callable[[int], None]) -> bool:
        func = self.pbx.find_app(app)
        if func is None:
            return False
        func(self.pbx, self._channel, split_args(data), done)
        return True

    def explicit_goto(self, context: str | None, exten: str | None, priority: int | None) -> None:
        run = self.pbx.run_of(self._channel)
        ch = self._channel
        if run is not None:
            run.goto(context or ch.context, exten or ch.exten, priority or ch.priority + 1)

    def find_label(self, label: str) -> int | None:
        ch = self._channel
        return self.pbx.find_label(ch.context, ch.exten, label, ch.caller_num)

    def music_on_hold(self, on: bool, moh_class: str | None) -> None:
        if on:
            self.pbx.moh_start(self._channel, moh_class or "default")
        else:
            self.pbx.moh_stop(self._channel)

    def agi_event(self, name: str, fields: list[tuple[str, str]]) -> None:
        self.pbx.emit(name, "agi", self._channel, *fields)

    def locate(self, context: str, exten: str, priority: str) -> int | None:
        cid = self._channel.caller_num
        if priority.isdigit():
            number = int(priority)
            return number if self.pbx.exten_exists(context, exten, number, cid) else None
        return self.pbx.find_label(context, exten, priority, cid)

    def run_subroutine(
        self,
        context: str,
        exten: str,
        priority: int,
        args: str | None,
        done: Callable[[bool], None],
    ) -> int:
        # Gosub needs a dialplan stack the executor does not model: "not started"
        return -1


def agi_app(pbx: Pbx, channel: Channel, args: list[str], done: Done) -> None:
    if not args or not args[0]:
        done(-1)  # "AGI requires an argument (script)"
        return
    url = args[0]
    if not url.lower().startswith(("agi://", "hagi://")):
        # only FastAGI: local scripts are not run by the simulator
        pbx.set_var(channel, "AGISTATUS", NOTFOUND)
        done(0)
        return
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        # a VirtualScheduler run (statistics) has no sockets: the server is unreachable
        pbx.set_var(channel, "AGISTATUS", FAILURE)
        done(0)
        return
    session = FastAgiSession(
        PbxAgiHost(pbx, channel),
        url,
        args[1:],
        connect_to=pbx.agi_connect_to,
        rng=random.Random(channel.uniqueid),  # CommandIds repeat with the run
    )

    def finished(status: str) -> None:
        pbx.set_var(channel, "AGISTATUS", status)
        done(-1 if status == HANGUP else 0)

    abandon = start_fastagi(session, finished)
    pbx.set_app_interrupt(channel, lambda: None)
    pbx.on_destroy(channel, abandon)

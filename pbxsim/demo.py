"""Live demo traffic: callers arriving on the trunk, agents answering at softphones.

The people are modelled in `traffic.py`; this module puts them on the PBX. A caller is
an INVITE on the `trunk` endpoint to the number they dialed (12345 or an old department
number), presses their IVR choice when the FastAGI asks, waits in queue until answered
or out of patience, and after the agent hangs up answers the satisfaction survey. An
agent is a PJSIP softphone that rings, answers (or not) and talks per `SeatBehaviour`.

What the caller does is driven by what the PBX tells everyone over AMI (the same events
on the bus): `Newexten AGI(...)` to know the IVR is listening, `QueueCallerJoin` to start
the patience clock, `AgentConnect` to stop it.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass, field
from pathlib import Path

from pbxsim.channel import Channel
from pbxsim.clock import Handle, Scheduler
from pbxsim.events import AmiEvent
from pbxsim.telephony.pbx import PbxSystem
from pbxsim.telephony.softphone import Softphone
from pbxsim.traffic import (
    Caller,
    CallerMix,
    CallerSource,
    HourlyProfile,
    SeatBehaviour,
    seat_response,
)

log = logging.getLogger(__name__)

GENERAL_QUEUE = "hotline-general"
#: survey keys and how often callers press them: 1 满意, 2 基本满意, 3 不满意
SURVEY_KEYS = (("1", 0.72), ("2", 0.2), ("3", 0.08))


@dataclass
class DemoOptions:
    seats: int = 60
    first_extension: int = 1001
    calls_per_hour: float = 800.0
    #: False: a typical 12345 day (night trough, 9-11 and 14-16 peaks) around that mean
    flat_profile: bool = True
    legacy_csv: Path | None = None
    legacy_share: float = 0.15
    #: agents log in from their phones at start (until the service logs seats in itself)
    login_seats: bool = True
    #: specialist queues each seat also serves, besides the general queue
    specialist_queues_per_seat: int = 2
    seat_behaviour: SeatBehaviour = field(default_factory=SeatBehaviour)


@dataclass
class DemoStats:
    arrived: int = 0
    joined_queue: int = 0
    answered: int = 0
    gave_up: int = 0
    surveyed: int = 0


@dataclass
class _Call:
    caller: Caller
    channel: Channel
    patience: Handle | None = None
    ivr_presses: int = 0
    queued: bool = False


class DemoTraffic:
    def __init__(
        self, system: PbxSystem, scheduler: Scheduler, rng: random.Random, options: DemoOptions
    ) -> None:
        self.system = system
        self.pbx = system.pbx
        self.scheduler = scheduler
        self.rng = rng
        self.options = options
        self.stats = DemoStats()
        self.trunk = Softphone(self.pbx, "trunk", "from-trunk")
        self.seats: list[Softphone] = []
        self._calls: dict[str, _Call] = {}  # by caller channel uniqueid
        mix = (
            CallerMix.with_legacy_csv(options.legacy_csv, options.legacy_share)
            if options.legacy_csv is not None
            else CallerMix()
        )
        profile = HourlyProfile.flat() if options.flat_profile else HourlyProfile()
        self.source = CallerSource(
            scheduler, rng, options.calls_per_hour * 24, self._arrive, profile, mix
        )
        self._unsubscribe = system.pbx.bus.subscribe(self._on_event)

    def start(self) -> None:
        behaviour = self.options.seat_behaviour
        queues = sorted(q.name for q in self.system.queues.queues.values())
        specialists = [q for q in queues if q != GENERAL_QUEUE]
        for i in range(self.options.seats):
            extension = str(self.options.first_extension + i)
            phone = Softphone(
                self.pbx,
                extension,
                "from-seats",
                policy=lambda: seat_response(self.rng, behaviour),
                ring_delay=0.1,
            )
            self.seats.append(phone)
            if not self.options.login_seats:
                continue
            mine = [GENERAL_QUEUE] if GENERAL_QUEUE in queues else []
            for k in range(min(self.options.specialist_queues_per_seat, len(specialists))):
                mine.append(specialists[(i + k * 3) % len(specialists)])
            for queue in mine:
                self.system.queues.add_member(
                    queue, f"PJSIP/{extension}", membername=f"seat-{extension}"
                )
        self.source.start()
        log.info(
            "demo traffic: %d seats, %.0f calls/h", len(self.seats), self.options.calls_per_hour
        )

    def stop(self) -> None:
        self.source.stop()
        self._unsubscribe()

    # --- callers ---------------------------------------------------------------------
    def _arrive(self, caller: Caller) -> None:
        self.stats.arrived += 1
        channel = self.trunk.incoming(caller.dialed_number, caller.caller_number, "")
        self._calls[channel.uniqueid] = _Call(caller, channel)

    def _on_event(self, event: AmiEvent) -> None:
        uniqueid = event.get("Uniqueid")
        call = self._calls.get(uniqueid) if uniqueid else None
        if call is None:
            return
        name = event.name
        if name == "Newexten" and event.get("Application") == "AGI":
            if "survey" in (event.get("AppData") or ""):
                self.scheduler.call_later(2.5 + self.rng.random() * 3, self._rate, call)
            else:
                self.scheduler.call_later(call.caller.dtmf_delay, self._press_ivr, call)
        elif name == "QueueCallerJoin" and not call.queued:
            call.queued = True
            self.stats.joined_queue += 1
            call.patience = self.scheduler.call_later(call.caller.patience, self._give_up, call)
        elif name == "AgentConnect":
            self.stats.answered += 1
            if call.patience is not None:
                call.patience.cancel()
                call.patience = None
        elif name == "Hangup":
            if call.patience is not None:
                call.patience.cancel()
            self._calls.pop(call.channel.uniqueid, None)

    def _press_ivr(self, call: _Call) -> None:
        """Press the IVR choice; a caller who is not heard presses again, twice at most."""
        if call.channel.hungup or call.queued or not call.caller.ivr_digits:
            return
        for i, digit in enumerate(call.caller.ivr_digits):
            self.scheduler.call_later(0.3 * i, self.trunk.press, call.channel, digit)
        call.ivr_presses += 1
        if call.ivr_presses < 3:
            self.scheduler.call_later(4.0, self._press_ivr, call)

    def _give_up(self, call: _Call) -> None:
        call.patience = None
        if not call.channel.hungup:
            self.stats.gave_up += 1
            self.trunk.bye(call.channel)

    def _rate(self, call: _Call) -> None:
        if call.channel.hungup:
            return
        roll, key = self.rng.random(), SURVEY_KEYS[-1][0]
        for digit, share in SURVEY_KEYS:
            if roll < share:
                key = digit
                break
            roll -= share
        self.stats.surveyed += 1
        self.trunk.press(call.channel, key)
        self.scheduler.call_later(3.0, self.trunk.bye, call.channel)

"""Live demo traffic: callers arriving on the trunk, agents answering at softphones.

The people are modelled in `traffic.py`; this module puts them on the PBX. A caller is
an INVITE on the `trunk` endpoint to the number they dialed (12345 or an old department
number), presses their IVR choice when the FastAGI asks, waits in queue until answered
or out of patience, and after the agent hangs up answers the satisfaction survey. An
agent is a PJSIP softphone that rings, answers (or not) and talks per `SeatBehaviour`.

What the caller does is driven by what the PBX tells everyone over AMI (the same events
on the bus): `Newexten AGI(...)` to know the IVR is listening, `QueueCallerJoin` to start
the patience clock.

Every call's outcome goes to a `Ledger` (ledger.py) from the people's own side: the
caller model's arrival, keys, patience and survey key; the seats' phones (`_SeatPhone`)
for which seat rang, answered and hung up; the caller channel's queue entry and end.
"""

from __future__ import annotations

import logging
import math
import random
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from pbxsim.app_queue.engine import AUTO_PAUSE
from pbxsim.channel import UP, Channel
from pbxsim.clock import Handle, Scheduler
from pbxsim.events import AmiEvent
from pbxsim.ledger import CallOutcome, Ledger, Ring
from pbxsim.telephony.pbx import Pbx, PbxSystem
from pbxsim.telephony.softphone import RingPolicy, RingResponse, Softphone
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
DTMF_MS = 280  # how long a key is held
SURVEY_PRESSES = 60  # times a caller keys its rating before giving up on the survey


@dataclass
class DemoOptions:
    seats: int = 60
    first_extension: int = 1001
    calls_per_hour: float = 800.0
    #: False: a typical 12345 day (night trough, 9-11 and 14-16 peaks) around that mean
    flat_profile: bool = True
    legacy_csv: Path | None = None
    legacy_share: float = 0.15
    #: share of callers who press 1 (callback) or 9 (emergency) while queued
    queue_key_share: float = 0.0
    #: share of calls the 110 platform hands over (traffic.CallerMix.from_110_share)
    from_110_share: float = 0.0
    #: agents log in from their phones at start (until the service logs seats in itself)
    login_seats: bool = True
    #: specialist queues each seat also serves, besides the general queue
    specialist_queues_per_seat: int = 2
    seat_behaviour: SeatBehaviour = field(default_factory=SeatBehaviour)
    #: who calls (overrides `legacy_csv`/`legacy_share` when given)
    mix: CallerMix | None = None
    #: the day's shape (overrides `flat_profile` when given)
    profile: HourlyProfile | None = None
    #: no caller arrives at or after this simulated time (calls in progress go on)
    until: float = math.inf


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
    outcome: CallOutcome
    patience: Handle | None = None
    ivr_presses: int = 0
    queued: bool = False
    #: the seat's channel while the call is answered, and its ring in the ledger
    talking: tuple[Channel, Ring] | None = None
    entry: Any = None  # app_queue's QueueEntry for this caller
    rating: str | None = None  # the survey key this caller gives
    #: when it last left its queue (QueueCallerLeave), until it joins one again
    left_at: float | None = None


class _SeatPhone(Softphone):
    """An agent's softphone that tells the traffic when it rings, answers and hangs up."""

    def __init__(self, traffic: DemoTraffic, pbx: Pbx, endpoint: str, policy: RingPolicy) -> None:
        super().__init__(pbx, endpoint, "from-seats", policy=policy, ring_delay=0.1)
        self.traffic = traffic

    def request(self, requester: Channel | None, app: str) -> Channel | None:
        channel = super().request(requester, app)
        if channel is not None and requester is not None:
            self.traffic._seat_rung(self, channel, requester)
        return channel

    def _answer(self, channel: Channel, response: RingResponse) -> None:
        already = channel.hungup or channel.state == UP
        super()._answer(channel, response)
        if not already:
            self.traffic._seat_answered(self, channel)

    def bye(self, channel: Channel) -> None:
        if channel.hungup:
            return
        self.traffic._seat_hangs_up(channel)
        super().bye(channel)
        self.traffic._seat_hung_up(channel)


class DemoTraffic:
    def __init__(
        self,
        system: PbxSystem,
        scheduler: Scheduler,
        rng: random.Random,
        options: DemoOptions,
        ledger: Ledger | None = None,
    ) -> None:
        self.system = system
        self.pbx = system.pbx
        self.scheduler = scheduler
        self.rng = rng
        self.options = options
        self.stats = DemoStats()
        #: every call placed, with what became of it
        self.ledger = ledger if ledger is not None else Ledger()
        self.trunk = Softphone(self.pbx, "trunk", "from-trunk")
        self.seats: list[Softphone] = []
        #: interfaces auto-paused whose agent is on the way back
        self._returning: set[str] = set()
        self._calls: dict[str, _Call] = {}  # by caller channel uniqueid (= linkedid)
        self._placing: tuple[Caller, CallOutcome] | None = None
        mix = options.mix
        if mix is None:
            mix = (
                CallerMix.with_legacy_csv(options.legacy_csv, options.legacy_share)
                if options.legacy_csv is not None
                else CallerMix()
            )
            mix = replace(
                mix,
                queue_key_share=options.queue_key_share,
                from_110_share=options.from_110_share,
            )
        profile = options.profile
        if profile is None:
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
            phone = _SeatPhone(
                self, self.pbx, extension, lambda: seat_response(self.rng, behaviour)
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
        self.source.start(self.options.until)
        log.info(
            "demo traffic: %d seats, %.0f calls/h", len(self.seats), self.options.calls_per_hour
        )

    def stop(self) -> None:
        self.source.stop()
        self._unsubscribe()

    # --- callers ---------------------------------------------------------------------
    def _arrive(self, caller: Caller) -> None:
        self.stats.arrived += 1
        outcome = CallOutcome(
            caller.index,
            "",
            caller.caller_number,
            caller.dialed_number,
            caller.legacy,
            self.scheduler.now(),
        )
        # the dialplan starts inside incoming(): the call's first events (the AGI, even
        # a queue join) come before the channel is returned; _on_event tracks it then
        self._placing = (caller, outcome)
        try:
            channel = self.trunk.incoming(
                caller.dialed_number, caller.caller_number, "", headers=caller.headers
            )
        finally:
            self._placing = None
        call = self._calls.get(channel.uniqueid) or self._track(caller, outcome, channel)
        if channel.hungup and outcome.ended_at is None:
            self._ended(call)

    def _track(self, caller: Caller, outcome: CallOutcome, channel: Channel) -> _Call:
        outcome.linkedid = channel.linkedid
        call = _Call(caller, channel, self.ledger.open(outcome))
        self._calls[channel.uniqueid] = call
        self.pbx.on_destroy(channel, lambda: self._ended(call))
        return call

    def _on_event(self, event: AmiEvent) -> None:
        """The PBX's internal bus, as the caller's ears: the AGI prompt is playing, the
        queue has taken the call. What the ledger says is read from our own objects."""
        if event.name == "QueueMemberPause":
            self._member_paused(event)
            return
        uniqueid = event.get("Uniqueid")
        if not uniqueid:
            return
        call = self._calls.get(uniqueid)
        if call is None:
            if self._placing is None:
                return
            channel = self.pbx.find_channel(uniqueid)
            if channel is None or channel.linkedid != uniqueid:
                return
            call = self._track(*self._placing, channel)
        name = event.name
        if name == "Newexten" and event.get("Application") == "AGI":
            if "survey" in (event.get("AppData") or ""):
                self.scheduler.call_later(2.5 + self.rng.random() * 3, self._rate, call)
            else:
                self.scheduler.call_later(call.caller.dtmf_delay, self._press_ivr, call)
        elif name == "QueueCallerJoin":
            call.left_at = None
            if not call.queued:
                self._joined(call)
            else:  # back after a key: the same call, its wait runs from the first join
                call.entry = self._queue_entry(call.channel)
        elif name == "QueueCallerLeave":
            call.left_at = self.scheduler.now()

    def _joined(self, call: _Call) -> None:
        call.queued = True
        self.stats.joined_queue += 1
        outcome = call.outcome
        call.entry = self._queue_entry(call.channel)
        if call.entry is not None:
            outcome.queue = str(call.entry.queue.name)
            outcome.joined_at = float(call.entry.joined_at)
        else:
            outcome.joined_at = self.scheduler.now()
        call.patience = self.scheduler.call_later(call.caller.patience, self._give_up, call)
        if call.caller.queue_key:
            self.scheduler.call_later(call.caller.queue_key_delay, self._press_in_queue, call)

    def _press_in_queue(self, call: _Call) -> None:
        """The key the caller chose while queued (the queue's announcements offer it);
        not once answered or gone."""
        if call.channel.hungup or call.outcome.answered_at is not None:
            return
        self._send_key(call, call.caller.queue_key)

    def _queue_entry(self, channel: Channel) -> Any:
        """app_queue's entry for `channel` (its queue, when it joined, answered)."""
        for queue in self.system.queues.queues.values():
            for entry in queue.entries:
                if getattr(entry.host, "channel", None) is channel:
                    return entry
        return None

    def _press_ivr(self, call: _Call) -> None:
        """Press the IVR choice; a caller who is not heard presses again, twice at most."""
        if call.channel.hungup or call.queued or not call.caller.ivr_digits:
            return
        for i, digit in enumerate(call.caller.ivr_digits):
            self.scheduler.call_later(0.3 * i, self._send_key, call, digit)
        call.ivr_presses += 1
        if call.ivr_presses < 3:
            self.scheduler.call_later(4.0, self._press_ivr, call)

    def _send_key(self, call: _Call, digit: str, survey: bool = False) -> None:
        """An RFC 4733 digit from the caller (as `Softphone.press`); the ledger counts
        it once its end reached the PBX, i.e. if the call was still up 280 ms later."""
        if call.channel.hungup or self.pbx.leg(call.channel).soft_hangup:
            return
        path = self.pbx.dtmf_begin(call.channel, digit)
        self.scheduler.call_later(DTMF_MS / 1000, self._key_end, call, path, digit, survey)

    def _key_end(
        self, call: _Call, path: list[tuple[Channel, str]], digit: str, survey: bool
    ) -> None:
        if not call.channel.hungup:
            if survey:
                call.outcome.survey_key += digit
            else:
                call.outcome.ivr_keys += digit
        self.pbx.dtmf_end(path, digit, DTMF_MS)

    def _give_up(self, call: _Call) -> None:
        call.patience = None
        if call.channel.hungup or call.outcome.answered_at is not None:
            return
        outcome = call.outcome
        gave_up = not outcome.queue_exit
        if gave_up and self._out_after_key(call):
            gave_up = False  # out of the queue (a key took it out): its wait ended there
        elif gave_up:
            outcome.queue_exit = "gave_up"
        outcome.hangup_by = outcome.hangup_by or "caller"
        self.stats.gave_up += 1
        before = self.scheduler.now()
        self.trunk.bye(call.channel)
        if gave_up and outcome.joined_at is not None:
            outcome.waited = before - outcome.joined_at
            outcome.waited_max = self.scheduler.now() - outcome.joined_at

    def _out_after_key(self, call: _Call) -> bool:
        """The caller left its queue with a key (a QueueCallerLeave with no answer and
        no abandon) and is not back: `left_with_key`, its wait up to that leave."""
        outcome = call.outcome
        if call.left_at is None or outcome.answered_at is not None:
            return False
        if self._queue_entry(call.channel) is not None:
            return False
        if call.channel.variables.get("ABANDONED") == "TRUE":
            return False  # app_queue's own exit (timeout): not a key
        outcome.queue_exit = "left_with_key"
        if outcome.joined_at is not None:
            outcome.waited = outcome.waited_max = call.left_at - outcome.joined_at
        return True

    def _listening(self, channel: Channel) -> bool:
        """The survey's AGI session is up (it reads the caller's keys while it asks)."""
        leg = self.pbx.legs.find(channel.name)
        return leg is not None and bool(leg.dtmf_listeners)

    def _rate(self, call: _Call, tries: int = 0) -> None:
        """Answer the survey: one rating, keyed again every 2 s (a key that arrives
        before the question is asked is not heard) until the survey ends the call (it
        does, heard or not); SURVEY_PRESSES bounds a survey that never does."""
        if call.channel.hungup:
            return
        if not self._listening(call.channel) and tries == 0:
            self.scheduler.call_later(0.5, self._rate, call, 0)  # the AGI still connects
            return
        if tries >= SURVEY_PRESSES:
            call.outcome.hangup_by = call.outcome.hangup_by or "caller"
            self.trunk.bye(call.channel)
            return
        if call.rating is None:
            roll, call.rating = self.rng.random(), SURVEY_KEYS[-1][0]
            for digit, share in SURVEY_KEYS:
                if roll < share:
                    call.rating = digit
                    break
                roll -= share
            self.stats.surveyed += 1
        self._send_key(call, call.rating, survey=True)
        self.scheduler.call_later(2.0, self._rate, call, tries + 1)

    def _ended(self, call: _Call) -> None:
        """The caller's channel is gone: whatever is still open is settled now."""
        if call.outcome.ended_at is not None:
            return
        if call.patience is not None:
            call.patience.cancel()
            call.patience = None
        self._calls.pop(call.channel.uniqueid, None)
        outcome = call.outcome
        now = self.scheduler.now()
        if outcome.queue and not outcome.queue_exit and self._out_after_key(call):
            pass
        elif outcome.queue and not outcome.queue_exit:
            # out of the queue without an answer and not by the caller's own choice
            status = call.channel.variables.get("QUEUESTATUS", "")
            outcome.queue_exit = "timeout" if status == "TIMEOUT" else "left"
            if outcome.joined_at is not None:  # at most: the exit came before the end
                outcome.waited_max = now - outcome.joined_at
        if outcome.talk_time is not None and outcome.talk_time_max is None:
            outcome.talk_time_max = now - (outcome.answered_at or now)
        outcome.hangup_by = outcome.hangup_by or "pbx"
        outcome.ended_at = now
        # written once the step that ended the call is over: whoever caused the end
        # (e.g. a caller giving up) still completes its bracket after the hangup
        self.scheduler.call_soon(self.ledger.close_call, outcome)

    # --- seats ---------------------------------------------------------------------
    def _member_paused(self, event: AmiEvent) -> None:
        """app_queue auto-paused a seat that let a call ring out (every queue it is in
        sends one event): the agent comes back after a while and unpauses, as from a
        phone key running UnpauseQueueMember. A seat unpaused meanwhile is left alone."""
        back = self.options.seat_behaviour.back_from_auto_pause_s
        interface = event.get("Interface") or ""
        if back is None or event.get("Paused") != "1" or interface in self._returning:
            return
        if event.get("PausedReason") != AUTO_PAUSE:
            return
        self._returning.add(interface)
        self.scheduler.call_later(back, self._back_from_auto_pause, interface)

    def _back_from_auto_pause(self, interface: str) -> None:
        self._returning.discard(interface)
        engine = self.system.queues
        still = [
            q.name
            for q in engine.ordered_queues()
            if (m := q.find(interface)) is not None and m.paused and m.reason_paused == AUTO_PAUSE
        ]
        for queue in still:
            engine.set_paused(interface, False, queue)

    def _seat_rung(self, phone: _SeatPhone, channel: Channel, requester: Channel) -> None:
        call = self._calls.get(requester.linkedid)
        if call is None:
            return
        ring = Ring(phone.endpoint, self.scheduler.now())
        call.outcome.rings.append(ring)
        self.pbx.on_hangup(channel, lambda _ch: self._seat_channel_gone(call, ring))

    def _seat_answered(self, phone: _SeatPhone, channel: Channel) -> None:
        """The agent picked up; it is the call's answer if the queue bridged them."""
        call = self._calls.get(channel.linkedid)
        if call is None or channel.hungup:
            return
        if self.pbx.leg(channel).bridge is None:
            return  # too late: app_queue gave the ring up at this very instant
        ring = next((r for r in reversed(call.outcome.rings) if r.seat == phone.endpoint), None)
        if ring is None:
            return
        entry = call.entry
        # app_queue's own instant of the answer (the clock has moved on since)
        now = float(entry.answered_at) if entry is not None else self.scheduler.now()
        ring.outcome = "answered"
        outcome = call.outcome
        outcome.answered_at, outcome.seat = now, phone.endpoint
        outcome.queue_exit = "answered"
        if outcome.joined_at is not None:
            outcome.waited = outcome.waited_max = now - outcome.joined_at
        call.talking = (channel, ring)
        self.stats.answered += 1
        if call.patience is not None:
            call.patience.cancel()
            call.patience = None

    def _seat_hangs_up(self, channel: Channel) -> None:
        call = self._calls.get(channel.linkedid)
        if call is not None and call.talking is not None and call.talking[0] is channel:
            call.outcome.hangup_by = call.outcome.hangup_by or "agent"

    def _seat_hung_up(self, channel: Channel) -> None:
        """The agent's hangup has been processed: the talk ended by now at the latest."""
        call = self._calls.get(channel.linkedid)
        outcome = call.outcome if call is not None else None
        if outcome is None or outcome.answered_at is None or outcome.seat != _endpoint(channel):
            return
        if outcome.talk_time is not None and outcome.talk_time_max is None:
            outcome.talk_time_max = self.scheduler.now() - outcome.answered_at

    def _seat_channel_gone(self, call: _Call, ring: Ring) -> None:
        outcome = call.outcome
        ring.ended_at = self.scheduler.now()
        if ring.outcome == "ringing":
            ring.outcome = "not_answered"
        elif call.talking is not None and call.talking[1] is ring:
            call.talking = None
            if outcome.answered_at is not None:
                outcome.talk_time = self.scheduler.now() - outcome.answered_at
            if outcome.hangup_by != "agent":  # the caller ended it: no later bound
                outcome.talk_time_max = outcome.talk_time
            outcome.hangup_by = outcome.hangup_by or "caller"


def _endpoint(channel: Channel) -> str:
    """`PJSIP/1001-0000002a` -> `1001`."""
    return channel.name.partition("/")[2].rpartition("-")[0]

"""The queue engine: app_queue's member/caller state machine, without channels.

Asterisk runs one thread per waiting caller (queue_exec): the caller checks whether it
is its turn every second (RECHECK), and when it is, rings members chosen by the strategy
for `timeout` seconds, then waits `retry` seconds and tries again, until answered,
abandoned or timed out. Members become free through device-state changes and wrap-up
expiry, which nobody announces: callers only notice at their next check. The engine
reproduces that loop with Scheduler timers, so waiting-time statistics come out the way
a real Asterisk produces them (including the up-to-a-second polling lag).

Everything that touches a channel goes through the caller's `CallerHost` (ring a member,
stop music, set a variable, bridge); the host tells the engine what happened (answer,
ring failure, caller gone, bridge over). The AMI/telephony glue (`application.py`) and
the Erlang check (`pbxsim.erlang`) are two hosts for the same engine code.

Queue and member events are emitted through the EventBus with the field order of
apps/app_queue.c. Events whose body needs channel blocks are only built when somebody
is subscribed, so the Erlang run does not pay for them.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager

from pbxsim.app_queue import strategies
from pbxsim.app_queue.config import QueuesConf
from pbxsim.app_queue.members import (
    BUSY,
    DEVICE_STATE_CODES,
    DEVICE_STATE_NAMES,
    INUSE,
    INVALID,
    NOT_INUSE,
    ONHOLD,
    RINGING,
    RINGINUSE,
    UNAVAILABLE,
    UNKNOWN,
    Member,
    device_key,
    device_name,
    member_status_available,
)
from pbxsim.app_queue.queue import (
    QUEUE_BUCKETS,
    CallerHost,
    Queue,
    QueueEntry,
    RingAttempt,
    queue_hash,
)
from pbxsim.app_queue.strategies import Candidate
from pbxsim.clock import Scheduler
from pbxsim.events import EventBus, Fields

__all__ = [
    "AUTO_PAUSE",
    "EXITWITHKEY",
    "RECHECK",
    "CallerHost",
    "Queue",
    "QueueEngine",
    "QueueEntry",
    "RingAttempt",
]

RECHECK = 1.0  # seconds between "is it my turn?" checks (app_queue.c RECHECK)
#: the pause reason app_queue gives a member it paused for not answering (rna())
AUTO_PAUSE = "Auto-Pause"
#: Queue()'s status for a caller that left with a key of the queue's context (app_queue
#: sets no QUEUESTATUS then: the dialplan goes on at that extension)
EXITWITHKEY = "EXITWITHKEY"


class QueueEngine:
    def __init__(
        self,
        scheduler: Scheduler,
        bus: EventBus,
        rng: random.Random,
        conf: QueuesConf | None = None,
    ) -> None:
        self.scheduler = scheduler
        self.bus = bus
        self.rng = rng
        self.queues: dict[str, Queue] = {}
        self.shared_lastcall = True
        self._device_states: dict[str, int] = {}
        self._emitted_states: dict[str, str] = {}
        self._by_device: dict[str, list[tuple[Queue, Member]]] = {}
        self._seq = 0
        self._held: list[tuple[str, str, Fields]] | None = None
        #: asks the device state core for a device never reported yet (ast_device_state),
        #: e.g. a Local channel's NOT_INUSE; without it such a device is UNKNOWN
        self.device_query: Callable[[str], str] | None = None
        if conf is not None:
            self.load(conf)

    # ------------------------------------------------------------------ config
    def load(self, conf: QueuesConf) -> None:
        self.shared_lastcall = conf.general.shared_lastcall
        now = self.scheduler.now()
        for qc in conf.queues:
            queue = Queue(qc, self._seq)
            self._seq += 1
            self.queues[qc.name.lower()] = queue
            # init_queue: "on restart assume no members are available" (set at boot,
            # before any manager session could see it)
            self._emitted_states[f"Queue:{qc.name}_avail"] = "INUSE"
            for mc in qc.members:
                member = Member(
                    mc.interface,
                    membername=mc.membername,
                    state_interface=mc.state_interface,
                    penalty=mc.penalty,
                    paused=mc.paused,
                    ringinuse=qc.ringinuse if mc.ringinuse is None else mc.ringinuse,
                    wrapuptime=mc.wrapuptime,
                    dynamic=False,
                    now=now,
                    status=self._initial_status(mc.state_interface or mc.interface),
                )
                self._insert(queue, member)

    def queue(self, name: str) -> Queue | None:
        return self.queues.get(name.lower())

    def ordered_queues(self) -> list[Queue]:
        """Iteration order of the queues container (hash bucket, then creation)."""
        return sorted(
            self.queues.values(), key=lambda q: (queue_hash(q.name) % QUEUE_BUCKETS, q.seq)
        )

    # ------------------------------------------------------------------ events
    @property
    def verbose(self) -> bool:
        return self.bus.has_subscribers

    def _emit(self, name: str, privilege: str, fields: Fields) -> None:
        if self._held is not None:
            self._held.append((name, privilege, fields))
        else:
            self.bus.emit(name, privilege, fields)

    @contextmanager
    def deferred_events(self) -> Iterator[None]:
        """Member changes made by an AMI action take effect at once, but Asterisk
        publishes their events asynchronously: the action's response goes out first."""
        if self._held is not None:
            yield
            return
        held: list[tuple[str, str, Fields]] = []
        self._held = held
        try:
            yield
        finally:
            self._held = None
            if held:
                self.scheduler.call_soon(self._flush, held)

    def _flush(self, held: list[tuple[str, str, Fields]]) -> None:
        for name, privilege, fields in held:
            self.bus.emit(name, privilege, fields)

    def _devstate(self, device: str, state: str) -> None:
        """DeviceStateChange for app_queue's own pseudo-devices, only when it changes
        (the device state core caches them)."""
        if self._emitted_states.get(device) == state:
            return
        self._emitted_states[device] = state
        if self.verbose:
            self._emit("DeviceStateChange", "call", [("Device", device), ("State", state)])

    def _member_event(self, name: str, queue: Queue, member: Member) -> None:
        if self.verbose:
            self._emit(name, "agent", member.blob(queue.name))

    def _update_avail(self, queue: Queue, member: Member, added: bool = False) -> None:
        """`Queue:<name>_avail`: NOT_INUSE when this member can take a call, INUSE when
        nobody in the queue can. Adding an unavailable member says nothing (ami-2.log:
        a paused first member leaves the device unannounced)."""
        if self.is_available(queue, member, self.scheduler.now()):
            self._devstate(f"Queue:{queue.name}_avail", "NOT_INUSE")
        elif not added and not self.num_available(queue, count_all=False):
            self._devstate(f"Queue:{queue.name}_avail", "INUSE")

    def _caller_event(self, name: str, entry: QueueEntry, extra: Fields) -> None:
        if self.verbose:
            self._emit(name, "agent", [*entry.host.caller_block(), *extra])

    def _agent_event(self, name: str, attempt: RingAttempt, extra: Fields) -> None:
        if self.verbose:
            entry = attempt.entry
            member = attempt.member
            self._emit(
                name,
                "agent",
                [
                    *entry.host.caller_block(),
                    *entry.host.dest_block(attempt),
                    ("Queue", entry.queue.name),
                    ("Interface", member.interface),
                    ("MemberName", member.membername),
                    *extra,
                ],
            )

    # ------------------------------------------------------------------ members
    def add_member(
        self,
        queue_name: str,
        interface: str,
        *,
        penalty: int = 0,
        paused: bool = False,
        membername: str = "",
        state_interface: str = "",
        reason: str = "",
        wrapuptime: int = 0,
    ) -> str:
        """QueueAdd / AddQueueMember. Returns "ok", "exists" or "nosuchqueue"."""
        queue = self.queue(queue_name)
        if queue is None:
            return "nosuchqueue"
        if queue.find(interface) is not None:
            return "exists"
        member = Member(
            interface,
            membername=membername,
            state_interface=state_interface,
            penalty=penalty,
            paused=paused,
            reason_paused=reason,
            ringinuse=queue.config.ringinuse,
            wrapuptime=wrapuptime,
            dynamic=True,
            now=self.scheduler.now(),
            status=self._initial_status(state_interface or interface),
        )
        self._insert(queue, member)
        self._devstate(f"Queue:{queue.name}_pause_{interface}", "INUSE" if paused else "NOT_INUSE")
        self._member_event("QueueMemberAdded", queue, member)
        self._update_avail(queue, member, added=True)
        return "ok"

    def remove_member(self, queue_name: str, interface: str) -> str:
        """QueueRemove. Returns "ok", "notthere", "nosuchqueue" or "notdynamic"."""
        queue = self.queue(queue_name)
        if queue is None:
            return "nosuchqueue"
        member = queue.find(interface)
        if member is None:
            return "notthere"
        if not member.dynamic:
            return "notdynamic"
        queue.remove_member(member)
        self._by_device[member.device].remove((queue, member))
        queue.base_available -= _base_ok(member)
        queue.wrapups.pop(member, None)
        self._member_event("QueueMemberRemoved", queue, member)
        return "ok"

    def set_paused(
        self, interface: str, paused: bool, queue_name: str | None = None, reason: str = ""
    ) -> bool:
        """QueuePause: one queue or every queue the interface is in. False: not found."""
        found = False
        for queue in self._queues_for(queue_name):
            member = queue.find(interface)
            if member is None:
                continue
            found = True
            if member.paused != paused:
                before = _base_ok(member)
                member.paused = paused
                queue.base_available += _base_ok(member) - before
                if paused:
                    member.lastpause = self.scheduler.now()
            member.reason_paused = reason if paused else ""
            self._devstate(
                f"Queue:{queue.name}_pause_{member.interface}", "INUSE" if paused else "NOT_INUSE"
            )
            self._update_avail(queue, member)
            self._member_event("QueueMemberPause", queue, member)
        return found

    def set_penalty(self, interface: str, penalty: int, queue_name: str | None = None) -> bool:
        """QueuePenalty. False: no such member (or queue)."""
        found = False
        for queue in self._queues_for(queue_name):
            member = queue.find(interface)
            if member is None:
                continue
            found = True
            queue.set_penalty(member, penalty)
            self._member_event("QueueMemberPenalty", queue, member)
        return found

    def _insert(self, queue: Queue, member: Member) -> None:
        queue.insert_member(member)
        self._by_device.setdefault(member.device, []).append((queue, member))
        queue.base_available += _base_ok(member)

    def set_ringinuse(self, interface: str, ringinuse: bool, queue_name: str | None = None) -> bool:
        """QueueMemberRingInUse. False: no such member (or queue)."""
        found = False
        for queue in self._queues_for(queue_name):
            member = queue.find(interface)
            if member is None:
                continue
            found = True
            before = _base_ok(member)
            member.ringinuse = ringinuse
            queue.base_available += _base_ok(member) - before
            self._member_event("QueueMemberRinginuse", queue, member)
        return found

    def reset_stats(self, queue_name: str | None = None) -> None:
        """QueueReset / `queue reset stats` (clear_queue): counters and averages, and
        each member's calls and last call."""
        for queue in self._queues_for(queue_name):
            queue.holdtime = queue.talktime = 0
            queue.completed = queue.abandoned = 0
            queue.completed_in_sl = queue.abandoned_in_sl = 0
            queue.wrapups.clear()
            for member in queue.members:
                member.calls = 0
                member.lastcall = 0.0
                member.in_call = False

    def _queues_for(self, queue_name: str | None) -> Iterable[Queue]:
        if queue_name:
            queue = self.queue(queue_name)
            return [queue] if queue is not None else []
        return self.ordered_queues()

    def device_state_changed(self, device: str, state: int | str) -> None:
        """A device changed state (the device state core's fan-out to app_queue)."""
        code = DEVICE_STATE_CODES[state] if isinstance(state, str) else state
        key = device_key(device)
        self._device_states[key] = code
        for queue, member in self._by_device.get(key, ()):
            if member.status != code:
                self._update_status(queue, member, code)

    def _update_status(self, queue: Queue, member: Member, status: int) -> None:
        if status == NOT_INUSE and member.starttime:
            self._update_queue(queue, member, member.callcompletedinsl, member.starttime)
        before = _base_ok(member)
        member.status = status
        queue.base_available += _base_ok(member) - before
        member.pending = False
        self._member_event("QueueMemberStatus", queue, member)
        self._update_avail(queue, member)

    def _initial_status(self, state_interface: str) -> int:
        key = device_key(state_interface)
        if key in self._device_states:
            return self._device_states[key]
        if self.device_query is not None:
            return DEVICE_STATE_CODES.get(self.device_query(device_name(state_interface)), UNKNOWN)
        return UNKNOWN

    def device_state(self, device: str) -> str:
        return DEVICE_STATE_NAMES[self._device_states.get(device_key(device), UNKNOWN)]

    # ------------------------------------------------------------- availability
    def _wrapuptime(self, queue: Queue, member: Member) -> int:
        return member.wrapuptime or queue.config.wrapuptime

    def _in_wrapup(self, queue: Queue, member: Member, now: float) -> bool:
        wrapup = self._wrapuptime(queue, member)
        return bool(member.lastcall and wrapup and int(now) - wrapup < int(member.lastcall))

    def is_available(self, queue: Queue, member: Member, now: float) -> bool:
        """is_member_available: device state, paused, ringinuse, wrap-up."""
        status = member.status
        if status == INVALID or status == UNAVAILABLE:
            return False
        if status in (INUSE, BUSY, RINGING, RINGINUSE, ONHOLD) and not member.ringinuse:
            return False
        if member.paused:
            return False
        return not self._in_wrapup(queue, member, now)

    def num_available(self, queue: Queue, count_all: bool = True) -> int:
        """num_available_members. Without autofill, or with ringall, Asterisk stops at
        the first available member: the answer is then only ever 0 or 1."""
        available = queue.base_available
        if queue.wrapups:
            now = self.scheduler.now()
            for member, ends in list(queue.wrapups.items()):
                if now >= ends:
                    del queue.wrapups[member]
                elif _base_ok(member):
                    available -= 1
        if not count_all or not queue.config.autofill or queue.strategy == "ringall":
            return min(available, 1)
        return available

    def _empty(
        self,
        queue: Queue,
        conditions: frozenset[str],
        penalties: tuple[int | None, int | None] = (None, None),
    ) -> bool:
        """get_member_status != 0: no member is usable under these conditions."""
        now = self.scheduler.now()
        low, high = penalties
        for member in queue.members:
            if "penalty" in conditions and not _in_range(member.penalty, low, high):
                continue
            status = member.status
            if status == INVALID and "invalid" in conditions:
                continue
            if status == UNAVAILABLE and "unavailable" in conditions:
                continue
            if status == INUSE and "inuse" in conditions:
                continue
            if status == RINGING and "ringing" in conditions:
                continue
            if status == UNKNOWN and "unknown" in conditions:
                continue
            if member.paused and "paused" in conditions:
                continue
            if "wrapup" in conditions and self._in_wrapup(queue, member, now):
                continue
            return False
        return True

    def _can_ring(self, queue: Queue, member: Member, now: float) -> bool:
        """can_ring_entry, including the pending-members guard for ringinuse=no."""
        if member.paused:
            return False
        if not member.ringinuse and not member_status_available(member.status):
            return False
        lastqueue = member.lastqueue if isinstance(member.lastqueue, Queue) else queue
        wrapup = self._wrapuptime(lastqueue, member)
        if wrapup and int(now) - int(member.lastcall) < wrapup:
            return False
        if not member.ringinuse:
            if member.pending:
                return False
            member.pending = True
        return True

    # ------------------------------------------------------------------ callers
    def join(
        self,
        queue_name: str,
        host: CallerHost,
        *,
        prio: int = 0,
        timeout: float | None = None,
        continue_on_hangup: bool = False,
        no_retry: bool = False,
        position: int = 0,
        min_penalty: int | None = None,
        max_penalty: int | None = None,
    ) -> QueueEntry | str:
        """Queue() up to QueueCallerJoin. Returns the entry, or the QUEUESTATUS of a
        caller that was refused (JOINEMPTY, FULL, UNKNOWN); a refused caller has had
        its QUEUESTATUS variable set and `finished` is *not* called."""
        now = self.scheduler.now()
        for name in (
            "ANSWEREDTIME",
            "ANSWEREDTIME_MS",
            "DIALEDTIME",
            "DIALEDTIME_MS",
            "QUEUEWAIT",
            "QUEUEWAIT_MS",
        ):
            host.set_var(name, "")
        queue = self.queue(queue_name)
        if queue is None:
            host.set_var("QUEUESTATUS", "UNKNOWN")
            return "UNKNOWN"
        cfg = queue.config
        if cfg.joinempty and self._empty(queue, cfg.joinempty, (min_penalty, max_penalty)):
            host.set_var("QUEUESTATUS", "JOINEMPTY")
            return "JOINEMPTY"
        if cfg.maxlen and len(queue.entries) >= cfg.maxlen:
            host.set_var("QUEUESTATUS", "FULL")
            return "FULL"
        entry = QueueEntry(queue, host, prio, now)
        entry.continue_on_hangup = continue_on_hangup
        entry.no_retry = no_retry
        entry.penalties = (min_penalty, max_penalty)
        if timeout:
            entry.expire = int(now) + timeout
        # join_queue: after every caller of the same or higher priority, or at the
        # requested position if no higher-priority caller holds it
        index = len(queue.entries)
        for i, other in enumerate(queue.entries):
            if prio > other.prio or (position and prio >= other.prio and position <= i + 1):
                index = i
                break
        queue.entries.insert(index, entry)
        for i, other in enumerate(queue.entries, start=1):
            other.pos = i
        entry.opos = entry.pos
        if cfg.periodic_announce_startdelay >= 0:
            # queue_exec: the first announcement `startdelay` seconds after joining
            entry.announce_last += (
                cfg.periodic_announce_startdelay - cfg.periodic_announce_frequency
            )
        if len(queue.entries) == 1:
            self._devstate(f"Queue:{queue.name}", "RINGING")
        self._caller_event(
            "QueueCallerJoin",
            entry,
            [
                ("Queue", queue.name),
                ("Position", str(entry.pos)),
                ("Count", str(len(queue.entries))),
            ],
        )
        host.hold_start(cfg.musicclass)
        self._wait_turn(entry)
        return entry

    def _is_our_turn(self, entry: QueueEntry) -> bool:
        queue = entry.queue
        avail = self.num_available(queue)
        idx = 0
        for other in queue.entries:
            if other is entry:
                break
            if idx >= avail:
                return False
            if other.state != "ringing":
                idx += 1
        else:
            return False
        return idx < avail and (queue.config.autofill or entry.pos == 1)

    def _wait_turn(self, entry: QueueEntry) -> None:
        """wait_our_turn: check now, then once per RECHECK second."""
        entry.timer = None
        if entry.state != "waiting":
            return
        if self._is_our_turn(entry):
            self._try_calling(entry)
            return
        now = self.scheduler.now()
        if entry.expire and now >= entry.expire:
            self._timeout(entry)
            return
        cfg = entry.queue.config
        if cfg.leavewhenempty and self._empty(entry.queue, cfg.leavewhenempty, entry.penalties):
            self._exit_waiting(entry, "LEAVEEMPTY")
            return
        if cfg.periodic_announce_frequency and (
            int(now) - entry.announce_last >= cfg.periodic_announce_frequency
        ):
            self._announce(entry, now)
            return
        entry.timer = self.scheduler.call_later(RECHECK, self._recheck, entry)

    def _announce(self, entry: QueueEntry, now: float) -> None:
        """say_periodic_announcement: the music stops, the next sound plays to its end
        (a key of the queue's context ends it and the wait: `exit_with_key`), the music
        starts again. The caller's thread is busy meanwhile: it notices a free member
        only after the sound."""
        sounds = entry.queue.config.periodic_announce
        if entry.announce_next >= len(sounds) or not sounds[entry.announce_next]:
            entry.announce_next = 0
        length = entry.host.announce(sounds[entry.announce_next])
        entry.timer = self.scheduler.call_later(length, self._announced, entry, int(now))

    def _announced(self, entry: QueueEntry, started: int) -> None:
        entry.timer = None
        if entry.state != "waiting":
            return
        cfg = entry.queue.config
        now = self.scheduler.now()
        entry.host.hold_start(cfg.musicclass)
        entry.announce_last = int(now) if cfg.relative_periodic_announce else started
        entry.announce_next += 1
        if entry.expire and now >= entry.expire:
            self._timeout(entry)
            return
        entry.timer = self.scheduler.call_later(RECHECK, self._recheck, entry)

    def _recheck(self, entry: QueueEntry) -> None:
        entry.timer = None
        if entry.state != "waiting":
            return
        if entry.expire and self.scheduler.now() >= entry.expire:
            self._timeout(entry)
            return
        self._wait_turn(entry)

    def _try_calling(self, entry: QueueEntry) -> None:
        """One round (try_calling): expire check, metrics, ring by strategy.

        Asterisk keeps the attempts in a list built by prepending, and `find_best` takes
        the first lowest metric; sorting (metric, reversed position) once gives the same
        order without rescanning the list for every member skipped as unavailable.
        """
        queue = entry.queue
        now = self.scheduler.now()
        if entry.expire and now >= entry.expire:
            self._timeout(entry)
            return
        candidates = strategies.rank(
            queue.strategy,
            queue.members,
            queue.rr,
            entry.lin,
            now,
            self.rng,
            queue.by_queuepos,
            queue.uniform_penalty,
        )
        low, high = entry.penalties
        if low is not None or high is not None:
            # calc_metric leaves members outside the caller's penalty range out
            candidates = [c for c in candidates if _in_range(c[2].penalty, low, high)]
        entry.candidates = candidates
        entry.cursor = 0
        entry.attempts = []
        entry.round_started = now
        cfg = queue.config
        if queue.strategy in ("rrmemory", "rrordered", "linear"):
            entry.tries += 1
        else:  # option n: one round is every member for the other strategies
            entry.tries = len(queue.members)
        if cfg.timeoutpriority == "conf":
            ring_for = float(cfg.timeout) if cfg.timeout else 0.0
        elif entry.expire and (not cfg.timeout or entry.expire - now <= cfg.timeout):
            ring_for = entry.expire - now
        else:
            ring_for = float(cfg.timeout) if cfg.timeout else 0.0
        entry.state = "ringing"
        if self._ring_one(entry):
            if ring_for > 0:
                entry.ring_timer = self.scheduler.call_later(ring_for, self._ring_timeout, entry)
        else:
            self._round_over(entry)

    def _ring_one(self, entry: QueueEntry) -> bool:
        """ring_one: ring the best candidate (ringall: every candidate sharing the best
        metric) until something rings; unringable members drop out on the way."""
        candidates = entry.candidates
        ringall = entry.queue.strategy == "ringall"
        while entry.cursor < len(candidates):
            best = candidates[entry.cursor][0]
            rang = False
            while entry.cursor < len(candidates) and candidates[entry.cursor][0] <= best:
                candidate = candidates[entry.cursor]
                entry.cursor += 1
                rang = self._ring_entry(entry, candidate) or rang
                if not ringall:
                    break
            if rang:
                return True
        return False

    def _ring_entry(self, entry: QueueEntry, candidate: Candidate) -> bool:
        queue = entry.queue
        now = self.scheduler.now()
        member = candidate[2]
        if not self._can_ring(queue, member, now):
            return False
        attempt = RingAttempt(entry, member, candidate[0], now)
        if not entry.host.ring(attempt):
            member.pending = False
            return False
        entry.attempts.append(attempt)
        self._agent_event("AgentCalled", attempt, [])
        entry.host.dial_begin(attempt)
        return True

    def _ring_timeout(self, entry: QueueEntry) -> None:
        """Nobody answered within the ring time: AgentRingNoAnswer for each, then retry."""
        entry.ring_timer = None
        if entry.state != "ringing":
            return
        now = self.scheduler.now()
        for attempt in entry.attempts:
            if attempt.stillgoing:
                attempt.stillgoing = False
                ms = round((now - attempt.started) * 1000)
                self._agent_event("AgentRingNoAnswer", attempt, [("RingTime", str(ms))])
                self._autopause(entry.queue, attempt.member, now)
                attempt.member.pending = False
                entry.host.end_ring(attempt, "NOANSWER")
        self._round_over(entry)

    def _autopause(self, queue: Queue, member: Member, now: float) -> None:
        """The pause half of app_queue.c `rna()`: a member that let a call ring out is
        paused with reason "Auto-Pause" in this queue (`autopause = yes`) or in every
        queue (`all`, set_member_paused with no queue name), unless its last call ended
        less than `autopausedelay` seconds ago. The events are set_queue_member_pause's
        (pause device state, queue availability, QueueMemberPause), as for a QueuePause."""
        cfg = queue.config
        if cfg.autopause == "no":
            return
        if cfg.autopausedelay > 0 and member.lastcall:
            if cfg.autopausedelay > int(now) - int(member.lastcall):
                return
        only = queue.name if cfg.autopause == "yes" else None
        self.set_paused(member.interface, True, only, reason=AUTO_PAUSE)

    def ring_failed(self, attempt: RingAttempt, status: str = "BUSY") -> None:
        """The member's channel gave up before answering (busy, congestion, hangup).
        wait_for_answer then rings the next candidate within the same round (ringall:
        once the whole tier is done)."""
        entry = attempt.entry
        if entry.state != "ringing" or not attempt.stillgoing:
            return
        attempt.stillgoing = False
        attempt.member.pending = False
        now = self.scheduler.now()
        ms = round((now - attempt.started) * 1000)
        self._agent_event("AgentRingNoAnswer", attempt, [("RingTime", str(ms))])
        cfg = entry.queue.config
        # wait_for_answer: BUSY counts under autopausebusy, CONGESTION under
        # autopauseunavail, a member channel that just hung up always
        if {"BUSY": cfg.autopausebusy, "CONGESTION": cfg.autopauseunavail}.get(status, True):
            self._autopause(entry.queue, attempt.member, now)
        entry.host.end_ring(attempt, status)
        if any(a.stillgoing for a in entry.attempts):
            return
        ring_left = (
            entry.ring_timer.when - self.scheduler.now() if entry.ring_timer else float("inf")
        )
        # one at a time: the next member only if more than 500 ms of ring time is left
        if (entry.queue.strategy == "ringall" or ring_left > 0.5) and self._ring_one(entry):
            return
        if entry.ring_timer is not None:
            entry.ring_timer.cancel()
            entry.ring_timer = None
        self._round_over(entry)

    def _store_next(self, entry: QueueEntry) -> None:
        """store_next_rr / store_next_lin: the next round starts at the best candidate
        that was not rung in this one."""
        queue = entry.queue
        if queue.strategy in ("rrmemory", "rrordered"):
            state = queue.rr
        elif queue.strategy == "linear":
            state = entry.lin
        else:
            return
        candidates = entry.candidates
        nxt = candidates[entry.cursor][0] if entry.cursor < len(candidates) else None
        strategies.store_next(state, nxt)

    def _round_over(self, entry: QueueEntry) -> None:
        """try_calling returned without an answer: expire check, then `retry` seconds."""
        self._store_next(entry)
        entry.attempts = []
        entry.candidates = ()
        entry.state = "waiting"
        queue = entry.queue
        cfg = queue.config
        if cfg.leavewhenempty and self._empty(queue, cfg.leavewhenempty, entry.penalties):
            self._exit_waiting(entry, "LEAVEEMPTY")
            return
        if entry.no_retry and entry.tries >= len(queue.members):
            self._exit_waiting(entry, "TIMEOUT")
            return
        if entry.expire and self.scheduler.now() >= entry.expire:
            self._timeout(entry)
            return
        entry.timer = self.scheduler.call_later(cfg.retry, self._after_retry, entry)

    def _after_retry(self, entry: QueueEntry) -> None:
        entry.timer = None
        if entry.state != "waiting":
            return
        now = self.scheduler.now()
        if self._is_our_turn(entry):
            if entry.expire and now >= entry.expire:
                self._timeout(entry)
                return
            self._try_calling(entry)
        else:
            self._wait_turn(entry)

    # ------------------------------------------------------------- answer path
    def answered(self, attempt: RingAttempt) -> None:
        """The member answered. The first answer wins; a late one is cancelled."""
        entry = attempt.entry
        if entry.state != "ringing" or not attempt.stillgoing:
            entry.host.end_ring(attempt, "CANCEL")
            return
        now = self.scheduler.now()
        queue = entry.queue
        member = attempt.member
        entry.state = "connected"
        entry.connected = attempt
        if entry.ring_timer is not None:
            entry.ring_timer.cancel()
            entry.ring_timer = None
        self._store_next(entry)
        for other in entry.attempts:
            if other is not attempt and other.stillgoing:
                other.stillgoing = False
                other.member.pending = False
                entry.host.end_ring(other, "CANCEL")
        hold = int(now) - int(entry.joined_at)
        # recalc_holdtime
        if queue.completed + queue.abandoned == 0:
            queue.holdtime = hold
        else:
            queue.holdtime = ((queue.holdtime << 2) - queue.holdtime + hold) >> 2
        entry.host.hold_stop()
        cfg = queue.config
        if cfg.setinterfacevar:
            self._both_vars(
                attempt,
                [
                    ("MEMBERINTERFACE", member.interface),
                    ("MEMBERNAME", member.membername),
                    ("MEMBERCALLS", str(member.calls)),
                    ("MEMBERLASTCALL", str(int(member.lastcall))),
                    ("MEMBERPENALTY", str(member.penalty)),
                    ("MEMBERDYNAMIC", "1" if member.dynamic else "0"),
                    ("MEMBERREALTIME", "0"),
                ],
            )
        if cfg.setqueueentryvar:
            self._both_vars(
                attempt, [("QEHOLDTIME", str(hold)), ("QEORIGINALPOS", str(entry.opos))]
            )
        if cfg.setqueuevar:
            self._both_vars(attempt, self._queue_vars(queue))
        position = entry.pos
        self._leave(entry)
        entry.host.set_var("QUEUEPOSITION", str(position))
        entry.host.set_var("QUEUEWAIT", str(hold))
        entry.host.set_var("QUEUEWAIT_MS", str(hold * 1000))
        member.starttime = now
        member.callcompletedinsl = hold <= cfg.servicelevel
        for q in self.queues.values() if self.shared_lastcall else (queue,):
            same = q.find(member.interface) if q is not queue else member
            if same is not None:
                same.in_call = True
        member.pending = False
        entry.callstart = now
        entry.answered_at = now
        # (orig - to) / 1000: seconds this ring round lasted
        ring_seconds = int(now - entry.round_started)
        self._agent_event(
            "AgentConnect", attempt, [("HoldTime", str(hold)), ("RingTime", str(ring_seconds))]
        )
        entry.host.connect(attempt)

    def _both_vars(self, attempt: RingAttempt, variables: list[tuple[str, str]]) -> None:
        """pbx_builtin_setvar_multiple on the caller, then on the member's channel."""
        host = attempt.entry.host
        for name, value in variables:
            host.set_var(name, value)
        for name, value in variables:
            host.set_member_var(attempt, name, value)

    @staticmethod
    def _queue_vars(queue: Queue) -> list[tuple[str, str]]:
        """set_queue_variables (setqueuevar=yes)."""
        sl = 100.0 * queue.completed_in_sl / queue.completed if queue.completed else 0.0
        cfg = queue.config
        return [
            ("QUEUENAME", queue.name),
            ("QUEUEMAX", str(cfg.maxlen)),
            ("QUEUESTRATEGY", cfg.strategy),
            ("QUEUECALLS", str(len(queue.entries))),
            ("QUEUEHOLDTIME", str(queue.holdtime)),
            ("QUEUETALKTIME", str(queue.talktime)),
            ("QUEUECOMPLETED", str(queue.completed)),
            ("QUEUEABANDONED", str(queue.abandoned)),
            ("QUEUESRVLEVEL", str(cfg.servicelevel)),
            ("QUEUESRVLEVELPERF", f"{sl:2.1f}"),
        ]

    def call_ended(
        self, entry: QueueEntry, reason: str, caller_alive: bool = True, finish: bool = True
    ) -> None:
        """The bridge is over: `reason` is caller, agent or transfer (AgentComplete).

        Asterisk posts AgentComplete when the first party hangs up, but the caller only
        leaves Queue() (its ANSWEREDTIME/DIALEDTIME, QUEUESTATUS) once it is out of the
        bridge: a host that sees those two moments apart passes `finish=False` and calls
        `call_finished` later. `caller_alive` False: the caller's channel is gone."""
        attempt = entry.connected
        if entry.state != "connected" or attempt is None:
            return
        entry.state = "completed"
        entry.reason = reason
        now = self.scheduler.now()
        queue = entry.queue
        member = attempt.member
        self._update_queue(queue, member, member.callcompletedinsl, member.starttime)
        hold = int(entry.callstart) - int(entry.joined_at)
        talk = int(now) - int(entry.callstart)
        self._agent_event(
            "AgentComplete",
            attempt,
            [("HoldTime", str(hold)), ("TalkTime", str(talk)), ("Reason", reason)],
        )
        if finish:
            self.call_finished(entry, caller_alive)

    def call_finished(self, entry: QueueEntry, caller_alive: bool = True) -> None:
        """Queue() returns after a bridged call; with option c and an agent hangup the
        caller goes on in the dialplan with QUEUESTATUS=CONTINUE."""
        if entry.state != "completed":
            return
        entry.state = "gone"
        if entry.queue.config.setqueuevar:  # end_bridge_callback
            for name, value in self._queue_vars(entry.queue):
                entry.host.set_var(name, value)
        self._duration_vars(entry, self.scheduler.now())
        if entry.reason == "agent" and entry.continue_on_hangup and caller_alive:
            entry.host.set_var("QUEUESTATUS", "CONTINUE")
            entry.host.finished("CONTINUE")
        else:
            entry.host.finished(None)

    def _duration_vars(self, entry: QueueEntry, now: float) -> None:
        dialed_ms = int((now - entry.joined_at) * 1000)
        answered_ms = int((now - entry.answered_at) * 1000) if entry.answered_at else 0
        if entry.answered_at:
            entry.host.set_var("ANSWEREDTIME", str(answered_ms // 1000))
            entry.host.set_var("ANSWEREDTIME_MS", str(answered_ms))
            entry.host.set_var("DIALEDTIME", str(dialed_ms // 1000))
            entry.host.set_var("DIALEDTIME_MS", str(dialed_ms))
        else:
            entry.host.set_var("DIALEDTIME", str(dialed_ms // 1000))
            entry.host.set_var("DIALEDTIME_MS", str(dialed_ms))
            entry.host.set_var("ANSWEREDTIME", "0")
            entry.host.set_var("ANSWEREDTIME_MS", "0")

    def _update_queue(
        self, queue: Queue, member: Member, completed_in_sl: bool, starttime: float
    ) -> None:
        """update_queue: the bridged call is over; counters move once per call."""
        if not starttime or member.starttime != starttime:
            return
        now = self.scheduler.now()
        targets = [member]
        if self.shared_lastcall:
            targets = [
                m
                for q in self.queues.values()
                if (m := q.find(member.interface)) is not None  # noqa: RUF100
            ]
        for m in targets:
            m.lastcall = now
            m.calls += 1
            m.callcompletedinsl = False
            m.starttime = 0.0
            m.in_call = False
            m.lastqueue = queue
            m.pending = False
        for q in self.queues.values() if self.shared_lastcall else (queue,):
            m2 = q.find(member.interface) if q is not queue else member
            if m2 is not None:
                wrapup = self._wrapuptime(q, m2)
                if wrapup:
                    q.wrapups[m2] = float(int(now) + wrapup)
        newtalk = int(now) - int(starttime)
        queue.completed += 1
        if completed_in_sl:
            queue.completed_in_sl += 1
        if queue.completed == 1:
            queue.talktime = newtalk
        else:
            queue.talktime = ((queue.talktime << 2) - queue.talktime + newtalk) >> 2

    # ------------------------------------------------------------ leave paths
    def _leave(self, entry: QueueEntry) -> None:
        """leave_queue: renumber, Queue:<name> NOT_INUSE when empty, QueueCallerLeave."""
        queue = entry.queue
        position = entry.pos
        queue.entries.remove(entry)
        for i, other in enumerate(queue.entries, start=1):
            other.pos = i
        if not queue.entries:
            self._devstate(f"Queue:{queue.name}", "NOT_INUSE")
        self._caller_event(
            "QueueCallerLeave",
            entry,
            [
                ("Queue", queue.name),
                ("Position", str(position)),
                ("Count", str(len(queue.entries))),
            ],
        )

    def _stop_ringing(self, entry: QueueEntry) -> None:
        if entry.timer is not None:
            entry.timer.cancel()
            entry.timer = None
        if entry.ring_timer is not None:
            entry.ring_timer.cancel()
            entry.ring_timer = None
        for attempt in entry.attempts:
            if attempt.stillgoing:
                attempt.stillgoing = False
                attempt.member.pending = False
                entry.host.end_ring(attempt, "CANCEL")
        entry.attempts = []
        entry.candidates = ()

    def _record_abandoned(self, entry: QueueEntry, now: float) -> None:
        queue = entry.queue
        entry.host.set_var("ABANDONED", "TRUE")
        if queue.config.setqueuevar:
            for name, value in self._queue_vars(queue):
                entry.host.set_var(name, value)
        wait = int(now) - int(entry.joined_at)
        if wait <= queue.config.servicelevel:
            queue.abandoned_in_sl += 1
        queue.abandoned += 1
        self._caller_event(
            "QueueCallerAbandon",
            entry,
            [
                ("Queue", queue.name),
                ("Position", str(entry.pos)),
                ("OriginalPosition", str(entry.opos)),
                ("HoldTime", str(wait)),
            ],
        )

    def abandon(self, entry: QueueEntry) -> None:
        """The caller left while waiting: hung up, redirected, or hung up by AMI.
        Asterisk reports all three the same way (QueueCallerAbandon, QueueCallerLeave).
        A caller already bridged ends its call instead (AgentComplete, caller)."""
        if entry.state == "connected":
            self.call_ended(entry, "caller", caller_alive=False)
            return
        if entry.state == "completed":
            self.call_finished(entry, caller_alive=False)
            return
        if entry.state not in ("waiting", "ringing"):
            return
        now = self.scheduler.now()
        self._stop_ringing(entry)
        entry.state = "gone"
        entry.host.hold_stop()
        wait = int(now) - int(entry.joined_at)
        entry.host.set_var("QUEUEWAIT", str(wait))
        entry.host.set_var("QUEUEWAIT_MS", str(wait * 1000))
        self._duration_vars(entry, now)
        position = entry.pos
        self._record_abandoned(entry, now)
        self._leave(entry)
        entry.host.set_var("QUEUEPOSITION", str(position))
        entry.host.finished(None)

    def _timeout(self, entry: QueueEntry) -> None:
        self._exit_waiting(entry, "TIMEOUT")

    def exit_with_key(self, entry: QueueEntry) -> None:
        """The caller pressed a key that is an extension of the queue's `context`
        (valid_exit, checked by the host, which has pointed the channel there): Queue()
        stops waiting or ringing and returns 0. Mirrors queue_exec's `stop:` path for
        `qe.valid_digits`: QUEUEWAIT and the durations, the EXITWITHKEY of queue_log,
        the music off, leave_queue (QueueCallerLeave, QUEUEPOSITION); no abandon, no
        QUEUESTATUS."""
        if entry.state not in ("waiting", "ringing"):
            return
        now = self.scheduler.now()
        self._stop_ringing(entry)
        entry.state = "gone"
        wait = int(now) - int(entry.joined_at)
        entry.host.set_var("QUEUEWAIT", str(wait))
        entry.host.set_var("QUEUEWAIT_MS", str(wait * 1000))
        self._duration_vars(entry, now)
        entry.host.hold_stop()
        if entry.queue.config.setqueuevar:
            for name, value in self._queue_vars(entry.queue):
                entry.host.set_var(name, value)
        position = entry.pos
        self._leave(entry)
        entry.host.set_var("QUEUEPOSITION", str(position))
        entry.host.finished(EXITWITHKEY)

    def _exit_waiting(self, entry: QueueEntry, status: str) -> None:
        """TIMEOUT / LEAVEEMPTY: record_abandoned, then leave, caller goes on."""
        now = self.scheduler.now()
        self._stop_ringing(entry)
        entry.state = "gone"
        self._record_abandoned(entry, now)
        wait = int(now) - int(entry.joined_at)
        entry.host.set_var("QUEUEWAIT", str(wait))
        entry.host.set_var("QUEUEWAIT_MS", str(wait * 1000))
        self._duration_vars(entry, now)
        entry.host.hold_stop()
        position = entry.pos
        self._leave(entry)
        entry.host.set_var("QUEUEPOSITION", str(position))
        entry.host.set_var("QUEUESTATUS", status)
        entry.host.finished(status)


def _base_ok(member: Member) -> int:
    """1 if device state, pause and ringinuse let this member take a call (wrap-up is
    the queue's own, time-based business)."""
    status = member.status
    if status == INVALID or status == UNAVAILABLE or member.paused:
        return 0
    if not member.ringinuse and status in (INUSE, BUSY, RINGING, RINGINUSE, ONHOLD):
        return 0
    return 1


def _in_range(penalty: int, low: int | None, high: int | None) -> bool:
    return (low is None or penalty >= low) and (high is None or penalty <= high)

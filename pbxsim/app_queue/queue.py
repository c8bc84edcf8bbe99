"""The queue model: queues, callers waiting in them, ring attempts, and the interface
the engine uses to reach a caller's channel.

These are plain state holders; what happens to them over time is `engine.QueueEngine`.
The member and queue listing orders reproduce app_queue's hash containers because they
are visible on the wire (QueueStatus, `queue show`, ringall's ring order).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from pbxsim.app_queue.config import QueueConfig
from pbxsim.app_queue.members import Member, member_hash
from pbxsim.app_queue.strategies import Candidate
from pbxsim.clock import Handle
from pbxsim.events import Fields

QUEUE_BUCKETS = 53  # MAX_QUEUE_BUCKETS: the iteration order of QueueStatus / queue show
MEMBER_BUCKETS = 37


def queue_hash(name: str) -> int:
    """ast_str_case_hash (djb2 with xor, masked to a non-negative int)."""
    h = 5381
    for ch in name.lower():
        h = ((h * 33) ^ ord(ch)) & 0xFFFFFFFF
    return h & 0x7FFFFFFF


class CallerHost(Protocol):
    """The channel side of one waiting caller. Called by the engine, in event order."""

    def caller_block(self) -> Fields: ...

    def set_var(self, name: str, value: str) -> None: ...

    def set_member_var(self, attempt: RingAttempt, name: str, value: str) -> None:
        """A variable on the member's channel (setinterfacevar & co.)."""
        ...

    def hold_start(self, musicclass: str) -> None: ...

    def hold_stop(self) -> None: ...

    def ring(self, attempt: RingAttempt) -> bool:
        """Create the member's channel. False: it could not be created (CHANUNAVAIL)."""
        ...

    def dial_begin(self, attempt: RingAttempt) -> None:
        """Start ringing; later call engine.answered(attempt) or engine.ring_failed()."""
        ...

    def dest_block(self, attempt: RingAttempt) -> Fields: ...

    def end_ring(self, attempt: RingAttempt, status: str) -> None:
        """Stop a ring attempt that did not win: NOANSWER (timed out) or CANCEL."""
        ...

    def connect(self, attempt: RingAttempt) -> None:
        """Bridge caller and member; later call engine.call_ended(entry, reason)."""
        ...

    def announce(self, sound: str) -> float:
        """Stop the music and play a periodic announcement; the seconds it lasts (the
        engine starts the music again when it is over)."""
        ...

    def finished(self, status: str | None) -> None:
        """Queue() returns. `status` is QUEUESTATUS for a caller that goes on in the
        dialplan (EXITWITHKEY: it left with a key, to where the host has already
        pointed it, and QUEUESTATUS is not set), None for a caller that is hung up (or
        already gone)."""
        ...


class RingAttempt:
    """One member actually rung for one caller (app_queue's `struct callattempt` once
    it has a channel). `stillgoing` turns False when it stops ringing."""

    __slots__ = ("channel", "entry", "member", "metric", "started", "stillgoing")

    def __init__(self, entry: QueueEntry, member: Member, metric: int, now: float) -> None:
        self.entry = entry
        self.member = member
        self.metric = metric
        self.stillgoing = True
        self.started = now
        self.channel: object | None = None  # the host's handle on the member channel


class _RoundRobin:
    __slots__ = ("rrpos", "wrapped")

    def __init__(self) -> None:
        self.rrpos = 0
        self.wrapped = False


class QueueEntry:
    """A caller in a queue (app_queue's `struct queue_ent`)."""

    __slots__ = (
        "announce_last",
        "announce_next",
        "answered_at",
        "attempts",
        "callstart",
        "candidates",
        "connected",
        "continue_on_hangup",
        "cursor",
        "expire",
        "host",
        "joined_at",
        "lin",
        "no_retry",
        "opos",
        "penalties",
        "pos",
        "prio",
        "queue",
        "reason",
        "ring_timer",
        "round_started",
        "state",
        "timer",
        "tries",
    )

    def __init__(self, queue: Queue, host: CallerHost, prio: int, now: float) -> None:
        self.queue = queue
        self.host = host
        self.prio = prio
        self.pos = 0
        self.opos = 0
        self.joined_at = now
        self.expire = 0.0
        self.attempts: list[RingAttempt] = []
        self.candidates: Sequence[Candidate] = ()
        self.cursor = 0
        self.timer: Handle | None = None
        self.ring_timer: Handle | None = None
        self.state = "waiting"  # waiting | ringing | connected | completed | gone
        self.reason = ""  # AgentComplete reason once the bridged call is over
        self.round_started = now
        self.connected: RingAttempt | None = None
        self.callstart = 0.0
        self.answered_at = 0.0
        self.lin = _RoundRobin()
        self.continue_on_hangup = False
        self.no_retry = False
        self.tries = 0
        #: QUEUE_MIN_PENALTY / QUEUE_MAX_PENALTY (None: not set)
        self.penalties: tuple[int | None, int | None] = (None, None)
        #: last_periodic_announce_time (whole seconds) and the next sound to play
        self.announce_last = int(now)
        self.announce_next = 0


class Queue:
    """One queue: its configuration, members in iteration order, callers in order."""

    def __init__(self, config: QueueConfig, seq: int) -> None:
        self.config = config
        self.name = config.name
        self.seq = seq
        self.members: list[Member] = []
        #: the same members by queue position (insertion order, what rrmemory walks)
        self.by_queuepos: list[Member] = []
        self._by_interface: dict[str, Member] = {}
        self._penalties: dict[int, int] = {}
        self._member_seq: dict[Member, int] = {}
        self._next_member_seq = 0
        self.entries: list[QueueEntry] = []
        self.rr = _RoundRobin()
        self.holdtime = 0
        self.talktime = 0
        self.completed = 0
        self.abandoned = 0
        self.completed_in_sl = 0
        self.abandoned_in_sl = 0
        #: members available by device state, pause and ringinuse (wrap-up aside),
        #: kept incrementally: every waiting caller asks once a second
        self.base_available = 0
        #: members in wrap-up in this queue -> second it ends
        self.wrapups: dict[Member, float] = {}

    @property
    def strategy(self) -> str:
        return self.config.strategy

    def find(self, interface: str) -> Member | None:
        return self._by_interface.get(interface.lower())

    def insert_member(self, member: Member) -> None:
        """Hash strategies list members by bucket (then insertion); linear/rrordered keep
        insertion order, which is what those strategies walk."""
        member.queuepos = len(self.members)
        self.by_queuepos.append(member)
        self._count_penalty(member.penalty, 1)
        self._by_interface[member.interface.lower()] = member
        self._member_seq[member] = self._next_member_seq
        self._next_member_seq += 1
        if self.strategy in ("linear", "rrordered"):
            self.members.append(member)
            return
        bucket = member_hash(member.interface) % MEMBER_BUCKETS
        index = len(self.members)
        for i, other in enumerate(self.members):
            if member_hash(other.interface) % MEMBER_BUCKETS > bucket:
                index = i
                break
        self.members.insert(index, member)

    def remove_member(self, member: Member) -> None:
        self.members.remove(member)
        self.by_queuepos.remove(member)
        self._count_penalty(member.penalty, -1)
        del self._by_interface[member.interface.lower()]
        del self._member_seq[member]
        for other in self.members:  # queue_member_decrement_followers
            if other.queuepos > member.queuepos:
                other.queuepos -= 1

    def _count_penalty(self, penalty: int, delta: int) -> None:
        count = self._penalties.get(penalty, 0) + delta
        if count:
            self._penalties[penalty] = count
        else:
            del self._penalties[penalty]

    def set_penalty(self, member: Member, penalty: int) -> None:
        self._count_penalty(member.penalty, -1)
        member.penalty = penalty
        self._count_penalty(penalty, 1)

    @property
    def uniform_penalty(self) -> int | None:
        """The penalty every member shares, or None when they differ."""
        if len(self._penalties) == 1:
            return next(iter(self._penalties))
        return None

    def service_level_perf(self) -> tuple[float, float]:
        sl = 100.0 * self.completed_in_sl / self.completed if self.completed else 0.0
        total = self.completed + self.abandoned
        sl2 = 100.0 * (self.abandoned_in_sl + self.completed_in_sl) / total if total else 0.0
        return sl, sl2

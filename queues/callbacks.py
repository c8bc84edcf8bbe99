"""Callbacks: the worklist, and virtual hold that keeps the caller's place.

Two ways in:

* virtual hold: the IVR (agi/ivr) offered a callback and recorded the caller's
  acceptance (callcenter.records' call facts); the caller stays queued. If they hang up
  before their turn, their place is kept: a task whose `due_at` is the moment they
  joined the queue. Nothing else changes in the queue: callers who joined before them
  are still served first, callers who joined after them are not.
* abandoned: a caller who waited longer than `min_wait_s` and hung up with a callable
  number joins the worklist, due now.

The dispatcher serves a task when it is its turn: with N waiting callers ahead of it
(higher priority, or same priority and joined no later), N + 1 seats of its queue are
free or finishing wrap-up: the first N go to those callers, the next one to the task.
app_queue knows nothing of the task and would hand that seat to whoever is waiting
behind it (autofill rings several callers at once), so the seat is *reserved* first:
paused with reason `callback` (visible as such on the wallboard) while still in
wrap-up, before app_queue can offer it. Then the seat is called first (AMI Originate
to the seat's interface); only once the agent answers is the caller dialed, so a
caller never picks up to silence. The Originate's channel variables name the call being
answered (`HOTLINE_CALLBACK_OF`: its Linkedid, the task's uniqueid), the number called
and the seat: the call records write the callback as an outbound record of its own,
linked to the abandoned call (callcenter/records/builder.py). The reservation ends
when the call is placed. A task is claimed with a conditional write (open -> calling),
so two service instances never call the same person twice.

The tasks are stored by the records domain (callcenter/records/callback_tasks.py, the
`CallbackTasks` interface); this module is the worklist's policy and never touches the
tables itself.

Retries: a caller who does not answer is retried `retry_s` later, up to
`max_attempts`; a seat that does not answer costs the caller no attempt.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from ami import actions
from ami.errors import AmiError
from callcenter.clock import as_utc
from callcenter.live.live_state import LiveState
from callcenter.live.node_state import Member, NodeState
from callcenter.live.seat_state import QueueWrapups, member_state, wrapup_end
from callcenter.records.callback_tasks import (
    ABANDONED,
    VIRTUAL_HOLD,
    CallbackTaskFact,
    CallbackTasks,
    NewCallbackTask,
)
from queues.watcher import Abandoned

log = logging.getLogger(__name__)

CALLABLE = re.compile(r"^\+?\d{5,20}$")
SEAT_REST_S = 60.0
STUCK_AFTER_S = 300.0
POLL_S = 0.02
POLLS_MAX = 3000  # one minute of real time at most
RESERVED = "callback"  # the pause reason of a seat reserved for a callback


@dataclass(frozen=True)
class CallbackPolicy:
    min_wait_s: float = 5.0
    max_attempts: int = 3
    retry_s: float = 600.0
    #: how the PBX reaches a caller's number from a seat ({number} is replaced)
    dial_template: str = "PJSIP/{number}@trunk"
    seat_ring_s: float = 15.0
    caller_ring_s: float = 40.0


def callable_number(number: str) -> bool:
    return bool(CALLABLE.match(number.strip()))


class CallbackWorklist:
    def __init__(
        self,
        store: CallbackTasks,
        live: LiveState,
        policy: CallbackPolicy,
        seat_of: Callable[[str], str | None],
        wrapups: QueueWrapups,
    ) -> None:
        self.store = store
        self.live = live
        self.policy = policy
        self.seat_of = seat_of
        self.wrapups = wrapups
        self._dialing: set[str] = set()  # seat interfaces with a callback being placed
        #: a seat that let a callback ring out is not asked again for a while (PBX time)
        self._resting: dict[str, float] = {}
        self._calls: set[asyncio.Task[None]] = set()
        self.served: list[int] = []  # task ids in the order their seat was rung (tests)

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self.live.clock(), UTC)

    # --- intake ----------------------------------------------------------------------
    async def on_abandoned(self, a: Abandoned) -> None:
        """SeatWatcher's abandon handler."""
        if not callable_number(a.caller):
            return
        held = await self.store.requested(a.uniqueid)
        if not held and (a.left_with_key or a.hold_s <= self.policy.min_wait_s):
            return  # out of the queue with a key (9, say) is no abandon: only on request
        now = self._now()
        task = NewCallbackTask(
            uniqueid=a.uniqueid,
            source=VIRTUAL_HOLD if held else ABANDONED,
            caller=a.caller,
            queue=a.queue,
            waited_s=a.hold_s,
            priority=a.priority,
            max_attempts=self.policy.max_attempts,
            due_at=datetime.fromtimestamp(a.joined_at, UTC) if held else now,
        )
        task_id = await self.store.add(task, now)
        if task_id is None:
            return  # this call is already on the worklist (replayed event, 2nd instance)
        log.info("callback %s: %s in %s (%s)", task_id, a.caller, a.queue, task.source)

    # --- supervisors -----------------------------------------------------------------
    async def tasks(
        self,
        status: str | None = None,
        limit: int = 500,
        after: tuple[datetime, int] | None = None,
    ) -> list[CallbackTaskFact]:
        """Tasks in line order (due_at, then id); `after` such a pair reads the next page
        (keyset: the API's cursor)."""
        return await self.store.tasks(status, limit, after)

    async def assign(self, task_id: int, seat_id: str | None) -> CallbackTaskFact | None:
        """Only `seat_id` will make this call (None: any seat of its queue)."""
        return await self.store.assign(task_id, seat_id, self._now())

    async def cancel(self, task_id: int, why: str) -> bool:
        return await self.store.cancel(task_id, why, self._now())

    # --- dispatch --------------------------------------------------------------------
    async def run(self, interval_s: float = 0.5) -> None:
        while True:
            try:
                await self.dispatch_once()
            except Exception:
                log.exception("callback dispatch failed")
            await asyncio.sleep(interval_s)

    async def dispatch_once(self) -> int:
        """Start every callback whose turn it is; returns how many were started."""
        now = self._now()
        await self._unstick(now)
        due = await self.store.due(now)
        started = 0
        blocked: set[str] = set()  # queues where an earlier task is still waiting its turn
        for task in due:
            if task.queue in blocked:
                continue
            found = self._find(task)
            if found is None:
                blocked.add(task.queue)  # later tasks of this queue are behind this one
                continue
            node_name, member = found
            if not await self._claim(task.id):
                continue
            self._dialing.add(member.interface)
            self.served.append(task.id)
            call = asyncio.create_task(self._call(task, node_name, member.interface))
            self._calls.add(call)
            call.add_done_callback(self._calls.discard)
            started += 1
        return started

    def _find(self, task: CallbackTaskFact) -> tuple[str, Member] | None:
        """(node, free member) if it is this task's turn now, else None."""
        place = as_utc(task.due_at).timestamp()
        for state in self.live.nodes.values():
            queue = state.queues.get(task.queue)
            if queue is None or state.stale:
                continue
            ahead = sum(
                1
                for e in queue.entries.values()
                if e.priority > task.priority
                or (e.priority == task.priority and e.joined_at <= place)
            )
            seats = self._reservable(state, list(queue.members.values()), task)
            if len(seats) > ahead:  # the first `ahead` seats are for those callers
                return state.node, seats[ahead]
        return None

    def _reservable(
        self, state: NodeState, members: list[Member], task: CallbackTaskFact
    ) -> list[Member]:
        """Members free now or in wrap-up, soonest free first."""
        now = self.live.clock()
        free = [
            m
            for m in members
            if m.interface not in self._dialing
            and self._resting.get(m.interface, 0.0) <= now
            and m.status in (0, 1)
            and member_state(m, now, self.wrapups) in ("available", "wrap_up")
            and not self._busy_elsewhere(state, m.interface)
            and (task.assigned_seat is None or self.seat_of(m.interface) == task.assigned_seat)
        ]
        # a member that took no call yet has been free the longest
        return sorted(free, key=lambda m: (wrapup_end(m, self.wrapups) or 0, m.penalty))

    @staticmethod
    def _busy_elsewhere(state: NodeState, interface: str) -> bool:
        """In a call, ringing or paused in any queue: not ours to take."""
        for queue in state.queues.values():
            m = queue.members.get(interface)
            if m is not None and (m.in_call or m.ringing or m.paused):
                return True
        return False

    async def _unstick(self, now: datetime) -> None:
        """A task left `calling` by an instance that died mid-call goes back in line
        (after far longer than any call attempt can take, so never while one runs)."""
        p = self.policy
        limit = now - timedelta(seconds=p.seat_ring_s + p.caller_ring_s + STUCK_AFTER_S)
        await self.store.reopen_stuck(limit, now)

    async def _claim(self, task_id: int) -> bool:
        return await self.store.claim(task_id, self._now())

    async def _call(self, task: CallbackTaskFact, node_name: str, interface: str) -> None:
        seat = self.seat_of(interface) or interface
        try:
            outcome, answered, seat_missed = await self._place(task, node_name, interface)
        except Exception as exc:  # never leave a task stuck in "calling"
            log.exception("callback %s failed", task.id)
            outcome, answered, seat_missed = f"error: {exc}", False, True
        finally:
            self._dialing.discard(interface)
        if seat_missed:
            self._resting[interface] = self.live.clock() + SEAT_REST_S
        await self._finish(task, seat, outcome, answered, seat_missed)

    async def _place(
        self, task: CallbackTaskFact, node_name: str, interface: str
    ) -> tuple[str, bool, bool]:
        node = self.live.links.get(node_name)
        if node is None or not node.connected:
            return f"PBX {node_name} not connected", False, True
        try:
            await actions.queue_pause(node, interface, True, reason=RESERVED)
        except AmiError as exc:
            return f"could not reserve seat {interface}: {exc}", False, True
        try:
            await self._wrapup_over(node_name, task.queue, interface)
            return await self._originate(task, node_name, interface)
        finally:
            await self._release(node_name, interface)

    async def _wrapup_over(self, node_name: str, queue: str, interface: str) -> None:
        queue_state = self.live.nodes[node_name].queues.get(queue)
        member = queue_state.members.get(interface) if queue_state is not None else None
        until = wrapup_end(member, self.wrapups) if member is not None else None
        if until is None:
            return
        # PBX time may run faster than ours (a simulator): poll rather than sleep it out
        for _ in range(POLLS_MAX):
            if self.live.clock() >= until:
                return
            await asyncio.sleep(POLL_S)

    async def _release(self, node_name: str, interface: str) -> None:
        """Unpause the reserved seat, unless someone paused it for another reason
        meanwhile (an agent's own break must survive the callback)."""
        node = self.live.links.get(node_name)
        state = self.live.nodes.get(node_name)
        if node is None or state is None:
            return
        reasons = {
            q.members[interface].paused_reason
            for q in state.queues.values()
            if interface in q.members and q.members[interface].paused
        }
        if reasons and reasons != {RESERVED}:
            return
        try:
            await actions.queue_pause(node, interface, False)
        except AmiError as exc:
            log.error("callback: seat %s stays paused, unpause failed: %s", interface, exc)

    async def _originate(
        self, task: CallbackTaskFact, node_name: str, interface: str
    ) -> tuple[str, bool, bool]:
        node = self.live.links[node_name]
        p = self.policy
        dial = p.dial_template.format(number=task.caller)
        try:
            result = await actions.originate(
                node,
                interface,
                application="Dial",
                data=f"{dial},{int(p.caller_ring_s)}",
                caller_id=f'"callback {task.queue}" <{task.caller}>',
                variables={
                    "HOTLINE_CALLBACK_TASK": str(task.id),
                    "HOTLINE_CALLBACK_OF": task.uniqueid,
                    "HOTLINE_CALLBACK_NUMBER": task.caller,
                    "HOTLINE_CALLBACK_SEAT": self.seat_of(interface) or "",
                },
                ring_timeout_s=p.seat_ring_s,
            )
        except AmiError as exc:
            return f"originate to seat {interface} failed: {exc}", False, True
        if not result.success:
            return f"seat {interface} did not answer (reason {result.reason})", False, True
        answered = await self._caller_answered(node_name, result.uniqueid)
        if answered:
            return f"caller answered; seat {interface}", True, False
        return f"caller did not answer; seat {interface}", False, False

    async def _caller_answered(self, node_name: str, seat_uniqueid: str) -> bool:
        """Watch the live model: the seat's channel bridged with another one = the caller
        picked up; the seat's channel gone (or a long silence) = not answered."""
        state = self.live.nodes[node_name]
        clock = self.live.clock
        deadline = clock() + self.policy.caller_ring_s + 5.0
        while clock() < deadline:
            chan = state.channels.get(seat_uniqueid)
            if chan is None:
                return False
            if chan.bridge is not None:
                bridge = state.bridges.get(chan.bridge)
                if bridge is not None and len(bridge.channels) >= 2:
                    return True
            await asyncio.sleep(POLL_S)
        return False

    async def _finish(
        self, task: CallbackTaskFact, seat: str, outcome: str, answered: bool, seat_missed: bool
    ) -> None:
        now = self._now()
        await self.store.finish_attempt(
            task.id,
            outcome,
            answered=answered,
            seat_missed=seat_missed,
            retry_at=now + timedelta(seconds=self.policy.retry_s),
            at=now,
        )
        log.info("callback %s (%s): %s", task.id, seat, outcome)

    async def stop(self) -> None:
        for call in list(self._calls):
            call.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await call

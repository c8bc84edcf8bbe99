"""Transfers and three-party calls of a call at a seat, driven over AMI.

Which AMI actions, and why (transcripts: asterisk-22.10.1/transfers/):

* **blind** -> `BlindTransfer` of the seat's channel to `<to>@hotline-transfer-targets`.
  Asterisk's own bridge transfer: the caller leaves the queue's bridge and dials the
  target, the seat is released, app_queue logs BLINDTRANSFER. A `Redirect` of the
  caller would do the same but is not a transfer to Asterisk (no BlindTransfer
  event, no queue_log/CEL transfer row for the ledger to reconcile with).
* **consult** -> `Atxfer` of the seat's channel: Asterisk holds the caller, dials the
  target through a Local channel and bridges the seat with it; **complete** hangs up
  the seat's channel (bridge_basic.c then merges the target into the caller's bridge:
  AttendedTransfer), **cancel** hangs up the target's Local `;1` (the seat returns to
  the caller). Atxfer needs features.conf's `atxfer` code and an explicit extension
  per target, both rendered (asterisk_conf.py).
* **conference** -> a dual `Redirect` of caller and seat into a ConfBridge room named
  after the call (its Linkedid) in `hotline-conference`, then `Originate` of
  `Local/<Linkedid>@hotline-conference-target/n` into the same room, whose `;2` dials
  the target through the whitelist context (`HOTLINE_TRANSFER_TO`); **leave** hangs up
  the seat's channel and the other two stay. An originated channel is a call of its own
  to Asterisk (its own Linkedid); the Local channel's name ties it to the call for the
  records and the ledger (CEL keeps channel names), and being a Local channel it is
  never taken for an inbound call by the reconciler.

Every action runs under the AMI node's action timeout (the Originate under the ring
timeout, in the background: the answer comes later, the record shows it). A refusal
is a 502 with Asterisk's message, no answer a 503.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal, TypeVar

from ami import actions
from ami.errors import ActionFailed, AmiError, NotConnected
from ami.node import PbxNode
from callcenter.live.live_state import LiveState
from callcenter.live.node_state import Call, Channel
from callcenter.records.transfer_legs import (
    CONFERENCE_CONTEXT,
    CONFERENCE_TARGET_CONTEXT,
    TARGETS_CONTEXT,
    LiveLegs,
)
from callcenter.transfers.targets import TransferTarget

log = logging.getLogger(__name__)
T = TypeVar("T")

Mode = Literal["blind", "consult", "conference"]
#: a leg in these states is still going on (callcenter.records.transfer_legs)
OPEN_STATES = frozenset({"dialing", "talking", "conference"})
MODES: tuple[Mode, ...] = ("blind", "consult", "conference")
#: a call in progress with its record's transfer legs so far; None: not in progress
LegsOf = Callable[[str, str], LiveLegs | None]
TargetSource = Callable[[], Awaitable[Mapping[str, TransferTarget]]]


class TransferError(Exception):
    status = 400


class CallNotFound(TransferError):
    status = 404


class NotAtSeat(TransferError):
    """The call is not talking to a seat (queued, in the IVR, already transferred)."""

    status = 409


class WrongState(TransferError):
    """complete/cancel without a consultation, leave without a conference, a second
    transfer while one is running."""

    status = 409


class NotATarget(TransferError):
    status = 422


class PbxRefused(TransferError):
    status = 502


class PbxUnavailable(TransferError):
    status = 503


@dataclass(frozen=True, slots=True)
class Parties:
    """A call at a seat: its node, the caller's channel and the seat's."""

    node: str
    linkedid: str
    seat: str
    caller: Channel
    seat_channel: Channel


@dataclass(frozen=True, slots=True)
class Running:
    """A transfer of a call: the `index`-th leg of its record (1-based)."""

    mode: Mode
    to: str
    started_at: float
    index: int


@dataclass
class TransferService:
    """What runs now is read from the call's record draft (`legs_of`), which every
    instance builds from the same events: a `complete` may reach another instance than
    the `transfer` did. Only a transfer whose leg has not shown yet is this instance's
    own knowledge (`grace_s`), against a second one started meanwhile."""

    live: LiveState
    targets: TargetSource
    clock: Callable[[], float]
    #: the record's legs of a call in progress or recorded
    legs_of: LegsOf
    ring_timeout_s: float = 30.0
    #: how long a started consultation/conference counts as on before its leg shows
    grace_s: float = 10.0
    _pending: dict[tuple[str, str], Running] = field(default_factory=dict, init=False)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set, init=False)

    # --- what a call looks like now ----------------------------------------------------
    def call(self, node: str, linkedid: str) -> Call | None:
        state = self.live.nodes.get(node)
        return state.calls.get(linkedid) if state is not None else None

    def parties(self, node: str, linkedid: str) -> Parties:
        """The caller and the seat talking to each other now, or NotAtSeat."""
        state = self.live.nodes.get(node)
        call = state.calls.get(linkedid) if state is not None else None
        if state is None or call is None:
            raise CallNotFound(f"no call {node}:{linkedid} in progress")
        channels = [state.channels[u] for u in call.channels if u in state.channels]
        caller = next((c for c in channels if c.uniqueid == linkedid), None)
        seat = None
        if call.agent:
            seat = next((c for c in channels if c.name.startswith(call.agent + "-")), None)
        if caller is None or seat is None or not call.seat or call.where != "talking":
            raise NotAtSeat(f"call {node}:{linkedid} is not talking to a seat (it is {call.where})")
        if caller.bridge is None or caller.bridge != seat.bridge:
            raise NotAtSeat(f"call {node}:{linkedid}: the caller and the seat are not bridged")
        return Parties(node, linkedid, call.seat, caller, seat)

    async def target(self, number: str) -> TransferTarget:
        found = (await self.targets()).get(number)
        if found is None:
            raise NotATarget(
                f"to: {number!r} is not a transfer target (units' transfer numbers and "
                "110/119/120/122 only: GET /api/v1/transfer-targets)"
            )
        return found

    def running(self, node: str, linkedid: str) -> Running | None:
        """The transfer of the call still going on: its leg in the record is open, or
        this instance started it less than `grace_s` ago and its leg has not shown yet
        (the events that make it follow the action's reply)."""
        found = self.legs_of(node, linkedid)
        legs = found.legs if found is not None else []
        pending = self._pending.get((node, linkedid))
        if pending is not None:
            if len(legs) < pending.index and self.clock() - pending.started_at < self.grace_s:
                return pending
            del self._pending[(node, linkedid)]
        if found is None or not legs or legs[-1]["state"] not in OPEN_STATES:
            return None
        leg = legs[-1]
        started = found.started_at + float(leg["started"])
        return Running(leg["kind"], leg["to"], started, len(legs))

    def seat_channel(self, node: str, linkedid: str) -> Channel | None:
        """The seat's channel in the call (the member interface that answered it)."""
        found = self.legs_of(node, linkedid)
        state = self.live.nodes.get(node)
        if found is None or state is None or not found.agent:
            return None
        prefix = found.agent + "-"
        for channel in state.channels.values():
            if channel.linkedid == linkedid and channel.name.startswith(prefix):
                return channel
        return None

    def _next_index(self, node: str, linkedid: str) -> int:
        found = self.legs_of(node, linkedid)
        return len(found.legs) + 1 if found is not None else 1

    # --- the operations --------------------------------------------------------------
    async def start(self, node: str, linkedid: str, to: str, mode: Mode) -> Running:
        """Start a transfer of the call at its seat; returns it (state dialing)."""
        if mode not in MODES:
            raise TransferError(f"mode: {mode!r} is not one of {', '.join(MODES)}")
        await self.target(to)
        if self.running(node, linkedid) is not None:
            raise WrongState(f"call {node}:{linkedid} has a transfer in progress")
        parties = self.parties(node, linkedid)
        pbx = self._node(node)
        run = Running(mode, to, self.clock(), self._next_index(node, linkedid))
        seat = parties.seat_channel.name
        if mode == "blind":
            await self._ami(actions.blind_transfer(pbx, seat, to, TARGETS_CONTEXT))
        elif mode == "consult":
            await self._ami(actions.atxfer(pbx, seat, to, TARGETS_CONTEXT))
        else:
            room = conference_room(linkedid)
            await self._ami(
                actions.redirect_both(pbx, parties.caller.name, seat, CONFERENCE_CONTEXT, room)
            )
            self._background(self._bring_in(pbx, node, linkedid, to, room, parties))
        self._pending[(node, linkedid)] = run
        return run

    async def _bring_in(
        self, pbx: PbxNode, node: str, linkedid: str, to: str, room: str, parties: Parties
    ) -> None:
        """Originate the target into the room; a failure is logged (the record shows
        a leg nobody answered)."""
        try:
            result = await actions.originate(
                pbx,
                f"Local/{room}@{CONFERENCE_TARGET_CONTEXT}/n",
                context=CONFERENCE_CONTEXT,
                exten=room,
                caller_id=parties.caller.connected_line_num or "",
                variables={"HOTLINE_TRANSFER_TO": to},
                ring_timeout_s=self.ring_timeout_s,
            )
        except AmiError as exc:
            log.warning("conference %s:%s: originate to %s failed: %s", node, linkedid, to, exc)
            return
        if not result.success:
            log.info("conference %s:%s: %s did not answer (reason %s)", node, linkedid, to,
                     result.reason)  # fmt: skip

    async def complete(self, node: str, linkedid: str) -> Running:
        """Consultation: the caller goes to the target, the seat leaves."""
        run = self._expect(node, linkedid, "consult", "no consultation in progress")
        await self._ami(actions.hangup(self._node(node), self._seat_of(node, linkedid).name))
        return run

    async def cancel(self, node: str, linkedid: str) -> Running:
        """Consultation: the target is dropped, the seat is back with the caller."""
        run = self._expect(node, linkedid, "consult", "no consultation in progress")
        local = self._target_leg(node, linkedid, run.to)
        if local is None:
            raise WrongState(f"call {node}:{linkedid}: the target's leg is gone already")
        await self._ami(actions.hangup(self._node(node), local.name))
        return run

    async def leave(self, node: str, linkedid: str) -> Running:
        """Conference: the seat leaves, caller and target stay."""
        run = self._expect(node, linkedid, "conference", "no conference in progress")
        await self._ami(actions.hangup(self._node(node), self._seat_of(node, linkedid).name))
        return run

    def _expect(self, node: str, linkedid: str, mode: Mode, missing: str) -> Running:
        run = self.running(node, linkedid)
        if run is None or run.mode != mode:
            raise WrongState(f"call {node}:{linkedid}: {missing}")
        return run

    def _seat_of(self, node: str, linkedid: str) -> Channel:
        channel = self.seat_channel(node, linkedid)
        if channel is None:
            raise WrongState(f"call {node}:{linkedid}: the agent has left it already")
        return channel

    def _target_leg(self, node: str, linkedid: str, to: str) -> Channel | None:
        """The Local `;1` Atxfer dialled the target through (it sits with the seat)."""
        state = self.live.nodes.get(node)
        if state is None:
            return None
        prefix = f"Local/{to}@{TARGETS_CONTEXT}-"
        for channel in state.channels.values():
            if channel.linkedid == linkedid and channel.name.startswith(prefix):
                if channel.name.endswith(";1"):
                    return channel
        return None

    # --- plumbing ----------------------------------------------------------------------
    def _node(self, name: str) -> PbxNode:
        node = self.live.links.get(name)
        if node is None or not node.connected:
            raise PbxUnavailable(f"PBX node {name} is not connected")
        return node

    def _background(self, work: Awaitable[None]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    @staticmethod
    async def _ami(work: Awaitable[T]) -> T:
        try:
            return await work
        except ActionFailed as exc:
            raise PbxRefused(f"Asterisk refused: {exc}") from exc
        except NotConnected as exc:
            raise PbxUnavailable(str(exc)) from exc
        except AmiError as exc:  # timeout / connection lost: it may or may not have run
            raise PbxUnavailable(f"{exc} (the action may or may not have run)") from exc


def conference_room(linkedid: str) -> str:
    """The ConfBridge room of a call: its Linkedid (unique per node, and an extension
    the `_X.` pattern of `hotline-conference` matches)."""
    return linkedid

"""Seat operations: login, logout, pause, unpause over AMI, and the restart repair.

Order of effects: Asterisk first, database second. If the PBX refuses, nothing is
recorded and the caller gets the PBX's message; if the database write failed after the
PBX accepted, the resync repair/next action converges. A login that fails half-way
removes the memberships it added, so a seat is never logged into some of its queues
without being told.

One lock per seat serializes its operations (a pause racing a logout would otherwise
leave a paused-but-logged-out row); different seats run concurrently, bounded by a
semaphore so a shift start does not put 4,500 actions on one AMI socket at once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from ami import actions
from ami.errors import ActionFailed, AmiError, NotConnected
from ami.node import PbxNode
from callcenter.legacy.queues import asterisk_queue
from callcenter.live.live_state import LiveState
from queues.catalog import penalty
from queues.errors import BadRequest, Conflict, PbxRefused, PbxUnavailable, UnknownSeat
from queues.models import Seat
from queues.repository import SeatRepository

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class RepairReport:
    node: str
    seats: int
    memberships: int
    failed: list[str]


class SeatService:
    def __init__(
        self,
        repo: SeatRepository,
        live: LiveState,
        pause_reasons: list[str],
        concurrency: int = 64,
    ) -> None:
        self.repo = repo
        self.live = live
        self.pause_reasons = list(pause_reasons)
        self._locks: dict[str, asyncio.Lock] = {}
        self._slots = asyncio.Semaphore(concurrency)
        self.repairs = 0

    # --- operations ------------------------------------------------------------------
    async def login(self, seat_id: str) -> Seat:
        async with self._lock(seat_id):
            seat = await self._seat(seat_id)
            reason = await self._join_queues(seat)
            return await self.repo.mark(seat.id, True, reason)

    async def _join_queues(self, seat: Seat) -> str | None:
        """QueueAdd into every skill queue; returns the pause reason kept (logging in
        again is not an unpause: it only puts back what is missing)."""
        node = self._node(seat)
        reason = seat.pause_reason if seat.logged_in else None
        added: list[str] = []
        try:
            for name, level in sorted(seat.skills.items()):
                queue = asterisk_queue(name)
                if await self._ami(self._add(node, seat, queue, level, reason)):
                    added.append(queue)
        except Exception:
            if not seat.logged_in:
                await self._undo(node, seat, added)
            raise
        return reason

    async def logout(self, seat_id: str) -> Seat:
        async with self._lock(seat_id):
            seat = await self._seat(seat_id)
            node = self._node(seat)
            for queue in self._member_queues(seat):
                await self._ami(actions.queue_remove(node, queue, seat.interface))
            return await self.repo.mark(seat.id, False, None)

    async def pause(self, seat_id: str, reason: str) -> Seat:
        if reason not in self.pause_reasons:
            raise BadRequest(
                f"unknown pause reason {reason!r}; allowed: {', '.join(self.pause_reasons)}"
            )
        return await self._set_pause(seat_id, reason)

    async def unpause(self, seat_id: str) -> Seat:
        return await self._set_pause(seat_id, None)

    async def _set_pause(self, seat_id: str, reason: str | None) -> Seat:
        async with self._lock(seat_id):
            seat = await self._seat(seat_id)
            if not seat.logged_in:
                raise Conflict(f"seat {seat_id} is logged out; log in first")
            node = self._node(seat)
            await self._ami(
                actions.queue_pause(node, seat.interface, reason is not None, reason=reason or "")
            )
            return await self.repo.mark(seat.id, True, reason)

    async def login_many(self, seat_ids: list[str]) -> dict[str, str]:
        """Log many seats in at once (shift start); seat id -> error for the failures.

        One read and one database transaction for all of them: at 1,500 seats a
        round trip per seat costs more than the 4,500 AMI actions."""
        seats = {s.id: s for s in await self.repo.seats()}
        errors = {s: f"no seat {s!r}" for s in seat_ids if s not in seats}
        wanted = [seats[s] for s in seat_ids if s in seats]

        async def one(seat: Seat) -> None:
            async with self._lock(seat.id):
                await self._join_queues(seat)

        results = await asyncio.gather(
            *(self._bounded(one(s)) for s in wanted), return_exceptions=True
        )
        done = []
        for seat, result in zip(wanted, results, strict=True):
            if isinstance(result, BaseException):
                errors[seat.id] = str(result)
            else:
                done.append(seat.id)
        await self.repo.mark_many(done, True)
        return errors

    # --- repair after a resync ---------------------------------------------------------
    async def repair(self, node: PbxNode) -> RepairReport:
        """Re-add what the database says is logged in but Asterisk does not have (an
        Asterisk restart drops dynamic members; `persistentmembers` does not survive a
        lost astdb or a new machine). Pause state is restored with them."""
        state = self.live.node_state(node.name)
        missing: list[tuple[Seat, str, int]] = []
        for seat in await self.repo.seats(node.name):
            if not seat.logged_in:
                continue
            for name, level in seat.skills.items():
                queue = asterisk_queue(name)
                members = state.queues.get(queue)
                if members is None or seat.interface not in members.members:
                    missing.append((seat, queue, level))
        failed: list[str] = []

        async def readd(seat: Seat, queue: str, level: int) -> None:
            try:
                await self._bounded(self._add(node, seat, queue, level, seat.pause_reason))
            except AmiError as exc:
                failed.append(f"{seat.id}@{queue}: {exc}")

        await asyncio.gather(*(readd(*item) for item in missing))
        report = RepairReport(node.name, len({s.id for s, _, _ in missing}), len(missing), failed)
        if missing:
            self.repairs += 1
            log.warning(
                "AMI %s: repaired %d logged-in seats Asterisk had lost (%d memberships "
                "re-added, %d failed)%s",
                node.name,
                report.seats,
                report.memberships - len(failed),
                len(failed),
                f": {failed[:5]}" if failed else "",
            )
        return report

    async def on_connected(self, node: PbxNode) -> None:
        """LiveState connect hook."""
        await self.repair(node)

    # --- helpers ---------------------------------------------------------------------
    def _lock(self, seat_id: str) -> asyncio.Lock:
        return self._locks.setdefault(seat_id, asyncio.Lock())

    async def _bounded(self, work: Awaitable[T]) -> T:
        async with self._slots:
            return await work

    async def _seat(self, seat_id: str) -> Seat:
        seat = await self.repo.seat(seat_id)
        if seat is None:
            raise UnknownSeat(f"no seat {seat_id!r} (provision it: callcenter seats provision)")
        return seat

    def _node(self, seat: Seat) -> PbxNode:
        node = self.live.links.get(seat.node)
        if node is None or not node.connected:
            detail = "never connected" if node is None else f"{node.state.value}: {node.detail}"
            raise PbxUnavailable(f"PBX node {seat.node} is not connected ({detail})")
        return node

    def _member_queues(self, seat: Seat) -> list[str]:
        """Its skill queues plus any other queue Asterisk has it in (an overflow, a
        membership added by hand): logout means out of everything."""
        queues = {asterisk_queue(name) for name in seat.skills}
        state = self.live.nodes.get(seat.node)
        if state is not None:
            queues.update(q.name for q in state.queues.values() if seat.interface in q.members)
        return sorted(queues)

    @staticmethod
    def _add(
        node: PbxNode, seat: Seat, queue: str, level: int, pause_reason: str | None
    ) -> Awaitable[bool]:
        return actions.queue_add(
            node,
            queue,
            seat.interface,
            member_name=seat.id,
            state_interface=seat.interface,
            penalty=penalty(level),
            paused=pause_reason is not None,
            reason=pause_reason or "",
        )

    async def _undo(self, node: PbxNode, seat: Seat, added: list[str]) -> None:
        for queue in added:
            try:
                await actions.queue_remove(node, queue, seat.interface)
            except AmiError as exc:
                log.error("seat %s: could not undo its half login in %s: %s", seat.id, queue, exc)

    @staticmethod
    async def _ami(work: Awaitable[T]) -> T:
        """AMI errors as seat errors that say which node and what it answered."""
        try:
            return await work
        except ActionFailed as exc:
            raise PbxRefused(str(exc)) from exc
        except NotConnected as exc:
            raise PbxUnavailable(str(exc)) from exc
        except AmiError as exc:  # timeout / connection lost: it may or may not have run
            raise PbxUnavailable(f"{exc} (the action may or may not have run)") from exc


def seat_lookup(seats: list[Seat]) -> Callable[[str], str | None]:
    by_interface = {s.interface: s.id for s in seats}
    return by_interface.get

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
from functools import partial
from typing import TypeVar

from ami import actions
from ami.errors import ActionFailed, AmiError, NotConnected
from ami.node import PbxNode
from callcenter.legacy.queues import QueueCatalog, asterisk_queue
from callcenter.live.live_state import LiveState
from queues.catalog import penalty
from queues.errors import (
    BadRequest,
    Conflict,
    PbxRefused,
    PbxUnavailable,
    SeatError,
    UnknownSeat,
)
from queues.models import Seat
from queues.repository import SeatRepository
from queues.seat_config import SeatUpdate, checked_update
from queues.seat_state import AUTO_PAUSE

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
        catalog: Callable[[], QueueCatalog] = QueueCatalog.default,
    ) -> None:
        """`catalog`: the queue catalogue in force (a seat's skills must name its queues)."""
        self.repo = repo
        self.live = live
        self.catalog = catalog
        self.pause_reasons = list(pause_reasons)
        self._locks: dict[str, asyncio.Lock] = {}
        self._slots = asyncio.Semaphore(concurrency)
        self.repairs = 0
        #: run after a seat's configuration changed (the interface -> seat index)
        self.changed_hooks: list[Callable[[], Awaitable[None]]] = []

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

    async def follow_floor(self, seat_id: str, auto_paused: bool) -> Seat | None:
        """Asterisk paused a seat by itself (`autopause`: it let a call ring out), or
        the agent came back from that pause outside this service (a phone key): the row
        follows, so the resync repair puts the auto-pause back rather than silently
        unpausing the seat, and the pause shows in the seat's pause history. Only an
        auto-pause is followed; pauses this service makes are recorded as it makes them.
        Returns the row when it changed."""
        async with self._lock(seat_id):
            seat = await self.repo.seat(seat_id)
            if seat is None or not seat.logged_in:
                return None
            if auto_paused and seat.pause_reason is None:
                log.info("seat %s: auto-paused by Asterisk (it let a call ring out)", seat_id)
                return await self.repo.mark(seat.id, True, AUTO_PAUSE)
            if not auto_paused and seat.pause_reason == AUTO_PAUSE:
                log.info("seat %s: unpaused on the floor after an auto-pause", seat_id)
                return await self.repo.mark(seat.id, True, None)
            return None

    async def update(self, seat_id: str, change: SeatUpdate) -> Seat:
        """Change a seat's skills, interface or node (checked as provisioning checks
        them); a logged-in seat's memberships are changed in Asterisk first.

        Asterisk first, the row second, as for every seat operation: if the PBX refuses
        a step, the steps already made are undone and the row is not written, so the
        database never claims memberships Asterisk does not have. New memberships are
        added before old ones go (a seat is never out of every queue half-way), and a
        refused QueueAdd, the likeliest failure (a queue missing on the node, a bad
        interface), comes before anything old was touched."""
        try:
            change = checked_update(change, self.live.links, self.catalog())
        except ValueError as exc:
            raise BadRequest(str(exc)) from exc
        async with self._lock(seat_id):
            seat = await self._seat(seat_id)
            skills = change.skills if change.skills is not None else dict(seat.skills)
            interface = change.interface or seat.interface
            node_name = change.node or seat.node
            owner = await self.repo.interface_owner(interface)
            if owner not in (None, seat.id):
                raise Conflict(f"interface {interface} belongs to seat {owner}")
            if seat.logged_in:
                undo: list[Callable[[], Awaitable[object]]] = []
                try:
                    await self._apply_update(seat, skills, interface, node_name, undo)
                except SeatError:
                    await self._rollback(seat, undo)
                    raise
            updated = await self.repo.update(seat.id, skills, interface, node_name)
        for hook in self.changed_hooks:
            await hook()
        return updated

    async def _apply_update(
        self,
        seat: Seat,
        skills: dict[str, int],
        interface: str,
        node_name: str,
        undo: list[Callable[[], Awaitable[object]]],
    ) -> None:
        old_node = self._node(seat)
        reason = seat.pause_reason
        wanted = {asterisk_queue(name): level for name, level in skills.items()}
        if (interface, node_name) != (seat.interface, seat.node):
            new_node = self._node_named(node_name)
            for queue, level in sorted(wanted.items()):
                if await self._ami(self._add(new_node, seat, queue, level, reason, interface)):
                    undo.append(partial(actions.queue_remove, new_node, queue, interface))
            had_now = self._penalties_now(seat)
            for queue in self._member_queues(seat):
                if await self._ami(actions.queue_remove(old_node, queue, seat.interface)):
                    undo.append(self._readd(old_node, seat, queue, had_now.get(queue, 0)))
            return
        had = {asterisk_queue(name): level for name, level in seat.skills.items()}
        now = self._penalties_now(seat)
        # a queue it is in already without the skill (an overflow) gets the skill's penalty
        repenalise = {q for q in set(wanted) & set(had) if wanted[q] != had[q]}
        for queue in sorted(set(wanted) - set(had)):
            if await self._ami(self._add(old_node, seat, queue, wanted[queue], reason)):
                undo.append(partial(actions.queue_remove, old_node, queue, interface))
            elif now.get(queue) != penalty(wanted[queue]):
                repenalise.add(queue)
        for queue in sorted(repenalise):
            await self._ami(
                actions.queue_penalty(old_node, interface, penalty(wanted[queue]), queue)
            )
            before = now.get(queue, penalty(wanted[queue]))
            undo.append(partial(actions.queue_penalty, old_node, interface, before, queue))
        for queue in sorted(set(had) - set(wanted)):
            if await self._ami(actions.queue_remove(old_node, queue, interface)):
                undo.append(self._readd(old_node, seat, queue, penalty(had[queue])))

    async def _rollback(self, seat: Seat, undo: list[Callable[[], Awaitable[object]]]) -> None:
        for step in reversed(undo):
            try:
                await step()
            except AmiError as exc:
                log.error("seat %s: could not undo a step of its refused update: %s", seat.id, exc)

    def _penalties_now(self, seat: Seat) -> dict[str, int]:
        """Asterisk queue -> the seat's penalty there: the live model's, else its skill's."""
        out = {asterisk_queue(name): penalty(level) for name, level in seat.skills.items()}
        state = self.live.nodes.get(seat.node)
        if state is not None:
            for queue in state.queues.values():
                member = queue.members.get(seat.interface)
                if member is not None:
                    out[queue.name] = member.penalty
        return out

    @staticmethod
    def _readd(
        node: PbxNode, seat: Seat, queue: str, member_penalty: int
    ) -> Callable[[], Awaitable[bool]]:
        return partial(
            actions.queue_add,
            node,
            queue,
            seat.interface,
            member_name=seat.id,
            state_interface=seat.interface,
            penalty=member_penalty,
            paused=seat.pause_reason is not None,
            reason=seat.pause_reason or "",
        )

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
        return self._node_named(seat.node)

    def _node_named(self, name: str) -> PbxNode:
        node = self.live.links.get(name)
        if node is None or not node.connected:
            detail = "never connected" if node is None else f"{node.state.value}: {node.detail}"
            raise PbxUnavailable(f"PBX node {name} is not connected ({detail})")
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
        node: PbxNode,
        seat: Seat,
        queue: str,
        level: int,
        pause_reason: str | None,
        interface: str | None = None,
    ) -> Awaitable[bool]:
        """QueueAdd of the seat, under `interface` when it is about to change to it."""
        interface = interface or seat.interface
        return actions.queue_add(
            node,
            queue,
            interface,
            member_name=seat.id,
            state_interface=interface,
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

"""Everything of the seats side, built once per process (callcenter/process/service.py wires it
into the live state and the HTTP app)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter.live.live_state import LiveState
from callcenter.records.callback_tasks import CallbackTasks, SqlCallbackTasks
from callcenter.records.history import RecordsHistory, SqlHistory
from queues.callbacks import CallbackPolicy, CallbackWorklist
from queues.catalog import QueueSpec, catalog, queue_wrapups
from queues.overflow import Overflow
from queues.priority import CallerPriority, PriorityRules
from queues.repository import SeatRepository
from queues.seat_state import StateTracker
from queues.seats import SeatService
from queues.watcher import SeatWatcher


@dataclass
class SeatsSystem:
    repo: SeatRepository
    service: SeatService
    tracker: StateTracker
    watcher: SeatWatcher
    catalog: dict[str, QueueSpec]
    #: Asterisk queue -> its wrap-up seconds: the catalog's, as every seat state uses them
    wrapups: dict[str, int]
    callbacks: CallbackWorklist
    overflow: Overflow
    priority: CallerPriority

    async def refresh_seat_index(self) -> None:
        """Interface -> seat id for the watcher (after provisioning or at start)."""
        self.watcher.seat_of = {s.interface: s.id for s in await self.repo.seats()}


def build_seats(
    sessions: async_sessionmaker[AsyncSession],
    live: LiveState,
    clock: Callable[[], datetime],
    pause_reasons: list[str],
    overflow_s: dict[str, float] | None = None,
    concurrency: int = 64,
    callback_policy: CallbackPolicy | None = None,
    priority_rules: PriorityRules | None = None,
    callback_tasks: CallbackTasks | None = None,
    history: RecordsHistory | None = None,
) -> SeatsSystem:
    """`callback_tasks`: the records domain's worklist table; `history`: what the call
    records say of callers and seats (repeat callers, calls and talk per seat). The
    process passes its records system's; by default ones on `sessions`."""
    queues = catalog(overflow_s)
    history = history if history is not None else SqlHistory(sessions)
    repo = SeatRepository(sessions, clock, history)
    wrapups = queue_wrapups(queues)
    tracker = StateTracker(wrapups)
    service = SeatService(repo, live, queues, pause_reasons, concurrency)
    priority = CallerPriority(priority_rules or PriorityRules(), history, live)
    watcher = SeatWatcher(live, tracker, on_auto_pause=service.follow_floor)
    callbacks = CallbackWorklist(
        callback_tasks if callback_tasks is not None else SqlCallbackTasks(sessions),
        live,
        callback_policy or CallbackPolicy(),
        lambda interface: watcher.seat_of.get(interface),
        wrapups,
    )
    watcher.on_abandoned = callbacks.on_abandoned
    live.connect_hooks.append(service.on_connected)
    overflow = Overflow(live, repo, queues)
    system = SeatsSystem(
        repo, service, tracker, watcher, queues, wrapups, callbacks, overflow, priority
    )
    service.changed_hooks.append(system.refresh_seat_index)
    return system

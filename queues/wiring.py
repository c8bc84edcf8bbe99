"""Everything of the seats side, built once per process (callcenter/process/service.py wires it
into the live state and the HTTP app)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter.legacy.queues import CatalogHolder, QueueCatalog
from callcenter.live.live_state import LiveState
from callcenter.records.callback_tasks import CallbackTasks, SqlCallbackTasks
from callcenter.records.history import RecordsHistory, SqlHistory
from queues.callbacks import CallbackPolicy, CallbackWorklist
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
    #: the queue catalogue in force (reloaded by the process)
    catalog: CatalogHolder
    #: Asterisk queue -> its wrap-up seconds: the catalogue's, as every seat state uses
    #: them; one dict, kept equal to the catalogue in force (`follow_wrapups`)
    wrapups: dict[str, int]
    callbacks: CallbackWorklist
    overflow: Overflow
    priority: CallerPriority

    async def refresh_seat_index(self) -> None:
        """Interface -> seat id for the watcher (after provisioning or at start)."""
        self.watcher.seat_of = {s.interface: s.id for s in await self.repo.seats()}


def follow_wrapups(catalog: CatalogHolder, wrapups: dict[str, int]) -> None:
    """Keep `wrapups` (a dict the seat states, the callback worklist and the records
    read) equal to the wrap-ups of the catalogue in force, in place."""

    def update(current: QueueCatalog) -> None:
        fresh = current.wrapups()
        for gone in set(wrapups) - set(fresh):
            del wrapups[gone]
        wrapups.update(fresh)

    catalog.on_change(update)


def build_seats(
    sessions: async_sessionmaker[AsyncSession],
    live: LiveState,
    clock: Callable[[], datetime],
    pause_reasons: list[str],
    catalog: CatalogHolder | None = None,
    concurrency: int = 64,
    callback_policy: CallbackPolicy | None = None,
    priority_rules: PriorityRules | None = None,
    callback_tasks: CallbackTasks | None = None,
    history: RecordsHistory | None = None,
) -> SeatsSystem:
    """`callback_tasks`: the records domain's worklist table; `history`: what the call
    records say of callers and seats (repeat callers, calls and talk per seat). The
    process passes its records system's; by default ones on `sessions`. `catalog`: the
    process's queue catalogue (default: the city plan's, for tests and benches)."""
    catalog = catalog if catalog is not None else CatalogHolder(QueueCatalog.default())
    history = history if history is not None else SqlHistory(sessions)
    repo = SeatRepository(sessions, clock, history)
    wrapups = catalog.current.wrapups()
    follow_wrapups(catalog, wrapups)
    tracker = StateTracker(wrapups)
    service = SeatService(repo, live, pause_reasons, concurrency, catalog)
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
    overflow = Overflow(live, repo, catalog)
    system = SeatsSystem(
        repo, service, tracker, watcher, catalog, wrapups, callbacks, overflow, priority
    )
    service.changed_hooks.append(system.refresh_seat_index)
    return system

"""The routing lookup: dialed number → unit and queue, in memory, per call.

The FastAGI handler calls `Directory.route` synchronously for every inbound call, so it
is one dict lookup in the common case (< 20 µs budget, bench/legacy_bench.py). Numbers
with a scheduled change (`effective_from` in the future) live in a small side table of
time breakpoints instead, so a cut-over happens at its time without any reload.

Every instance polls the directory_state counter (one indexed single-row read, on
SQLite and PostgreSQL alike) and reloads when another instance wrote; the instance that
writes reloads at once. When a scheduled switch time passes, the refresh loop reloads
too, which folds the switched numbers back into the plain dict and tells listeners
(the AstDB mirror) that what routes now has changed.
"""

from __future__ import annotations

import asyncio
import bisect
import logging
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from callcenter.legacy.normalize import normalize_dialed
from callcenter.legacy.plan import UnitState
from callcenter.legacy.queues import asterisk_queue
from callcenter.legacy.repository import LegacyRepository, RoutingRow, RoutingSnapshot

log = logging.getLogger(__name__)

POLL_INTERVAL_S = 1.0
Listener = Callable[[], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class LegacyRoute:
    """Where a call on an old number goes, and the unit it is reported under."""

    number: str
    unit_code: str
    unit: str
    district: str
    mode: str  # merge | dock | retain
    queue: str  # the Asterisk queue name (hotline-...)
    transfer_to: str | None
    version: int


@dataclass(frozen=True, slots=True)
class _Timeline:
    """Breakpoints of one number with scheduled changes: route[i] from times[i] on."""

    times: tuple[float, ...]
    routes: tuple[LegacyRoute | None, ...]

    def at(self, t: float) -> LegacyRoute | None:
        i = bisect.bisect_right(self.times, t) - 1
        return self.routes[i] if i >= 0 else None


class Directory:
    def __init__(
        self,
        repository: LegacyRepository,
        clock: Callable[[], datetime],
        poll_interval_s: float = POLL_INTERVAL_S,
    ) -> None:
        self.repository = repository
        self.clock = clock
        self.poll_interval_s = poll_interval_s
        self.version = -1  # the directory_state counter last loaded
        self.reloads = 0
        self._routes: dict[str, LegacyRoute] = {}
        self._timelines: dict[str, _Timeline] = {}
        self._next_switch = math.inf
        self._listeners: list[Listener] = []
        self._lock = asyncio.Lock()

    # --- the per-call lookup ---------------------------------------------------------
    def route(self, dialed_number: str, now: datetime) -> LegacyRoute | None:
        """The route in force at `now`, or None when the number is not an old one."""
        found = self._routes.get(dialed_number)
        if found is not None:
            return found
        timeline = self._timelines.get(dialed_number)
        if timeline is not None:
            return timeline.at(now.timestamp())
        number = normalize_dialed(dialed_number)
        if number is None or number == dialed_number:
            return None
        found = self._routes.get(number)
        if found is not None:
            return found
        timeline = self._timelines.get(number)
        return timeline.at(now.timestamp()) if timeline is not None else None

    def queue_map(self, now: datetime) -> dict[str, str]:
        """number → Asterisk queue of every route in force at `now` (the AstDB mirror)."""
        out = {number: r.queue for number, r in self._routes.items()}
        t = now.timestamp()
        for number, timeline in self._timelines.items():
            route = timeline.at(t)
            if route is not None:
                out[number] = route.queue
        return out

    def __len__(self) -> int:
        return len(self._routes) + len(self._timelines)

    @property
    def next_switch(self) -> datetime | None:
        if math.isinf(self._next_switch):
            return None
        return datetime.fromtimestamp(self._next_switch, tz=self.clock().tzinfo)

    # --- keeping it current ----------------------------------------------------------
    def add_listener(self, listener: Listener) -> None:
        """`listener()` is awaited after every reload that may change routing."""
        self._listeners.append(listener)

    async def reload(self) -> None:
        """Load what routes now and later from the database, then tell listeners."""
        async with self._lock:
            now = self.clock()
            snapshot = await self.repository.routing_snapshot(now)
            self._install(snapshot, now)
        for listener in self._listeners:
            try:
                await listener()
            except Exception:  # one broken listener must not stop routing updates
                log.exception("legacy directory listener failed")

    async def refresh(self) -> bool:
        """Reload if another writer changed the directory or a scheduled switch is due."""
        version = await self.repository.directory_version()
        if version != self.version or self.clock().timestamp() >= self._next_switch:
            await self.reload()
            return True
        return False

    async def run(self) -> None:
        """The polling loop of `serve` (a task); database hiccups are logged, not fatal."""
        while True:
            await asyncio.sleep(self.poll_interval_s)
            try:
                await self.refresh()
            except Exception:
                log.warning("legacy directory refresh failed", exc_info=True)

    def _install(self, snapshot: RoutingSnapshot, now: datetime) -> None:
        t_now = now.timestamp()
        by_number: dict[str, list[RoutingRow]] = {}
        for row in snapshot.rows:
            by_number.setdefault(row.number, []).append(row)
        routes: dict[str, LegacyRoute] = {}
        timelines: dict[str, _Timeline] = {}
        next_switch = math.inf
        for number, rows in by_number.items():
            current = [r for r in rows if r.effective_from.timestamp() <= t_now]
            in_force = max(current, key=lambda r: r.version) if current else None
            floor = in_force.version if in_force is not None else 0
            times = [-math.inf]
            steps = [_route(in_force, snapshot.units) if in_force is not None else None]
            pending = sorted(
                (r for r in rows if r.effective_from.timestamp() > t_now and r.version > floor),
                key=lambda r: (r.effective_from, r.version),
            )
            for row in pending:
                if row.version > floor:
                    floor = row.version
                    times.append(row.effective_from.timestamp())
                    steps.append(_route(row, snapshot.units))
            if len(times) == 1:
                if steps[0] is not None:
                    routes[number] = steps[0]
                continue
            timelines[number] = _Timeline(tuple(times), tuple(steps))
            next_switch = min(next_switch, times[1])
        self._routes, self._timelines, self._next_switch = routes, timelines, next_switch
        self.version = snapshot.directory_version
        self.reloads += 1


def _route(row: RoutingRow, units: dict[str, UnitState]) -> LegacyRoute | None:
    if row.deleted or row.unit_code is None or row.queue is None or row.mode is None:
        return None
    unit = units.get(row.unit_code)
    if unit is None:
        log.warning("legacy number %s: unit %s is gone; not routed", row.number, row.unit_code)
        return None
    return LegacyRoute(
        number=row.number,
        unit_code=unit.code,
        unit=unit.name,
        district=unit.district,
        mode=row.mode,
        queue=asterisk_queue(row.queue),
        transfer_to=row.transfer_to,
        version=row.version,
    )

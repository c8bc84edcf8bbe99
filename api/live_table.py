"""The rows the live stream last sent, and what changed since: incrementally.

A floor of 1,500 seats changes a few seats at a time, dozens of times a second; building
every seat's row for every batch (and diffing them all) was what made the stream late
(bench: ws_fanout_lag_ms). So a batch rebuilds only:
- the seats its changes name (`SeatChange`s, keyed by node and interface),
- the seats whose wrap-up has just run out: app_queue announces nothing then, so the
  table keeps when each one ends (`wrapup_ends`) and the pump wakes for it,
- the queues its changes name (their `queue`) and those the seats above are members
  of (their counts of seats by state),
- every queue once per `queues_every_s`: a queue row also changes with time alone (the
  longest wait; today's counters, kept by another subscriber of the hub). Sending every
  queue in every delta because a wait grew by 0.1 s made each delta several times
  bigger, and every one is compressed and parsed once per screen.

Everything else gets a full pass, the same `seat_rows` the REST API's numbers come from:
the first load, a `Lost` marker (changes were dropped), a node's stale/ready/snapshot
(its whole floor), a seat appearing or disappearing (the
rows keep the REST API's order), a changed list of provisioned seats, and, as a safety
net, every `full_every_s`. Rows a periodic full pass finds changed that no change named
nor wrap-up explained are counted in `full_pass_fixes` (on /metrics): it should stay 0.

Each row is also kept as its JSON text, so a delta serialises only the rows it carries
and a snapshot is a join of texts already made.
"""

from __future__ import annotations

import heapq
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, assert_never

from api.live_rows import (
    CENTRE,
    SeatFloor,
    as_json_row,
    centre_row,
    queue_rows,
    queues_of,
    screen_labels,
    seat_rows,
    seat_rows_for,
    wrapup_ends,
)
from callcenter.clock import CityTime
from callcenter.legacy.queues import directory_name
from callcenter.live.changes import (
    CallAgentDone,
    CallAnswered,
    CallEnded,
    CallerAbandoned,
    CallerJoined,
    CallerLeft,
    CallStarted,
    Change,
    NodeReady,
    NodeSnapshot,
    NodeStale,
    SeatAdded,
    SeatChanged,
    SeatRemoved,
)
from callcenter.live.live_state import LiveState
from callcenter.records.today import DayBook, DayView, SeatDay
from queues.models import Seat


def dumps(value: Any) -> str:
    """Compact JSON: every byte is compressed and sent once per screen."""
    return json.dumps(value, default=str, separators=(",", ":"))


@dataclass(frozen=True)
class RowDelta:
    """Changed rows as JSON texts, and the keys of rows that went away; whose each seat
    row is (its seat's id, None for a member no provisioned seat owns), so the stream
    can give an agent its own seat's only (api/live_sight.py)."""

    queues: list[str]
    seats: list[str]
    removed_queues: list[str]
    removed_seats: list[str]
    seat_ids: list[str | None] = field(default_factory=list)
    removed_seat_ids: list[str | None] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.queues or self.seats or self.removed_queues or self.removed_seats)


def _seat_signature(seat: Seat) -> tuple[Any, ...]:
    """What of a provisioned seat its row shows (queues/queue_views.py seat_statuses)."""
    skills = tuple(sorted(seat.skills.items())) if seat.skills else ()
    return (
        seat.id,
        seat.node,
        seat.interface,
        seat.extension,
        skills,
        seat.logged_in,
        seat.pause_reason,
        seat.changed_at,
    )


class LiveTable:
    """Queue and seat rows by key, as objects (to compare) and JSON texts (to send)."""

    def __init__(
        self,
        live: LiveState,
        seats: SeatFloor | None,
        *,
        queues_every_s: float,
        full_every_s: float,
        monotonic: Callable[[], float],
        city: CityTime,
        day: DayBook | None = None,
    ) -> None:
        self.live = live
        self.seats = seats
        #: how the rows' times are written (seats' `state_since`, `last_call`)
        self.city = city
        self.day = day
        self._day_view: DayView | None = None
        self._seat_calls: dict[str, SeatDay] | None = None
        self.queues_every_s = queues_every_s
        self.full_every_s = full_every_s
        self._monotonic = monotonic
        self.queues: dict[str, Any] = {}
        self.seat_rows: dict[str, Any] = {}
        self._queue_json: dict[str, str] = {}
        self._seat_json: dict[str, str] = {}
        self._labels_json = dumps(screen_labels())
        self._db_seats: list[Seat] = []
        self._db_by_key: dict[tuple[str, str], Seat] = {}
        self._db_signature: list[tuple[Any, ...]] = []
        #: (time on the live clock, node, interface): a wrap-up that ends then
        self._wrapups: list[tuple[float, str, str]] = []
        self._full_due = True
        self._full_at = float("-inf")
        self._queues_at = float("-inf")
        self.full_passes = 0
        self.full_pass_fixes = 0

    # --- inputs ----------------------------------------------------------------------
    def set_db_seats(self, db_seats: list[Seat]) -> None:
        """The provisioned seats, re-read now and then. Any difference in what the rows
        show of them (a login, an extension) means a full pass: their order and the
        offline rows depend on the whole list."""
        signature = [_seat_signature(s) for s in db_seats]
        if signature != self._db_signature:
            self._full_due = True
        self._db_seats, self._db_signature = db_seats, signature
        # by (node, interface), the last one winning as in seat_statuses: a batch hands
        # on its few seats without reading 1,500 ORM objects' attributes
        self._db_by_key = {(s.node, s.interface): s for s in db_seats}

    def next_wrapup_end(self) -> float | None:
        """When (live clock) the earliest known wrap-up runs out, if any."""
        return self._wrapups[0][0] if self._wrapups else None

    # --- the update ------------------------------------------------------------------
    def update(self, changes: Sequence[Change], *, full: bool = False) -> RowDelta:
        """Bring the rows up to date after `changes` (`full`: after a `Lost`) and say
        what differs from the rows sent before."""
        now = self.live.clock()
        self._day_view = self.day.view() if self.day is not None else None
        self._seat_calls = self.day.seats() if self.day is not None else None
        full = full or self._full_due
        named: set[tuple[str, str]] = set()
        named_queues: set[str] = set()
        for change in changes:
            match change:
                case SeatAdded() | SeatChanged() | SeatRemoved():
                    named.add((change.node, change.interface))
                    named_queues.add(change.queue)
                case CallerJoined() | CallerAbandoned() | CallerLeft():
                    named_queues.add(change.queue)
                case CallAnswered() | CallAgentDone():
                    named_queues.add(change.queue)
                case CallStarted() | CallEnded():
                    pass
                case NodeStale() | NodeReady() | NodeSnapshot():
                    full = True  # the node's whole floor
                case _:
                    assert_never(change)
        named |= self._expired_wrapups(now)
        named_queues |= queues_of(self.live, named)
        every_queue = full or self._monotonic() - self._queues_at >= self.queues_every_s
        queues, removed_queues = self._update_queues(now, None if every_queue else named_queues)
        if full:
            seats = self._full_seats(now, None)
        elif self._monotonic() - self._full_at >= self.full_every_s:
            seats = self._full_seats(now, named)
        else:
            incremental = self._update_seats(named, now)
            if incremental is None:  # a seat came or went: the order is the full pass's
                seats = self._full_seats(now, None)
            else:
                seats = _SeatDelta(*incremental, [], [])
        queues += self._update_centre()
        return RowDelta(
            queues, seats.texts, removed_queues, seats.removed, seats.ids, seats.removed_ids
        )

    def _update_centre(self) -> list[str]:
        """The centre's row (the last of the queue rows) when it changed."""
        row = centre_row(self.queues.values(), self.seat_rows.values(), self._day_view)
        if self.queues.get(CENTRE) == row:
            return []
        self.queues[CENTRE] = row
        self._queue_json[CENTRE] = dumps(as_json_row(CENTRE, row))
        return [self._queue_json[CENTRE]]

    def _update_queues(self, now: float, named: set[str] | None) -> tuple[list[str], list[str]]:
        """`named`: only the rows of queues of these Asterisk names (on any node); all of
        them when None or when one of those appeared (the rows keep the REST API's order)."""
        if named is not None:
            if not named:
                return [], []
            rows = queue_rows(self.live, self.seats, now, named, self._day_view)
            keys = sorted(set(rows) | {k for k, r in self.queues.items() if r.asterisk in named})
            if any((key in rows) != (key in self.queues) for key in keys):
                return self._update_queues(now, None)  # before any row is replaced
            changed: list[str] = []
            for key in keys:
                row = rows.get(key)
                if row is None or self.queues[key] == row:
                    continue
                self.queues[key] = row
                self._queue_json[key] = dumps(as_json_row(key, row))
                changed.append(self._queue_json[key])
            return changed, []
        self._queues_at = self._monotonic()
        rows = queue_rows(self.live, self.seats, now, None, self._day_view)
        if CENTRE in self.queues:  # kept, and compared, by _update_centre
            rows[CENTRE] = self.queues[CENTRE]
        old, old_json = self.queues, self._queue_json
        texts: dict[str, str] = {}
        changed = []
        for key, row in rows.items():
            if old.get(key) == row:
                texts[key] = old_json[key]
            else:
                texts[key] = dumps(as_json_row(key, row))
                changed.append(texts[key])
        removed = [key for key in old if key not in rows]
        self.queues, self._queue_json = rows, texts
        return changed, removed

    def _update_seats(
        self, named: set[tuple[str, str]], now: float
    ) -> tuple[list[str], list[str | None]] | None:
        """The named seats' rows (and their seats' ids), or None when one of them
        appeared or went away."""
        if not named:
            return [], []
        own = [self._db_by_key[key] for key in sorted(named) if key in self._db_by_key]
        rows = seat_rows_for(self.live, self.seats, own, now, named, self.city, self._seat_calls)
        keys = sorted(f"{node}|{interface}" for node, interface in named)
        if any((key in rows) != (key in self.seat_rows) for key in keys):
            return None
        changed: list[str] = []
        ids: list[str | None] = []
        for key in keys:
            row = rows.get(key)
            if row is None or self.seat_rows[key] == row:
                continue
            self.seat_rows[key] = row
            self._seat_json[key] = dumps(as_json_row(key, row))
            changed.append(self._seat_json[key])
            ids.append(row.id)
        for entry in wrapup_ends(self.live, self.seats, named, now):
            heapq.heappush(self._wrapups, entry)
        return changed, ids

    def _full_seats(self, now: float, explained: set[tuple[str, str]] | None) -> _SeatDelta:
        """Every seat row. `explained`: on a periodic safety pass, the seats this batch
        named; any other row found changed is one the incremental path missed."""
        rows = seat_rows(self.live, self.seats, self._db_seats, now, self.city, self._seat_calls)
        old, old_json = self.seat_rows, self._seat_json
        changed: list[str] = []
        texts: dict[str, str] = {}
        differ: list[Any] = []
        for key, row in rows.items():
            if old.get(key) == row:
                texts[key] = old_json[key]
                continue
            texts[key] = dumps(as_json_row(key, row))
            changed.append(texts[key])
            differ.append(row)
        removed = [key for key in old if key not in rows]
        delta = _SeatDelta(
            changed, [r.id for r in differ], removed, [old[key].id for key in removed]
        )
        if explained is not None:
            differ += [old[key] for key in removed]
            self.full_pass_fixes += sum((r.node, r.interface) not in explained for r in differ)
        self.seat_rows, self._seat_json = rows, texts
        self._wrapups = wrapup_ends(
            self.live, self.seats, [(r.node, r.interface) for r in rows.values()], now
        )
        heapq.heapify(self._wrapups)
        self._full_due = False
        self._full_at = self._monotonic()
        self.full_passes += 1
        return delta

    def _expired_wrapups(self, now: float) -> set[tuple[str, str]]:
        out = set()
        while self._wrapups and self._wrapups[0][0] <= now:
            _, node, interface = heapq.heappop(self._wrapups)
            out.add((node, interface))
        return out

    # --- serialised views ------------------------------------------------------------
    def snapshot_json(self, seq: int, epoch: str, *, only_seat: str | None = None) -> str:
        """`{"type": "snapshot", ...}` from the rows' texts (no row serialised again),
        with the words screens show for the codes rows carry (`labels`); `only_seat`:
        the seat rows of this seat id only (an agent's)."""
        seats: Iterable[str]
        if only_seat is None:
            seats = self._seat_json.values()
        else:
            seats = (t for k, t in self._seat_json.items() if self.seat_rows[k].id == only_seat)
        return (
            f'{{"type":"snapshot","seq":{seq},"epoch":{dumps(epoch)},'
            f'"queues":[{",".join(self._queue_json.values())}],'
            f'"seats":[{",".join(seats)}],"labels":{self._labels_json}}}'
        )


@dataclass(frozen=True, slots=True)
class _SeatDelta:
    texts: list[str]
    ids: list[str | None]
    removed: list[str]
    removed_ids: list[str | None]


def wire(change: Change, city: CityTime) -> dict[str, Any]:
    """A change as the stream sends it: its `at` written by `city`, its queue named as
    the rows name it."""
    data = change.wire()
    data["at"] = city.iso(change.at)
    queue = data["data"].get("queue")
    if queue is not None:
        data["data"]["queue"] = directory_name(queue)
    return data


def delta_json(seq: int, changes: Sequence[Change], delta: RowDelta, city: CityTime) -> str:
    """`{"type": "delta", ...}` with every row and every change as they are (numbers
    whole: what each screen may see is api/live_sight.py's)."""
    return delta_text(seq, dumps([wire(c, city) for c in changes]), delta)


def delta_text(
    seq: int,
    changes: str,
    delta: RowDelta,
    seats: Sequence[str] | None = None,
    removed_seats: Sequence[str] | None = None,
) -> str:
    """`{"type": "delta", ...}` from texts already made: `changes` (a JSON list), the
    rows of `delta`, its seat rows and removed seats unless others are given."""
    removed = dumps(
        {
            "queues": delta.removed_queues,
            "seats": delta.removed_seats if removed_seats is None else removed_seats,
        }
    )
    return (
        f'{{"type":"delta","seq":{seq},"changes":{changes},'
        f'"queues":[{",".join(delta.queues)}],'
        f'"seats":[{",".join(delta.seats if seats is None else seats)}],'
        f'"removed":{removed}}}'
    )

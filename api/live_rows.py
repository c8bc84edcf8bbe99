"""The rows the live stream and the wallboard show: one per queue, one per seat.

Built from the same functions as `GET /api/v1/queues` and `GET /api/v1/seats`
(views.py, queues/views.py), so the stream and the REST API never disagree. Rows are
keyed `node|name` (queues) and `node|interface` (seats): one PBX interface may exist on
two nodes.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from callcenter.live.live import LiveState
from callcenter.live.views import queue_views, seat_views
from queues.models import Seat
from queues.views import seat_counts, seat_statuses
from queues.wiring import SeatsSystem


@dataclass(frozen=True)
class QueueToday:
    offered: int
    answered: int
    abandoned: int
    sl15: float | None
    answer_rate: float | None


@dataclass(frozen=True)
class QueueRow:
    """What a supervisor's screen needs of a queue; `today` is None without the seats
    system (a bare live model has no per-day counters)."""

    key: str
    node: str
    name: str
    stale: bool
    waiting: int
    longest_wait_s: float
    members: int
    seats: dict[str, int]
    today: QueueToday | None


def queue_rows(live: LiveState, seats: SeatsSystem | None, now: float) -> dict[str, QueueRow]:
    states = [live.nodes[name] for name in sorted(live.nodes)]
    wrapups = {spec.asterisk: spec.wrapup_s for spec in seats.catalog.values()} if seats else {}
    rows: dict[str, QueueRow] = {}
    for view in queue_views(states, now):
        queue = live.nodes[view.node].queues[view.name]
        today = None
        if seats is not None:
            day = seats.today.get(view.name, now)
            today = QueueToday(day.offered, day.answered, day.abandoned, day.sl15, day.answer_rate)
        key = f"{view.node}|{view.name}"
        rows[key] = QueueRow(
            key=key,
            node=view.node,
            name=view.name,
            stale=view.stale,
            waiting=view.waiting,
            longest_wait_s=view.longest_wait_s,
            members=view.members,
            seats=seat_counts(queue, now, wrapups.get(view.name, 0)),
            today=today,
        )
    return rows


def seat_rows(
    live: LiveState, seats: SeatsSystem | None, db_seats: list[Seat], now: float
) -> dict[str, Any]:
    """Seat objects by key: `SeatStatus` with the seats system (offline seats too, as
    `GET /api/v1/seats`), else the live model's `SeatView`. Compared with == to send
    only what changed."""
    states = [live.nodes[name] for name in sorted(live.nodes)]
    items: list[Any]
    if seats is None:
        items = list(seat_views(states, now))
    else:
        items = list(seat_statuses(db_seats, states, seats.tracker, now))
    return {f"{item.node}|{item.interface}": item for item in items}


def as_json_row(key: str, row: Any) -> dict[str, Any]:
    data = asdict(row)
    data["key"] = key
    return data

"""The rows the live stream and the wallboard show: one per queue, one per seat.

Built from the same functions as `GET /api/v1/queues` and `GET /api/v1/seats`
(callcenter/live/live_views.py, queues/queue_views.py), so the stream and the REST API
never disagree. Rows are keyed `node|name` (queues, by the directory's name) and
`node|interface` (seats): one PBX interface may exist on two nodes. A queue row names its
queue as the REST API does: the directory's `name`, `display` names, and `asterisk`.

`seat_rows_for` gives the rows of a few seats only (the ones a batch of changes named)
by running those same functions on a projection of the model that holds just their
memberships, so the stream's incremental path cannot drift from the full one.
`wrapup_ends` says when a seat's row can change with no event at all (app_queue
announces nothing when wrap-up runs out). Seat rows are `GET /api/v1/seats`' rows,
with or without the seats system, their times written by the stream's `CityTime`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any, Protocol

from callcenter.clock import CityTime
from callcenter.legacy.queues import CatalogHolder, Display, QueueCatalog
from callcenter.live.live_state import LiveState
from callcenter.live.live_views import queue_view
from callcenter.live.node_state import NodeState, Queue
from callcenter.live.seat_state import SEAT_STATES, QueueWrapups, seat_counts, wrapup_end
from callcenter.records.kpi import Figures, Tally
from callcenter.records.today import DayView, SeatDay
from queues.models import Seat
from queues.pause_labels import PAUSE_LABELS
from queues.queue_views import SeatStatus, seat_statuses
from queues.repository import SeatRepository
from queues.seat_state import StateTracker


class SeatFloor(Protocol):
    """What the stream's rows need of the seats side: the provisioned seats, since
    when each is in its state and the queues' wrap-ups."""

    @property
    def repo(self) -> SeatRepository: ...

    @property
    def tracker(self) -> StateTracker: ...

    @property
    def wrapups(self) -> QueueWrapups: ...

    @property
    def catalog(self) -> CatalogHolder: ...


@dataclass(frozen=True)
class QueueRow:
    """What a supervisor's screen needs of a queue, or of the whole centre (key
    `centre`: its callers waiting, its seats each counted once, its day); `today` is
    None without the day's figures (a bare live model has none)."""

    key: str
    node: str
    name: str
    display: Display
    asterisk: str
    stale: bool
    waiting: int
    longest_wait_s: float
    members: int
    seats: dict[str, int]
    today: Figures | None


CENTRE = "centre"
CENTRE_DISPLAY = Display(zh="全中心", en="Whole centre")
_NO_CALLS = Tally().figures()


def queue_rows(
    live: LiveState,
    seats: SeatFloor | None,
    now: float,
    only: set[str] | None = None,
    day: DayView | None = None,
) -> dict[str, QueueRow]:
    """Every queue, or `only` those of these Asterisk names, on every node; `day`: the
    day so far (records.today), whose figures each row carries."""
    wrapups = _wrapups(seats)
    catalog = queue_catalog(seats)
    rows: dict[str, QueueRow] = {}
    for node in sorted(live.nodes):
        state = live.nodes[node]
        for name in sorted(state.queues):
            if only is not None and name not in only:
                continue
            queue = state.queues[name]
            counts = seat_counts(queue, now, wrapups)
            # the counts handed in: queue_view would count the members a second time
            view = queue_view(state, queue, now, counts)
            today = day.queues.get(name, _NO_CALLS) if day is not None else None
            named = catalog.shown(name)
            key = f"{node}|{named.name}"
            rows[key] = QueueRow(
                key=key,
                node=node,
                name=named.name,
                display=named.display,
                asterisk=named.asterisk,
                stale=view.stale,
                waiting=view.waiting,
                longest_wait_s=view.longest_wait_s,
                members=view.members,
                seats=counts,
                today=today,
            )
    return rows


def centre_row(queues: Iterable[QueueRow], seats: Iterable[Any], day: DayView | None) -> QueueRow:
    """The whole centre (全中心): callers waiting in every queue, each seat once by its
    state (a seat in three queues is one seat on a call, not three), the day's
    centre-wide figures."""
    rows = [q for q in queues if q.key != CENTRE]
    counts = dict.fromkeys(SEAT_STATES, 0)
    members = 0
    for seat in seats:
        if seat.state in counts:
            counts[seat.state] += 1
            members += 1
    return QueueRow(
        key=CENTRE,
        node="",
        name=CENTRE,
        display=CENTRE_DISPLAY,
        asterisk="",
        stale=any(q.stale for q in rows),
        waiting=sum(q.waiting for q in rows),
        longest_wait_s=max((q.longest_wait_s for q in rows), default=0.0),
        members=members,
        seats=counts,
        today=day.centre if day is not None else None,
    )


def seat_rows(
    live: LiveState,
    seats: SeatFloor | None,
    db_seats: list[Seat],
    now: float,
    city: CityTime,
    calls: Mapping[str, SeatDay] | None = None,
) -> dict[str, SeatStatus]:
    """Seat rows by key, as `GET /api/v1/seats` gives them (offline provisioned seats
    too, with the seats system), times written by `city`, `calls`: each seat's calls
    today (records.today `DayBook.seats`). Compared with == to send only what changed."""
    states = [live.nodes[name] for name in sorted(live.nodes)]
    return _by_key(_statuses(seats, db_seats, states, now, city, calls))


def seat_rows_for(
    live: LiveState,
    seats: SeatFloor | None,
    db_seats: list[Seat],
    now: float,
    keys: Iterable[tuple[str, str]],
    city: CityTime,
    calls: Mapping[str, SeatDay] | None = None,
) -> dict[str, SeatStatus]:
    """`seat_rows` restricted to these (node, interface) seats: equal, key for key, to
    what `seat_rows` gives for them. A key that has no row (no membership on the PBX
    and no provisioned seat) is absent."""
    wanted: dict[str, set[str]] = {}
    for node, interface in keys:
        wanted.setdefault(node, set()).add(interface)
    states = [_project(live.nodes[n], wanted[n]) for n in sorted(wanted) if n in live.nodes]
    own = [s for s in db_seats if s.interface in wanted.get(s.node, ())]
    return _by_key(_statuses(seats, own, states, now, city, calls))


def _statuses(
    seats: SeatFloor | None,
    db_seats: list[Seat],
    states: list[NodeState],
    now: float,
    city: CityTime,
    calls: Mapping[str, SeatDay] | None,
) -> list[SeatStatus]:
    if seats is None:
        return seat_statuses([], states, None, now, city, calls, catalog=queue_catalog(None))
    return seat_statuses(
        db_seats, states, seats.tracker, now, city, calls, catalog=queue_catalog(seats)
    )


def _by_key(items: list[SeatStatus]) -> dict[str, SeatStatus]:
    return {f"{item.node}|{item.interface}": item for item in items}


def _project(state: NodeState, interfaces: set[str]) -> NodeState:
    """The node as the seat views see it, reduced to these interfaces' memberships
    (queue order and every member field as they are: the same objects)."""
    part = NodeState(state.node, state.clock)
    part.stale = state.stale
    for name, queue in state.queues.items():
        members = {i: m for i in interfaces if (m := queue.members.get(i)) is not None}
        if members:
            part.queues[name] = Queue(name, members=members)
    return part


def wrapup_ends(
    live: LiveState, seats: SeatFloor | None, keys: Iterable[tuple[str, str]], now: float
) -> list[tuple[float, str, str]]:
    """(time, node, interface) after `now` when a membership's wrap-up runs out, so its
    seat's row may change without any event."""
    wrapups = _wrapups(seats)
    out: list[tuple[float, str, str]] = []
    for node, interface in keys:
        state = live.nodes.get(node)
        if state is None:
            continue
        for queue in state.queues.values():
            m = queue.members.get(interface)
            ends = wrapup_end(m, wrapups) if m is not None else None
            if ends is not None and ends > now:
                out.append((float(ends), node, interface))
    return out


def queue_catalog(seats: SeatFloor | None) -> QueueCatalog:
    """The catalogue in force: the seats system's (a bare live model, without one, is
    named by the city plan's)."""
    return seats.catalog.current if seats is not None else QueueCatalog.default()


def _wrapups(seats: SeatFloor | None) -> QueueWrapups:
    """The queues' own wrap-ups: the seats system's catalog (none without it)."""
    return seats.wrapups if seats is not None else {}


def queues_of(live: LiveState, keys: Iterable[tuple[str, str]]) -> set[str]:
    """Asterisk names of the queues these (node, interface) seats are members of: the
    rows whose counts of seats by state a change of theirs can move."""
    out: set[str] = set()
    for node, interface in keys:
        state = live.nodes.get(node)
        if state is None:
            continue
        out.update(name for name, q in state.queues.items() if interface in q.members)
    return out


def as_json_row(key: str, row: Any) -> dict[str, Any]:
    data = asdict(row)
    data["key"] = key
    return data


def screen_labels() -> dict[str, Any]:
    """The words a screen shows for codes the rows carry, by language: a seat's pause
    reasons (`state_reason`, `paused_reason`: codes joined by ", "). Sent with every
    snapshot, so the page translates from the service's one table
    (queues/pause_labels.py) and shows a code it has no words for as it is."""
    return {"pause_reasons": {code: asdict(label) for code, label in PAUSE_LABELS.items()}}

"""What the seats and queues endpoints show: database seats joined with their live
state, and queues with their catalog parameters, today's counters and held callbacks.

The live model names queues as Asterisk does (`hotline-housing`); what is shown names
them by the directory (`housing`), with display names for screens and the Asterisk name
for operators (`named_queue`, `named_memberships`: the catalog's one translation).

Callers' numbers are shown as callcenter/privacy.py says for live views (`viewer`):
a waiting caller or one held for a callback is nobody's call yet, so only admin sees
the number whole; everyone else, masked.

Pure functions of already-loaded data (no I/O), so the HTTP handlers and the bench
measure the same code.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace

from callcenter.clock import CityTime, as_utc
from callcenter.legacy.queues import Display, QueueCatalog
from callcenter.live.live_views import QueueView, SeatQueue, SeatView, queue_view, seat_views
from callcenter.live.node_state import NodeState, Queue
from callcenter.live.seat_state import SEAT_STATES, seat_counts
from callcenter.privacy import NO_NUMBER, Viewer, live_caller
from callcenter.records.kpi import Figures
from callcenter.records.today import NO_CALLS, SeatDay
from queues.catalog import QueueSpec
from queues.models import Seat
from queues.seat_state import OFFLINE, SeatState, StateTracker


@dataclass(frozen=True)
class QueueNow(QueueView):
    """A queue now, as shown: `name` is the directory's (`housing`), `display` its name
    on screens, `asterisk` Asterisk's (`hotline-housing`)."""

    display: Display
    asterisk: str


def waiting_caller_shown(viewer: Viewer) -> Callable[[str], str]:
    """A waiting caller's number as `viewer` may see it (privacy.py: a waiting caller
    is no seat's call yet), for the live views to apply as they build each caller."""
    return lambda number: live_caller(number, False, "", viewer)


def named_queue(view: QueueView, catalog: QueueCatalog) -> QueueNow:
    """The queue named by the directory (its callers' numbers were shown as the viewer
    may see them when the view was built: `waiting_caller_shown`)."""
    name = catalog.shown(view.name)
    fields = vars(view) | {"name": name.name}
    return QueueNow(**fields, display=name.display, asterisk=name.asterisk)


@dataclass(slots=True)
class SeatMembership:
    """A seat's membership of a queue (the live model's `SeatQueue`), as shown: `queue`
    is the directory's name. Not frozen: one is built for every membership on every
    full refresh of the floor (4,500 for 1,500 seats), and a frozen dataclass costs
    several times as much to build."""

    queue: str
    display: Display
    asterisk: str
    penalty: int
    paused: bool
    paused_reason: str


def named_memberships(queues: list[SeatQueue], catalog: QueueCatalog) -> list[SeatMembership]:
    out = []
    for m in queues:
        name = catalog.shown(m.queue)
        out.append(
            SeatMembership(
                name.name,
                name.display,
                name.asterisk,
                m.penalty,
                m.paused,
                m.paused_reason,
            )
        )
    return out


@dataclass(frozen=True)
class SeatStatus:
    """A seat: the database's record (id/extension/skills/should-be state) and the live
    fields of /api/v1/seats (what Asterisk has). `id` is None for a queue member that no
    provisioned seat owns (added by hand on the PBX)."""

    id: str | None
    extension: str | None
    skills: dict[str, int]
    logged_in: bool  # database: the seat should be logged in
    pause_reason_db: str | None
    state: str
    state_reason: str
    #: since when the seat is in its state (ISO 8601, city time with offset)
    state_since: str | None
    node: str
    interface: str
    name: str
    status: int = 0
    status_text: str = "offline"
    paused: bool = False
    paused_reason: str = ""
    in_call: bool = False
    #: today's calls the seat answered and their talk time, from the records and the
    #: call in progress (records.today), never app_queue's per-queue counters
    calls_today: int = 0
    talk_today_s: float = 0.0
    #: when its last call ended (ISO 8601, city time with offset); None: none yet
    last_call: str | None = None
    state_interface: str = ""
    stale: bool = False
    queues: list[SeatMembership] = field(default_factory=list)


def _from_live(
    seat: Seat | None,
    view: SeatView,
    tracked: SeatState | None,
    city: CityTime,
    day: SeatDay,
    catalog: QueueCatalog,
) -> SeatStatus:
    """`tracked`: the tracker's state, reason and since (the view knows no since);
    built once, not built and then `replace`d: this runs for every seat on every full
    refresh of the floor."""
    if tracked is None:
        state, reason, since = (
            view.state,
            view.paused_reason if view.state == "paused" else "",
            None,
        )
    else:
        state, reason, since = tracked.state, tracked.reason, tracked.since
    return SeatStatus(
        id=seat.id if seat else None,
        extension=seat.extension if seat else None,
        skills=dict(seat.skills) if seat else {},
        logged_in=seat.logged_in if seat else True,
        pause_reason_db=seat.pause_reason if seat else None,
        state=state,
        state_reason=reason,
        state_since=city.iso_or_none(since),
        node=view.node,
        interface=view.interface,
        name=view.name,
        status=view.status,
        status_text=view.status_text,
        paused=view.paused,
        paused_reason=view.paused_reason,
        in_call=view.in_call,
        calls_today=day.calls,
        talk_today_s=day.talk_s,
        last_call=city.iso(view.last_call) if view.last_call else None,
        state_interface=view.state_interface,
        stale=view.stale,
        queues=named_memberships(view.queues, catalog),
    )


def seat_statuses(
    seats: list[Seat],
    states: list[NodeState],
    tracker: StateTracker | None,
    now: float,
    city: CityTime,
    calls: Mapping[str, SeatDay] | None = None,
    *,
    catalog: QueueCatalog,
) -> list[SeatStatus]:
    """Every seat, its times written by `city` (the one format the API returns);
    `calls`: today's calls and talk time by seat id (records.today `DayBook.seats`);
    `catalog`: how to name the queues of each seat's memberships."""
    day = calls or {}
    by_key = {(s.node, s.interface): s for s in seats}
    out: list[SeatStatus] = []
    seen: set[tuple[str, str]] = set()
    by_node = {s.node: s for s in states}
    wrapups = tracker.wrapups if tracker is not None else {}
    for view in seat_views(states, now, wrapups):
        key = (view.node, view.interface)
        seen.add(key)
        tracked = None
        if tracker is not None:
            tracked = tracker.current(by_node[view.node], view.interface, now)
        seat = by_key.get(key)
        seat_day = day.get(seat.id if seat else view.name, NO_CALLS)
        out.append(_from_live(seat, view, tracked, city, seat_day, catalog))
    for seat in seats:
        if (seat.node, seat.interface) in seen:
            continue
        state = by_node.get(seat.node)
        # offline since the database recorded the logout (or the provisioning)
        since: float | None = as_utc(seat.changed_at).timestamp() if not seat.logged_in else None
        if tracker is not None and state is not None and since is None:
            since = tracker.current(state, seat.interface, now).since
        out.append(
            SeatStatus(
                id=seat.id,
                extension=seat.extension,
                skills=dict(seat.skills),
                logged_in=seat.logged_in,
                pause_reason_db=seat.pause_reason,
                state=OFFLINE,
                state_reason="",
                state_since=city.iso_or_none(since),
                node=seat.node,
                interface=seat.interface,
                name=seat.id,
                calls_today=day.get(seat.id, NO_CALLS).calls,
                talk_today_s=day.get(seat.id, NO_CALLS).talk_s,
                stale=state.stale if state is not None else True,
            )
        )
    out.sort(key=lambda s: (s.extension or "~", s.interface))
    return out


@dataclass(frozen=True)
class HeldCallback:
    """A caller who took the callback offer and hung up: waiting without a channel."""

    task_id: int
    caller: str
    waited_s: float
    priority: int


@dataclass(frozen=True)
class QueueLive:
    name: str
    display: Display
    asterisk: str
    strategy: str
    wrapup_s: int
    ring_timeout_s: int
    overflow_after_s: float | None
    live: QueueNow | None
    #: seats by state: `live`'s counts (all 0 while the queue is on no node)
    seats: dict[str, int]
    held_callbacks: list[HeldCallback]
    #: the city day so far: finished calls and calls in progress (records.today)
    today: Figures


def queue_live(
    spec: QueueSpec,
    states: list[NodeState],
    today: Figures,
    held: list[HeldCallback],
    now: float,
    viewer: Viewer = NO_NUMBER,
    *,
    catalog: QueueCatalog,
) -> QueueLive:
    """One queue as `viewer` sees it: the callers waiting and those held for a callback
    with their numbers shown as privacy.py says (nobody's call yet); named by `catalog`."""
    view: QueueNow | None = None
    seats = dict.fromkeys(SEAT_STATES, 0)
    for state in states:  # one queue lives on one node (app_queue's limit)
        queue: Queue | None = state.queues.get(spec.asterisk)
        if queue is not None:
            seats = seat_counts(queue, now, {spec.asterisk: spec.wrapup_s})
            shown_view = queue_view(state, queue, now, seats, waiting_caller_shown(viewer))
            view = named_queue(shown_view, catalog)
            break
    return QueueLive(
        name=spec.name,
        display=catalog.shown(spec.asterisk).display,
        asterisk=spec.asterisk,
        strategy=view.strategy if view and view.strategy else spec.strategy,
        wrapup_s=spec.wrapup_s,
        ring_timeout_s=spec.ring_timeout_s,
        overflow_after_s=spec.overflow_after_s,
        live=view,
        seats=seats,
        held_callbacks=[replace(h, caller=live_caller(h.caller, False, "", viewer)) for h in held],
        today=today,
    )

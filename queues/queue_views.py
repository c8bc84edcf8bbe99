"""What the seats and queues endpoints show: database seats joined with their live
state, and queues with their catalog parameters, today's counters and held callbacks.

Pure functions of already-loaded data (no I/O), so the HTTP handlers and the bench
measure the same code.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from callcenter.clock import CityTime, as_utc
from callcenter.live.live_views import QueueView, SeatQueue, SeatView, queue_view, seat_views
from callcenter.live.node_state import NodeState, Queue
from callcenter.live.seat_state import SEAT_STATES, seat_counts
from callcenter.records.kpi import TodayCounters
from queues.catalog import QueueSpec
from queues.models import Seat
from queues.seat_state import OFFLINE, SeatState, StateTracker


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
    calls_taken: int = 0
    #: when its last call ended (ISO 8601, city time with offset); None: none yet
    last_call: str | None = None
    state_interface: str = ""
    stale: bool = False
    queues: list[SeatQueue] = field(default_factory=list)


def _from_live(
    seat: Seat | None, view: SeatView, tracked: SeatState | None, city: CityTime
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
        calls_taken=view.calls_taken,
        last_call=city.iso(view.last_call) if view.last_call else None,
        state_interface=view.state_interface,
        stale=view.stale,
        queues=view.queues,
    )


def seat_statuses(
    seats: list[Seat],
    states: list[NodeState],
    tracker: StateTracker | None,
    now: float,
    city: CityTime,
) -> list[SeatStatus]:
    """Every seat, its times written by `city` (the one format the API returns)."""
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
        out.append(_from_live(by_key.get(key), view, tracked, city))
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
class QueueToday:
    offered: int
    answered: int
    abandoned: int
    sl15: float | None
    answer_rate: float | None


@dataclass(frozen=True)
class QueueLive:
    name: str
    asterisk: str
    strategy: str
    wrapup_s: int
    ring_timeout_s: int
    overflow_after_s: float | None
    live: QueueView | None
    #: seats by state: `live`'s counts (all 0 while the queue is on no node)
    seats: dict[str, int]
    held_callbacks: list[HeldCallback]
    today: QueueToday


def queue_live(
    spec: QueueSpec,
    states: list[NodeState],
    today: TodayCounters,
    held: list[HeldCallback],
    now: float,
) -> QueueLive:
    view = None
    seats = dict.fromkeys(SEAT_STATES, 0)
    for state in states:  # one queue lives on one node (app_queue's limit)
        queue: Queue | None = state.queues.get(spec.asterisk)
        if queue is not None:
            seats = seat_counts(queue, now, {spec.asterisk: spec.wrapup_s})
            view = queue_view(state, queue, now, seats)
            break
    day = today.get(spec.asterisk, now)
    return QueueLive(
        name=spec.name,
        asterisk=spec.asterisk,
        strategy=view.strategy if view and view.strategy else spec.strategy,
        wrapup_s=spec.wrapup_s,
        ring_timeout_s=spec.ring_timeout_s,
        overflow_after_s=spec.overflow_after_s,
        live=view,
        seats=seats,
        held_callbacks=held,
        today=QueueToday(day.offered, day.answered, day.abandoned, day.sl15, day.answer_rate),
    )

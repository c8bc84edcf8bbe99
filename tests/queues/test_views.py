"""One rule for a member's state and its wrap-up's end (callcenter/live/seat_state.py):
the member's own `Wrapuptime`, else its queue's; and every view applies it alike."""

from __future__ import annotations

import itertools
from dataclasses import asdict

from bench.queues_bench import _big_model
from callcenter.legacy.queues import QueueCatalog
from callcenter.live.live_views import queue_views, seat_views
from callcenter.live.node_state import Member, Queue
from callcenter.live.seat_state import member_state, seat_counts, wrapup_end
from callcenter.privacy import NO_NUMBER
from queues.catalog import catalog, queue_wrapups
from queues.queue_views import named_queue, queue_live, waiting_caller_shown
from queues.seat_state import StateTracker

NOW = 1_795_000_000.0
QUEUE_WRAPUPS = {"hotline-general": 10}


def test_wrap_up_is_the_members_own_else_the_queues() -> None:
    def member(ago: int, own: int = 0, queue: str = "hotline-general") -> Member:
        return Member(queue, "PJSIP/1", status=1, last_call=int(NOW) - ago, wrapuptime=own)

    assert member_state(member(5), NOW, QUEUE_WRAPUPS) == "wrap_up"  # the queue's 10 s
    assert member_state(member(10), NOW, QUEUE_WRAPUPS) == "available"  # ended just now
    assert member_state(member(5, own=3), NOW, QUEUE_WRAPUPS) == "available"  # own: 3 s
    assert member_state(member(5, own=30), NOW, QUEUE_WRAPUPS) == "wrap_up"
    assert member_state(member(5, queue="q-other"), NOW, QUEUE_WRAPUPS) == "available"
    assert wrapup_end(member(5), QUEUE_WRAPUPS) == int(NOW) + 5
    assert wrapup_end(member(5, own=30), QUEUE_WRAPUPS) == int(NOW) + 25
    never = Member("hotline-general", "PJSIP/1", status=1)
    assert wrapup_end(never, QUEUE_WRAPUPS) is None
    assert member_state(never, NOW, QUEUE_WRAPUPS) == "available"


def test_anything_more_urgent_than_wrap_up_wins() -> None:
    queue = Queue("hotline-general")
    combos = itertools.product(range(9), (False, True), (False, True), (False, True), (0, 5))
    for n, (status, ringing, in_call, paused, ago) in enumerate(combos):
        m = queue.members[f"PJSIP/{n}"] = Member(
            queue.name,
            f"PJSIP/{n}",
            status=status,
            ringing=ringing,
            in_call=in_call,
            paused=paused,
            last_call=int(NOW - ago) if ago else 0,
            wrapuptime=10 if n % 2 else 0,
        )
        state = member_state(m, NOW, QUEUE_WRAPUPS)
        if status in (4, 5):
            assert state == "unavailable"
        elif ringing or status == 6:
            assert state == "ringing"
        elif in_call or status in (2, 3, 7, 8):
            assert state == "on_call"
        elif paused:
            assert state == "paused"
        else:
            assert state == ("wrap_up" if ago else "available")
    got = seat_counts(queue, NOW, QUEUE_WRAPUPS)
    assert sum(got.values()) == len(queue.members) and got["wrap_up"] > 0


def test_every_view_counts_seats_alike_at_scale() -> None:
    """GET /api/v1/queues (queue_views), GET /api/v1/queues/{name} (queue_live), the
    seat views and the tracker, on a floor where many seats are in the queues' wrap-up."""
    state, today = _big_model()
    now = state.clock()
    queues = QueueCatalog.default()
    specs = catalog(queues)
    wrapups = queue_wrapups(specs)
    # as the list shows them to a viewer who may see no number (queue_live's default)
    masked = waiting_caller_shown(NO_NUMBER)
    listed = {v.name: v for v in queue_views([state], now, wrapups, masked)}
    wrapped = 0
    for spec in specs.values():
        one = queue_live(spec, [state], today, [], now, catalog=queues)
        assert one.live is not None
        assert asdict(one.live) == asdict(named_queue(listed[spec.asterisk], queues))
        assert one.seats == {k: asdict(one.live)[k] for k in one.seats}
        wrapped += one.seats["wrap_up"]
    assert wrapped > 0
    tracker = StateTracker(wrapups)
    for seat in seat_views([state], now, wrapups):
        assert tracker.current(state, seat.interface, now).state == seat.state

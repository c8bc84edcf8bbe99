"""queues.queue_views.seat_counts follows views.member_state exactly, plus the queue's own
wrap-up; the queue view at scale is the same as the live one apart from that."""

from __future__ import annotations

import itertools
from dataclasses import asdict

from bench.queues_bench import _big_model
from callcenter.live.live_views import member_state, queue_view
from callcenter.live.node_state import Member, Queue
from queues.catalog import catalog
from queues.queue_views import queue_live, seat_counts

NOW = 1_795_000_000.0


def test_seat_counts_match_member_state_for_every_combination() -> None:
    queue = Queue("hotline-general")
    combos = itertools.product(range(9), (False, True), (False, True), (False, True), (0, 5))
    for n, (status, ringing, in_call, paused, ago) in enumerate(combos):
        queue.members[f"PJSIP/{n}"] = Member(
            queue.name,
            f"PJSIP/{n}",
            status=status,
            ringing=ringing,
            in_call=in_call,
            paused=paused,
            last_call=int(NOW - ago) if ago else 0,
            wrapuptime=10 if n % 2 else 0,
        )
    expected: dict[str, int] = {}
    for m in queue.members.values():
        state = member_state(m, NOW)
        if state == "available" and m.last_call and not m.wrapuptime:
            state = "wrap_up"  # the queue's own 10 s wrap-up
        expected[state] = expected.get(state, 0) + 1
    got = seat_counts(queue, NOW, 10)
    assert {k: v for k, v in got.items() if v} == expected
    assert sum(got.values()) == len(queue.members)


def test_queue_view_at_scale_matches_the_live_view_but_wrap_up() -> None:
    state, today = _big_model()
    now = state.clock()
    for spec in catalog().values():
        ours = queue_live(spec, [state], today, [], now)
        plain = queue_view(state, state.queues[spec.asterisk], now)
        assert ours.live is not None
        assert ours.live.callers == plain.callers and ours.live.waiting == plain.waiting
        moved = ours.seats["wrap_up"] - plain.wrap_up
        assert ours.seats["available"] == plain.available - moved
        for key in ("ringing", "on_call", "paused", "unavailable"):
            assert ours.seats[key] == asdict(plain)[key]

"""The seat watcher after a start or a resync: callers already waiting are known from
the live model, so abandoning one still puts them on the callback worklist."""

from __future__ import annotations

from callcenter.live.changes import CallerAbandoned, NodeSnapshot
from callcenter.live.live_state import LiveState
from callcenter.live.node_state import Queue, WaitingCaller
from queues.seat_state import StateTracker
from queues.watcher import Abandoned, SeatWatcher

T = 1_795_000_000.0
GENERAL = "hotline-general"


async def test_a_caller_waiting_before_the_start_is_called_back_when_they_give_up() -> None:
    live = LiveState(lambda: T)
    queue = live.node_state("pbx1").queues[GENERAL] = Queue(GENERAL)
    queue.entries["u1"] = WaitingCaller(
        GENERAL, "u1", "PJSIP/trunk-1", 1, T - 40, priority=3, caller_id_num="13900000007"
    )
    gave_up: list[Abandoned] = []

    async def on_abandoned(a: Abandoned) -> None:
        gave_up.append(a)

    watcher = SeatWatcher(live, StateTracker({}), on_abandoned)
    try:
        await watcher.handle(NodeSnapshot(1, "pbx1", T, queues=1, channels=1))
        await watcher.handle(CallerAbandoned(2, "pbx1", T, "u1", GENERAL, 1, 40, 1, "u1"))
    finally:
        watcher.close()
    assert gave_up == [Abandoned("pbx1", "u1", GENERAL, "13900000007", 40.0, T - 40, 3)]

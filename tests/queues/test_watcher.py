"""The seat watcher after a start or a resync: callers already waiting are known from
the live model, so abandoning one still puts them on the callback worklist; and the
seats Asterisk auto-pauses, told to the seats side."""

from __future__ import annotations

from callcenter.live.changes import CallerAbandoned, NodeSnapshot, SeatChanged, SeatRemoved
from callcenter.live.live_state import LiveState
from callcenter.live.node_state import Member, Queue, WaitingCaller
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


async def test_auto_pause_is_followed_once_paused_everywhere_and_once_back() -> None:
    """`autopause = all` pauses a seat one queue (one event) at a time: the owner hears
    of it once the seat is paused in all of them, and once it is unpaused in all."""
    live = LiveState(lambda: T)
    state = live.node_state("pbx1")
    iface = "PJSIP/1001"
    members = {}
    for name in (GENERAL, "hotline-housing"):
        queue = state.queues[name] = Queue(name)
        members[name] = queue.members[iface] = Member(name, iface, member_name="1001")
    heard: list[tuple[str, bool]] = []

    async def on_auto_pause(seat: str, auto: bool) -> None:
        heard.append((seat, auto))

    watcher = SeatWatcher(live, StateTracker({}), on_auto_pause=on_auto_pause)
    watcher.seat_of = {iface: "1001"}
    seq = iter(range(1, 100))

    async def change(queue: str, paused: bool, reason: str = "") -> None:
        members[queue].paused, members[queue].paused_reason = paused, reason
        await watcher.handle(
            SeatChanged(
                next(seq), "pbx1", T, iface, queue, "1001", 1, paused, reason, False, False, 0
            )
        )

    try:
        await change(GENERAL, False)  # first sight, not paused: nothing to follow
        await change(GENERAL, True, "Auto-Pause")
        assert heard == []  # still taking calls from housing
        await change("hotline-housing", True, "Auto-Pause")
        assert heard == [("1001", True)]
        await change("hotline-housing", True, "Auto-Pause")  # the same again
        await change(GENERAL, False)
        assert heard == [("1001", True)]  # half-way back
        await change("hotline-housing", False)
        assert heard == [("1001", True), ("1001", False)]
        # a pause of another reason is not Asterisk's own
        await change(GENERAL, True, "break")
        await change("hotline-housing", True, "break")
        assert len(heard) == 2
        # removed from every queue (a logout, a restart): neither, and forgotten
        del state.queues[GENERAL].members[iface], state.queues["hotline-housing"].members[iface]
        await watcher.handle(SeatRemoved(next(seq), "pbx1", T, iface, GENERAL, "1001"))
        assert len(heard) == 2 and watcher._auto_paused == {}
    finally:
        watcher.close()

"""The seat watcher after a start or a resync: callers already waiting are known from
the live model, so abandoning one still puts them on the callback worklist; and the
seats Asterisk auto-pauses, told to the seats side."""

from __future__ import annotations

from callcenter.live.changes import (
    CallAnswered,
    CallEnded,
    CallerAbandoned,
    CallerJoined,
    CallerLeft,
    NodeSnapshot,
    SeatChanged,
    SeatRemoved,
)
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


async def _watch(changes: list[object]) -> list[Abandoned]:
    live = LiveState(lambda: T)
    handed: list[Abandoned] = []

    async def on_abandoned(a: Abandoned) -> None:
        handed.append(a)

    watcher = SeatWatcher(live, StateTracker({}), on_abandoned)
    try:
        for change in changes:
            await watcher.handle(change)  # type: ignore[arg-type]
    finally:
        watcher.close()
    return handed


def _joined(at: float, seq: int = 1) -> CallerJoined:
    return CallerJoined(seq, "pbx1", at, "u1", GENERAL, 2, 0, "u1", "13900000007")


def _left(at: float, seq: int = 2) -> CallerLeft:
    return CallerLeft(seq, "pbx1", at, "u1", GENERAL, 2, "u1", 0.0)


def _ended(at: float) -> CallEnded:
    return CallEnded(9, "pbx1", at, "u1", "13900000007", "12345", 60.0, 16, "Normal")


async def test_a_caller_who_left_with_a_key_and_hung_up_outside_the_queue_is_handed_on() -> None:
    """The callback service takes it only if the caller asked for a callback."""
    handed = await _watch([_joined(T), _left(T + 20), _ended(T + 25)])
    assert handed == [
        Abandoned("pbx1", "u1", GENERAL, "13900000007", 20.0, T, 0, left_with_key=True)
    ]


async def test_back_after_a_key_an_abandon_counts_from_the_first_join() -> None:
    handed = await _watch(
        [
            _joined(T),
            _left(T + 20),
            _joined(T + 28, seq=3),
            CallerAbandoned(4, "pbx1", T + 40, "u1", GENERAL, 2, 12, 2, "u1"),
            _left(T + 40, seq=5),
            _ended(T + 40),
        ]
    )
    assert handed == [Abandoned("pbx1", "u1", GENERAL, "13900000007", 40.0, T, 0)]


async def test_an_answered_caller_is_never_handed_on() -> None:
    answered = CallAnswered(3, "pbx1", T + 10, "u1", GENERAL, "PJSIP/1001", "1001", 10, 2)
    assert await _watch([_joined(T), _left(T + 10), answered, _ended(T + 90)]) == []

"""AsyncioScheduler.pause: simulated time stands still and no timer runs until resume,
after which every timer fires at its own simulated instant."""

from __future__ import annotations

import asyncio

from pbxsim.clock import AsyncioScheduler

SPEED = 20.0
LATE_S = 2.0  # simulated: 100 ms of real time, for a loop slowed by a busy machine


async def test_pause_holds_time_and_timers() -> None:
    scheduler = AsyncioScheduler(asyncio.get_running_loop(), speed=SPEED, start=1000.0)
    fired: list[tuple[str, float]] = []
    all_fired = asyncio.Event()

    def note(name: str) -> None:
        fired.append((name, scheduler.now()))
        if len(fired) == 3:
            all_fired.set()

    scheduler.call_later(1.0, note, "due while paused")
    scheduler.call_later(5.0, note, "after the pause")
    scheduler.pause()
    frozen = scheduler.now()
    assert scheduler.paused
    scheduler.call_later(0.0, note, "scheduled while paused")
    await asyncio.sleep(0.2)  # 4 simulated s would have passed: nothing happens
    assert scheduler.now() == frozen and fired == []

    scheduler.resume()
    assert not scheduler.paused and scheduler.now() - frozen < LATE_S
    await asyncio.wait_for(all_fired.wait(), 5)
    # in their simulated order, each at (or just after) its own instant: the pause
    # shifted every timer by its length, none fired early
    assert [name for name, _ in fired] == [
        "scheduled while paused",
        "due while paused",
        "after the pause",
    ]
    at = dict(fired)
    assert frozen <= at["scheduled while paused"] < frozen + LATE_S
    assert 1001.0 <= at["due while paused"] < 1001.0 + LATE_S
    assert 1005.0 <= at["after the pause"] < 1005.0 + LATE_S


async def test_sleep_is_held_by_a_pause() -> None:
    scheduler = AsyncioScheduler(asyncio.get_running_loop(), speed=SPEED, start=0.0)
    sleeper = asyncio.create_task(scheduler.sleep(1.0))
    scheduler.pause()
    await asyncio.sleep(0.1)  # 2 simulated s of real time
    assert not sleeper.done()
    scheduler.resume()
    await asyncio.wait_for(sleeper, 1.0)
    assert scheduler.now() >= 1.0


async def test_running_waits_out_a_pause() -> None:
    """What is not a timer (a FastAGI command) waits in `running` while paused."""
    scheduler = AsyncioScheduler(asyncio.get_running_loop(), speed=SPEED, start=0.0)
    await asyncio.wait_for(scheduler.running(), 0.1)  # not paused: at once
    scheduler.pause()
    waiter = asyncio.create_task(scheduler.running())
    await asyncio.sleep(0.02)
    assert not waiter.done()
    scheduler.resume()
    await asyncio.wait_for(waiter, 0.1)

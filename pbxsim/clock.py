"""Simulated time.

Every part of the simulator reads time and schedules work through a `Scheduler`, never
through `time` or `asyncio.sleep` directly. That lets the same app_queue model run

* in real time (optionally sped up) behind real AMI/FastAGI sockets: `AsyncioScheduler`;
* as fast as the CPU allows, for statistics (the Erlang check): `VirtualScheduler`.

Callbacks are plain functions, not coroutines: the telephony model is a discrete-event
system, and keeping it synchronous makes event order deterministic for a given seed.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any

Callback = Callable[..., None]


class Handle:
    """A scheduled callback that can be cancelled before it runs."""

    __slots__ = ("_args", "_callback", "cancelled", "when")

    def __init__(self, when: float, callback: Callback, args: tuple[Any, ...]) -> None:
        self.when = when
        self._callback = callback
        self._args = args
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True

    def _run(self) -> None:
        if not self.cancelled:
            self.cancelled = True  # a handle runs at most once
            self._callback(*self._args)


class Scheduler(ABC):
    """Simulated wall clock plus a timer wheel.

    `now()` is simulated Unix time in seconds (float); it is what Uniqueids, LoginTime,
    Cdr times and `Timestamp` headers are derived from.
    """

    @abstractmethod
    def now(self) -> float: ...

    @abstractmethod
    def call_at(self, when: float, callback: Callback, *args: Any) -> Handle: ...

    def call_later(self, delay: float, callback: Callback, *args: Any) -> Handle:
        return self.call_at(self.now() + max(0.0, delay), callback, *args)

    def call_soon(self, callback: Callback, *args: Any) -> Handle:
        return self.call_at(self.now(), callback, *args)

    @abstractmethod
    async def sleep(self, delay: float) -> None:
        """Wait `delay` simulated seconds (only meaningful inside a running asyncio loop)."""

    async def running(self) -> None:
        """Return once time runs (at once unless paused): work that is not a timer (a
        FastAGI command arriving) waits here, so that a pause holds it too."""
        return None


class VirtualScheduler(Scheduler):
    """Discrete-event time: jumps from one timer to the next, no waiting at all."""

    def __init__(self, start: float = 1_795_000_000.0) -> None:
        self._now = start
        self._heap: list[tuple[float, int, Handle]] = []
        self._seq = itertools.count()

    def now(self) -> float:
        return self._now

    def call_at(self, when: float, callback: Callback, *args: Any) -> Handle:
        handle = Handle(max(when, self._now), callback, args)
        heapq.heappush(self._heap, (handle.when, next(self._seq), handle))
        return handle

    def run(self, until: float | None = None, max_events: int | None = None) -> int:
        """Run timers in time order (FIFO among equal times). Returns how many ran."""
        ran = 0
        while self._heap:
            when, _, handle = self._heap[0]
            if until is not None and when > until:
                break
            heapq.heappop(self._heap)
            if handle.cancelled:
                continue
            self._now = when
            handle._run()
            ran += 1
            if max_events is not None and ran >= max_events:
                break
        if until is not None and until > self._now:
            self._now = until
        return ran

    def pending(self) -> int:
        return sum(1 for _, _, h in self._heap if not h.cancelled)

    async def sleep(self, delay: float) -> None:
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def wake() -> None:
            if not fut.done():
                fut.set_result(None)

        self.call_later(delay, wake)
        await fut


class AsyncioScheduler(Scheduler):
    """Real time on the running asyncio loop, scaled by `speed` (2.0 = twice as fast).

    Simulated time starts at `start` (default: the real Unix time at creation) and then
    advances `speed` simulated seconds per real second.

    `pause()` stops simulated time: `now()` holds still and no timer runs until
    `resume()`, after which time goes on from where it stopped (every timer keeps its
    simulated instant); FastAGI commands wait (`running`). A test uses it to read every
    observer of the PBX at one instant while calls are in progress. Sockets are not
    paused: AMI events already sent still arrive, and AMI actions are still carried out.
    """

    def __init__(
        self, loop: asyncio.AbstractEventLoop, speed: float = 1.0, start: float | None = None
    ) -> None:
        if speed <= 0:
            raise ValueError(f"speed must be > 0, got {speed}")
        import time

        self._loop = loop
        self.speed = speed
        self._t0 = loop.time()
        self._start = time.time() if start is None else start
        self._frozen: float | None = None  # the simulated instant time stopped at
        self._resumed: asyncio.Event | None = None  # set by resume(), while paused
        self._held: list[Handle] = []  # timers that came due while paused
        #: bumped by every resume: a timer armed before it fires early in real time
        self._epoch = 0

    def now(self) -> float:
        if self._frozen is not None:
            return self._frozen
        return self._start + (self._loop.time() - self._t0) * self.speed

    def call_at(self, when: float, callback: Callback, *args: Any) -> Handle:
        handle = Handle(when, callback, args)
        self._arm(handle)
        return handle

    def _arm(self, handle: Handle) -> None:
        delay = max(0.0, (handle.when - self.now()) / self.speed)
        self._loop.call_later(delay, self._fire, handle, self._epoch)

    def _fire(self, handle: Handle, epoch: int) -> None:
        if handle.cancelled:
            return
        if self._frozen is not None:
            self._held.append(handle)
        elif epoch != self._epoch and handle.when > self.now():
            self._arm(handle)  # armed before a pause: its instant is later now
        else:
            handle._run()

    @property
    def paused(self) -> bool:
        return self._frozen is not None

    def pause(self) -> None:
        if self._frozen is None:
            self._frozen = self.now()
            self._resumed = asyncio.Event()

    def resume(self) -> None:
        if self._frozen is None:
            return
        self._start, self._t0 = self._frozen, self._loop.time()
        self._frozen = None
        if self._resumed is not None:
            self._resumed.set()
            self._resumed = None
        self._epoch += 1
        held, self._held = self._held, []
        for handle in sorted(held, key=lambda h: h.when):  # stable: FIFO at one instant
            self._arm(handle)

    async def running(self) -> None:
        while self._resumed is not None:
            await self._resumed.wait()

    async def sleep(self, delay: float) -> None:
        """Simulated seconds: a timer like any other, so a pause holds it too."""
        fut: asyncio.Future[None] = self._loop.create_future()

        def wake() -> None:
            if not fut.done():
                fut.set_result(None)

        self.call_later(delay, wake)
        await fut

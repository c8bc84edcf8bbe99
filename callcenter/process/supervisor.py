"""Every background loop of the service runs under a supervisor: none dies unseen.

A loop (the record writer, the day book's refresh, the callback worker, ...) is meant to
run as long as the service. Left to `asyncio.create_task` alone, one that raises ends
without a word, and the service answers `/readyz` with 200 while its records pile up.
Here a loop that ends is logged with its traceback, counted
(`callcenter_task_failures_total{task=...}`), shown by its readiness check as down since
when and why (so `/readyz` is 503), and started again after a pause that doubles while
it keeps failing (from `min_backoff_s` to `max_backoff_s`; back to the start once it ran
`healthy_after_s`). Restarting is safe for every loop of the service: each is a `run()`
that keeps its state on its object and starts by waiting.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector

from api.services import CheckResult, ReadinessCheck

log = logging.getLogger(__name__)

#: makes a fresh run of a loop (a coroutine can be awaited once)
LoopFactory = Callable[[], Coroutine[Any, Any, None]]


@dataclass
class TaskState:
    name: str
    failures: int = 0
    restarts: int = 0
    #: when the loop last ended, while it waits to start again; None while it runs
    down_since: datetime | None = None
    last_error: str | None = None


class Supervisor:
    """Starts loops (`start`), keeps them running, stops them all (`stop`).

    `now` stamps a death, `show` writes the stamp (the city's ISO form); `sleep` is the
    pause before a restart (tests pass their own)."""

    def __init__(
        self,
        now: Callable[[], datetime],
        show: Callable[[datetime], str],
        min_backoff_s: float = 1.0,
        max_backoff_s: float = 60.0,
        healthy_after_s: float = 60.0,
        sleep: Callable[[float], Coroutine[Any, Any, None]] = asyncio.sleep,
    ) -> None:
        self.now = now
        self.show = show
        self.min_backoff_s = min_backoff_s
        self.max_backoff_s = max_backoff_s
        self.healthy_after_s = healthy_after_s
        self.sleep = sleep
        self.states: dict[str, TaskState] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = False

    def start(self, name: str, loop: LoopFactory) -> TaskState:
        if name in self.states:
            raise ValueError(f"a background task named {name!r} runs already")
        state = self.states[name] = TaskState(name)
        self._tasks.append(asyncio.create_task(self._keep(state, loop), name=name))
        return state

    async def _keep(self, state: TaskState, loop: LoopFactory) -> None:
        backoff = self.min_backoff_s
        while not self._stopping:
            started = time.monotonic()
            try:
                await loop()
            except Exception as exc:
                error: BaseException | None = exc
                state.last_error = f"{type(exc).__name__}: {exc}"
            else:
                error = None
                state.last_error = "returned (a background loop must not end)"
            if self._stopping:
                return
            state.failures += 1
            state.down_since = self.now()
            if time.monotonic() - started >= self.healthy_after_s:
                backoff = self.min_backoff_s
            log.error(
                "background task %s died (%s); restarting in %.1f s",
                state.name,
                state.last_error,
                backoff,
                exc_info=error,
            )
            await self.sleep(backoff)
            backoff = min(backoff * 2, self.max_backoff_s)
            state.restarts += 1
            state.down_since = None
            log.info("background task %s restarted", state.name)

    def check(self, name: str) -> ReadinessCheck:
        """`/readyz`: not ready while the loop `name` is down."""
        state = self.states[name]

        async def check() -> CheckResult:
            if state.down_since is not None:
                return CheckResult(
                    False,
                    f"{state.name}: dead since {self.show(state.down_since)},"
                    f" last error {state.last_error}",
                )
            if state.failures:
                return CheckResult(
                    True,
                    f"{state.name}: running; {state.failures} failure(s),"
                    f" last error {state.last_error}",
                )
            return CheckResult(True, f"{state.name}: running")

        return check

    def checks(self) -> Iterator[tuple[str, ReadinessCheck]]:
        """One readiness check per loop, named `task:<name>`."""
        for name in self.states:
            yield f"task:{name}", self.check(name)

    async def stop(self) -> None:
        """Cancel every loop and wait for each to end."""
        self._stopping = True
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()


class SupervisorCollector(Collector):
    def __init__(self, supervisor: Supervisor) -> None:
        self._supervisor = supervisor

    def collect(self) -> Iterator[Metric]:
        counter = CounterMetricFamily(
            "callcenter_task_failures",
            "background tasks that raised or ended (each then restarted)",
            labels=["task"],
        )
        for state in self._supervisor.states.values():
            counter.add_metric([state.name], state.failures)
        yield counter

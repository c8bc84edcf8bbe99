"""When a failed delivery is tried again, and when it stops being tried.

Exponential backoff with full jitter (a delay drawn between half and all of
`base_s * 2**(attempts-1)`, capped at `cap_s`): a receiver that comes back after an
hour is not hit by every instance's backlog in the same second. After `give_up_after_s`
from the start of its window (its first announcement, or a manual retry) a delivery is
failed: it waits in `GET /webhooks/deliveries?status=failed` for someone to retry it.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

DAY_S = 86400.0


@dataclass(frozen=True)
class RetryPolicy:
    base_s: float = 5.0
    cap_s: float = 1800.0
    give_up_after_s: float = DAY_S
    #: a number in [0, 1): tests pass a constant to make delays exact
    draw: Callable[[], float] = field(default=random.random, compare=False)

    def delay_s(self, attempts: int) -> float:
        """The pause after the `attempts`-th failed attempt (1 for the first)."""
        ceiling = min(self.cap_s, self.base_s * 2.0 ** min(max(attempts - 1, 0), 40))
        return ceiling * (0.5 + 0.5 * self.draw())

    def next_attempt(self, window_start: datetime, attempts: int, now: datetime) -> datetime | None:
        """When to try again after a failed attempt; None: give up (failed)."""
        if (now - window_start).total_seconds() >= self.give_up_after_s:
            return None
        return now + timedelta(seconds=self.delay_s(attempts))

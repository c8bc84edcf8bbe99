"""Capped exponential backoff with jitter, for reconnecting to a PBX.

A wrong password must not turn into a login every few seconds against Asterisk (each
failed login costs it a one-second sleep and an entry in its security log), and many
service instances must not reconnect in lockstep after a PBX restart.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass
class Backoff:
    initial: float = 0.5
    maximum: float = 30.0
    factor: float = 2.0
    jitter: float = 0.2  # +/- share of the delay
    rng: random.Random = field(default_factory=random.Random)
    attempts: int = 0

    def next_delay(self) -> float:
        base = min(self.maximum, self.initial * self.factor**self.attempts)
        self.attempts += 1
        return max(0.0, base * (1 + self.rng.uniform(-self.jitter, self.jitter)))

    def reset(self) -> None:
        self.attempts = 0

"""Ring strategies as app_queue expresses them: one integer metric per member per round.

Every strategy reduces to "lowest metric rings first" (ringall: every member sharing the
lowest metric rings at once). Penalties add `penalty * 1_000_000`, which is what makes
penalty tiers: a higher tier is only reached when every lower-tier member was skipped as
unavailable. Reproducing the metric arithmetic (rather than sorting by intent) keeps the
tie-breaks and the round-robin wrap rules identical to calc_metric/store_next_rr.
"""

from __future__ import annotations

import random
from typing import Protocol

from pbxsim.app_queue.members import Member

PENALTY_STEP = 1_000_000


class RoundRobinState(Protocol):
    """What rrmemory/rrordered (per queue) and linear (per caller) remember."""

    rrpos: int
    wrapped: bool


def metric(
    strategy: str,
    member: Member,
    pos: int,
    rr: RoundRobinState,
    lin: RoundRobinState,
    now: float,
    rng: random.Random,
) -> int:
    """calc_metric for one member; `pos` is the member's index in iteration order."""
    penalty = member.penalty * PENALTY_STEP
    if strategy == "ringall":
        return penalty
    if strategy == "rrmemory" or strategy == "rrordered":
        qpos = member.queuepos
        if qpos < rr.rrpos:
            value = 1000 + qpos
        else:
            if qpos > rr.rrpos:
                rr.wrapped = True
            value = qpos
        return value + penalty
    if strategy == "linear":
        if pos < lin.rrpos:
            value = 1000 + pos
        else:
            if pos > lin.rrpos:
                lin.wrapped = True
            value = pos
        return value + penalty
    if strategy == "leastrecent":
        value = 0 if not member.lastcall else 1_000_000 - (int(now) - int(member.lastcall))
        return value + penalty
    if strategy == "fewestcalls":
        return member.calls + penalty
    if strategy == "random":
        return rng.randrange(1000) + penalty
    if strategy == "wrandom":
        return rng.randrange((1 + member.penalty) * 1000)
    raise ValueError(f"unknown strategy {strategy!r}")


def store_next(state: RoundRobinState, next_metric: int | None) -> None:
    """store_next_rr / store_next_lin: remember where the next round starts."""
    if next_metric is not None:
        state.rrpos = next_metric % 1000
    elif state.wrapped:
        state.rrpos = 0
    else:
        state.rrpos += 1
    state.wrapped = False

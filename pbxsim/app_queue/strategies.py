"""Ring strategies as app_queue expresses them: one integer metric per member per round.

Every strategy reduces to "lowest metric rings first" (ringall: every member sharing the
lowest metric rings at once). Penalties add `penalty * 1_000_000`, which is what makes
penalty tiers: a higher tier is only reached when every lower-tier member was skipped as
unavailable. Reproducing the metric arithmetic (rather than sorting by intent) keeps the
tie-breaks and the round-robin wrap rules identical to calc_metric/store_next_rr.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Protocol, overload

from pbxsim.app_queue.members import Member

PENALTY_STEP = 1_000_000


class RoundRobinState(Protocol):
    """What rrmemory/rrordered (per queue) and linear (per caller) remember."""

    rrpos: int
    wrapped: bool


#: (metric, tie-break, member): one round's candidates; sorted, best first
Candidate = tuple[int, int, Member]


class Rotation(Sequence[Candidate]):
    """rrmemory/rrordered candidates when every member has the same penalty: the
    sorted metrics are just the members by queue position, rotated to start at rrpos.
    Built lazily, because a ring round usually stops at the first free member."""

    __slots__ = ("_by_qpos", "_penalty", "_start")

    def __init__(self, by_qpos: list[Member], start: int, penalty: int) -> None:
        self._by_qpos = by_qpos
        self._start = min(start, len(by_qpos))
        self._penalty = penalty * PENALTY_STEP

    def __len__(self) -> int:
        return len(self._by_qpos)

    @overload
    def __getitem__(self, index: int) -> Candidate: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[Candidate]: ...

    def __getitem__(self, index: int | slice) -> Candidate | Sequence[Candidate]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        n = len(self._by_qpos)
        if index < 0:
            index += n
        if not 0 <= index < n:
            raise IndexError(index)
        qpos = self._start + index
        if qpos >= n:
            qpos -= n
            return (1000 + qpos + self._penalty, 0, self._by_qpos[qpos])
        return (qpos + self._penalty, 0, self._by_qpos[qpos])


def rank(
    strategy: str,
    members: list[Member],
    rr: RoundRobinState,
    lin: RoundRobinState,
    now: float,
    rng: random.Random,
    by_qpos: list[Member] | None = None,
    uniform_penalty: int | None = None,
) -> Sequence[Candidate]:
    """calc_metric for every member, best first.

    Asterisk builds its attempt list by prepending and takes the *first* lowest metric,
    so among equal metrics the member listed last wins: the tie-break is the reversed
    position. One loop per strategy keeps this cheap, since it runs for every ring round.
    """
    last = len(members) - 1
    if (
        by_qpos is not None
        and uniform_penalty is not None
        and (strategy == "rrmemory" or strategy == "rrordered")
    ):
        rr.wrapped = rr.wrapped or rr.rrpos < last
        return Rotation(by_qpos, rr.rrpos, uniform_penalty)
    out: list[Candidate] = []
    append = out.append
    if strategy == "ringall":
        for pos, m in enumerate(members):
            append((m.penalty * PENALTY_STEP, last - pos, m))
    elif strategy == "rrmemory" or strategy == "rrordered" or strategy == "linear":
        # positions are 0..last (queuepos is renumbered on removal), so "some member is
        # past the stored position" is simply start < last
        state = lin if strategy == "linear" else rr
        start = state.rrpos
        if strategy == "linear":
            out = [
                ((1000 + pos if pos < start else pos) + m.penalty * PENALTY_STEP, last - pos, m)
                for pos, m in enumerate(members)
            ]
        else:
            out = [
                (
                    (1000 + m.queuepos if m.queuepos < start else m.queuepos)
                    + m.penalty * PENALTY_STEP,
                    last - pos,
                    m,
                )
                for pos, m in enumerate(members)
            ]
        state.wrapped = state.wrapped or start < last
    elif strategy == "leastrecent":
        inow = int(now)
        for pos, m in enumerate(members):
            value = 1_000_000 - (inow - int(m.lastcall)) if m.lastcall else 0
            append((value + m.penalty * PENALTY_STEP, last - pos, m))
    elif strategy == "fewestcalls":
        for pos, m in enumerate(members):
            append((m.calls + m.penalty * PENALTY_STEP, last - pos, m))
    elif strategy == "random":
        for pos, m in enumerate(members):
            append((rng.randrange(1000) + m.penalty * PENALTY_STEP, last - pos, m))
    elif strategy == "wrandom":
        for pos, m in enumerate(members):
            append((rng.randrange((1 + m.penalty) * 1000), last - pos, m))
    else:
        raise ValueError(f"unknown strategy {strategy!r}")
    out.sort()  # (metric, tie-break) is unique, so members are never compared
    return out


def store_next(state: RoundRobinState, next_metric: int | None) -> None:
    """store_next_rr / store_next_lin: remember where the next round starts."""
    if next_metric is not None:
        state.rrpos = next_metric % 1000
    elif state.wrapped:
        state.rrpos = 0
    else:
        state.rrpos += 1
    state.wrapped = False

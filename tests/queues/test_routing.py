"""Routing policy: caller priority rules, and overflow of a specialist queue to general
seats by penalty escalation (over pbxsim)."""

from __future__ import annotations

import pytest

from callcenter.live.live_state import LiveState
from pbxsim.telephony.softphone import fixed_policy
from queues.overflow import OVERFLOW_PENALTY, Overflow
from queues.priority import CallerPriority, PriorityRules
from tests.queues.sim import open_floor, wait_until


class Seen:
    """The records' answer, by hand: caller -> when their last queued call started."""

    def __init__(self) -> None:
        self.started: dict[str, float] = {}

    async def last_queued(self, caller: str, since_epoch: float) -> float | None:
        at = self.started.get(caller)
        return at if at is not None and at >= since_epoch else None


async def test_priority_is_the_highest_applicable_rule_not_a_sum() -> None:
    rules = PriorityRules(
        repeat_within_s=3600, repeat_priority=2, numbers={"13900000009": 5}, units={"water": 7}
    )
    seen = Seen()
    p = CallerPriority(rules, seen, LiveState(lambda: 0.0))
    assert (await p.decide("13900000001", "", 1000.0)).priority == 0
    seen.started["13900000001"] = 1000.0
    repeat = await p.decide("13900000001", "", 1000.0 + 3599)
    assert (repeat.priority, repeat.reasons) == (2, ("repeat caller",))
    assert (await p.decide("13900000001", "", 1000.0 + 3601)).priority == 0  # window over
    seen.started["13900000009"] = 1001.0
    both = await p.decide("13900000009", "water", 1002.0)
    assert both.priority == 7 and len(both.reasons) == 3
    # the IVR's own choice stays
    assert (await p.decide("13900000002", "", 1002.0, base=3)).priority == 3


def skills(i: int) -> dict[str, int]:
    return {"housing": 5} if i == 0 else {"general": 3}


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_specialist_queue_overflows_to_general_seats_and_back(database_url: str) -> None:
    floor = await open_floor(
        database_url,
        2,
        skills,
        overflow_s={"housing": 5.0},
        policy=lambda _e: fixed_policy(0.5, 12.0),
    )
    try:
        seats, overflow = floor.seats, floor.seats.overflow
        assert await seats.service.login_many(["1001", "1002"]) == {}
        floor.sim.route("12319", "hotline-housing")
        housing = lambda: floor.live.nodes["pbx1"].queues["hotline-housing"]  # noqa: E731
        await wait_until(lambda: "PJSIP/1001" in housing().members)
        floor.sim.call("13900000001", "12319")  # the specialist takes it
        await wait_until(lambda: housing().members["PJSIP/1001"].in_call)
        floor.sim.call("13900000002", "12319")  # waits: nobody else has the skill
        await floor.sim.scheduler.sleep(2.0)
        assert await overflow.check_once() == 0  # not waited long enough yet
        await floor.sim.scheduler.sleep(4.0)
        assert await overflow.check_once() == 1
        await wait_until(lambda: "PJSIP/1002" in housing().members)
        assert housing().members["PJSIP/1002"].penalty == OVERFLOW_PENALTY
        await wait_until(lambda: not housing().entries, 5)  # the general seat answered
        assert housing().members["PJSIP/1002"].in_call
        # nobody waiting: overflow withdrawn, by any instance (a new one here, as after a
        # restart): which members are overflow is the live model's, not a memory
        assert await Overflow(floor.live, seats.repo, seats.catalog).check_once() == 1
        await wait_until(lambda: "PJSIP/1002" not in housing().members)
        # the restart repair never re-adds an overflow membership (it is not a skill)
        report = await seats.service.repair(floor.node)
        assert report.memberships == 0
    finally:
        await floor.close()

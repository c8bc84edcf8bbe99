"""Seats against pbxsim over AMI: 60 seats log in, calls are distributed, pause with a
reason, wrap-up, logout, and an Asterisk restart that the resync repair undoes."""

from __future__ import annotations

import pytest

from queues.errors import BadRequest, Conflict, UnknownSeat
from queues.seat_state import OFFLINE, memberships
from tests.queues.sim import open_floor, wait_until


def skills(i: int) -> dict[str, int]:
    return {"general": 3, "housing": 5} if i % 2 else {"general": 4}


def _seat_states(floor) -> dict[str, str]:  # type: ignore[no-untyped-def]
    state = floor.live.nodes["pbx1"]
    now = floor.live.clock()
    return {
        f"{1001 + i}": floor.seats.tracker.current(state, f"PJSIP/{1001 + i}", now).state
        for i in range(len(floor.sim.phones))
    }


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_sixty_seats_login_take_calls_pause_and_logout(database_url: str) -> None:
    floor = await open_floor(database_url, 60, skills)
    try:
        service = floor.seats.service
        ids = [str(1001 + i) for i in range(60)]
        assert await service.login_many(ids) == {}
        await wait_until(lambda: set(_seat_states(floor).values()) == {"available"})
        assert len(floor.sim.members("hotline-general")) == 60
        assert len(floor.sim.members("hotline-housing")) == 30
        housing = floor.sim.member("hotline-housing", "PJSIP/1002")
        assert housing.penalty == 0 and housing.membername == "1002"
        # logging in twice is no error and changes nothing
        await service.login("1001")
        assert (await floor.seats.repo.seat("1001")).logged_in  # type: ignore[union-attr]

        # calls are distributed to different seats; wrap-up follows each call
        callers = [floor.sim.call(f"1390000{n:04d}") for n in range(5)]
        state = floor.live.nodes["pbx1"]
        await wait_until(lambda: sum(s == "on_call" for s in _seat_states(floor).values()) == 5)
        await wait_until(lambda: "wrap_up" in _seat_states(floor).values(), 10)
        # five different seats each took one call (the calls end a few ms apart)
        general = state.queues["hotline-general"].members.values()
        await wait_until(lambda: sum(m.calls_taken for m in general) == 5)
        assert sorted(m.calls_taken for m in general if m.calls_taken) == [1] * 5
        del callers

        # pause with a reason, in every queue of the seat; unpause
        await service.pause("1002", "meal")
        await wait_until(lambda: _seat_states(floor)["1002"] == "paused")
        members = memberships(state, "PJSIP/1002")
        assert len(members) == 2 and all(m.paused_reason == "meal" for m in members)
        with pytest.raises(BadRequest, match="unknown pause reason 'nap'"):
            await service.pause("1002", "nap")
        await service.unpause("1002")
        await wait_until(lambda: _seat_states(floor)["1002"] != "paused")

        await service.logout("1003")
        await wait_until(lambda: _seat_states(floor)["1003"] == OFFLINE)
        assert "PJSIP/1003" not in floor.sim.members("hotline-general")
        with pytest.raises(Conflict, match="logged out"):
            await service.pause("1003", "break")
        with pytest.raises(UnknownSeat):
            await service.login("9999")
    finally:
        await floor.close()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_asterisk_restart_is_repaired_with_pause_state(database_url: str) -> None:
    floor = await open_floor(database_url, 6, skills)
    try:
        service = floor.seats.service
        assert await service.login_many([str(1001 + i) for i in range(5)]) == {}
        await service.pause("1002", "training")
        resyncs = floor.live.resyncs_done
        await floor.restart_pbx()  # Asterisk forgets every dynamic member
        assert floor.sim.members("hotline-general") == []
        await wait_until(lambda: floor.live.resyncs_done > resyncs, 5)
        await wait_until(lambda: len(floor.sim.members("hotline-general")) == 5, 5)
        assert "PJSIP/1006" not in floor.sim.members("hotline-general")  # never logged in
        assert len(floor.sim.members("hotline-housing")) == 2  # 1002, 1004
        paused = floor.sim.member("hotline-housing", "PJSIP/1002")
        assert paused.paused and paused.reason_paused == "training"
        await wait_until(lambda: service.repairs >= 1)  # counted once its replies are in
        # a resync with nothing lost repairs nothing
        report = await service.repair(floor.node)
        assert report.memberships == 0
    finally:
        await floor.close()

"""Transfers and three-party calls on pbxsim, driven by the transfer service over a real
AMI link, with the configuration `asterisk-conf render` writes: a blind transfer to a
unit, a consultation with 110 that is completed and one with a unit that is cancelled
(the agent is back with the caller), and a three-party call the agent leaves while the
caller and the unit talk on. Each leaves its leg, with its outcome, in the call record;
Asterisk's own ledger (pbxsim writes it) tells the reconciler the same."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from callcenter.asterisk_conf import ConfInputs, render, transfer_targets
from callcenter.db import session_factory
from callcenter.records import query as q
from callcenter.transfers.service import NotATarget, NotAtSeat, TransferService, WrongState
from callcenter.transfers.targets import TransferTarget, transfer_whitelist
from pbxsim.channel import Channel
from pbxsim.telephony.softphone import fixed_policy
from tests.queues.sim import Floor, open_floor, wait_until

UNIT = "057188880001"
UNITS = [("057187001234", UNIT, "HOUSING 住建局")]
GENERAL = "hotline-general"


def general(_i: int) -> dict[str, int]:
    return {"general": 3}


@pytest.fixture
def conf_dir(tmp_path: Path) -> Path:
    inputs = ConfInputs(
        agi_url="agi://127.0.0.1:1",
        default_queue=GENERAL,
        queues=(GENERAL,),
        transfer_targets=transfer_targets(UNITS, None),
        seats=(),
        trunk_host="127.0.0.2",
        ami_user="callcenter",
        ami_secret="unused",
    )
    for name, text in render(inputs).items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    return tmp_path


@pytest.fixture
async def floor(database_url: str, conf_dir: Path) -> AsyncIterator[Floor]:
    floor = await open_floor(
        database_url, 2, general, policy=lambda _e: fixed_policy(0.5), conf_dir=conf_dir
    )
    try:
        await floor.seats.service.login("1001")
        await wait_until(lambda: "PJSIP/1001" in floor.live.nodes["pbx1"].queues[GENERAL].members)
        yield floor
    finally:
        await floor.close()


def service_of(floor: Floor) -> TransferService:
    async def targets() -> Mapping[str, TransferTarget]:
        return transfer_whitelist(UNITS)

    return TransferService(
        floor.live, targets, floor.sim.scheduler.now, floor.records.builder.legs_in_progress
    )


async def answered_call(floor: Floor, caller: str) -> Channel:
    channel = floor.sim.call(caller)
    state = floor.live.nodes["pbx1"]
    await wait_until(
        lambda: channel.uniqueid in state.calls and state.calls[channel.uniqueid].where == "talking"
    )
    return channel


def legs(floor: Floor, channel: Channel) -> list[dict[str, Any]]:
    found = floor.records.builder.legs_in_progress("pbx1", channel.uniqueid)
    return found[1] if found is not None else []


def leg_state(floor: Floor, channel: Channel) -> str:
    found = legs(floor, channel)
    return found[-1]["state"] if found else ""


async def record_of(floor: Floor, channel: Channel) -> Any:
    await wait_until(lambda: ("pbx1", channel.uniqueid) not in floor.records.builder.open, 10)
    await floor.records.writer.flush()
    async with session_factory(floor.engine)() as session:
        record = await q.get(session, "pbx1", channel.uniqueid)
    assert record is not None
    return record


def pbx_channels(floor: Floor) -> list[str]:
    return [c.name for c in floor.sim.system.pbx.legs.channels()]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_blind_transfer_to_a_unit(floor: Floor) -> None:
    service = service_of(floor)
    caller = await answered_call(floor, "13900000001")
    with pytest.raises(NotATarget):
        await service.start("pbx1", caller.uniqueid, "13800000000", "blind")
    run = await service.start("pbx1", caller.uniqueid, UNIT, "blind")
    assert (run.mode, run.to, run.index) == ("blind", UNIT, 1)
    await wait_until(lambda: leg_state(floor, caller) == "completed", 10)
    # the seat is free again; the caller talks to the unit's line
    assert not any(name.startswith("PJSIP/1001-") for name in pbx_channels(floor))
    with pytest.raises(NotAtSeat):
        await service.start("pbx1", caller.uniqueid, "110", "blind")
    floor.sim.hang_up(caller)
    record = await record_of(floor, caller)
    (leg,) = record.transfers
    assert (leg["kind"], leg["to"], leg["state"], leg["status"]) == (
        "blind",
        UNIT,
        "completed",
        "ANSWER",
    )
    assert leg["started"] <= leg["answered"] <= leg["ended"]
    assert record.disposition == "transferred" and record.seat == "1001"


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_consult_110_then_complete(floor: Floor) -> None:
    service = service_of(floor)
    caller = await answered_call(floor, "13900000002")
    with pytest.raises(WrongState):
        await service.complete("pbx1", caller.uniqueid)
    await service.start("pbx1", caller.uniqueid, "110", "consult")
    with pytest.raises(WrongState):  # one transfer at a time
        await service.start("pbx1", caller.uniqueid, UNIT, "blind")
    await wait_until(lambda: leg_state(floor, caller) == "talking", 10)
    await service.complete("pbx1", caller.uniqueid)
    await wait_until(lambda: leg_state(floor, caller) == "completed", 10)
    assert not any(name.startswith("PJSIP/1001-") for name in pbx_channels(floor))
    assert not caller.hungup  # with 110 now
    floor.sim.hang_up(caller)
    record = await record_of(floor, caller)
    (leg,) = record.transfers
    assert (leg["kind"], leg["to"], leg["state"]) == ("consult", "110", "completed")
    assert leg["answered"] is not None and leg["ended"] is not None
    assert record.disposition == "transferred"


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_consult_a_unit_then_cancel_returns_to_the_caller(floor: Floor) -> None:
    service = service_of(floor)
    caller = await answered_call(floor, "13900000003")
    await service.start("pbx1", caller.uniqueid, UNIT, "consult")
    await wait_until(lambda: leg_state(floor, caller) == "talking", 10)
    await service.cancel("pbx1", caller.uniqueid)
    await wait_until(lambda: leg_state(floor, caller) == "returned", 10)
    # the agent talks to the caller again: a new transfer may start
    await wait_until(lambda: not any(n.startswith("Local/") for n in pbx_channels(floor)), 10)
    parties = service.parties("pbx1", caller.uniqueid)
    assert parties.seat == "1001"
    floor.sim.hang_up(caller)
    record = await record_of(floor, caller)
    (leg,) = record.transfers
    assert (leg["kind"], leg["to"], leg["state"]) == ("consult", UNIT, "returned")
    assert record.disposition == "answered"


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_three_party_call_the_agent_leaves(floor: Floor) -> None:
    service = service_of(floor)
    caller = await answered_call(floor, "13900000004")
    await service.start("pbx1", caller.uniqueid, UNIT, "conference")
    await wait_until(lambda: leg_state(floor, caller) == "conference", 10)
    reply = await floor.node.send(
        {"Action": "ConfbridgeList", "Conference": caller.uniqueid}, as_list=True
    )
    listed = [f.get("Channel") for f in reply if f.get("Event") == "ConfbridgeList"]
    assert len(listed) == 3 and caller.name in listed
    await service.leave("pbx1", caller.uniqueid)
    await wait_until(lambda: leg_state(floor, caller) == "left", 10)
    # caller and unit stay in the room
    reply = await floor.node.send(
        {"Action": "ConfbridgeList", "Conference": caller.uniqueid}, as_list=True
    )
    stayed = [f.get("Channel") for f in reply if f.get("Event") == "ConfbridgeList"]
    assert len(stayed) == 2 and caller.name in stayed
    assert not any(name.startswith("PJSIP/1001-") for name in pbx_channels(floor))
    floor.sim.hang_up(caller)
    record = await record_of(floor, caller)
    # the caller was the room's marked user: the unit's line goes with it
    await wait_until(lambda: not pbx_channels(floor), 10)
    await wait_until(lambda: not floor.records.builder.open, 10)
    await floor.records.writer.flush()
    async with session_factory(floor.engine)() as session:
        (only,) = await q.page(session, q.CallFilter(), None, 10)
    assert only.linkedid == caller.uniqueid  # the target's leg made no record of its own
    (leg,) = record.transfers
    assert (leg["kind"], leg["to"], leg["state"], leg["left_by"]) == (
        "conference",
        UNIT,
        "left",
        "agent",
    )
    assert leg["answered"] is not None
    assert record.disposition == "transferred"

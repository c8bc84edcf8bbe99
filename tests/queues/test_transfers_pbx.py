"""Transfers and three-party calls on pbxsim, driven by the transfer service over a real
AMI link, with the configuration `asterisk-conf render` writes: a blind transfer to a
unit, a consultation with 110 that is completed and one with a unit that is cancelled
(the agent is back with the caller), and a three-party call the agent leaves while the
caller and the unit talk on. Each leaves its leg, with its outcome, in the call record;
Asterisk's own ledger (pbxsim writes it) tells the reconciler the same."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from callcenter.asterisk_conf import ConfInputs, render, transfer_targets
from callcenter.db import session_factory
from callcenter.records import query as q
from callcenter.records.ledger_calls import CelRow, LedgerCall, QueueRow, build_calls
from callcenter.records.reconcile import rebuild
from callcenter.transfers.service import NotATarget, NotAtSeat, TransferService, WrongState
from callcenter.transfers.targets import TransferTarget, transfer_whitelist
from pbxsim.asterisk_ledger import AsteriskLedger, pbx_apps
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


#: Asterisk's ledger rows (CDR, CEL, queue_log) pbxsim wrote during the test
LEDGER: list[Any] = []


@pytest.fixture
def no_atxfer_code(conf_dir: Path) -> None:
    """The PBX started without features.conf (requested before `floor`)."""
    (conf_dir / "features.conf").unlink()


@pytest.fixture
async def floor(database_url: str, conf_dir: Path) -> AsyncIterator[Floor]:
    floor = await open_floor(
        database_url, 2, general, policy=lambda _e: fixed_policy(0.5), conf_dir=conf_dir
    )
    LEDGER.clear()
    pbx = floor.sim.system.pbx
    detach = AsteriskLedger(floor.sim.scheduler.now, LEDGER.append, pbx_apps(pbx)).attach(pbx.bus)
    try:
        await floor.seats.service.login("1001")
        await wait_until(lambda: "PJSIP/1001" in floor.live.nodes["pbx1"].queues[GENERAL].members)
        yield floor
    finally:
        detach()
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
    return found.legs if found is not None else []


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


async def hung_up(floor: Floor, caller: Channel) -> Any:
    """The caller hangs up: the call's record, once written."""
    floor.sim.hang_up(caller)
    return await record_of(floor, caller)


def only_leg(record: Any, **expected: Any) -> dict[str, Any]:
    """The record's one transfer leg, asserted to hold `expected`."""
    (leg,) = record.transfers
    assert {name: leg[name] for name in expected} == expected
    return dict(leg)


def pbx_channels(floor: Floor) -> list[str]:
    return [c.name for c in floor.sim.system.pbx.legs.channels()]


def _utc(local: datetime) -> datetime:
    """cel.eventtime is the PBX's local time without zone; the service reads UTC."""
    return datetime.fromtimestamp(local.timestamp(), UTC).replace(tzinfo=None)


async def ledger_call(channel: Channel) -> LedgerCall:
    """The call as the reconciler folds Asterisk's ledger rows."""

    def ended() -> bool:
        return any(
            getattr(r, "eventtype", "") == "LINKEDID_END" and r.linkedid == channel.uniqueid
            for r in LEDGER
        )

    await wait_until(ended, 10)
    cel = [
        CelRow(
            r.eventtype,
            _utc(r.eventtime),
            r.cid_num,
            r.exten,
            r.context,
            r.channame,
            r.uniqueid,
            r.linkedid,
            r.extra,
        )
        for r in LEDGER
        if r.table == "cel"
    ]
    queue = [
        QueueRow(r.time, r.callid, r.queuename, r.agent, r.event, r.data1, r.data2, r.data3)
        for r in LEDGER
        if r.table == "queue_log"
    ]
    calls = build_calls(cel, queue, "from-trunk")
    return next(c for c in calls if c.linkedid == channel.uniqueid)


def shape(transfers: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """What the record and the ledger must agree on (times differ by clock)."""
    return [
        (t["kind"], t["to"], t["state"], t["left_by"], t["answered"] is not None)
        for t in transfers
        if t["kind"] in ("blind", "consult", "conference")
    ]


async def agrees_with_ledger(record: Any, channel: Channel) -> None:
    call = await ledger_call(channel)
    assert shape(call.transfers) == shape(record.transfers)
    assert call.disposition == record.disposition
    rebuilt = rebuild("pbx1", call)
    assert shape(rebuilt.transfers) == shape(record.transfers)
    assert rebuilt.disposition == record.disposition


@pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)
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
    record = await hung_up(floor, caller)
    leg = only_leg(record, kind="blind", to=UNIT, state="completed", status="ANSWER")
    assert leg["started"] <= leg["answered"] <= leg["ended"]
    assert record.disposition == "transferred" and record.seat == "1001"
    await agrees_with_ledger(record, caller)
    # app_queue's and CEL's own words for it (pbxsim writes them as Asterisk 22 does)
    (row,) = [r for r in LEDGER if r.table == "queue_log" and r.callid == caller.uniqueid][-1:]
    assert (row.event, row.agent, row.data1, row.data2) == (
        "BLINDTRANSFER",
        "1001",
        UNIT,
        "hotline-transfer-targets",
    )
    (cel,) = [r for r in LEDGER if getattr(r, "eventtype", "") == "BLINDTRANSFER"]
    assert cel.channame.startswith("PJSIP/1001-") and f'"extension":"{UNIT}"' in cel.extra


@pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)
async def test_consult_110_then_complete(floor: Floor) -> None:
    service = service_of(floor)
    caller = await answered_call(floor, "13900000002")
    with pytest.raises(WrongState):
        await service.complete("pbx1", caller.uniqueid)
    await service.start("pbx1", caller.uniqueid, "110", "consult")
    with pytest.raises(WrongState):  # one transfer at a time
        await service.start("pbx1", caller.uniqueid, UNIT, "blind")
    await wait_until(lambda: leg_state(floor, caller) == "talking", 10)
    # another instance (what runs is the record's, not the instance's): it completes
    await service_of(floor).complete("pbx1", caller.uniqueid)
    await wait_until(lambda: leg_state(floor, caller) == "completed", 10)
    assert not any(name.startswith("PJSIP/1001-") for name in pbx_channels(floor))
    assert not caller.hungup  # with 110 now
    record = await hung_up(floor, caller)
    leg = only_leg(record, kind="consult", to="110", state="completed")
    assert leg["answered"] is not None and leg["ended"] is not None
    assert record.disposition == "transferred"
    await agrees_with_ledger(record, caller)
    rows = [r for r in LEDGER if r.table == "queue_log" and r.callid == caller.uniqueid]
    assert rows[-1].event == "ATTENDEDTRANSFER" and rows[-1].data1 == "BRIDGE"
    assert [r.eventtype for r in LEDGER if getattr(r, "eventtype", "") == "ATTENDEDTRANSFER"]


@pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)
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
    record = await hung_up(floor, caller)
    only_leg(record, kind="consult", to=UNIT, state="returned")
    assert record.disposition == "answered"
    await agrees_with_ledger(record, caller)


@pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)
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
    record = await hung_up(floor, caller)
    # the caller was the room's marked user: the unit's line goes with it
    await wait_until(lambda: not pbx_channels(floor), 10)
    await wait_until(lambda: not floor.records.builder.open, 10)
    await floor.records.writer.flush()
    async with session_factory(floor.engine)() as session:
        (only,) = await q.page(session, q.CallFilter(), None, 10)
    assert only.linkedid == caller.uniqueid  # the target's leg made no record of its own
    leg = only_leg(record, kind="conference", to=UNIT, state="left", left_by="agent")
    assert leg["answered"] is not None
    assert record.disposition == "transferred"
    await agrees_with_ledger(record, caller)


@pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)
async def test_api_who_may_transfer_and_how_it_fails(no_atxfer_code: None, floor: Floor) -> None:
    """The routes over the same PBX: the call's agent may, another seat's agent gets a
    404 as for a missing call, a supervisor may; 422 off the whitelist, 409 when the
    call is not at a seat; Asterisk's refusal is a 502 with its message; the legs are
    in GET .../transfers during the call and in the record after it."""
    import httpx
    from prometheus_client import CollectorRegistry

    from api.app import create_app
    from api.services import ApiServices
    from callcenter.tokens import Role, TokenStore

    tokens = TokenStore(session_factory(floor.engine), lambda: datetime.now(UTC))
    services = ApiServices.from_systems(
        tokens=tokens,
        live=floor.live,
        seats=floor.seats,
        records=floor.records,
        transfers=service_of(floor),
    )
    app = create_app(services, CollectorRegistry(), "t")
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")

    async def bearer(role: Role, seat: str | None = None) -> dict[str, str]:
        _, token = await tokens.create(f"{role.value}-{seat}", role, seat)
        return {"Authorization": f"Bearer {token}"}

    mine, other, sup = (
        await bearer(Role.AGENT, "1001"),
        await bearer(Role.AGENT, "1002"),
        await bearer(Role.SUPERVISOR),
    )
    try:
        targets = (await client.get("/api/v1/transfer-targets", headers=mine)).json()
        assert targets[0] == {"number": "110", "name": "police", "kind": "emergency"}
        assert {"number": UNIT, "name": "HOUSING 住建局", "kind": "unit"} in targets

        caller = await answered_call(floor, "13900000005")
        call_id = f"pbx1:{caller.uniqueid}"
        url = f"/api/v1/calls/{call_id}"
        r = await client.post(f"{url}/transfer", json={"to": "110", "mode": "blind"}, headers=other)
        assert r.status_code == 404  # not its call: as if there were none
        r = await client.post(f"{url}/transfer", json={"to": "999", "mode": "blind"}, headers=mine)
        assert r.status_code == 422 and "transfer-targets" in r.json()["detail"]
        r = await client.post(f"{url}/transfer", json={"to": "110", "mode": "ring"}, headers=mine)
        assert r.status_code == 422
        r = await client.post(f"{url}/transfer/complete", headers=mine)
        assert r.status_code == 409 and "no consultation" in r.json()["detail"]

        # this PBX has no features.conf: Asterisk refuses an attended transfer
        r = await client.post(f"{url}/transfer", json={"to": UNIT, "mode": "consult"}, headers=mine)
        assert r.status_code == 502
        assert "No attended transfer feature code found" in r.json()["detail"]

        r = await client.post(
            f"{url}/transfer", json={"to": UNIT, "mode": "conference"}, headers=sup
        )
        assert r.status_code == 202
        body = r.json()
        assert (body["id"], body["call"], body["mode"], body["to"], body["state"]) == (
            f"{call_id}/1",
            call_id,
            "conference",
            UNIT,
            "dialing",
        )
        assert datetime.fromisoformat(body["started_at"]).utcoffset() is not None
        await wait_until(lambda: leg_state(floor, caller) == "conference", 10)
        legs_now = (await client.get(f"{url}/transfers", headers=mine)).json()
        assert [(t["mode"], t["to"], t["state"]) for t in legs_now] == [
            ("conference", UNIT, "conference")
        ]
        assert (await client.get(f"{url}/transfers", headers=other)).status_code == 404
        r = await client.post(f"{url}/conference/leave", headers=mine)
        assert r.status_code == 200 and r.json()["state"] == "left"
        await wait_until(lambda: leg_state(floor, caller) == "left", 10)
        r = await client.post(f"{url}/transfer", json={"to": "110", "mode": "blind"}, headers=mine)
        assert r.status_code == 409  # the agent is out of the call

        floor.sim.hang_up(caller)
        await record_of(floor, caller)
        recorded = (await client.get(f"{url}/transfers", headers=mine)).json()
        assert [(t["id"], t["state"], t["left_by"]) for t in recorded] == [
            (f"{call_id}/1", "left", "agent")
        ]
        assert recorded[0]["answered_at"] is not None and recorded[0]["ended_at"] is not None
        detail = (await client.get(url, headers=sup)).json()
        assert [t["kind"] for t in detail["transfers"]] == ["conference"]
    finally:
        await client.aclose()


@pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)
async def test_consult_target_hangs_up_first_the_agent_is_back(floor: Floor) -> None:
    """The target hangs up during the consultation: Asterisk gives the seat back to
    the caller, the leg is `returned`, and the agent may transfer again."""
    from pbxsim.telephony.dial import Dialer, FarEndResponse

    dialer = floor.sim.system.pbx.find_app("Dial")
    assert isinstance(dialer, Dialer)
    dialer.far_end = lambda _endpoint, _number: FarEndResponse(answer_delay=1.0, talk_time=2.0)
    service = service_of(floor)
    caller = await answered_call(floor, "13900000006")
    await service.start("pbx1", caller.uniqueid, "110", "consult")
    await wait_until(lambda: leg_state(floor, caller) == "returned", 10)
    assert service.running("pbx1", caller.uniqueid) is None
    assert service.parties("pbx1", caller.uniqueid).seat == "1001"
    dialer.far_end = lambda _endpoint, _number: FarEndResponse(answer_delay=1.0)
    run = await service.start("pbx1", caller.uniqueid, UNIT, "blind")
    assert run.index == 2
    await wait_until(lambda: leg_state(floor, caller) == "completed", 10)
    record = await hung_up(floor, caller)
    assert [(t["kind"], t["to"], t["state"]) for t in record.transfers] == [
        ("consult", "110", "returned"),
        ("blind", UNIT, "completed"),
    ]
    assert record.disposition == "transferred"
    await agrees_with_ledger(record, caller)


@pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)
async def test_blind_transfer_nobody_answers_the_caller_is_queued_again(floor: Floor) -> None:
    """The unit's line is busy: the blind-transferred caller goes back to its queue
    (the rendered whitelist context), a seat answers it again; the leg is failed and
    the call answered, in the record and in the ledger alike."""
    from pbxsim.telephony.dial import Dialer, FarEndResponse

    dialer = floor.sim.system.pbx.find_app("Dial")
    assert isinstance(dialer, Dialer)
    dialer.far_end = lambda _endpoint, _number: FarEndResponse(reject_cause=17, answer_delay=1.0)
    service = service_of(floor)
    caller = await answered_call(floor, "13900000007")
    await service.start("pbx1", caller.uniqueid, UNIT, "blind")
    await wait_until(lambda: leg_state(floor, caller) == "failed", 10)
    state = floor.live.nodes["pbx1"]
    await wait_until(lambda: state.calls[caller.uniqueid].where == "talking", 10)
    assert not caller.hungup
    record = await hung_up(floor, caller)
    only_leg(record, kind="blind", to=UNIT, state="failed", status="BUSY")
    assert record.disposition == "answered" and record.hangup_by == "caller"
    await agrees_with_ledger(record, caller)

"""The desks' hub on a live model fed AMI events by hand: a pop goes to the rung seat's
desks only and follows the call (missed, answered, done, ended), the number as each
moment's privacy rules say, and a slow database costs the pop its history, not its
time."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Any

from ami import events as ev
from ami.frames import Frame
from api.desk_pop import PopBuilder
from api.desk_ws import DeskClient, DeskHub
from callcenter.clock import SHANGHAI
from callcenter.live.live_state import LiveState
from callcenter.live.node_state import Member, Queue
from callcenter.records.history import PastCall
from queues.priority import CallerPriority, PriorityRules

QUEUE = "hotline-housing"
CALLER = "13912341111"


def event(name: str, **headers: str) -> ev.AmiEvent:
    return ev.parse_event(Frame((("Event", name), *headers.items())))


def channel(uid: str, exten: str = "s", caller: str = CALLER) -> dict[str, str]:
    return {
        "Channel": f"PJSIP/trunk-{uid}",
        "ChannelState": "6",
        "CallerIDNum": caller,
        "Context": "from-trunk",
        "Exten": exten,
        "Priority": "1",
        "Uniqueid": uid,
        "Linkedid": uid,
    }


def agent(name: str, uid: str, seat: str, **more: str) -> ev.AmiEvent:
    return event(
        name, **channel(uid), Queue=QUEUE, Interface=f"PJSIP/{seat}", MemberName=seat, **more
    )


class SlowHistory:
    """A database that answers after the pop gave up on it."""

    async def history_of(self, caller: str, since: datetime, limit: int) -> list[PastCall]:
        await asyncio.sleep(5)
        return []


async def frames(client: DeskClient, wait: float = 0.2) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    while True:
        try:
            out.append(json.loads(await asyncio.wait_for(client.queue.get(), wait)))
        except TimeoutError:
            return out


def of_type(got: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [f for f in got if f["type"] == kind]


async def test_a_pop_goes_to_the_rung_seat_only_and_follows_the_call() -> None:
    live = LiveState(lambda: 1_795_140_000.0)
    state = live.node_state("pbx1")
    state.stale = False
    state.queues[QUEUE] = Queue(QUEUE)
    for seat in ("1001", "1002"):
        iface = f"PJSIP/{seat}"
        state.queues[QUEUE].members[iface] = Member(QUEUE, iface, member_name=seat, status=1)
    pops = PopBuilder(
        live,
        SHANGHAI,
        history=SlowHistory(),
        keys=lambda node, linkedid: "12",
        wall_clock=lambda: datetime.now(UTC),
        timeout_s=0.05,
    )
    hub = DeskHub(live, pops, pause_reasons=["meal"])
    one, first_one = await hub.attach("1001")
    two, first_two = await hub.attach("1002")
    try:
        assert [json.loads(f)["type"] for f in first_one] == ["desk", "seat"]
        assert json.loads(first_two[0])["pause_reasons"] == [
            {"code": "meal", "zh": "用餐", "en": "Meal"}
        ]

        # a call rings 1001, which does not answer
        state.apply(event("Newchannel", **channel("c.1", "12345")))
        state.apply(event("VarSet", **channel("c.1"), Variable="HOTLINE_UNIT", Value="HOUSING"))
        state.apply(event("QueueCallerJoin", **channel("c.1"), Queue=QUEUE, Position="1"))
        state.apply(agent("AgentCalled", "c.1", "1001"))
        got = await frames(one)
        (pop,) = of_type(got, "pop")
        assert pop["phase"] == "ringing"
        assert pop["pop"]["call"] == "pbx1:c.1" and pop["pop"]["dialed"] == "12345"
        assert pop["pop"]["caller"] == "139****1111"  # ringing is not having the call
        assert pop["pop"]["unit"]["code"] == "HOUSING" and pop["pop"]["ivr_keys"] == "12"
        assert pop["pop"]["history"] is None  # the database was too slow: no history
        assert of_type(await frames(two), "pop") == []
        state.apply(agent("AgentRingNoAnswer", "c.1", "1001", RingTime="15000"))
        missed = of_type(await frames(one), "call")
        assert [(f["call"], f["event"]) for f in missed] == [("pbx1:c.1", "missed")]
        assert await hub.current("1001") is None

        # the queue tries 1002, which answers, talks, and the caller hangs up
        state.apply(agent("AgentCalled", "c.1", "1002"))
        (pop,) = of_type(await frames(two), "pop")
        assert pop["pop"]["call"] == "pbx1:c.1"
        state.apply(agent("AgentConnect", "c.1", "1002", HoldTime="20", RingTime="3"))
        (answered,) = of_type(await frames(two), "call")
        assert answered["event"] == "answered" and answered["caller"] == CALLER
        current = await hub.current("1002")
        assert current is not None and hub.shown(current)["caller"] == CALLER
        live.mark_confidential("pbx1", "c.1")  # the caller asks for protection
        assert hub.shown(current)["caller"] == "139****1111"
        state.apply(agent("AgentComplete", "c.1", "1002", TalkTime="60", Reason="caller"))
        state.apply(event("Hangup", **channel("c.1"), Cause="16"))
        events = [(f["event"], f["phase"]) for f in of_type(await frames(two), "call")]
        assert events == [("agent_done", "wrap_up"), ("ended", "ended")]
        ended = await hub.current("1002")
        assert ended is not None and ended.phase == "ended"
        assert hub.shown(ended)["caller"] == "139****1111"  # as last shown

        # 1001 never heard of the call again
        assert all("c.1" not in json.dumps(f) for f in await frames(one))
        assert len(hub.pop_latencies) == 2 and max(hub.pop_latencies) < 1.0
    finally:
        await hub.stop()


async def test_a_pop_says_a_call_was_handed_over_by_110() -> None:
    """The dialplan's HOTLINE_SOURCE=110 on the caller's channel reaches the live call,
    and the pop explains its priority with it (zh/en words for the screen)."""

    class NoHistory:
        async def last_queued(self, caller: str, since_epoch: float) -> float | None:
            return None

    live = LiveState(lambda: 1_795_140_000.0)
    state = live.node_state("pbx1")
    state.stale = False
    state.queues[QUEUE] = Queue(QUEUE)
    iface = "PJSIP/1001"
    state.queues[QUEUE].members[iface] = Member(QUEUE, iface, member_name="1001", status=1)
    pops = PopBuilder(
        live,
        SHANGHAI,
        priority=CallerPriority(PriorityRules(), NoHistory(), live),
        wall_clock=lambda: datetime.now(UTC),
        timeout_s=0.05,
    )
    hub = DeskHub(live, pops, pause_reasons=["meal"])
    one, _ = await hub.attach("1001")
    try:
        state.apply(event("Newchannel", **channel("h.1", "12345110")))
        state.apply(event("VarSet", **channel("h.1"), Variable="HOTLINE_SOURCE", Value="110"))
        state.apply(event("QueueCallerJoin", **channel("h.1"), Queue=QUEUE, Position="1"))
        state.apply(agent("AgentCalled", "h.1", "1001"))
        (pop,) = of_type(await frames(one), "pop")
        assert pop["pop"]["priority_reasons"] == ["from 110"]
        assert pop["pop"]["priority_reason_words"] == [{"zh": "110 转来", "en": "from 110"}]
    finally:
        hub.detach(one)

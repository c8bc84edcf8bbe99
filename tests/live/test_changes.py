"""Change subscriptions: ordered, sequence-numbered, and never blocking the reader; and
the typed changes as the live stream sends them."""

from __future__ import annotations

import json

from callcenter.live.changes import (
    CallerJoined,
    CallerLeft,
    CallStarted,
    ChangeHub,
    Lost,
    NodeReady,
    NodeStale,
    SeatChanged,
    SeatRemoved,
)


def joined(hub: ChangeHub, uniqueid: str) -> CallerJoined:
    return hub.publish(
        CallerJoined,
        "pbx1",
        0.0,
        uniqueid=uniqueid,
        queue="hotline-general",
        position=1,
        priority=0,
        linkedid=uniqueid,
        caller="139",
    )


async def test_changes_arrive_in_order_with_increasing_sequence() -> None:
    hub = ChangeHub()
    sub = hub.subscribe("t")
    for i in range(5):
        hub.publish(SeatRemoved, "pbx1", float(i), interface=f"s{i}", queue="q", member_name=str(i))
    got = [await sub.get() for _ in range(5)]
    assert all(isinstance(c, SeatRemoved) for c in got)
    assert [c.seq for c in got if isinstance(c, SeatRemoved)] == [1, 2, 3, 4, 5]
    assert hub.last_seq == 5
    assert sub.get_nowait() is None


async def test_a_slow_subscriber_is_told_it_lost_changes_and_others_are_unaffected() -> None:
    hub = ChangeHub()
    slow = hub.subscribe("slow", maxsize=3)
    fast = hub.subscribe("fast", maxsize=100)
    for i in range(10):
        joined(hub, f"c{i}")  # never blocks
    first = [slow.get_nowait() for _ in range(3)]
    assert [c.seq for c in first if isinstance(c, CallerJoined)] == [1, 2, 3]
    lost = slow.get_nowait()
    assert lost == Lost(last_seq=3, dropped=7)
    hub.publish(
        CallerLeft,
        "pbx1",
        1.0,
        uniqueid="c0",
        queue="hotline-general",
        position=1,
        linkedid="c0",
        waited_s=1.0,
    )
    after = slow.get_nowait()
    assert isinstance(after, CallerLeft) and after.seq == 11  # delivery resumes after Lost
    fast_seqs = []
    while (item := fast.get_nowait()) is not None:
        assert not isinstance(item, Lost)
        fast_seqs.append(item.seq)
    assert fast_seqs == list(range(1, 12))


async def test_closed_subscription_gets_nothing() -> None:
    hub = ChangeHub()
    sub = hub.subscribe("t")
    sub.close()
    hub.publish(NodeReady, "pbx1", 0.0)
    assert sub.get_nowait() is None


def test_the_wire_form_is_kind_action_key_and_data_in_field_order() -> None:
    seat = SeatChanged(
        7,
        "pbx1",
        12.5,
        interface="PJSIP/1001",
        queue="hotline-general",
        member_name="1001",
        status=2,
        paused=False,
        paused_reason="",
        in_call=True,
        ringing=False,
        calls_taken=3,
    )
    assert json.dumps(seat.wire(), separators=(",", ":")) == (
        '{"seq":7,"node":"pbx1","kind":"seat","action":"changed","key":"PJSIP/1001",'
        '"data":{"queue":"hotline-general","member_name":"1001","status":2,"paused":false,'
        '"paused_reason":"","in_call":true,"ringing":false,"calls_taken":3},"at":12.5}'
    )
    call = CallStarted(8, "pbx1", 13.0, linkedid="1.1", caller="139", dialed="12345")
    assert call.wire()["key"] == "1.1"
    assert call.wire()["data"] == {"caller": "139", "dialed": "12345"}
    stale = NodeStale(9, "pbx2", 14.0, reason="link down")
    assert stale.wire() == {
        "seq": 9,
        "node": "pbx2",
        "kind": "node",
        "action": "stale",
        "key": "pbx2",
        "data": {"reason": "link down"},
        "at": 14.0,
    }
    assert NodeReady(10, "pbx2", 15.0).wire()["data"] == {}

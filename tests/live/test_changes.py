"""Change subscriptions: ordered, sequence-numbered, and never blocking the reader."""

from __future__ import annotations

from callcenter.live.changes import Change, ChangeHub, Lost


async def test_changes_arrive_in_order_with_increasing_sequence() -> None:
    hub = ChangeHub()
    sub = hub.subscribe("t")
    for i in range(5):
        hub.publish("pbx1", "seat", "changed", f"s{i}", at=float(i))
    got = [await sub.get() for _ in range(5)]
    assert all(isinstance(c, Change) for c in got)
    assert [c.seq for c in got if isinstance(c, Change)] == [1, 2, 3, 4, 5]
    assert sub.get_nowait() is None


async def test_a_slow_subscriber_is_told_it_lost_changes_and_others_are_unaffected() -> None:
    hub = ChangeHub()
    slow = hub.subscribe("slow", maxsize=3)
    fast = hub.subscribe("fast", maxsize=100)
    for i in range(10):
        hub.publish("pbx1", "queue_caller", "joined", f"c{i}", at=0.0)  # never blocks
    first = [slow.get_nowait() for _ in range(3)]
    assert [c.seq for c in first if isinstance(c, Change)] == [1, 2, 3]
    lost = slow.get_nowait()
    assert lost == Lost(last_seq=3, dropped=7)
    hub.publish("pbx1", "queue_caller", "left", "c0", at=1.0)
    after = slow.get_nowait()
    assert isinstance(after, Change) and after.seq == 11  # delivery resumes after Lost
    fast_seqs = []
    while (item := fast.get_nowait()) is not None:
        assert isinstance(item, Change)
        fast_seqs.append(item.seq)
    assert fast_seqs == list(range(1, 12))


async def test_closed_subscription_gets_nothing() -> None:
    hub = ChangeHub()
    sub = hub.subscribe("t")
    sub.close()
    hub.publish("pbx1", "node", "ready", "pbx1", at=0.0)
    assert sub.get_nowait() is None

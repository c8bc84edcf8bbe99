"""The live stream's incremental rows equal a full recompute, batch after batch.

Random AMI events go through the real live model (NodeState -> ChangeHub), the seat
watcher counts them as in production, and after every batch the table's delta is
applied to a screen's view built from its snapshot. That view must equal the rows
`queue_rows`/`seat_rows` give at that moment, which are the REST API's numbers:
nothing missed, nothing stale, including a wrap-up that runs out with no event at all.
"""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ami import events as ev
from api.live_rows import CENTRE, as_json_row, centre_row, queue_rows, seat_rows
from api.live_table import LiveTable, delta_json
from api.live_ws import LiveStream
from callcenter.clock import SHANGHAI
from callcenter.db import create_engine, session_factory
from callcenter.live.changes import Change, Lost, NodeChange, NodeReady, NodeStale
from callcenter.live.live_state import LiveState
from callcenter.live.node_state import Member, Queue
from queues.models import Seat
from queues.wiring import SeatsSystem, build_seats
from tests.live.test_faults import wait_until

QUEUES = ["hotline-general", "hotline-housing", "hotline-market"]  # catalog wrap-up: 10 s
NODES = ["pbx1", "pbx2"]
INTERFACES = [f"PJSIP/{1001 + i}" for i in range(6)]
DEVICE_STATES = ["NOT_INUSE", "INUSE", "BUSY", "UNAVAILABLE", "RINGING", "ONHOLD"]
QUEUES_EVERY_S = 1.0


class Clocks:
    """The PBX clock (`live`) and the stream's monotonic one, moved by the test."""

    def __init__(self) -> None:
        self.t = 1_800_000_000.0
        self.mono = 0.0

    def live(self) -> float:
        return self.t

    def monotonic(self) -> float:
        return self.mono


def snapshot_of(channel: str, uid: str) -> ev.ChannelSnapshot:
    return ev.ChannelSnapshot(
        channel, 6, "Up", "13900000000", "", "", "", "", "", "", "", 1, uid, uid
    )


def member_event(cls: type[ev.MemberEvent], queue: str, interface: str, **f: Any) -> ev.AmiEvent:
    return cls(cls.NAME, {}, queue=queue, interface=interface, state_interface=interface, **f)


# one step: (what, node, interface index, queue index, a few numbers)
steps = st.tuples(
    st.sampled_from(
        [
            "add",
            "add",
            "member",
            "member",
            "remove",
            "device",
            "called",
            "connect",
            "complete",
            "complete",
            "join",
            "leave",
            "advance",
            "advance",
            "stale",
            "lost",
            "db",
        ]
    ),
    st.sampled_from(NODES),
    st.integers(0, len(INTERFACES) - 1),
    st.integers(0, len(QUEUES) - 1),
    st.integers(0, 12),
    st.booleans(),
)


def apply_step(
    live: LiveState, clocks: Clocks, db: list[Seat], step: tuple[Any, ...], n: int
) -> bool:
    """Apply one step to the model (or the clock, or the provisioned seats); True when
    the stream is to be told it lost changes."""
    what, node, i, q, k, flag = step
    state = live.node_state(node)
    interface, queue = INTERFACES[i], QUEUES[q]
    member = state.queues.get(queue, None)
    current: Member | None = member.members.get(interface) if member else None
    if what == "add":
        state.apply(
            member_event(
                ev.QueueMemberAdded,
                queue,
                interface,
                member_name=f"seat-{interface[-4:]}",
                status=1,
                paused=flag,
                paused_reason="meal" if flag else "",
                wrapuptime=k if k % 3 == 0 else 0,  # sometimes the member's own wrap-up
                login_time=int(clocks.t),
            )
        )
    elif what == "member" and current is not None:
        cls = ev.QueueMemberPause if flag else ev.QueueMemberStatus
        state.apply(
            member_event(
                cls,
                queue,
                interface,
                member_name=current.member_name,
                status=(1, 2, 5, 6)[k % 4],
                paused=k % 2 == 0,
                paused_reason=("", "meal", "training")[k % 3] if k % 2 == 0 else "",
                in_call=k % 5 == 0,
                calls_taken=current.calls_taken,
                last_call=current.last_call,
                wrapuptime=current.wrapuptime,
                login_time=current.login_time,
            )
        )
    elif what == "remove" and current is not None:
        state.apply(member_event(ev.QueueMemberRemoved, queue, interface))
    elif what == "device":
        state.apply(ev.DeviceStateChange("DeviceStateChange", {}, interface, DEVICE_STATES[k % 6]))
    # Asterisk sends agent events for members only (the model would otherwise create an
    # empty queue for them, unannounced: the periodic queue pass shows it)
    elif what == "called" and current is not None:
        state.apply(ev.AgentCalled("AgentCalled", {}, queue=queue, interface=interface))
    elif what == "connect" and current is not None:
        state.apply(ev.AgentConnect("AgentConnect", {}, queue=queue, interface=interface))
    elif what == "complete" and current is not None:  # LastCall = now: wrap-up starts
        state.apply(ev.AgentComplete("AgentComplete", {}, queue=queue, interface=interface))
    elif what == "join":
        uid = f"caller-{n}"
        count = len(state.queues[queue].entries) if queue in state.queues else 0
        state.apply(
            ev.QueueCallerJoin(
                "QueueCallerJoin",
                {},
                channel=snapshot_of(f"PJSIP/trunk-{n}", uid),
                queue=queue,
                position=count + 1,
            )
        )
    elif what == "leave" and queue in state.queues and state.queues[queue].entries:
        entry = next(iter(state.queues[queue].entries.values()))
        state.apply(
            ev.QueueCallerLeave(
                "QueueCallerLeave",
                {},
                channel=snapshot_of(entry.channel, entry.uniqueid),
                queue=queue,
                position=entry.position,
            )
        )
    elif what == "advance":  # time passes: waits grow, wrap-ups run out
        clocks.t += (0.3, 1.0, 4.0, 9.5, 10.0, 11.0)[k % 6]
        if flag:  # and the periodic pass over every queue falls due
            clocks.mono += QUEUES_EVERY_S
    elif what == "stale":  # what LiveState does when a link drops or comes back
        state.stale = not state.stale
        if state.stale:
            live.hub.publish(NodeStale, node, clocks.t, reason="link down")
        else:
            live.hub.publish(NodeReady, node, clocks.t)
    elif what == "lost":
        return True
    elif what == "db":  # the provisioned seats changed (a login, a new seat)
        seat = next((s for s in db if (s.node, s.interface) == (node, interface)), None)
        if seat is None:
            db.append(provisioned(node, interface, k, logged_in=flag))
        else:
            seat.logged_in = not seat.logged_in
            seat.changed_at = datetime.fromtimestamp(clocks.t, UTC)
    return False


def provisioned(node: str, interface: str, k: int, logged_in: bool) -> Seat:
    at = datetime(2027, 1, 1, tzinfo=UTC)
    return Seat(
        id=f"seat-{node}-{interface[-4:]}",
        extension=interface[-4:],
        interface=interface,
        node=node,
        skills={"general": 1 + k % 5},
        logged_in=logged_in,
        pause_reason=None,
        changed_at=at,
        created_at=at,
    )


def full_view(live: LiveState, seats: SeatsSystem | None, db: list[Seat]) -> dict[str, Any]:
    """What a fresh snapshot would hold now, as a screen parses it."""
    now = live.clock()
    queues = queue_rows(live, seats, now)
    seat_objects = seat_rows(live, seats, db, now, SHANGHAI)
    queues[CENTRE] = centre_row(queues.values(), seat_objects.values(), None)
    rows = {
        "queues": [as_json_row(k, r) for k, r in queues.items()],
        "seats": [as_json_row(k, r) for k, r in seat_objects.items()],
    }
    parsed: dict[str, Any] = json.loads(json.dumps(rows, default=str))
    return parsed


class Screen:
    """A client: its snapshot, then every delta applied by key, in order."""

    def __init__(self, snapshot: str) -> None:
        message = json.loads(snapshot)
        assert message["type"] == "snapshot"
        self.queues = {r["key"]: r for r in message["queues"]}
        self.seats = {r["key"]: r for r in message["seats"]}
        self.seq = message["seq"]

    def apply(self, text: str) -> None:
        message = json.loads(text)
        assert message["type"] == "delta" and message["seq"] == self.seq + 1
        self.seq = message["seq"]
        for row in message["queues"]:
            self.queues[row["key"]] = row
        for row in message["seats"]:
            self.seats[row["key"]] = row
        for key in message["removed"]["queues"]:
            del self.queues[key]
        for key in message["removed"]["seats"]:
            del self.seats[key]

    def view(self) -> dict[str, Any]:
        return {"queues": list(self.queues.values()), "seats": list(self.seats.values())}


def as_sets(view: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {part: {r["key"]: r for r in rows} for part, rows in view.items()}


async def seats_system(live: LiveState) -> SeatsSystem:
    """The real seats side (tracker with the catalog's wrap-up, today's counters, the
    watcher that feeds them); its database is never reached by these steps."""
    engine = create_engine("sqlite+aiosqlite://")
    seats = build_seats(session_factory(engine), live, lambda: datetime.now(UTC), ["meal"])
    seats.watcher.on_abandoned = None
    return seats


def run_steps(step_list: list[tuple[Any, ...]], with_seats: bool, batch: int) -> tuple[int, int]:
    """Drive the steps in batches; after each, check the screen against a full view.
    Returns (deltas checked, full passes) so the caller can see the incremental path
    was the one exercised."""
    clocks = Clocks()
    live = LiveState(clocks.live)
    for node in NODES:
        live.node_state(node).stale = False
    seats = asyncio.run(seats_system(live)) if with_seats else None
    db = [provisioned("pbx1", INTERFACES[0], 0, logged_in=True)]
    db.append(provisioned("pbx2", "PJSIP/9999", 1, logged_in=False))  # offline only
    sub = live.hub.subscribe("test", maxsize=100_000)
    table = LiveTable(
        live,
        seats,
        queues_every_s=QUEUES_EVERY_S,
        full_every_s=1e9,  # the safety net never runs: it would hide a miss
        monotonic=clocks.monotonic,
        city=SHANGHAI,
    )
    table.set_db_seats(list(db))
    table.update([], full=True)
    screen = Screen(table.snapshot_json(0, "e"))
    assert as_sets(screen.view()) == as_sets(full_view(live, seats, db))
    seq = checked = 0
    every_queue_at = clocks.t  # the live clock at the last pass over every queue
    for start in range(0, len(step_list), batch):
        ticks = clocks.mono
        lost = False
        for n, step in enumerate(step_list[start : start + batch], start):
            lost |= apply_step(live, clocks, db, step, n)
        changes: list[Change] = []
        while (item := sub.get_nowait()) is not None:
            if isinstance(item, Lost):  # pragma: no cover - the queue is big enough
                lost = True
            else:
                changes.append(item)
        if seats is not None:
            seats.watcher.drain()  # in production it runs during the coalescing window
        table.set_db_seats(list(db))
        delta = table.update(changes, full=lost)
        seq += 1
        screen.apply(delta_json(seq, changes, delta, SHANGHAI))
        if clocks.mono != ticks or lost or any(isinstance(c, NodeChange) for c in changes):
            every_queue_at = clocks.t
        want = as_sets(full_view(live, seats, db))
        got = as_sets(screen.view())
        if clocks.t != every_queue_at:
            # the one allowance: a queue no change named shows its grown longest wait
            # at the next pass over every queue (everything else, wrap-ups that ran
            # out included, must be exact now)
            for view in (want, got):
                view["queues"] = {
                    k: {f: v for f, v in row.items() if f != "longest_wait_s"}
                    for k, row in view["queues"].items()
                }
        assert got == want, (step_list[start : start + batch], diff(got, want))
        checked += 1
    assert table.full_pass_fixes == 0
    return checked, table.full_passes


def diff(got: dict[str, Any], want: dict[str, Any]) -> list[str]:
    out = []
    for part in ("queues", "seats"):
        for key in sorted(set(got[part]) | set(want[part])):
            a, b = got[part].get(key), want[part].get(key)
            if a != b:
                fields = sorted(
                    f for f in set(a or {}) | set(b or {}) if (a or {}).get(f) != (b or {}).get(f)
                )
                out.append(
                    f"{part} {key}: {fields} screen={a and {f: a.get(f) for f in fields}} "
                    f"full={b and {f: b.get(f) for f in fields}}"
                )
    return out


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(steps, min_size=1, max_size=60), st.booleans(), st.integers(1, 4))
def test_incremental_deltas_equal_a_full_recompute(
    step_list: list[tuple[Any, ...]], with_seats: bool, batch: int
) -> None:
    run_steps(step_list, with_seats, batch)


def test_a_busy_floor_is_served_incrementally() -> None:
    """The same check on a long fixed run, and proof it did not pass by recomputing
    everything: full passes only at the start, for the stale/lost/db steps, and when a
    seat first appears or goes away."""
    plan: list[tuple[Any, ...]] = []
    for n in range(400):
        i, q = n % len(INTERFACES), (n // 7) % len(QUEUES)
        node = NODES[n % 2]
        if n < 36:
            plan.append(("add", node, i, q, n, n % 4 == 0))
        else:
            what = (
                "member",
                "device",
                "called",
                "connect",
                "complete",
                "join",
                "leave",
                "advance",
            )[n % 8]
            plan.append((what, node, i, q, n, n % 3 == 0))
    checked, full_passes = run_steps(plan, with_seats=True, batch=2)
    assert checked == 200
    assert full_passes <= 20, full_passes


async def test_a_wrapup_that_runs_out_reaches_the_screens_without_any_event() -> None:
    """app_queue says nothing when wrap-up ends: the pump wakes for it by itself (the
    tick, which would also show it, is set far away)."""
    live = LiveState(time.time)
    state = live.node_state("pbx1")
    state.stale = False
    stream = LiveStream(live, None, tick_s=30.0, coalesce_s=0.0)
    last_call = int(time.time())
    state.queues["q"] = queue = Queue("q")
    queue.members["PJSIP/1001"] = Member(
        "q", "PJSIP/1001", member_name="1001", status=1, last_call=last_call, wrapuptime=2
    )
    await stream.ensure_started()
    try:
        client, first = stream.attach(None, None)
        screen = Screen(first[0])
        assert screen.seats["pbx1|PJSIP/1001"]["state"] == "wrap_up"
        await wait_until(lambda: not client.queue.empty(), 10)
        text = client.queue.get_nowait()
        assert text is not None
        screen.apply(text)
        assert screen.seats["pbx1|PJSIP/1001"]["state"] == "available"
        assert time.time() >= last_call + 2
        assert json.loads(text)["changes"] == []  # no change said it
    finally:
        await stream.stop()


def test_the_centre_counts_each_seat_once() -> None:
    """A seat in three queues on one call is one seat on a call for the centre (the
    per-queue rows each show it: it is a member of each), and the callers waiting in
    every queue add up."""
    from types import SimpleNamespace

    from api.live_rows import QueueRow
    from callcenter.legacy.queues import QueueCatalog

    def row(name: str, waiting: int, longest: float) -> QueueRow:
        seats = {"available": 0, "ringing": 0, "on_call": 1, "wrap_up": 0}
        seats |= {"paused": 0, "unavailable": 0}
        named = QueueCatalog.default().shown(name)
        return QueueRow(
            f"pbx1|{named.name}",
            "pbx1",
            named.name,
            named.display,
            name,
            False,
            waiting,
            longest,
            1,
            seats,
            None,
        )

    queues = [row(q, n, 10.0 * n) for n, q in enumerate(QUEUES, start=1)]
    seats = [SimpleNamespace(state="on_call"), SimpleNamespace(state="offline")]
    centre = centre_row(queues, seats, None)
    assert sum(q.seats["on_call"] for q in queues) == 3
    assert centre.seats["on_call"] == 1 and centre.members == 1
    assert (centre.waiting, centre.longest_wait_s) == (6, 30.0)
    assert centre.key == CENTRE and centre.today is None

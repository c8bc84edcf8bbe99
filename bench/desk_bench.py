"""The agent's desk: how soon a ringing seat's desk has its screen pop.

`screen_pop_ms`: 1,500 seats (each in the general queue and one specialist queue), a
desk open for every one of them, and calls arriving at 6,000 an hour for `DURATION_S`:
each call comes in (its channel, DID and unit variables), joins a queue, rings a free
seat (AgentCalled), is answered 2 s later and talks for 4 minutes (so some 400 calls
are in progress at once, each seat's changes going to its desk). The AMI events are
applied to the live model as the AMI reader applies them, in this process, and the
desks' hub (api/desk_ws.py) makes each pop from the live model, the priority rules and
the caller's last 30 days read from SQLite holding 60,000 calls of 10,000 callers (so
every caller has a history), and queues it for the desk. p99 over every ring of (the
pop taken off the desk's queue, as its socket's sender takes it - the AgentCalled
applied). `screen_pop_wrong_desk`: pops that reached a desk other than the rung seat's
(must be 0); `screen_pops`: how many rings were measured.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import random
import statistics
import tempfile
import time
from pathlib import Path

from ami import events as ev
from ami.frames import Frame
from api.desk_pop import PopBuilder
from api.desk_ws import DeskClient, DeskHub
from bench.records_bench import day_of_calls
from callcenter import migrate
from callcenter.clock import SHANGHAI
from callcenter.db import create_engine, session_factory
from callcenter.legacy.queues import QueueCatalog, asterisk_queue
from callcenter.live.live_state import LiveState
from callcenter.live.node_state import Member, NodeState, Queue
from callcenter.records.history import SqlHistory
from callcenter.records.store import RecordStore
from queues.priority import CallerPriority, PriorityRules

SEATS = 1_500
CALLS_PER_HOUR = 6_000
DURATION_S = 90.0
ANSWER_AFTER_S = 2.0
TALK_S = 240.0
PAST_CALLS = 60_000
CALLERS = 10_000
NODE = "pbx1"
GENERAL = asterisk_queue("general")


def _event(name: str, **headers: str) -> ev.AmiEvent:
    return ev.parse_event(Frame((("Event", name), *headers.items())))


def _channel(uid: str, caller: str, exten: str) -> dict[str, str]:
    return {
        "Channel": f"PJSIP/trunk-{uid}",
        "ChannelState": "6",
        "ChannelStateDesc": "Up",
        "CallerIDNum": caller,
        "CallerIDName": "",
        "ConnectedLineNum": "",
        "ConnectedLineName": "",
        "Language": "zh",
        "AccountCode": "",
        "Context": "from-trunk",
        "Exten": exten,
        "Priority": "1",
        "Uniqueid": uid,
        "Linkedid": uid,
    }


def _floor(state: NodeState) -> None:
    """1,500 available seats, each in general and one specialist queue."""
    state.stale = False
    queues = QueueCatalog.default().names
    state.queues = {
        asterisk_queue(q): Queue(asterisk_queue(q), strategy="leastrecent") for q in queues
    }
    specialists = queues[1:]
    for i in range(SEATS):
        iface = f"PJSIP/{1001 + i}"
        for name in ("general", specialists[i % len(specialists)]):
            queue = state.queues[asterisk_queue(name)]
            queue.members[iface] = Member(
                queue.name, iface, member_name=str(1001 + i), state_interface=iface, status=1
            )


async def _history(url: str, callers: list[str]) -> None:
    engine = create_engine(url)
    await migrate.upgrade(engine)
    now = time.time()
    rng = random.Random(11)
    calls = [
        dataclasses.replace(
            c,
            linkedid=f"past.{i}",
            caller=rng.choice(callers),
            started_at=(start := now - rng.uniform(60, 30 * 86400)),
            ended_at=start + 200,
        )
        for i, c in enumerate(day_of_calls(PAST_CALLS))
    ]
    store = RecordStore(session_factory(engine))
    for i in range(0, len(calls), 5_000):
        await store.upsert(calls[i : i + 5_000])
    await engine.dispose()


async def _run(url: str, callers: list[str]) -> dict[str, float]:
    engine = create_engine(url)
    live = LiveState(time.time)
    state = live.node_state(NODE)
    _floor(state)
    history = SqlHistory(session_factory(engine))
    pops = PopBuilder(
        live, SHANGHAI, history=history, priority=CallerPriority(PriorityRules(), history, live)
    )
    hub = DeskHub(live, pops, pause_reasons=["break", "meal"])
    rang: dict[str, tuple[float, str]] = {}  # call id -> (when it rang, the seat)
    latencies: list[float] = []
    wrong = 0

    async def desk(client: DeskClient) -> None:
        nonlocal wrong
        while True:
            text = await client.queue.get()
            if not text.startswith('{"type": "pop"'):
                continue
            taken = time.perf_counter()
            call = json.loads(text)["pop"]["call"]
            at, seat = rang[call]
            if seat != client.seat:
                wrong += 1
            latencies.append((taken - at) * 1000)

    readers = []
    for i in range(SEATS):
        client, _ = await hub.attach(str(1001 + i))
        readers.append(asyncio.create_task(desk(client)))
    free = [f"PJSIP/{1001 + i}" for i in range(SEATS)]
    rng = random.Random(5)
    rng.shuffle(free)
    loop = asyncio.get_running_loop()
    every = 3600.0 / CALLS_PER_HOUR

    def answer(uid: str, caller: str, queue: str, iface: str, seat: str) -> None:
        chan = _channel(uid, caller, "s")
        state.apply(
            _event(
                "AgentConnect",
                **chan,
                Queue=queue,
                Interface=iface,
                MemberName=seat,
                HoldTime="2",
                RingTime="2",
            )
        )
        state.apply(_event("QueueCallerLeave", **chan, Queue=queue, Position="1", Count="0"))
        loop.call_later(TALK_S, finish, uid, caller, queue, iface, seat)

    def finish(uid: str, caller: str, queue: str, iface: str, seat: str) -> None:
        chan = _channel(uid, caller, "s")
        state.apply(
            _event(
                "AgentComplete",
                **chan,
                Queue=queue,
                Interface=iface,
                MemberName=seat,
                HoldTime="2",
                TalkTime=str(int(TALK_S)),
                Reason="caller",
            )
        )
        state.apply(_event("Hangup", **chan, Cause="16", **{"Cause-txt": "Normal Clearing"}))
        free.append(iface)

    start = time.perf_counter()
    n = 0
    while time.perf_counter() - start < DURATION_S:
        n += 1
        uid = f"{int(time.time())}.{n}"
        caller = rng.choice(callers)
        iface = free.pop(0)
        seat = iface.removeprefix("PJSIP/")
        # the caller waits in the specialist queue of the seat that will ring
        queue = next(
            q.name for q in state.queues.values() if iface in q.members and q.name != GENERAL
        )
        unit = f"U{n % 200:03d}"
        state.apply(_event("Newchannel", **_channel(uid, caller, "12345")))
        for variable, value in (("DID", "12345"), ("HOTLINE_UNIT", unit), ("HOTLINE_QUEUE", queue)):
            state.apply(
                _event("VarSet", **_channel(uid, caller, "12345"), Variable=variable, Value=value)
            )
        chan = _channel(uid, caller, "s")
        state.apply(_event("QueueCallerJoin", **chan, Queue=queue, Position="1", Count="1"))
        rang[f"{NODE}:{uid}"] = (time.perf_counter(), seat)
        state.apply(
            _event(
                "AgentCalled",
                **chan,
                Queue=queue,
                Interface=iface,
                MemberName=seat,
                **{"Dest" + k: v for k, v in _channel(f"a{uid}", seat, seat).items()},
            )
        )
        loop.call_later(ANSWER_AFTER_S, answer, uid, caller, queue, iface, seat)
        await asyncio.sleep(max(0.0, start + n * every - time.perf_counter()))
    await asyncio.sleep(1.0)  # the last pops
    for task in readers:
        task.cancel()
    await hub.stop()
    await engine.dispose()
    ordered = sorted(latencies)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] if ordered else float("inf")
    return {
        "screen_pop_ms": round(p99, 2),
        "screen_pop_median_ms": round(statistics.median(ordered), 2) if ordered else float("inf"),
        "screen_pops": float(len(latencies)),
        "screen_pop_wrong_desk": float(wrong),
    }


def bench_desk() -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="desk-bench-") as tmp:
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'desk.db'}"
        callers = [f"139{i:08d}" for i in range(CALLERS)]
        asyncio.run(_history(url, callers))
        return asyncio.run(_run(url, callers))


if __name__ == "__main__":
    print(bench_desk())

"""Property: whatever happens on the PBX, the model equals QueueStatus at checkpoints.

Random sequences of member logins, pauses, removals, calls (patient and impatient
callers, with priorities), AMI hangups and waits run against pbxsim over real sockets;
then the model is compared field by field with a QueueStatus taken at that instant.
"""

from __future__ import annotations

import asyncio
import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ami.node import PbxNode
from callcenter.live.live_state import LiveState
from tests.live.check import model_vs_queuestatus
from tests.live.sim import start_sim

QUEUES = ["hotline-general", "q-ringall", "q-penalty", "q-strict"]
SEATS = ["1001", "1002", "3001", "9001"]  # 3001 answers slowly, 9001 never

op = st.one_of(
    st.tuples(
        st.just("add"),
        st.sampled_from(SEATS),
        st.sampled_from(QUEUES),
        st.integers(0, 2),
        st.booleans(),
    ),
    st.tuples(st.just("remove"), st.sampled_from(SEATS), st.sampled_from(QUEUES)),
    st.tuples(
        st.just("pause"),
        st.sampled_from(SEATS),
        st.booleans(),
        st.sampled_from(["", "break", "training"]),
    ),
    st.tuples(
        st.just("call"),
        st.sampled_from(QUEUES),
        st.sampled_from(["patient", "impatient"]),
        st.sampled_from([0, 0, 5, 10]),
    ),
    st.tuples(st.just("hangup"), st.integers(0, 10)),
    st.tuples(st.just("wait"), st.floats(0.5, 8.0)),
)


async def run_ops(ops: list[tuple[object, ...]], seed: int) -> list[str]:
    sim = await start_sim(speed=25.0, seed=seed)
    live = LiveState(sim.scheduler.now)
    node = PbxNode(sim.node_config(), live)
    node.start()
    try:
        await asyncio.wait_for(live.synced.wait(), 10)
        calls = 0
        for o in ops:
            kind = o[0]
            if kind == "add":
                _, seat, queue, penalty, paused = o
                await node.send(
                    {
                        "Action": "QueueAdd",
                        "Queue": queue,
                        "Interface": f"Local/{seat}@sim-agent/n",
                        "MemberName": f"seat-{seat}",
                        "Penalty": str(penalty),
                        "Paused": "true" if paused else "false",
                    },
                    as_list=False,
                    check=False,
                )
            elif kind == "remove":
                _, seat, queue = o
                await node.send(
                    {
                        "Action": "QueueRemove",
                        "Queue": queue,
                        "Interface": f"Local/{seat}@sim-agent/n",
                    },
                    check=False,
                )
            elif kind == "pause":
                _, seat, paused, reason = o
                await node.send(
                    {
                        "Action": "QueuePause",
                        "Interface": f"Local/{seat}@sim-agent/n",
                        "Paused": "true" if paused else "false",
                        "Reason": reason,
                    },
                    check=False,
                )
            elif kind == "call":
                _, queue, who, prio = o
                calls += 1
                await node.send(
                    {
                        "Action": "Originate",
                        "Channel": f"Local/{who}@sim-caller/n",
                        "Context": "direct-queue",
                        "Exten": "100",
                        "Priority": "1",
                        "CallerID": f'"C{calls}" <1380000{calls:04d}>',
                        "Async": "true",
                        "Variable": f"QNAME={queue},PRIO={prio},QTIMEOUT=30",
                    },
                    check=False,
                    timeout=10,
                )
            elif kind == "hangup":
                callers = sorted(live.nodes["pbx1"].channels.values(), key=lambda c: c.uniqueid)
                callers = [c for c in callers if "sim-caller" in c.name and c.name.endswith(";1")]
                if callers:
                    victim = callers[int(o[1]) % len(callers)]
                    await node.send({"Action": "Hangup", "Channel": victim.name}, check=False)
            elif kind == "wait":
                await sim.scheduler.sleep(float(o[1]))  # type: ignore[arg-type]
        return await model_vs_queuestatus(live, node, sim.scheduler)
    finally:
        await node.stop()
        await sim.stop()


@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(op, min_size=3, max_size=25), st.integers(0, 1000))
def test_model_equals_queuestatus_after_random_traffic(
    ops: list[tuple[object, ...]], seed: int
) -> None:
    diffs = asyncio.run(run_ops(ops, seed))
    assert diffs == [], "\n".join(diffs)


def test_a_busy_fixed_scenario() -> None:
    rng = random.Random(3)
    ops: list[tuple[object, ...]] = []
    for seat in SEATS:
        ops.append(("add", seat, "hotline-general", rng.randint(0, 1), False))
        ops.append(("add", seat, "q-ringall", 0, False))
    for i in range(12):
        ops.append(
            (
                "call",
                rng.choice(QUEUES[:2]),
                rng.choice(["patient", "impatient"]),
                rng.choice([0, 10]),
            )
        )
        ops.append(("wait", rng.uniform(0.3, 2.0)))
        if i % 4 == 3:
            ops.append(("pause", rng.choice(SEATS), rng.random() < 0.5, "break"))
    diffs = asyncio.run(run_ops(ops, 7))
    assert diffs == [], "\n".join(diffs)

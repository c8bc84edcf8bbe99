"""A 110 hand-over waiting in the queue while the service restarts: the fresh live
model reads HOTLINE_SOURCE and HOTLINE_SOURCE_REF back (Getvar), and the record written
when the call ends is still tagged with 110's reference."""

from __future__ import annotations

import asyncio

from agi.protocol.server import FastAgiServer
from ami.node import PbxNode
from tests.agi.test_from_110 import FROM_110, REF
from tests.queues.sim import start_pbx, wait_until
from tests.records.test_restart_mid_call import ivr, service  # noqa: F401  (fixture)


async def test_restart_mid_call_keeps_the_110_source_and_reference(ivr: FastAgiServer) -> None:  # noqa: F811
    sim = await start_pbx(0)
    sim.system.pbx.agi_connect_to = ("127.0.0.1", ivr.port)
    assert sim.trunk is not None
    live, builder, _, first = service(sim)
    fresh_node: PbxNode | None = None
    try:
        await asyncio.wait_for(live.synced.wait(), 10)
        handed = sim.trunk.incoming(FROM_110, "13900008003", "", headers=(REF,))
        await wait_until(lambda: any(c.in_queue for c in builder.open.values()), 15)
        await first.stop()  # the service dies; the caller waits on

        fresh_live, _, done, fresh_node = service(sim)
        await asyncio.wait_for(fresh_live.synced.wait(), 10)
        seen = fresh_live.nodes["pbx1"].calls[handed.uniqueid]
        assert (seen.source, seen.source_ref) == ("110", REF[1])
        sim.hang_up(handed)
        await wait_until(lambda: len(done) == 1, 15)
        assert (done[0].call_source, done[0].call_source_ref) == ("110", REF[1])
    finally:
        await first.stop()
        if fresh_node is not None:
            await fresh_node.stop()

"""The test oracle: the product's own audit (model vs QueueStatus at the same instant)."""

from __future__ import annotations

import asyncio

from ami.node import PbxNode
from callcenter.live.audit import audit
from callcenter.live.live_state import LiveState
from pbxsim.clock import AsyncioScheduler

#: real seconds the events already sent get to reach the model once the PBX stands still
DRAIN_S = 0.3


async def model_vs_queuestatus(
    live: LiveState, node: PbxNode, scheduler: AsyncioScheduler | None = None
) -> list[str]:
    """The audit's differences. With the simulator's `scheduler`, simulated time stands
    still while it runs: on a loaded machine a call could otherwise be answered between
    an event on its way to the model and the QueueStatus answer, a difference of
    timing, not of the model."""
    if scheduler is None:
        return (await audit(live, node.name, timeout=10)).differences
    scheduler.pause()
    try:
        await asyncio.sleep(DRAIN_S)
        return (await audit(live, node.name, timeout=10)).differences
    finally:
        scheduler.resume()

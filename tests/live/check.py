"""The test oracle: the product's own audit (model vs QueueStatus at the same instant)."""

from __future__ import annotations

from ami.node import PbxNode
from callcenter.live.audit import audit
from callcenter.live.live_state import LiveState


async def model_vs_queuestatus(live: LiveState, node: PbxNode) -> list[str]:
    result = await audit(live, node.name, timeout=10)
    return result.differences

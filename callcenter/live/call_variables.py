"""Reading back what a snapshot cannot list about the calls in progress.

`CoreShowChannels` shows where a caller's channel is now, not how it got there: a
queued caller sits in `hotline-queue,s`, so neither its dialed number nor the unit and
queue the IVR routed it to can be read off the listing. The dialplan keeps them in the
caller channel's variables (`DID`, `HOTLINE_UNIT`, `HOTLINE_QUEUE`, `HOTLINE_SOURCE`;
a callback's `HOTLINE_CALLBACK_OF`; a hand-over from 110's `HOTLINE_SOURCE_REF`), and
`Getvar` reads them back after a resync. The round trips
are bounded in number and time: a variable that cannot be read leaves the call as the
snapshot had it, and is asked again at the next resync.
"""

from __future__ import annotations

import asyncio
import logging

from ami import actions
from ami.errors import AmiError
from ami.node import PbxNode
from callcenter.live.node_state import RECALLED_WHEN, NodeState

log = logging.getLogger(__name__)

GETVAR_CONCURRENCY = 8
GETVAR_TIMEOUT_S = 2.0


async def recall_call_variables(
    node: PbxNode,
    state: NodeState,
    concurrency: int = GETVAR_CONCURRENCY,
    timeout_s: float = GETVAR_TIMEOUT_S,
) -> int:
    """Getvar every unread caller-channel variable of `state`'s calls into the live
    model; returns how many could not be read."""
    gate = asyncio.Semaphore(concurrency)

    async def read(linkedid: str, channel: str, variable: str) -> bool:
        async with gate:
            try:
                value = await actions.getvar(node, variable, channel, timeout=timeout_s)
            except AmiError as exc:
                log.warning(
                    "AMI %s: Getvar %s on %s failed (%s); the call keeps what the snapshot showed",
                    node.name,
                    variable,
                    channel,
                    exc,
                )
                return False
        state.recall_variable(linkedid, variable, value or "")
        for then, (after, holding) in RECALLED_WHEN.items():
            if variable == after and value == holding:
                return await read(linkedid, channel, then)
        return True

    reads = [
        read(linkedid, channel, variable)
        for linkedid, channel, variables in state.unread_variables()
        for variable in variables
    ]
    results = await asyncio.gather(*reads)
    return sum(1 for ok in results if not ok)

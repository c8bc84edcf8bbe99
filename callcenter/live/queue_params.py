"""app_queue's own per-queue counters (completed, abandoned, hold/talk averages, service
level), refreshed by polling.

app_queue announces no event when these change, so the model would otherwise show the
values of the last resync. `QueueStatus` filtered on a member that does not exist lists
the `QueueParams` of every queue and no members: cheap even at 1,500 seats. (The city's
own KPIs come from call records; these are what Asterisk itself reports.)
"""

from __future__ import annotations

import asyncio
import logging

from ami import events as ev
from ami.errors import AmiError
from callcenter.live.live_state import LiveState

log = logging.getLogger(__name__)

NO_MEMBER = "__callcenter_params_only__"


async def refresh_queue_params(live: LiveState, node_name: str, timeout: float = 10.0) -> int:
    node = live.links[node_name]
    reply = await node.send(
        {"Action": "QueueStatus", "Member": NO_MEMBER}, as_list=True, timeout=timeout
    )
    state = live.node_state(node_name)
    n = 0
    for message in reply[1:]:
        frame = getattr(message, "frame", None)
        if frame is None:
            continue
        item = ev.parse_event(frame)
        if isinstance(item, ev.QueueParams):
            state.apply(item)
            n += 1
    return n


async def poll_queue_params(live: LiveState, interval: float) -> None:
    while True:
        await asyncio.sleep(interval)
        for name, node in list(live.links.items()):
            state = live.nodes.get(name)
            if not node.connected or state is None or state.stale:
                continue
            try:
                await refresh_queue_params(live, name)
            except AmiError as exc:
                log.warning("queue counters of %s not refreshed: %s", name, exc)

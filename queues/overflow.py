"""Overflow: a caller waiting too long in a specialist queue is also offered to general
seats, by penalty escalation.

When the longest wait in a specialist queue passes its `overflow_after_s`, the seats
logged into `general` but not into that queue are added to it with a penalty behind
every specialist (OVERFLOW_PENALTY), so app_queue still offers a call to a free
specialist first and to a general seat only when none is free. When nobody waits past
the threshold any more, the overflow members are removed again. Being real queue
members, they are visible in every view and removed by a logout; the restart repair
does not re-add them (they are not skills), and the next check decides afresh.

Which members are overflow is read from the live model (their penalty is
OVERFLOW_PENALTY, which no skill level gives), not remembered by the process that added
them: another instance, or this one after a restart, withdraws them alike.

Why not a second Queue() in the dialplan (re-queue)? The caller would lose their
position and wait time in the queue statistics, and the dialplan is the one piece that
must work when this service is down.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from ami import actions
from ami.errors import AmiError
from callcenter.legacy.queues import GENERAL, QueueCatalog
from callcenter.live.live_state import LiveState
from queues.repository import SeatRepository

log = logging.getLogger(__name__)

OVERFLOW_PENALTY = 10  # behind every skill level's penalty (0..4)


class Overflow:
    def __init__(
        self, live: LiveState, repo: SeatRepository, catalog: Callable[[], QueueCatalog]
    ) -> None:
        """`catalog`: the catalogue in force (read at every check: a reload applies)."""
        self.live = live
        self.repo = repo
        self.catalog = catalog

    async def check_once(self) -> int:
        """Add or remove overflow members where needed; returns the changes made."""
        changes = 0
        specs = [q for q in self.catalog().queues if q.overflow_after_s is not None]
        if not specs:
            return 0
        seats = [s for s in await self.repo.seats() if s.logged_in and GENERAL in s.skills]
        now = self.live.clock()
        for node_name, state in self.live.nodes.items():
            node = self.live.links.get(node_name)
            if state.stale or node is None or not node.connected:
                continue
            for spec in specs:
                assert spec.overflow_after_s is not None
                queue = state.queues.get(spec.asterisk)
                if queue is None:
                    continue
                longest = max((now - e.joined_at for e in queue.entries.values()), default=0.0)
                ours = {i for i, m in queue.members.items() if m.penalty == OVERFLOW_PENALTY}
                if longest > spec.overflow_after_s:
                    for seat in seats:
                        if seat.node != node_name or seat.interface in queue.members:
                            continue
                        try:
                            await actions.queue_add(
                                node,
                                spec.asterisk,
                                seat.interface,
                                member_name=seat.id,
                                state_interface=seat.interface,
                                penalty=OVERFLOW_PENALTY,
                                paused=seat.pause_reason is not None,
                                reason=seat.pause_reason or "",
                            )
                        except AmiError as exc:
                            log.warning("overflow: %s into %s: %s", seat.id, spec.asterisk, exc)
                            continue
                        ours.add(seat.interface)
                        changes += 1
                    if ours:
                        log.info(
                            "overflow: %s waited %.0f s; %d general seats offered",
                            spec.asterisk,
                            longest,
                            len(ours),
                        )
                elif ours:
                    for interface in sorted(ours):
                        try:
                            await actions.queue_remove(node, spec.asterisk, interface)
                        except AmiError as exc:
                            log.warning("overflow: removing %s: %s", interface, exc)
                            continue
                        ours.discard(interface)
                        changes += 1
        return changes

    async def run(self, interval_s: float = 2.0) -> None:
        while True:
            await asyncio.sleep(interval_s)
            try:
                await self.check_once()
            except Exception:
                log.exception("overflow check failed")

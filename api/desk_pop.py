"""The screen pop: what the agent's desk shows of a call the moment it rings the seat.

A pop is made of two parts. What the live model knows (the caller, the number dialed,
the queue, how long the caller waited, its priority, the keys pressed in the IVR) is
read synchronously when the ring is seen, so it is what was true at the ring. What the
database and the other domains know (the caller's last 30 days of calls, the unit's
card) is fetched once per call, however many seats it rings, in one bounded query with
a timeout: a slow database gives a pop without history (`history: null`), never a late
pop nor a stalled event loop. The caller's number is written per seat at the moment it
is sent (callcenter/privacy.py `live_caller`: masked while the call only rings, whole
to the agent once its seat has the call, unless the call is confidential).

`ScreenPop` (the contract of issue 17): `{"call", "caller", "dialed", "unit": {code,
name, district, mode}|null, "ivr_keys", "queue", "queue_display", "wait_s",
"priority", "priority_reasons", "history": [{"call", "started_at", "kind", "unit",
"ticket", "disposition"}]|null, "card": UnitCard|null}`, and `priority_reason_words`
(each reason's `{zh, en}`, queues/priority.py: the screen's words for them).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from callcenter.clock import CityTime
from callcenter.legacy.directory import Directory
from callcenter.legacy.queues import QueueCatalog
from callcenter.live.live_state import LiveState
from callcenter.live.node_state import Call
from callcenter.privacy import Viewer, live_caller
from callcenter.records.history import HISTORY_DAYS, HISTORY_LIMIT, CallsOfCaller, PastCall
from queues.priority import CallerPriority, reason_words

log = logging.getLogger(__name__)

#: unit code -> its card (`GET /units/{code}/card`'s body), None when there is none:
#: the unit-card domain's lookup, plugged in where the process is composed
CardLookup = Callable[[str], Awaitable[dict[str, Any] | None]]
#: (node, linkedid) -> the keys the caller pressed in the IVR so far (the record builder)
KeysLookup = Callable[[str, str], str]
#: a pop's history and card are given up after this long (seconds): the pop goes without
LOOKUP_TIMEOUT_S = 0.4


def call_id(node: str, linkedid: str) -> str:
    """A call's id in the API (`GET /calls/{id}`)."""
    return f"{node}:{linkedid}"


@dataclass(frozen=True, slots=True)
class Ring:
    """A call as the live model showed it when it rang a seat (or, met later, when it
    was found at the seat)."""

    node: str
    linkedid: str
    caller: str
    dialed: str
    unit_code: str
    queue: str  # the Asterisk queue
    wait_s: float | None
    priority: int
    ivr_keys: str
    #: the call's HOTLINE_SOURCE ("110": handed over by the 110 platform)
    source: str = ""

    @property
    def id(self) -> str:
        return call_id(self.node, self.linkedid)


@dataclass(frozen=True, slots=True)
class Looked:
    """What the database and the other domains said of a call (None: could not say)."""

    history: list[PastCall] | None
    card: dict[str, Any] | None


class PopBuilder:
    """Reads rings off the live model and assembles their pops."""

    def __init__(
        self,
        live: LiveState,
        city: CityTime,
        *,
        directory: Directory | None = None,
        history: CallsOfCaller | None = None,
        priority: CallerPriority | None = None,
        keys: KeysLookup | None = None,
        cards: CardLookup | None = None,
        catalog: Callable[[], QueueCatalog] = QueueCatalog.default,
        wall_clock: Callable[[], datetime] | None = None,
        timeout_s: float = LOOKUP_TIMEOUT_S,
    ) -> None:
        self.live = live
        self.city = city
        self.catalog = catalog
        self.directory = directory
        self.history = history
        self.priority = priority
        self.keys = keys
        self.cards = cards
        self.timeout_s = timeout_s
        self._wall_clock = wall_clock
        self.lookups_failed = 0

    def now(self) -> datetime:
        if self._wall_clock is not None:
            return self._wall_clock()
        return datetime.fromtimestamp(self.live.clock(), self.city.tz)

    # --- the live model's part (synchronous: what is true now) ---------------------------
    def ringing(self, node: str, interface: str) -> Ring | None:
        """The call ringing the member `interface` on `node` now, if any."""
        state = self.live.nodes.get(node)
        if state is None:
            return None
        found = state.ringing_caller(interface)
        if found is None:
            return None
        queue_name, uniqueid = found
        queue = state.queues.get(queue_name)
        entry = queue.entries.get(uniqueid) if queue is not None else None
        linkedid = entry.linkedid if entry is not None and entry.linkedid else uniqueid
        call = state.calls.get(linkedid)
        if call is None:
            return None
        wait = self.live.clock() - entry.joined_at if entry is not None else None
        priority = entry.priority if entry is not None else 0
        return self._ring(node, call, queue_name, wait, priority)

    def at_seat(self, node: str, seat: str) -> Ring | None:
        """The call the seat talks to (or took and that still runs) on `node`."""
        state = self.live.nodes.get(node)
        if state is None:
            return None
        for call in state.calls.values():
            if call.seat == seat:
                channel = state.channels.get(call.linkedid)
                prio = channel.variables.get("QUEUE_PRIO", "0") if channel is not None else "0"
                wait = call.answered_at - call.started_at if call.answered_at else None
                queue = call.routed_queue or call.queue or ""
                return self._ring(node, call, queue, wait, int(prio) if prio.isdigit() else 0)
        return None

    def _ring(self, node: str, call: Call, queue: str, wait_s: float | None, priority: int) -> Ring:
        keys = self.keys(node, call.linkedid) if self.keys is not None else ""
        return Ring(
            node=node,
            linkedid=call.linkedid,
            caller=call.caller_id_num,
            dialed=call.dialed,
            unit_code=call.unit,
            queue=queue,
            wait_s=None if wait_s is None else round(max(0.0, wait_s), 1),
            priority=priority,
            ivr_keys=keys,
            source=call.source,
        )

    # --- the database's part (once per call, bounded) ------------------------------------
    async def look_up(self, ring: Ring, unit_code: str) -> Looked:
        """The caller's history and the unit's card, each given up after `timeout_s`."""
        history, card = await asyncio.gather(
            self._bounded(self._history(ring.caller), "history"),
            self._bounded(self._card(unit_code), "unit card"),
        )
        return Looked(history, card)

    async def _history(self, caller: str) -> list[PastCall]:
        if self.history is None or not caller:
            return []
        since = self.now() - timedelta(days=HISTORY_DAYS)
        # confidential calls too: the priority's repeat rule counts them; the pop lists
        # only the others
        return await self.history.history_of(
            caller, since, HISTORY_LIMIT, reaches_confidential=True
        )

    async def _card(self, unit_code: str) -> dict[str, Any] | None:
        if self.cards is None or not unit_code:
            return None
        return await self.cards(unit_code)

    async def _bounded(self, work: Awaitable[Any], what: str) -> Any:
        try:
            async with asyncio.timeout(self.timeout_s):
                return await work
        except Exception:  # a slow or broken lookup costs the pop that part only
            self.lookups_failed += 1
            log.warning("screen pop: the %s lookup failed or timed out", what, exc_info=True)
            return None

    # --- the pop ---------------------------------------------------------------------------
    def unit(self, ring: Ring) -> dict[str, str] | None:
        """The unit the dialed number belongs to (the legacy directory's route), or the
        one the dialplan routed the call to when the number is not an old one."""
        route = None
        if self.directory is not None and ring.dialed:
            route = self.directory.route(ring.dialed, self.now())
        if route is not None:
            return {
                "code": route.unit_code,
                "name": route.unit,
                "district": route.district,
                "mode": route.mode,
            }
        if ring.unit_code:
            return {"code": ring.unit_code, "name": "", "district": "", "mode": ""}
        return None

    def assemble(self, ring: Ring, unit: dict[str, str] | None, looked: Looked) -> dict[str, Any]:
        """The pop without its caller (written per seat: `for_seat`)."""
        queue_name, display = _queue_names(self.catalog(), ring.queue)
        decision = None
        if self.priority is not None:
            decision = self.priority.explain(
                ring.caller,
                unit["code"] if unit else ring.unit_code,
                ring.linkedid,
                looked.history or [],
                self.live.clock(),
                ring.source,
            )
        reasons = list(decision.reasons) if decision is not None else []
        history = None
        if looked.history is not None:
            history = [self._past(c) for c in looked.history if not c.confidential]
        return {
            "call": ring.id,
            "caller": "",
            "dialed": ring.dialed,
            "unit": unit,
            "ivr_keys": ring.ivr_keys,
            "queue": queue_name,
            "queue_display": display,
            "wait_s": ring.wait_s,
            "priority": ring.priority,
            "priority_reasons": reasons,
            "priority_reason_words": [reason_words(r) for r in reasons],
            "history": history,
            "card": looked.card,
        }

    def _past(self, c: PastCall) -> dict[str, Any]:
        return {
            "call": c.call,
            "started_at": self.city.iso(c.started_at),
            "kind": c.kind,
            "unit": c.unit if c.unit is not None else c.routed_unit,
            "ticket": c.ticket,
            "disposition": c.disposition,
        }

    def for_seat(
        self, pop: dict[str, Any], caller: str, seat: str, before: str | None = None
    ) -> dict[str, Any]:
        """`pop` as the agent at `seat` sees it now: the number per the privacy rules,
        read off the live call (its seat and confidential mark as they are now). A call
        no longer in progress keeps what the seat was last shown (`before`), masked if
        nothing."""
        node, _, linkedid = str(pop["call"]).partition(":")
        state = self.live.nodes.get(node)
        call = state.calls.get(linkedid) if state is not None else None
        if call is None:
            shown_as = before if before is not None else live_caller(caller, True, "", Viewer())
        else:
            shown_as = live_caller(caller, call.confidential, call.seat, Viewer(seat=seat))
        return pop | {"caller": shown_as}


def _queue_names(catalog: QueueCatalog, asterisk: str) -> tuple[str, dict[str, str]]:
    if not asterisk:
        return "", {"zh": "", "en": ""}
    name = catalog.shown(asterisk)
    return name.name, asdict(name.display)

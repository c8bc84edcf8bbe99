"""`WS /api/v1/desk`: an agent's own seat, and a screen pop the moment a call rings it.

One pump reads the live model's ChangeHub (one subscription however many desks are
open) with no coalescing window: a ring is acted on as soon as the pump sees it. A
SeatChanged that says a seat rings makes the pop of the call ringing it (api/desk_pop.py;
its history and unit card fetched once per call, however many seats it rings, in a task
so the pump never waits on the database), and the pop goes to that seat's desks only:
a desk is bound to its token's seat and is only ever handed its own seat's frames, so
no agent sees another seat's call. The pump also follows the call at the seat (answered,
the agent done with it, ended) and the seat's own row.

Every seat's latest pop is kept (one per seat, replaced by the next ring), so a desk
that reconnects, or `GET /api/v1/desk/pop`, finds the call it was on, its intake still
to write. A pop missed by a ring nobody answered is dropped.

Protocol (JSON text frames; authentication and close codes as `WS /api/v1/live`,
api/live_ws.py, for agent tokens bound to a seat only, else 4403):
- `{"type": "desk", "seat", "pause_reasons": [{"code", "zh", "en"}], "labels"}` first
- `{"type": "seat", ...SeatStatus}` (`GET /seats/{id}`'s row) at once and on each change
- `{"type": "pop", "phase", "pop": ScreenPop}` when the seat rings, and at once on
  connecting when the seat has a call (`phase`: ringing | talking | wrap_up | ended)
- `{"type": "call", "call", "event": "answered"|"agent_done"|"ended"|"missed", "phase",
  "caller"}` as the call at the seat moves (`caller`: the number as the agent sees it
  now: whole once its seat took the call, unless confidential)
- `{"type": "heartbeat"}` after `HEARTBEAT_S` without a frame.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from fastapi import WebSocket
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from api.desk_pop import PopBuilder, Ring, call_id
from api.live_rows import SeatFloor, screen_labels, seat_rows_for
from api.live_ws import (
    CLOSE_FORBIDDEN,
    CLOSE_UNAVAILABLE,
    HEARTBEAT_S,
    TokenWatch,
    authenticate,
    send_frames,
    serve_until_closed,
)
from callcenter.clock import SHANGHAI, CityTime
from callcenter.live.changes import (
    CallAgentDone,
    CallAnswered,
    CallEnded,
    Change,
    Lost,
    NodeSnapshot,
    SeatAdded,
    SeatChanged,
    SeatRemoved,
    Subscription,
)
from callcenter.live.live_state import LiveState
from callcenter.records.today import DayBook
from callcenter.tokens import CACHE_TTL_S, Role, TokenStore
from queues.models import Seat
from queues.pause_labels import pause_label

log = logging.getLogger(__name__)

#: frames a desk may have queued before it counts as too slow (a desk gets few)
DESK_QUEUE = 200
#: the pop latencies kept for /metrics and the bench (seconds, newest last)
LATENCIES_KEPT = 10_000


@dataclass
class DeskCall:
    """A seat's latest call as its desk shows it."""

    ring: Ring
    seat: str
    node: str
    interface: str
    phase: str  # ringing | talking | wrap_up | ended
    pop: dict[str, Any] | None = None  # without its caller; None until looked up
    shown_caller: str | None = None  # what the seat was last shown of the number


@dataclass(eq=False)
class DeskClient:
    """One open desk: its seat and its bounded queue of frames."""

    seat: str
    queue: asyncio.Queue[str] = field(default_factory=lambda: asyncio.Queue(DESK_QUEUE))
    too_slow: bool = False

    def offer(self, text: str) -> None:
        try:
            self.queue.put_nowait(text)
        except asyncio.QueueFull:
            self.too_slow = True


class DeskHub:
    """The pump, the seats' latest calls and the open desks."""

    def __init__(
        self,
        live: LiveState,
        pops: PopBuilder,
        seats: SeatFloor | None = None,
        *,
        pause_reasons: Sequence[str] = (),
        city: CityTime = SHANGHAI,
        day: DayBook | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.live = live
        self.pops = pops
        self.seats = seats
        self.pause_reasons = list(pause_reasons)
        self.city = city
        self.day = day
        self.heartbeat_s = HEARTBEAT_S
        self._monotonic = monotonic
        self._desks: dict[str, set[DeskClient]] = {}
        self._calls: dict[str, DeskCall] = {}  # seat -> its latest call
        self._looked: dict[str, asyncio.Task[dict[str, Any]]] = {}  # call id -> pop task
        self._db_seats: dict[str, Seat] = {}
        self._task: asyncio.Task[None] | None = None
        self._watch: TokenWatch | None = None
        self._start_lock = asyncio.Lock()
        #: seconds from the ring's change to its pop queued for the seat's desks
        self.pop_latencies: deque[float] = deque(maxlen=LATENCIES_KEPT)
        self.pops_sent = 0
        self.cut = 0

    # --- lifecycle ---------------------------------------------------------------------
    async def ensure_started(self) -> None:
        async with self._start_lock:
            if self._task is None:
                # subscribed here, not in the task: a ring between now and the task's
                # first turn is not missed
                sub = self.live.hub.subscribe("ws-desk", maxsize=100_000)
                self._task = asyncio.create_task(self._pump(sub), name="desk-pump")

    async def stop(self) -> None:
        tasks = [t for t in (self._task, *self._looked.values()) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._task = None
        self._looked.clear()
        if self._watch is not None:
            await self._watch.stop()

    def token_watch(self, store: TokenStore) -> TokenWatch:
        """The watch over the open desks' tokens (closed with 4401 once revoked, as the
        live stream's are), every `store`'s cache TTL."""
        if self._watch is None or self._watch.store is not store:
            every = store.cache_ttl_s if store.cache_ttl_s > 0 else CACHE_TTL_S
            self._watch = TokenWatch(store, every)
        return self._watch

    @property
    def desks(self) -> int:
        return sum(len(clients) for clients in self._desks.values())

    # --- desks -------------------------------------------------------------------------
    async def attach(self, seat: str) -> tuple[DeskClient, list[str]]:
        """A desk for `seat`, and what it gets first: the desk frame, the seat's row, and
        its call if it has one."""
        await self.ensure_started()
        if self.seats is not None and seat not in self._db_seats:
            row = await self.seats.repo.seat(seat)
            if row is not None:
                self._db_seats[seat] = row
        client = DeskClient(seat)
        self._desks.setdefault(seat, set()).add(client)
        first = [self._desk_frame(seat), self._seat_frame(seat)]
        current = await self.current(seat)
        if current is not None:
            first.append(self._pop_frame(current))
        return client, first

    def detach(self, client: DeskClient) -> None:
        clients = self._desks.get(client.seat)
        if clients is not None:
            clients.discard(client)
            if not clients:
                del self._desks[client.seat]

    def _send(self, seat: str, text: str) -> None:
        for client in self._desks.get(seat, ()):
            client.offer(text)

    def _desk_frame(self, seat: str) -> str:
        reasons = [{"code": code, **asdict(pause_label(code))} for code in self.pause_reasons]
        return json.dumps(
            {"type": "desk", "seat": seat, "pause_reasons": reasons, "labels": screen_labels()},
            ensure_ascii=False,
        )

    def _seat_frame(self, seat: str) -> str:
        """The seat's row as `GET /seats/{id}` gives it, from the live model and the
        seat's provisioned row (read when its desk connected)."""
        keys = self._seat_keys(seat)
        db = [self._db_seats[seat]] if seat in self._db_seats else []
        calls = self.day.seats() if self.day is not None else None
        rows = seat_rows_for(
            self.live, self.seats, db, self.live.clock(), keys, self.city, calls
        ).values()
        row = next((r for r in rows if r.id == seat or r.name == seat), None)
        data: dict[str, Any] = {"type": "seat"}
        data |= asdict(row) if row is not None else {"id": seat, "state": "offline"}
        return json.dumps(data, ensure_ascii=False)

    def _seat_keys(self, seat: str) -> list[tuple[str, str]]:
        """(node, interface) of the seat: its provisioned row, else the queue members
        that carry its name."""
        row = self._db_seats.get(seat)
        if row is not None:
            return [(row.node, row.interface)]
        return sorted(
            {
                (node, member.interface)
                for node, state in self.live.nodes.items()
                for queue in state.queues.values()
                for member in queue.members.values()
                if member.member_name == seat
            }
        )

    # --- the seat's call -----------------------------------------------------------------
    async def current(self, seat: str) -> DeskCall | None:
        """The seat's call: the one it rings with or talks to now, else its latest one
        (in wrap-up or ended, the intake maybe still to write). Met for the first time
        (a restarted service): read off the live model and looked up now; the pump
        runs from then on, so what is found here is kept up to date."""
        await self.ensure_started()
        known = self._calls.get(seat)
        if known is not None:
            if known.pop is None:
                await self._pop_of(known)
            return known
        for node, interface in self._seat_keys(seat):
            ring = self.pops.ringing(node, interface)
            phase = "ringing"
            if ring is None:
                ring, phase = self.pops.at_seat(node, seat), "talking"
            if ring is not None:
                desk_call = DeskCall(ring, seat, node, interface, phase)
                self._calls[seat] = desk_call
                await self._pop_of(desk_call)
                return desk_call
        return None

    def shown(self, desk_call: DeskCall) -> dict[str, Any]:
        """The call's pop as its seat sees it now."""
        assert desk_call.pop is not None
        pop = self.pops.for_seat(
            desk_call.pop, desk_call.ring.caller, desk_call.seat, desk_call.shown_caller
        )
        desk_call.shown_caller = pop["caller"]
        return pop

    def _pop_frame(self, desk_call: DeskCall) -> str:
        return json.dumps(
            {"type": "pop", "phase": desk_call.phase, "pop": self.shown(desk_call)},
            ensure_ascii=False,
        )

    async def _pop_of(self, desk_call: DeskCall) -> None:
        """Fill the pop of `desk_call`: looked up once per call, shared by every seat
        the call rings."""
        ring = desk_call.ring
        task = self._looked.get(ring.id)
        if task is None:
            task = asyncio.create_task(self._assemble(ring), name=f"desk-pop-{ring.id}")
            self._looked[ring.id] = task
            task.add_done_callback(lambda _: self._looked.pop(ring.id, None))
        desk_call.pop = await asyncio.shield(task)

    async def _assemble(self, ring: Ring) -> dict[str, Any]:
        unit = self.pops.unit(ring)
        looked = await self.pops.look_up(ring, unit["code"] if unit else "")
        return self.pops.assemble(ring, unit, looked)

    async def _pop(self, desk_call: DeskCall, rang_at: float) -> None:
        """Look the ringing call up and send its pop, if the seat still has that call."""
        try:
            await self._pop_of(desk_call)
        except Exception:
            log.exception("desk: the pop of %s could not be made", desk_call.ring.id)
            return
        if self._calls.get(desk_call.seat) is not desk_call:
            return  # a newer call replaced it, or the ring was missed meanwhile
        self._send(desk_call.seat, self._pop_frame(desk_call))
        self.pops_sent += 1
        self.pop_latencies.append(max(0.0, self.live.clock() - rang_at))

    # --- the pump ------------------------------------------------------------------------
    async def _pump(self, sub: Subscription) -> None:
        try:
            while True:
                item: Change | Lost | None = await sub.get()
                while item is not None:
                    try:
                        self.on_change(item)
                    except Exception:  # one odd change must not stop every desk
                        log.exception("desk: change %r not handled", item)
                    item = sub.get_nowait()
        finally:
            sub.close()

    def on_change(self, change: Change | Lost) -> None:
        match change:
            case Lost() | NodeSnapshot():
                # changes were lost, or a resync replaced the model: what each desk shows
                # is checked against the model as it is now
                self._recheck_all()
                for seat in list(self._desks):
                    self._send(seat, self._seat_frame(seat))
            case SeatAdded() | SeatChanged():
                seat = change.member_name
                if change.ringing:
                    self._ringing(change.node, change.interface, seat, change.at)
                else:
                    self._recheck(seat)
                if seat in self._desks:
                    self._send(seat, self._seat_frame(seat))
            case SeatRemoved():
                if change.member_name in self._desks:
                    self._send(change.member_name, self._seat_frame(change.member_name))
            case CallAnswered():
                self._answered(change)
            case CallAgentDone():
                self._moved(call_id(change.node, change.linkedid), "wrap_up", "agent_done")
            case CallEnded():
                self._moved(call_id(change.node, change.linkedid), "ended", "ended")
            case _:
                pass

    def _ringing(self, node: str, interface: str, seat: str, at: float) -> None:
        ring = self.pops.ringing(node, interface)
        if ring is None:
            return
        known = self._calls.get(seat)
        if known is not None and known.ring.id == ring.id and known.phase == "ringing":
            return  # the same ring, another membership of the seat
        desk_call = DeskCall(ring, seat, node, interface, "ringing")
        self._calls[seat] = desk_call
        asyncio.get_running_loop().create_task(self._pop(desk_call, at))

    def _recheck(self, seat: str) -> None:
        """A ringing seat that stopped ringing without taking the call missed it."""
        known = self._calls.get(seat)
        if known is None or known.phase != "ringing":
            return
        ring = self.pops.ringing(known.node, known.interface)
        if ring is not None and ring.id == known.ring.id:
            return
        state = self.live.nodes.get(known.node)
        call = state.calls.get(known.ring.linkedid) if state is not None else None
        if call is not None and call.seat == seat:
            return  # answered here: CallAnswered follows
        del self._calls[seat]
        self._call_frame(known, "missed", "missed")

    def _recheck_all(self) -> None:
        for seat in list(self._calls):
            self._recheck(seat)

    def _answered(self, change: CallAnswered) -> None:
        seat = change.member_name
        known = self._calls.get(seat)
        cid = call_id(change.node, change.linkedid)
        if known is None or known.ring.id != cid:
            ring = self.pops.at_seat(change.node, seat)
            if ring is None or ring.id != cid:
                return
            known = DeskCall(ring, seat, change.node, change.agent, "talking")
            self._calls[seat] = known
            asyncio.get_running_loop().create_task(self._pop(known, change.at))
            return
        known.phase = "talking"
        self._call_frame(known, "answered", "talking")

    def _moved(self, cid: str, phase: str, event: str) -> None:
        for known in list(self._calls.values()):
            if known.ring.id != cid:
                continue
            if known.phase == "ringing":
                self._recheck(known.seat)
                continue
            if phase == "wrap_up" and known.phase == "ended":
                continue
            known.phase = phase
            self._call_frame(known, event, phase)

    def _call_frame(self, known: DeskCall, event: str, phase: str) -> None:
        if known.seat not in self._desks:
            return
        data: dict[str, Any] = {
            "type": "call",
            "call": known.ring.id,
            "event": event,
            "phase": phase,
        }
        if known.pop is not None:
            data["caller"] = self.shown(known)["caller"]
        self._send(known.seat, json.dumps(data, ensure_ascii=False))

    # --- one desk's socket -----------------------------------------------------------------
    async def serve(self, websocket: WebSocket, client: DeskClient, first: list[str]) -> None:
        """Send `first`, then the desk's frames, a heartbeat when there are none."""

        def frame(item: str) -> str | None:
            return None if client.too_slow else item

        try:
            if await send_frames(websocket, first, client.queue, lambda: self.heartbeat_s, frame):
                self.cut += 1
        finally:
            self.detach(client)


class DeskCollector(Collector):
    """`/metrics` for the desks: how many are open, pops sent and how soon."""

    def __init__(self, hub: DeskHub) -> None:
        self.hub = hub

    def collect(self) -> Iterator[Metric]:
        hub = self.hub
        yield GaugeMetricFamily(
            "callcenter_desk_clients", "Agent desks open on /api/v1/desk", hub.desks
        )
        yield CounterMetricFamily(
            "callcenter_desk_pops", "Screen pops sent to agents' desks", hub.pops_sent
        )
        latest = hub.pop_latencies[-1] if hub.pop_latencies else 0.0
        yield GaugeMetricFamily(
            "callcenter_desk_pop_seconds", "Last screen pop: seat rang -> pop queued", latest
        )
        yield CounterMetricFamily(
            "callcenter_desk_lookups_failed",
            "Screen pops sent without their history or unit card (lookup slow or failed)",
            hub.pops.lookups_failed,
        )
        yield CounterMetricFamily("callcenter_desk_cut", "Desks closed for being too slow", hub.cut)


async def serve_desk(websocket: WebSocket, hub: DeskHub | None, tokens: TokenStore | None) -> None:
    """One desk's connection (routed in api/desk.py), from accept to close."""
    await websocket.accept()
    if hub is None:
        await websocket.close(CLOSE_UNAVAILABLE, "no PBX link configured in this instance")
        return
    authenticated = await authenticate(websocket, tokens, frozenset({Role.AGENT}), "use a desk")
    if authenticated is None:
        return
    principal, digest = authenticated
    if not principal.seat or tokens is None:
        await websocket.close(CLOSE_FORBIDDEN, "this agent token is bound to no seat")
        return
    watch = hub.token_watch(tokens)
    gone = watch.hold(digest)
    client, first = await hub.attach(principal.seat)
    try:
        await serve_until_closed(websocket, hub.serve(websocket, client, first), gone)
    finally:
        hub.detach(client)
        watch.release(digest, gone)

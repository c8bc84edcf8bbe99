"""`WS /api/v1/live`: a snapshot of queues and seats, then deltas, numbered.

One pump reads the live model's ChangeHub (a single subscription however many screens
are open), coalesces what arrived in a short window, brings the rows up to date with the
same functions as the REST endpoints (only the rows the changes name, plus time-driven
ones: live_table.py) and sends only rows that differ from what it sent last.
Each delta is serialised once per kind of screen (api/live_sight.py: numbers masked
for all but admin and an agent's own caller, an agent only its own seat's rows and
calls, as REST gives them) and handed to every client's bounded queue; a client that
cannot keep up never slows the pump, the other clients or the AMI reader: its queue is
dropped and it gets a fresh snapshot, and after `MAX_RESNAPSHOTS` of those it is cut off.

Sequence numbers are the stream's own (one per delta message, time-driven refreshes
such as a wrap-up running out included), so `?since=N&epoch=E` can replay exactly the
deltas after N from the ring buffer. `epoch` names this process's stream: a number from
a restarted service means nothing here and gets a snapshot, as does one that fell out of
the buffer, and an agent's (its own frames are made only while it is connected).

Protocol (JSON text frames):
- `{"type": "snapshot", "seq", "epoch", "queues": [...], "seats": [...], "labels":
  {"pause_reasons": {code: {"zh", "en"}}}}` (labels: the words screens show for codes)
- `{"type": "resumed", "seq", "epoch"}` then the missed deltas
- `{"type": "heartbeat"}` after `HEARTBEAT_S` without a frame: a screen that hears
  nothing for longer knows its connection is dead even when no close ever arrives (a
  cable pulled, a NAT that forgot it), instead of showing a quiet night as live
- `{"type": "delta", "seq", "changes": [...], "queues": [...], "seats": [...],
  "removed": {"queues": [keys], "seats": [keys]}}`
Times in rows and changes (a seat's `state_since`, `last_call`, a change's `at`) are
ISO 8601 in city time with the offset, as in every REST response.
Authentication: `Authorization: Bearer cc_...`, or (browsers cannot set headers) a first
frame `{"token": "cc_..."}` within `AUTH_TIMEOUT_S`. Close codes: 4400 a first frame that
is not such an object (binary, not UTF-8 or JSON, too long or too deep), 4401 no or
unknown token, 4403 role not allowed, 4503 no PBX link, 1013 too slow. A stream
authenticates once; its token is checked again every token-cache TTL (`TokenWatch`) and
the socket closed with 4401 once the token is revoked, as REST refuses it from then on.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import time
from collections import deque
from collections.abc import Callable, Coroutine, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from fastapi import WebSocket, WebSocketDisconnect
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from api.live_rows import SeatFloor
from api.live_sight import EVERYONE, CallSeats, Frames, Sight, delta_frames
from api.live_table import LiveTable
from callcenter.clock import SHANGHAI, CityTime
from callcenter.live.changes import Change, Lost
from callcenter.live.live_state import LiveState
from callcenter.records.today import DayBook
from callcenter.tokens import CACHE_TTL_S, Principal, Role, TokenStore, hash_token

log = logging.getLogger(__name__)
T = TypeVar("T")

AUTH_TIMEOUT_S = 5.0
SEND_TIMEOUT_S = 10.0
MAX_RESNAPSHOTS = 2
#: a frame at least this often (seconds) to every screen, `heartbeat` when nothing else
HEARTBEAT_S = 15.0
HEARTBEAT = '{"type":"heartbeat"}'
STREAM_ROLES = frozenset({Role.ADMIN, Role.SUPERVISOR, Role.AGENT})
#: the first frame carries a token (`cc_` and 43 characters): anything longer is not one
MAX_AUTH_FRAME = 1024
#: `{"token": ...}` is one level deep; a deeper frame is not an authentication frame
MAX_AUTH_DEPTH = 2

#: close codes (4000-4999 are the application's; browsers expose them to scripts)
CLOSE_BAD_FRAME = 4400
CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_UNAVAILABLE = 4503
CLOSE_TOO_SLOW = 1013

#: a client's queue holds this: either a serialised delta or "send a fresh snapshot"
RESNAPSHOT = None


class StreamClient:
    """One connected screen: its bounded queue and how often it fell behind."""

    def __init__(self, maxsize: int, sight: Sight = EVERYONE) -> None:
        self.queue: asyncio.Queue[str | None] = asyncio.Queue(maxsize)
        self.sight = sight
        self.resnapshots = 0
        self.waiting_for_snapshot = False

    def offer(self, text: str) -> None:
        if self.waiting_for_snapshot:
            return  # the snapshot it is about to get already contains this delta
        try:
            self.queue.put_nowait(text)
        except asyncio.QueueFull:
            self.fall_behind()

    def fall_behind(self) -> None:
        while not self.queue.empty():
            self.queue.get_nowait()
        self.waiting_for_snapshot = True
        self.queue.put_nowait(RESNAPSHOT)


class TokenWatch:
    """Closes the streams of tokens revoked after they connected.

    REST checks a token on every request (cached for the token store's TTL); a stream
    checks it once, at the start. So the tokens of open streams are checked again every
    TTL, straight from the database: one query for all distinct tokens, however many
    screens share one, never per frame. A database that cannot answer keeps the screens
    open (a dark wallboard wall in an outage helps nobody; REST refuses meanwhile) and
    is asked again next round."""

    def __init__(self, store: TokenStore, every_s: float) -> None:
        self.store = store
        self.every_s = every_s
        self._held: dict[str, set[asyncio.Event]] = {}
        self._task: asyncio.Task[None] | None = None
        self.revoked = 0  # streams closed because their token went

    def hold(self, digest: str) -> asyncio.Event:
        """An event set once the token (its hash) is no longer valid."""
        gone = asyncio.Event()
        self._held.setdefault(digest, set()).add(gone)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="live-stream-token-watch")
        return gone

    def release(self, digest: str, gone: asyncio.Event) -> None:
        holders = self._held.get(digest)
        if holders is not None:
            holders.discard(gone)
            if not holders:
                del self._held[digest]

    async def check(self) -> None:
        digests = list(self._held)
        if not digests:
            return
        valid = await self.store.still_valid(digests)
        for digest in digests:
            if digest not in valid:
                for gone in self._held.pop(digest, set()):
                    self.revoked += 1
                    gone.set()

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.every_s)
            try:
                await self.check()
            except Exception:
                log.warning(
                    "live stream: re-checking tokens failed; next in %.0f s",
                    self.every_s,
                    exc_info=True,
                )

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None


class LiveStream:
    """The pump and the fan-out. Started by the first client (`ensure_started`)."""

    def __init__(
        self,
        live: LiveState,
        seats: SeatFloor | None,
        *,
        buffer_size: int = 2_000,
        client_queue: int = 500,
        coalesce_s: float = 0.025,
        tick_s: float = 1.0,
        seat_rows_ttl_s: float = 10.0,
        full_every_s: float = 60.0,
        monotonic: Callable[[], float] = time.monotonic,
        city: CityTime = SHANGHAI,
        day: DayBook | None = None,
    ) -> None:
        """`day`: the day so far, whose figures the queue, centre and seat rows carry."""
        self.live = live
        self.seats = seats
        self.epoch = secrets.token_hex(4)
        self.seq = 0
        self.client_queue = client_queue
        #: seconds without a frame before a screen gets a heartbeat
        self.heartbeat_s = HEARTBEAT_S
        self.coalesce_s = coalesce_s
        self.tick_s = tick_s
        self.seat_rows_ttl_s = seat_rows_ttl_s
        self._monotonic = monotonic
        self._buffer: deque[tuple[int, Frames]] = deque(maxlen=buffer_size)
        self._clients: set[StreamClient] = set()
        self._table = LiveTable(
            live,
            seats,
            queues_every_s=tick_s,
            full_every_s=full_every_s,
            monotonic=monotonic,
            city=city,
            day=day,
        )
        self._db_seats_at = float("-inf")
        self._calls = CallSeats(live)
        self._full_passes = 0
        self._task: asyncio.Task[None] | None = None
        self._snapshot: tuple[int, str] | None = None
        self._start_lock = asyncio.Lock()
        self._watch: TokenWatch | None = None
        #: seconds from a change's publication to its delta being queued for every client
        self.last_fanout_lag_s = 0.0
        self.resnapshots = 0  # fresh snapshots sent to clients that fell behind
        self.cut = 0  # clients closed for being too slow

    # --- lifecycle -------------------------------------------------------------------
    async def ensure_started(self) -> None:
        async with self._start_lock:
            if self._task is not None:
                return
            await self._refresh_db_seats(force=True)
            self._table.update([], full=True)
            self._snapshot = None
            self._task = asyncio.create_task(self._pump(), name="live-stream-pump")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._watch is not None:
            await self._watch.stop()

    def token_watch(self, store: TokenStore) -> TokenWatch:
        """The watch over the open streams' tokens, every `store`'s cache TTL."""
        if self._watch is None or self._watch.store is not store:
            every = store.cache_ttl_s if store.cache_ttl_s > 0 else CACHE_TTL_S
            self._watch = TokenWatch(store, every)
        return self._watch

    @property
    def revoked(self) -> int:
        """Streams closed because their token was revoked while they were open."""
        return self._watch.revoked if self._watch is not None else 0

    @property
    def clients(self) -> int:
        return len(self._clients)

    # --- clients ---------------------------------------------------------------------
    def attach(
        self, since: int | None, epoch: str | None, sight: Sight = EVERYONE
    ) -> tuple[StreamClient, list[str]]:
        """A new client seeing what `sight` may, and what to send it first: the missed
        deltas after a resumable `since`, else a snapshot. Synchronous, so nothing is
        emitted in between."""
        client = StreamClient(self.client_queue, sight)
        self._clients.add(client)
        if (
            since is not None
            and epoch == self.epoch
            and not sight.agent
            and self._can_resume(since)
        ):
            first = [self._resumed_message()]
            first += [frames.for_sight(sight) for seq, frames in self._buffer if seq > since]
        else:
            first = [self.snapshot_message(sight)]
        return client, first

    def detach(self, client: StreamClient) -> None:
        self._clients.discard(client)

    def _can_resume(self, since: int) -> bool:
        if since > self.seq or since < 0:
            return False
        if since == self.seq:
            return True
        return bool(self._buffer) and self._buffer[0][0] <= since + 1

    def _resumed_message(self) -> str:
        return json.dumps({"type": "resumed", "seq": self.seq, "epoch": self.epoch})

    def snapshot_message(self, sight: Sight = EVERYONE) -> str:
        """The rows as of `seq` (what the pump last sent), so deltas continue from it.
        Serialised once per seq: a wall of screens reconnecting together after a
        restart would otherwise cost a full serialisation each. An agent's holds its own
        seat's rows only (rows carry no numbers: admin's is everyone's)."""
        if sight.agent:
            return self._table.snapshot_json(self.seq, self.epoch, only_seat=sight.seat or "")
        if self._snapshot is None or self._snapshot[0] != self.seq:
            self._snapshot = (self.seq, self._serialise_snapshot())
        return self._snapshot[1]

    def _serialise_snapshot(self) -> str:
        return self._table.snapshot_json(self.seq, self.epoch)

    @property
    def full_passes(self) -> int:
        return self._table.full_passes

    @property
    def full_pass_fixes(self) -> int:
        """Rows a periodic full pass found changed that no change named: should be 0."""
        return self._table.full_pass_fixes

    # --- the pump --------------------------------------------------------------------
    async def _refresh_db_seats(self, force: bool = False) -> None:
        """Provisioned seats (offline ones are shown too) change rarely: re-read them
        every `seat_rows_ttl_s`, never per change."""
        if self.seats is None:
            return
        if not force and self._monotonic() - self._db_seats_at < self.seat_rows_ttl_s:
            return
        try:
            self._table.set_db_seats(await self.seats.repo.seats())
            self._db_seats_at = self._monotonic()
        except Exception:  # a database hiccup must not stop the live screens
            log.exception("live stream: reading seats failed; keeping the last list")

    async def _pump(self) -> None:
        sub = self.live.hub.subscribe("ws-live", maxsize=100_000)
        try:
            while True:
                changes: list[Change] = []
                lost = False
                try:
                    first = await asyncio.wait_for(sub.get(), self._idle_wait())
                except TimeoutError:
                    first = None
                if first is not None:
                    await asyncio.sleep(self._window(first))
                    item: Change | Lost | None = first
                    while item is not None:
                        if isinstance(item, Lost):
                            changes, lost = [], True  # every row is recomputed instead
                        else:
                            changes.append(item)
                        item = sub.get_nowait()
                await self._refresh_db_seats()
                self.emit(changes, full=lost)
        finally:
            sub.close()

    def _idle_wait(self) -> float:
        """Seconds to wait for a change: the tick (queue rows age: the longest wait), or
        less when a seat's wrap-up runs out sooner (no event will say so)."""
        ends = self._table.next_wrapup_end()
        if ends is None:
            return self.tick_s
        return min(self.tick_s, max(0.0, ends - self.live.clock()))

    def _window(self, first: Change | Lost) -> float:
        """The coalescing window counts from the change's publication, not from when the
        pump got to it: time spent on the previous batch is not waited a second time."""
        if isinstance(first, Lost):
            return self.coalesce_s
        waited = max(0.0, self.live.clock() - first.at)
        return max(0.0, self.coalesce_s - waited)

    def emit(self, changes: list[Change], *, full: bool = False) -> None:
        """Bring the rows up to date (all of them when `full`: after a `Lost`), and queue
        one delta with those that differ for everyone (nothing when nothing differs and
        no change arrived)."""
        delta = self._table.update(changes, full=full)
        if self._table.full_passes != self._full_passes:
            self._full_passes = self._table.full_passes
            self._calls.prune()
        if not (changes or delta):
            return
        self.seq += 1
        clients = list(self._clients)
        agents = {c.sight.seat for c in clients if c.sight.seat}
        frames = delta_frames(self.seq, changes, delta, self._table.city, self._calls, agents)
        self._buffer.append((self.seq, frames))
        for client in clients:
            client.offer(frames.for_sight(client.sight))
        if changes:
            self.last_fanout_lag_s = max(0.0, self.live.clock() - changes[0].at)

    async def serve(self, websocket: WebSocket, client: StreamClient, first: list[str]) -> None:
        """Send `first`, then the client's queue, until it goes or falls behind too often."""

        def frame(item: str | None) -> str | None:
            if item is not RESNAPSHOT:
                return item
            client.resnapshots += 1
            if client.resnapshots > MAX_RESNAPSHOTS:
                return None
            self.resnapshots += 1
            client.waiting_for_snapshot = False
            return self.snapshot_message(client.sight)

        try:
            if await send_frames(websocket, first, client.queue, lambda: self.heartbeat_s, frame):
                self.cut += 1
        finally:
            self.detach(client)


class StreamCollector(Collector):
    """`/metrics` for the stream: screens connected, how far behind, who was dropped."""

    def __init__(self, stream: LiveStream) -> None:
        self.stream = stream

    def collect(self) -> Iterator[Metric]:
        s = self.stream
        yield GaugeMetricFamily(
            "callcenter_live_stream_clients", "WebSocket clients on /api/v1/live", s.clients
        )
        yield GaugeMetricFamily(
            "callcenter_live_stream_seq", "Last delta sequence number of the stream", s.seq
        )
        yield GaugeMetricFamily(
            "callcenter_live_stream_fanout_lag_seconds",
            "Last delta: change published -> queued for every client",
            s.last_fanout_lag_s,
        )
        yield CounterMetricFamily(
            "callcenter_live_stream_resnapshots", "Snapshots re-sent to slow clients", s.resnapshots
        )
        yield CounterMetricFamily(
            "callcenter_live_stream_cut", "Clients closed for being too slow", s.cut
        )
        yield CounterMetricFamily(
            "callcenter_live_stream_revoked",
            "Clients closed because their token was revoked",
            s.revoked,
        )
        yield CounterMetricFamily(
            "callcenter_live_stream_full_passes",
            "Times every seat row was rebuilt (start, resync, lost changes, safety net)",
            s.full_passes,
        )
        yield CounterMetricFamily(
            "callcenter_live_stream_full_pass_fixes",
            "Seat rows a periodic full pass found changed that no change named (a bug: 0)",
            s.full_pass_fixes,
        )


class _InvalidUtf8Line(logging.Filter):
    """uvicorn closes a text frame that is not UTF-8 with 1007 before the application
    sees it, and logs a traceback for it: a client's mistake, worth one line."""

    MESSAGE = "Invalid UTF-8 sequence received from client."

    def filter(self, record: logging.LogRecord) -> bool:
        if record.msg == self.MESSAGE and record.exc_info:
            record.exc_info, record.exc_text = None, None
            record.levelno, record.levelname = logging.WARNING, "WARNING"
            record.msg = "WebSocket: a text frame that is not UTF-8, closed with 1007"
        return True


def quiet_invalid_utf8(logger: logging.Logger | None = None) -> None:
    """Install `_InvalidUtf8Line` on uvicorn's error log (once)."""
    target = logger or logging.getLogger("uvicorn.error")
    if not any(isinstance(f, _InvalidUtf8Line) for f in target.filters):
        target.addFilter(_InvalidUtf8Line())


@dataclass(frozen=True)
class FrameError:
    """Why a first frame is not `{"token": "..."}` (for the log and the close reason)."""

    reason: str


def first_frame_token(message: Mapping[str, Any]) -> str | FrameError:
    """The token of the client's first frame (an ASGI `websocket.receive` message); ""
    when the object has no token. Anything that is not a small JSON text object is a
    FrameError: a binary frame, text that is not JSON, a frame over MAX_AUTH_FRAME
    characters or nested deeper than MAX_AUTH_DEPTH, a token that is not a string."""
    text = message.get("text")
    if text is None:
        return FrameError("a binary frame")
    if len(text) > MAX_AUTH_FRAME:
        return FrameError(f"a frame over {MAX_AUTH_FRAME} characters")
    if _depth(text) > MAX_AUTH_DEPTH:
        return FrameError(f"JSON nested deeper than {MAX_AUTH_DEPTH}")
    try:
        data = json.loads(text)
    except ValueError:
        return FrameError("not JSON")
    if not isinstance(data, dict):
        return FrameError(f"JSON {type(data).__name__}, not an object")
    token = data.get("token", "")
    if not isinstance(token, str):
        return FrameError("the token is not a string")
    return token


def _depth(text: str) -> int:
    """The deepest bracket nesting of a JSON text, strings skipped: checked before
    parsing, so a frame of ten thousand `[` never reaches the recursive parser."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


async def authenticate(
    websocket: WebSocket,
    store: TokenStore | None,
    roles: frozenset[Role] = STREAM_ROLES,
    purpose: str = "watch",
) -> tuple[Principal, str] | None:
    """The principal and its token's hash, or None after closing the socket saying why
    (a role not in `roles` may not `purpose`: 4403)."""
    if store is None:
        await websocket.close(CLOSE_UNAVAILABLE, "authentication is not configured")
        return None
    header = websocket.headers.get("authorization", "")
    token = header[7:].strip() if header.lower().startswith("bearer ") else ""
    if not token:
        try:
            message = await asyncio.wait_for(websocket.receive(), AUTH_TIMEOUT_S)
        except TimeoutError:
            await websocket.close(
                CLOSE_UNAUTHENTICATED,
                'missing token: send {"token": "cc_..."} first or an Authorization header',
            )
            return None
        if message["type"] == "websocket.disconnect":
            return None
        read = first_frame_token(message)
        if isinstance(read, FrameError):
            log.warning("live stream: first frame refused (%s)", read.reason)
            await websocket.close(CLOSE_BAD_FRAME, f'{read.reason}: send {{"token": "cc_..."}}')
            return None
        token = read
        if not token:
            await websocket.close(
                CLOSE_UNAUTHENTICATED,
                'missing token: send {"token": "cc_..."} first or an Authorization header',
            )
            return None
    principal: Principal | None = await store.verify(token)
    if principal is None:
        await websocket.close(CLOSE_UNAUTHENTICATED, "unknown or revoked token")
        return None
    if principal.role not in roles:
        names = ", ".join(sorted(r.value for r in roles))
        await websocket.close(
            CLOSE_FORBIDDEN, f"role {principal.role.value!r} may not {purpose} (needs: {names})"
        )
        return None
    return principal, hash_token(token)


async def send_frames(
    websocket: WebSocket,
    first: list[str],
    queue: asyncio.Queue[T],
    heartbeat_s: Callable[[], float],
    frame: Callable[[T | str], str | None],
) -> bool:
    """Send `first`, then `frame` of each item of `queue` (of HEARTBEAT after
    `heartbeat_s()` without one, read at each wait: it may change while serving), the
    way a live screen and a desk are both served. True when the client was cut for
    being too slow, the socket closed with CLOSE_TOO_SLOW: `frame` answered None (the client's
    own rule), or a frame was not taken within SEND_TIMEOUT_S."""
    try:
        for text in first:
            async with asyncio.timeout(SEND_TIMEOUT_S):
                await websocket.send_text(text)
        while True:
            try:
                async with asyncio.timeout(heartbeat_s()):
                    item: T | str = await queue.get()
            except TimeoutError:
                item = HEARTBEAT
            framed = frame(item)
            if framed is None:
                await websocket.close(CLOSE_TOO_SLOW, "too slow; reconnect")
                return True
            # asyncio.timeout, not wait_for: 3.11's wait_for makes a task per frame,
            # and this runs for every client for every delta
            async with asyncio.timeout(SEND_TIMEOUT_S):
                await websocket.send_text(framed)
    except TimeoutError:
        log.info("a client did not take a frame in %.0f s; cut", SEND_TIMEOUT_S)
        with contextlib.suppress(Exception):
            await websocket.close(CLOSE_TOO_SLOW, "too slow; reconnect")
        return True


async def serve_until_closed(
    websocket: WebSocket, sending: Coroutine[Any, Any, None], gone: asyncio.Event
) -> None:
    """Run `sending` (the frames to a live screen or a desk) until it ends, the client
    goes, or `gone` is set: the token revoked, the socket closed with 4401. Reading is
    how a closed socket is noticed; the client has nothing more to say after its token."""
    sender = asyncio.create_task(sending)
    revoked = asyncio.create_task(gone.wait())
    try:
        while not sender.done():
            receive = asyncio.create_task(websocket.receive())
            done, _ = await asyncio.wait(
                {receive, sender, revoked}, return_when=asyncio.FIRST_COMPLETED
            )
            if receive in done and receive.result()["type"] == "websocket.disconnect":
                break
            if receive not in done:
                receive.cancel()
            if revoked in done:
                sender.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await sender
                with contextlib.suppress(Exception):
                    await websocket.close(CLOSE_UNAUTHENTICATED, "token revoked")
                break
    except WebSocketDisconnect:
        pass
    finally:
        sender.cancel()
        revoked.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await sender


async def serve_socket(
    websocket: WebSocket,
    stream: LiveStream | None,
    tokens: TokenStore | None,
    since: int | None,
    epoch: str | None,
) -> None:
    """One screen's connection (routed in api/live.py), from accept to close."""
    await websocket.accept()
    if stream is None:
        await websocket.close(CLOSE_UNAVAILABLE, "no PBX link configured in this instance")
        return
    authenticated = await authenticate(websocket, tokens)
    if authenticated is None or tokens is None:
        return
    principal, digest = authenticated
    watch = stream.token_watch(tokens)
    gone = watch.hold(digest)
    await stream.ensure_started()
    client, first = stream.attach(since, epoch, Sight.of(principal))
    try:
        await serve_until_closed(websocket, stream.serve(websocket, client, first), gone)
    finally:
        stream.detach(client)
        watch.release(digest, gone)

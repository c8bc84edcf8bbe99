"""The delivery loop: claims due deliveries, POSTs them signed, writes what came of it.

One loop per instance (supervised, callcenter/process/service.py), any number of
instances on one database (deliveries.py says how they share the work). Each round
writes the outcomes of the attempts that ended, then claims as many deliveries as there
are free places (`concurrency` POSTs in flight at most) and sends each in its own task;
it sleeps `poll_s` when nothing was due. A restart loses nothing: the outbox is in the
database, and an attempt cut short keeps its lease until it lapses, then is sent again.

Each POST carries the event's JSON, `X-Hotline-Event`, `X-Hotline-Delivery` (the same on
every retry: receivers dedupe on it) and `X-Hotline-Signature: sha256=<hex HMAC>`. A 2xx
answer delivers; anything else (another status, a refused connection, a timeout) is a
failed attempt, retried by the `RetryPolicy` until its window ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from callcenter import __version__
from callcenter.clock import utcnow
from callcenter.config import WebhookSubscription
from callcenter.webhooks.deliveries import Claimed, Outcome, SqlDeliveries
from callcenter.webhooks.http import HttpClient, HttpError
from callcenter.webhooks.retry import RetryPolicy
from callcenter.webhooks.signing import sign

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Answer:
    status: int | None  # None: no HTTP answer
    error: str = ""


class Sender(Protocol):
    async def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> Answer: ...

    async def close(self) -> None: ...


class HttpSender:
    """POSTs over keep-alive connections (http.py); every failure is an answer, never
    raised."""

    def __init__(self, timeout_s: float, connections: int) -> None:
        self.client = HttpClient(timeout_s, idle_per_origin=connections)

    async def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> Answer:
        try:
            response = await self.client.post(url, body, headers)
        except TimeoutError:
            return Answer(None, f"no answer within {self.client.timeout_s:g} s")
        except HttpError as exc:
            return Answer(None, str(exc)[:500])
        if 200 <= response.status < 300:
            return Answer(response.status)
        excerpt = response.excerpt.decode("utf-8", "replace")
        return Answer(response.status, f"HTTP {response.status}: {excerpt}"[:500])

    async def close(self) -> None:
        await self.client.close()


def headers(subscription: WebhookSubscription, claim: Claimed, body: bytes) -> dict[str, str]:
    return {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": f"12345-hotline/{__version__}",
        "X-Hotline-Event": claim.event_type,
        "X-Hotline-Delivery": claim.delivery_id,
        "X-Hotline-Signature": sign(subscription.secret.get_secret_value(), body),
    }


class Dispatcher:
    def __init__(
        self,
        deliveries: SqlDeliveries,
        subscriptions: Sequence[WebhookSubscription],
        sender: Sender,
        *,
        policy: RetryPolicy | None = None,
        clock: Callable[[], datetime] = utcnow,
        concurrency: int = 32,
        timeout_s: float = 10.0,
        poll_s: float = 0.2,
    ) -> None:
        self.deliveries = deliveries
        self.subscriptions = {s.key: s for s in subscriptions}
        self.sender = sender
        self.policy = policy or RetryPolicy()
        self.clock = clock
        self.concurrency = concurrency
        #: a claim outlives its request by a margin: it lapses only if the instance died
        self.lease_s = 2 * timeout_s + 30.0
        self.poll_s = poll_s
        self.delivered = 0
        self.attempts_failed = 0
        self.given_up = 0
        #: each POST in flight and the claim it sends
        self._in_flight: dict[asyncio.Task[None], Claimed] = {}
        self._done: list[Outcome] = []
        self._wake = asyncio.Event()

    @property
    def in_flight(self) -> int:
        return len(self._in_flight)

    async def run(self) -> None:
        """Forever (the supervisor restarts it if it raises); on cancel, the outcomes
        already known are written before it ends."""
        try:
            while True:
                self._wake.clear()  # an attempt ending from here on wakes the wait below
                if not await self.round():
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), self.poll_s)
        finally:
            await self._abandon_in_flight()

    async def round(self) -> int:
        """Write finished attempts, claim and start new ones; how many were started.
        While POSTs are in flight it waits for a quarter of the places to come free, so
        that a busy receiver is fed by a few large claims rather than many small ones."""
        free = self.concurrency - len(self._in_flight)
        if self._in_flight and free < max(1, self.concurrency // 4):
            return 0
        await self._write_outcomes()
        claimed = await self.deliveries.claim(self.subscriptions, self.clock(), free, self.lease_s)
        for claim in claimed:
            task = asyncio.create_task(self._send(claim), name=f"webhook {claim.delivery_id}")
            self._in_flight[task] = claim
            task.add_done_callback(self._landed)
        return len(claimed)

    def _landed(self, task: asyncio.Task[None]) -> None:
        self._in_flight.pop(task, None)

    async def drain(self) -> None:
        """Wait for every attempt in flight and write its outcome (tests, shutdown)."""
        while self._in_flight:
            await asyncio.wait(set(self._in_flight))
        await self._write_outcomes()

    async def _send(self, claim: Claimed) -> None:
        subscription = self.subscriptions[claim.subscription]
        body = claim.payload.encode()
        answer = await self.sender.post(subscription.url, body, headers(subscription, claim, body))
        ok = answer.status is not None and 200 <= answer.status < 300
        if not ok:
            self.attempts_failed += 1
            log.info(
                "webhook %s to %s failed (attempt %d): %s",
                claim.delivery_id,
                claim.subscription,
                claim.attempts + 1,
                answer.error,
            )
        self._done.append(Outcome(claim, ok, answer.status, answer.error, self.clock()))
        self._wake.set()

    async def _write_outcomes(self) -> None:
        if not self._done:
            return
        done, self._done = self._done, []
        try:
            given_up = await self.deliveries.finish(done, self.policy)
        except BaseException:
            self._done[:0] = done  # written next round (the leases keep them ours)
            raise
        self.delivered += sum(o.ok for o in done)
        self.given_up += given_up
        if given_up:
            log.warning("webhooks: %d deliveries failed for good (retries exhausted)", given_up)

    async def _abandon_in_flight(self) -> None:
        """On stop: POSTs in flight are cut, their leases given back (sent again at once
        by whichever instance claims them next), known outcomes written."""
        cut = dict(self._in_flight)
        for task in cut:
            task.cancel()
        for task in cut:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        answered = {outcome.claim.id for outcome in self._done}
        with contextlib.suppress(Exception):
            await self._write_outcomes()
        with contextlib.suppress(Exception):
            await self.deliveries.release([c for c in cut.values() if c.id not in answered])

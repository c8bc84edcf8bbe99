"""`call.answered`: the screen pop's facts at the moment a seat answers, announced
without a durable write on the AMI reader's path.

The record builder sees the answer (app_queue's `AgentConnect`) on the AMI reader's
path, where the only I/O allowed is the spool append (wiring.py). So the builder only
hands the answer to `AnswerLog.saw`, which copies what the event will say into memory
(`Answer`, a few strings and numbers) and wakes a writer task; `run()` writes what has
gathered in batches, one transaction each, through the outbox.

Order per call. An answered call was offered, and the offer is otherwise announced with
the record at the call's end; so an answer announces the offer first (same dedupe key
as the record's, announce.py: whichever is written first is the one stored). Every
transaction that announces something else about a call (its record, an intake version)
first takes the call's lock (locks.py, which the writer takes too) and then announces
the answers of that call still in memory, ahead of its own events: an answer not yet
written when the record is written is written in the record's transaction, before
`call.ended`. Whichever transaction writes an answer first stores it; the other's
insert of the same key is a no-op.

What is lost: answers still in memory when the process dies (as is the call itself,
which the reconciliation rebuilds from Asterisk's ledger, without its answer event),
and answers past `limit` while the database is unreachable (counted in `dropped`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter.records.builder import RecordDraft
from callcenter.records.locks import lock_calls

log = logging.getLogger(__name__)

#: (node, Linkedid) -> the caller's queue priority (the channel's QUEUE_PRIO), 0 if none
PriorityLookup = Callable[[str, str], int]


def _no_priority(node: str, linkedid: str) -> int:
    return 0


@dataclass(frozen=True, slots=True)
class Answer:
    """What a `call.answered` says, copied off the record draft when the seat answered
    (times are the builder's clock, epoch seconds)."""

    node: str
    linkedid: str
    started_at: float
    #: seconds from the call's start to its first queue entry (None: not seen)
    joined_after_s: float | None
    caller: str
    dialed: str
    unit: str  # the dialplan's unit ('' until the route lookup at write time)
    confidential: bool
    #: the call's first queue ('' for a callback, which is never offered)
    first_queue: str
    #: the queue the seat answered from
    queue: str
    wait_s: float | None
    priority: int
    ivr_keys: str
    seat: str
    member: str  # the member's interface
    #: the Uniqueid of the member's channel that took the call ('' if not seen)
    member_channel: str
    answered_at: float

    @property
    def call(self) -> tuple[str, str]:
        return (self.node, self.linkedid)

    @property
    def leg(self) -> str:
        """Which answer of the call this is: the member's channel (the same seat taking
        the caller back after a failed transfer answers on a new one), else the member."""
        return self.member_channel or self.member

    @property
    def key(self) -> tuple[str, str, str]:
        """A replayed AgentConnect is the same answer."""
        return (self.node, self.linkedid, self.leg)


def answer_of(draft: RecordDraft, queue: str, priority: int) -> Answer:
    joined = next((float(t[0]) for t in draft.timeline if t[1] == "queue_join"), None)
    return Answer(
        node=draft.node,
        linkedid=draft.linkedid,
        started_at=draft.started_at,
        joined_after_s=joined,
        caller=draft.caller,
        dialed=draft.dialed,
        unit=draft.unit,
        confidential=draft.confidential,
        first_queue=next(iter(draft.offered_queues), ""),
        queue=queue,
        wait_s=draft.wait_s,
        priority=priority,
        ivr_keys=draft.keys,
        seat=draft.seat,
        member=draft.agent,
        member_channel=draft.member_channel,
        answered_at=draft.answered_at if draft.answered_at is not None else draft.started_at,
    )


#: writes answers' events in the session's transaction (announce.py `Announcer`)
AnswersAnnounce = Callable[[AsyncSession, list[Answer]], Awaitable[None]]


class AnswerLog:
    """Answers seen and not yet written, and the task that writes them."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        priority: PriorityLookup = _no_priority,
        *,
        flush_every_s: float = 0.1,
        batch_size: int = 200,
        limit: int = 20_000,
        max_retry_s: float = 5.0,
    ) -> None:
        self.sessions = sessions
        self.priority = priority
        self.flush_every_s = flush_every_s
        self.batch_size = batch_size
        self.limit = limit
        self.max_retry_s = max_retry_s
        #: set by the announcer (announce.py) when a subscription wants `call.answered`
        self.announce: AnswersAnnounce | None = None
        self.pending: dict[tuple[str, str, str], Answer] = {}
        self.written = 0
        self.dropped = 0
        self.failures = 0
        self._wake = asyncio.Event()
        self._writing = asyncio.Lock()

    # --- on the AMI reader's path: memory only --------------------------------------
    def saw(self, draft: RecordDraft, queue: str) -> None:
        """The builder's hook at an answer: never waits, never raises."""
        if self.announce is None:
            return
        try:
            answer = answer_of(draft, queue, self.priority(draft.node, draft.linkedid))
        except Exception:
            log.exception("call.answered: could not copy the answer of %s", draft.linkedid)
            return
        if answer.key not in self.pending and len(self.pending) >= self.limit:
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 1000 == 0:
                log.error("call.answered: %d answers not announced (backlog full)", self.dropped)
            return
        self.pending[answer.key] = answer
        self._wake.set()

    # --- in other transactions ----------------------------------------------------------
    def of_calls(self, calls: Iterable[tuple[str, str]]) -> list[Answer]:
        """The answers of `calls` not yet known written, in the order they were seen.
        Called after the calls' locks are taken, so the writer is not midway through
        any of them."""
        wanted = set(calls)
        if not self.pending or not wanted:
            return []
        return [a for a in self.pending.values() if a.call in wanted]

    # --- the writer task ----------------------------------------------------------------
    async def flush(self) -> bool:
        """Write what is pending, in batches; False if the database failed."""
        async with self._writing:
            while self.pending:
                batch = list(self.pending.values())[: self.batch_size]
                try:
                    await self._write(batch)
                except Exception:
                    self.failures += 1
                    log.warning("call.answered: write failed; retrying", exc_info=True)
                    return False
                for answer in batch:
                    if self.pending.get(answer.key) is answer:
                        del self.pending[answer.key]
                self.written += len(batch)
            return True

    async def _write(self, batch: list[Answer]) -> None:
        if self.announce is None:
            return
        async with self.sessions() as session, session.begin():
            await lock_calls(session, [a.linkedid for a in batch])
            await self.announce(session, batch)

    async def run(self) -> None:
        pause = self.flush_every_s
        while True:
            try:
                await asyncio.wait_for(self._wake.wait(), pause)
            except TimeoutError:
                pass
            self._wake.clear()
            ok = await self.flush()
            pause = self.flush_every_s if ok else min(max(pause * 2, 0.5), self.max_retry_s)

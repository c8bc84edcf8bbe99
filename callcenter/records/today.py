"""The city day so far, once: per queue, for the whole centre (全中心), by hour and per
seat, the same on every screen and on every service instance.

The day so far is the day's finished calls plus the calls in progress:
- finished calls are the records in the database (every instance writes every record
  of its PBX, idempotently, so the table is the one shared truth), plus the records
  this instance finished that are still on their way there (the spool);
- calls in progress are the record builder's drafts: what each call's record would
  say if it ended now (a caller waiting is offered, a call at a seat is answered).
Every call is counted once, by (node, Linkedid), by `kpi.contribution`: the same
definitions `kpi.compute` runs in SQL for any other range.

`DayBook` keeps one small entry per finished call of the day and running sums per
queue, hour and seat, so a view costs the drafts plus a few dozen sums, whatever the
day's volume (bench: today_view_p99_ms). It reads the day back from the database at
start and every `refresh_every_s`: that picks up what other instances, the reconciler
and late facts (a survey rating, a callback reaching the caller) changed.

The intake's kind and unit are no groups here: they are written at the end of the call
and in its wrap-up, and corrected later, so a live view would count most of the day's
calls in progress as unclassified and change its past hours with every correction. The
city's assessment by kind and unit is a report over a range (`kpi.compute`,
`group=kind|unit`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import Field
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter.clock import SHANGHAI, CityTime
from callcenter.records.builder import FinishedCall, RecordDraft
from callcenter.records.kpi import (
    CALLBACK,
    Figures,
    Tally,
    called_back_since,
    contribution,
    count_into,
    to_ms,
)
from callcenter.records.models import CallRecord

log = logging.getLogger(__name__)

HOUR_S = 3600
#: a record this instance finished is kept from its own hand for this long when the
#: database does not have it yet (the writer is behind, or the database was away)
KEEP_LOCAL_S = 900.0
REFRESH_EVERY_S = 15.0
REFRESH_BATCH = 2_000

Key = tuple[str, str]  # (node, Linkedid)


@dataclass(frozen=True, slots=True)
class _Entry:
    """One finished call's part of the day."""

    queue: str  # Asterisk's name of the first queue joined; "" none
    hour: int  # epoch of the city hour it started in
    seat: str  # the seat that answered it; "" none
    talk_s: float
    tally: Tally
    #: when it waited in its queue, [joined, left): the hour's waiting peak
    waited: tuple[float, float] | None


@dataclass(frozen=True, slots=True)
class SeatDay:
    calls: Annotated[int, Field(description="calls the seat answered today (in progress too)")]
    talk_s: Annotated[float, Field(description="their talk time so far, seconds")]


NO_CALLS = SeatDay(0, 0.0)


@dataclass(frozen=True, slots=True)
class HourFigures:
    hour_start: int  # epoch seconds of the city hour
    figures: Figures
    #: the most callers waiting at one moment in the hour (finished calls and the
    #: callers waiting now)
    waiting_peak: int


@dataclass(frozen=True, slots=True)
class DayView:
    day_start: int
    as_of: float
    centre: Figures
    queues: dict[str, Figures]  # by Asterisk queue name
    hours: list[HourFigures]
    in_progress: int


def _entry(
    hour: int,
    queue: str,
    seat: str,
    talk_s: float,
    tally: Tally,
    joined_at: float | None,
    wait_s: float | None,
) -> _Entry:
    waited = (joined_at, joined_at + wait_s) if joined_at is not None and wait_s else None
    return _Entry(queue, hour, seat if tally.answered else "", talk_s, tally, waited)


class DayBook:
    """The day so far for one service instance (see the module's docstring)."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Callable[[], float],
        drafts: Callable[[], Iterable[RecordDraft]] = tuple,
        city: CityTime = SHANGHAI,
        refresh_every_s: float = REFRESH_EVERY_S,
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self._drafts = drafts
        self.city = city
        self.refresh_every_s = refresh_every_s
        self.day_start = city.day_start(clock())
        self._entries: dict[Key, _Entry] = {}
        #: records this instance finished, and when (its clock): kept until the
        #: database has them
        self._local: dict[Key, float] = {}
        self._queues: dict[str, Tally] = {}
        self._hours: dict[int, Tally] = {}
        #: seat -> [calls, talk in whole milliseconds (exact, in any order)]
        self._seats: dict[str, list[int]] = {}
        self._peaks: dict[int, int] | None = None
        self._seat_view: dict[str, SeatDay] | None = None
        self.refreshes = 0
        self.refresh_failures = 0

    @property
    def held(self) -> int:
        """Finished calls of the day held (one small entry each; emptied when the day
        turns): the day book's share of memory per call."""
        return len(self._entries)

    # --- the finished calls ------------------------------------------------------------
    def observe(self, record: FinishedCall) -> None:
        """A record this instance just finished (before the writer stores it)."""
        now = self._clock()
        self._roll(now)
        if not self.day_start <= record.started_at < self.day_start + 86400:
            return
        tally = contribution(
            kind=record.kind,
            queue=record.queues[0] if record.queues else "",
            agent=record.agent,
            queue_exit=record.queue_exit,
            wait_s=record.wait_s,
            talk_s=record.talk_s,
            wrapup_s=record.wrapup_s,
            rating=record.rating,
            called_back=False,
            queued_after_s=record.queued_after_s,
        )
        key = (record.node, record.linkedid)
        if tally is None:
            return
        known = self._entries.get(key)
        if known is not None and known.tally.callbacks_reached:
            tally.callbacks_reached = 1  # the database already knew of its callback
        if known is not None and known.tally.rated and not tally.rated:
            tally.rated, tally.satisfied = known.tally.rated, known.tally.satisfied
        queue = record.queues[0] if record.queues else ""
        self._put(
            key,
            _entry(
                self.city.bucket_start(record.started_at, HOUR_S),
                queue,
                record.seat,
                record.talk_s,
                tally,
                _joined_at(record.started_at, record.queued_after_s),
                record.wait_s,
            ),
        )
        self._local[key] = now

    def _put(self, key: Key, entry: _Entry | None) -> None:
        old = self._entries.pop(key, None)
        if old is not None:
            self._count(old, -1)
        if entry is not None:
            self._entries[key] = entry
            self._count(entry, 1)
        self._peaks = None

    def _count(self, entry: _Entry, sign: int) -> None:
        self._queues.setdefault(entry.queue, Tally()).add(entry.tally, sign)
        self._hours.setdefault(entry.hour, Tally()).add(entry.tally, sign)
        if entry.seat:
            seat = self._seats.setdefault(entry.seat, [0, 0])
            seat[0] += sign
            seat[1] += sign * to_ms(entry.talk_s)
            self._seat_view = None

    def _roll(self, now: float) -> None:
        day_start = self.city.day_start(now)
        if day_start != self.day_start:
            self.day_start = day_start
            self._entries, self._local = {}, {}
            self._queues, self._hours, self._seats, self._peaks = {}, {}, {}, None
            self._seat_view = None

    # --- the database ------------------------------------------------------------------
    async def refresh(self) -> int:
        """Read the day's records back from the database: the shared truth replaces
        what this instance had, and its own records the database has not got yet are
        kept. Returns the number of records read."""
        now = self._clock()
        self._roll(now)
        day_start = self.day_start
        r = CallRecord
        query = select(
            r.node,
            r.linkedid,
            r.start_epoch,
            r.queue,
            r.agent,
            r.seat,
            r.queue_exit,
            r.wait_s,
            r.talk_s,
            r.wrapup_s,
            r.rating,
            r.kind,
            called_back_since(day_start),
            r.queued_after_s,
        ).where(r.start_epoch >= day_start, r.start_epoch < day_start + 86400, r.kind != CALLBACK)
        fresh: dict[Key, _Entry] = {}
        read = 0
        # streamed in batches: the day's rows are never all in memory at once (a busy
        # day is tens of thousands), and a long day does not hold the loop in one go
        async with self._sessions() as session:
            result = await session.stream(query.execution_options(yield_per=REFRESH_BATCH))
            async for rows in result.partitions():
                read += len(rows)
                for row in rows:
                    self._read_row(fresh, row)
                await asyncio.sleep(0)
        if self.day_start != day_start:
            return 0  # the day turned while reading
        now = self._clock()
        for key, at in list(self._local.items()):
            if key in fresh or now - at > KEEP_LOCAL_S:
                del self._local[key]
            elif key in self._entries:
                fresh[key] = self._entries[key]
        self._entries = {}
        self._queues, self._hours, self._seats, self._seat_view = {}, {}, {}, None
        for key, entry in fresh.items():
            self._put(key, entry)
        self.refreshes += 1
        return read

    def _read_row(self, fresh: dict[Key, _Entry], row: Sequence[Any]) -> None:
        node, linkedid, start, queue, agent, seat, exit_, wait, talk, wrapup = row[:10]
        rating, kind, called_back, queued_after = row[10:]
        tally = contribution(
            kind=kind,
            queue=queue,
            agent=agent,
            queue_exit=exit_,
            wait_s=wait,
            talk_s=talk,
            wrapup_s=wrapup,
            rating=rating,
            called_back=bool(called_back),
            queued_after_s=queued_after,
        )
        if tally is not None:
            fresh[(node, linkedid)] = _entry(
                self.city.bucket_start(start, HOUR_S),
                queue,
                seat,
                talk,
                tally,
                _joined_at(float(start), queued_after),
                wait,
            )

    async def run(self) -> None:
        """Refresh every `refresh_every_s`; a failure is logged and retried."""
        while True:
            await asyncio.sleep(self.refresh_every_s)
            try:
                await self.refresh()
            except Exception:
                self.refresh_failures += 1
                log.warning("today's figures: reading the day back failed", exc_info=True)

    # --- the view ----------------------------------------------------------------------
    def view(self) -> DayView:
        """The day so far: finished calls and calls in progress, per queue, for the
        centre, and per hour (`seats` gives the seats')."""
        now = self._clock()
        self._roll(now)
        end = self.day_start + 86400
        hour_of = self._hour_of()
        # calls in progress, counted once each into a tally per (queue, hour): a floor
        # of 1,500 seats has a few dozen such groups
        groups: dict[tuple[str, int], Tally] = {}
        waiting_now = 0
        in_progress = 0
        entries = self._entries
        for draft in self._drafts():
            if draft.ended_at is not None or draft.callback_of:
                continue
            if not self.day_start <= draft.started_at < end:
                continue
            if (draft.node, draft.linkedid) in entries:
                continue
            in_progress += 1
            queue = draft.queues[0] if draft.queues else ""
            key = (queue, hour_of(draft.started_at))
            tally = groups.get(key)
            if tally is None:
                tally = groups[key] = Tally()
            count_draft(tally, draft)
            if not draft.agent and draft.in_queue is not None:
                waiting_now += 1
        queues = {name: _copy(t) for name, t in self._queues.items()}
        hours = {hour: _copy(t) for hour, t in self._hours.items()}
        for (queue, hour), tally in groups.items():
            queues.setdefault(queue, Tally()).add(tally)
            hours.setdefault(hour, Tally()).add(tally)
        centre = Tally()
        for tally in queues.values():
            centre.add(tally)
        peaks = dict(self._waiting_peaks())
        if waiting_now:
            this_hour = hour_of(now)
            peaks[this_hour] = max(peaks.get(this_hour, 0), waiting_now)
        return DayView(
            day_start=self.day_start,
            as_of=now,
            centre=centre.figures(),
            queues={name: t.figures() for name, t in sorted(queues.items()) if name},
            hours=[
                HourFigures(hour, hours.get(hour, Tally()).figures(), peaks.get(hour, 0))
                for hour in sorted(set(hours) | set(peaks))
            ],
            in_progress=in_progress,
        )

    def seats(self) -> dict[str, SeatDay]:
        """Each seat's calls answered today and their talk time: its records, and the
        call it is on now (a call it answered, counted as its record will count it)."""
        now = self._clock()
        self._roll(now)
        seats = dict(self._seat_days())
        end = self.day_start + 86400
        for draft in self._drafts():
            if not draft.agent or not draft.seat or not draft.queues or draft.callback_of:
                continue
            if draft.ended_at is not None or not self.day_start <= draft.started_at < end:
                continue
            if (draft.node, draft.linkedid) in self._entries:
                continue
            day = seats.get(draft.seat, NO_CALLS)
            talking = now - draft.answered_at if draft.answered_at is not None else 0.0
            seats[draft.seat] = SeatDay(day.calls + 1, round(day.talk_s + max(0.0, talking), 1))
        return seats

    def _hour_of(self) -> Callable[[float], int]:
        """The city hour of an epoch in this day: plain arithmetic when the city's
        offset is the same all day (always, in China), else CityTime's own."""
        offset = self.city.offset_s(self.day_start)
        if self.city.offset_s(self.day_start + 86399) != offset:
            return lambda epoch: self.city.bucket_start(epoch, HOUR_S)
        return lambda epoch: int(epoch + offset) // HOUR_S * HOUR_S - offset

    def _seat_days(self) -> dict[str, SeatDay]:
        if self._seat_view is None:
            self._seat_view = {
                name: SeatDay(calls, round(talk_ms / 1000, 1))
                for name, (calls, talk_ms) in self._seats.items()
                if calls
            }
        return self._seat_view

    def _waiting_peaks(self) -> dict[int, int]:
        """The most callers waiting at once, per city hour, from the finished calls'
        waits (computed again only after the day's calls changed)."""
        if self._peaks is not None:
            return self._peaks
        moves: list[tuple[float, int]] = []
        for entry in self._entries.values():
            if entry.waited is not None:
                moves.append((entry.waited[0], 1))
                moves.append((entry.waited[1], -1))
        moves.sort()  # a leave (-1) before a join (+1) at the same instant
        peaks: dict[int, int] = {}
        level = 0
        for at, step in moves:
            level += step
            hour = self.city.bucket_start(at, HOUR_S)
            if level > peaks.get(hour, 0):
                peaks[hour] = level
        self._peaks = peaks
        return peaks


def count_draft(tally: Tally, draft: RecordDraft) -> None:
    """A call in progress counted as its record would count it if it ended now: a
    caller in a queue is offered; one at a seat is answered, with the wait it had."""
    count_into(
        tally,
        draft.queues[0] if draft.queues else "",
        draft.agent,
        draft.queue_exit,
        draft.wait_s,
        draft.talk_s,
        draft.wrapup_s,
        draft.rating,
        False,
        draft.queued_after_s,
    )


def _joined_at(started_at: float, queued_after_s: float | None) -> float | None:
    """When the call joined its first queue: its time to queue after the start (the
    PBX answers a hotline call as it arrives, so its answer is its start)."""
    return None if queued_after_s is None else started_at + queued_after_s


def _copy(tally: Tally) -> Tally:
    copy = Tally()
    copy.add(tally)
    return copy

"""Seats and their sessions in the database.

Every state change of a seat writes the seat row and opens/closes its session intervals
in one transaction, so "logged in" and "a login session is open" can never disagree.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter.records.history import SeatWorkHistory, SqlHistory
from queues.models import Seat, SeatSession


@dataclass(frozen=True)
class ProvisionResult:
    added: list[str]
    existing: list[str]
    #: existing seats whose skills differ from those asked for (left as they are:
    #: `seats update` changes them)
    other_skills: list[str] = field(default_factory=list)


@dataclass
class SeatStats:
    """One seat's work over a period: login and pause sessions clipped to it; `calls`
    and `talk_s` are the calls the seat answered that ended in it, from the call
    records (a callback the seat placed is not a call taken)."""

    seat_id: str
    login_s: float = 0.0
    pause_s: dict[str, float] = field(default_factory=dict)
    calls: int = 0
    talk_s: float = 0.0


class SeatRepository:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Callable[[], datetime],
        work: SeatWorkHistory | None = None,
    ) -> None:
        """`work`: the seats' calls and talk time from the call records (by default
        read on `sessions`)."""
        self._sessions = sessions
        self._clock = clock
        self._work = work if work is not None else SqlHistory(sessions)

    async def provision(
        self,
        count: int,
        start: int,
        skills_for: Callable[[int], dict[str, int]],
        interface_template: str,
        node: str,
    ) -> ProvisionResult:
        """Seats `start` .. `start+count-1`; existing ones are left exactly as they are
        (re-running with a bigger count only adds), so provisioning is safe to repeat."""
        if count < 1:
            raise ValueError("count must be at least 1")
        if "{extension}" not in interface_template:
            raise ValueError(f"interface template {interface_template!r} lacks {{extension}}")
        now = self._clock()
        wanted = [str(start + i) for i in range(count)]
        async with self._sessions.begin() as session:
            rows = await session.execute(
                select(Seat.extension, Seat.skills).where(Seat.extension.in_(wanted))
            )
            skills_of = {extension: skills for extension, skills in rows}
            have = set(skills_of)
            added = []
            other_skills = []
            for i, extension in enumerate(wanted):
                if extension in have:
                    if skills_of[extension] != skills_for(i):
                        other_skills.append(extension)
                    continue
                session.add(
                    Seat(
                        id=extension,
                        extension=extension,
                        interface=interface_template.format(extension=extension),
                        node=node,
                        skills=skills_for(i),
                        logged_in=False,
                        pause_reason=None,
                        changed_at=now,
                        created_at=now,
                    )
                )
                added.append(extension)
        return ProvisionResult(added, sorted(have), other_skills)

    async def seats(self, node: str | None = None) -> list[Seat]:
        query = select(Seat).order_by(Seat.extension)
        if node is not None:
            query = query.where(Seat.node == node)
        async with self._sessions() as session:
            return list(await session.scalars(query))

    async def seat(self, seat_id: str) -> Seat | None:
        async with self._sessions() as session:
            return await session.get(Seat, seat_id)

    async def interface_owner(self, interface: str) -> str | None:
        """The id of the seat dialled at `interface`, if any (interfaces are unique)."""
        async with self._sessions() as session:
            owner: str | None = await session.scalar(
                select(Seat.id).where(Seat.interface == interface)
            )
            return owner

    async def update(self, seat_id: str, skills: dict[str, int], interface: str, node: str) -> Seat:
        """Write a seat's configuration (`SeatService.update` checks and applies it)."""
        async with self._sessions.begin() as session:
            seat = await session.get(Seat, seat_id, with_for_update=True)
            if seat is None:
                raise KeyError(seat_id)
            if (seat.skills, seat.interface, seat.node) != (skills, interface, node):
                seat.skills, seat.interface, seat.node = dict(skills), interface, node
                seat.changed_at = self._clock()
            return seat

    async def mark(self, seat_id: str, logged_in: bool, pause_reason: str | None) -> Seat:
        """Record the seat's new state and its session intervals (no-op if unchanged)."""
        async with self._sessions.begin() as session:
            seat = await session.get(Seat, seat_id, with_for_update=True)
            if seat is None:
                raise KeyError(seat_id)
            await self._apply(session, seat, logged_in, pause_reason, self._clock())
            return seat

    async def mark_many(self, seat_ids: Sequence[str], logged_in: bool) -> None:
        """`mark` for many seats in one transaction (a shift start: one commit, not
        1,500); a seat logging in again keeps its pause."""
        now = self._clock()
        async with self._sessions.begin() as session:
            rows = await session.scalars(
                select(Seat).where(Seat.id.in_(list(seat_ids))).with_for_update()
            )
            for seat in rows:
                reason = seat.pause_reason if seat.logged_in and logged_in else None
                await self._apply(session, seat, logged_in, reason, now)

    async def _apply(
        self,
        session: AsyncSession,
        seat: Seat,
        logged_in: bool,
        pause_reason: str | None,
        now: datetime,
    ) -> None:
        seat_id = seat.id
        was_paused = seat.logged_in and seat.pause_reason is not None
        pause_reason = pause_reason if logged_in else None
        if was_paused and pause_reason != seat.pause_reason:
            await self._close(session, seat_id, "pause", now)
        if seat.logged_in and not logged_in:
            await self._close(session, seat_id, "login", now)
        if logged_in and not seat.logged_in:
            session.add(SeatSession(seat_id=seat_id, kind="login", started_at=now))
        if pause_reason is not None and pause_reason != (seat.pause_reason if was_paused else None):
            session.add(
                SeatSession(seat_id=seat_id, kind="pause", reason=pause_reason, started_at=now)
            )
        if (seat.logged_in, seat.pause_reason) != (logged_in, pause_reason):
            seat.logged_in, seat.pause_reason, seat.changed_at = logged_in, pause_reason, now

    @staticmethod
    async def _close(session: AsyncSession, seat_id: str, kind: str, now: datetime) -> None:
        await session.execute(
            update(SeatSession)
            .where(
                SeatSession.seat_id == seat_id,
                SeatSession.kind == kind,
                SeatSession.ended_at.is_(None),
            )
            .values(ended_at=now)
        )

    async def stats(
        self, since: datetime, until: datetime, seat_ids: Sequence[str] | None = None
    ) -> dict[str, SeatStats]:
        """Login time, pause time by reason, calls and talk time per seat; intervals are
        clipped to [since, until) and an open one counts up to `until`.

        Calls and talk time are the call records' (the same on every instance, and
        after a restart): the calls the seat answered, each counted in the period it
        ended in. A callback the seat placed is not a call it took and is not counted;
        a call still in progress counts once its record is written."""
        query = select(SeatSession).where(
            SeatSession.started_at < until,
            (SeatSession.ended_at.is_(None)) | (SeatSession.ended_at > since),
        )
        if seat_ids is not None:
            query = query.where(SeatSession.seat_id.in_(list(seat_ids)))
        out: dict[str, SeatStats] = {}
        for seat_id, work in (await self._work.seat_work(since, until, seat_ids)).items():
            out[seat_id] = SeatStats(seat_id, calls=work.calls, talk_s=work.talk_s)
        async with self._sessions() as session:
            for row in await session.scalars(query):
                stats = out.setdefault(row.seat_id, SeatStats(row.seat_id))
                start = max(_aware(row.started_at, since), since)
                end = min(_aware(row.ended_at, since) if row.ended_at else until, until)
                seconds = max(0.0, (end - start).total_seconds())
                if row.kind == "login":
                    stats.login_s += seconds
                else:
                    stats.pause_s[row.reason] = stats.pause_s.get(row.reason, 0.0) + seconds
        return out


def _aware(value: datetime, like: datetime) -> datetime:
    """SQLite returns naive datetimes for timezone columns; they were stored as UTC."""
    if value.tzinfo is None and like.tzinfo is not None:
        return value.replace(tzinfo=like.tzinfo)
    return value

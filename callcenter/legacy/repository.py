"""The directory in the database: reads, and the one write path every change takes.

Every write runs in one transaction that starts by bumping the directory_state
counter. That UPDATE takes SQLite's write lock (busy-waiting on a concurrent writer)
and PostgreSQL's row lock on the single state row, so two imports never interleave: the
second one computes its plan against the first one's result. A rejected batch rolls
the whole transaction back, counter included.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, func, insert, select, text, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter.clock import as_utc
from callcenter.legacy.models import (
    LegacyDirectoryState,
    LegacyNumber,
    LegacyNumberVersion,
    LegacyUnit,
    LegacyUnitVersion,
)
from callcenter.legacy.plan import Plan, UnitState, changed_fields, guard_prune, make_plan
from callcenter.legacy.records import NumberRecord, RowError

Progress = Callable[[int, int], None]
CHUNK = 1000
SQLITE_IMPORT_BUSY_MS = 120_000  # a concurrent import waits for the running one
#: the share of the directory one prune may remove without being forced (settings:
#: CALLCENTER_LEGACY_PRUNE_MAX_SHARE)
DEFAULT_PRUNE_MAX_SHARE = 0.10


class LegacyError(ValueError):
    """A rejected change; `errors` lists every reason (with line numbers for files)."""

    def __init__(self, errors: Sequence[RowError]) -> None:
        super().__init__("; ".join(str(e) for e in errors))
        self.errors = list(errors)


class NotFound(LookupError):
    pass


class _NothingWritten(Exception):
    """Unwinds the write transaction (rolling back the counter) for a rejected or
    empty plan."""

    def __init__(self, plan: Plan, version: int) -> None:
        self.plan, self.version = plan, version


@dataclass
class WriteResult:
    plan: Plan
    applied: bool
    dry_run: bool
    effective_from: datetime
    directory_version: int

    def summary(self) -> dict[str, Any]:
        p = self.plan
        return {
            "applied": self.applied,
            "dry_run": self.dry_run,
            "effective_from": self.effective_from.isoformat(),
            "directory_version": self.directory_version,
            "adds": len(p.adds),
            "changes": len(p.changes),
            "removals": len(p.removals),
            "unit_changes": len(p.units),
            "unit_removals": len(p.unit_removals),
            "errors": [e.as_dict() for e in p.errors],
            "added": [r.number for r in p.adds],
            "changed": [
                {
                    "number": new.number,
                    "fields": {f: [a, b] for f, a, b in changed_fields(old, new)},
                }
                for old, new in p.changes
            ],
            "removed": [r.number for r in p.removals],
            "kept": [r.number for r in p.kept],
            "prune_refusal": p.prune_refusal.as_dict() if p.prune_refusal else None,
        }


@dataclass(frozen=True)
class NumberView:
    record: NumberRecord
    version: int
    effective_from: datetime
    updated_at: datetime
    updated_by: str

    def as_dict(self) -> dict[str, Any]:
        return {
            **self.record.as_dict(),
            "version": self.version,
            "effective_from": self.effective_from.isoformat(),
            "updated_at": self.updated_at.isoformat(),
            "updated_by": self.updated_by,
        }


@dataclass(frozen=True)
class VersionView:
    version: int
    action: str  # add | change | delete
    actor: str
    changed_at: datetime
    effective_from: datetime
    reason: str
    fields: list[tuple[str, object, object]]

    def as_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "action": self.action,
            "actor": self.actor,
            "changed_at": self.changed_at.isoformat(),
            "effective_from": self.effective_from.isoformat(),
            "reason": self.reason,
            "changes": {f: [a, b] for f, a, b in self.fields},
        }


@dataclass(frozen=True)
class RoutingRow:
    """A number version that routes now or later (see Directory)."""

    number: str
    version: int
    deleted: bool
    unit_code: str | None
    mode: str | None
    queue: str | None
    transfer_to: str | None
    effective_from: datetime


@dataclass
class RoutingSnapshot:
    directory_version: int
    units: dict[str, UnitState] = field(default_factory=dict)
    rows: list[RoutingRow] = field(default_factory=list)


class LegacyRepository:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Callable[[], datetime],
        *,
        prune_max_share: float = DEFAULT_PRUNE_MAX_SHARE,
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self._prune_max_share = prune_max_share

    # --- reads -------------------------------------------------------------------------
    async def directory_version(self) -> int:
        async with self._sessions() as session:
            return int(await session.scalar(select(LegacyDirectoryState.version)) or 0)

    async def _load(
        self, session: AsyncSession
    ) -> tuple[dict[str, NumberRecord], dict[str, UnitState]]:
        units = {
            u.code: UnitState(u.code, u.name, u.district, u.transfer_line)
            for u in (await session.execute(select(LegacyUnit))).scalars()
        }
        rows = await session.execute(
            select(
                LegacyNumber.number,
                LegacyNumber.unit_code,
                LegacyNumber.mode,
                LegacyNumber.queue,
                LegacyNumber.transfer_to,
                LegacyNumber.note,
            )
        )
        numbers: dict[str, NumberRecord] = {}
        for number, code, mode, queue, transfer_to, note in rows:
            unit = units[code]
            numbers[number] = NumberRecord(
                number, code, unit.name, unit.district, mode, queue, transfer_to, note
            )
        return numbers, units

    async def records(self) -> list[NumberRecord]:
        """The whole directory as configured (export), by unit code then number."""
        async with self._sessions() as session:
            numbers, _ = await self._load(session)
        return sorted(numbers.values(), key=lambda r: (r.unit_code, r.number))

    async def get(self, number: str) -> NumberView | None:
        found = await self.find(number=number)
        return found[0] if found else None

    async def find(
        self,
        *,
        number: str | None = None,
        unit: str | None = None,
        district: str | None = None,
        mode: str | None = None,
        queue: str | None = None,
        after: tuple[str, str] | None = None,
        limit: int | None = None,
    ) -> list[NumberView]:
        """Numbers by (unit code, number); `after` such a pair and `limit` read one page
        (keyset: the API's cursor)."""
        query = select(LegacyNumber, LegacyUnit).join(
            LegacyUnit, LegacyUnit.code == LegacyNumber.unit_code
        )
        if after is not None:
            query = query.where(tuple_(LegacyNumber.unit_code, LegacyNumber.number) > after)
        if limit is not None:
            query = query.limit(limit)
        if number is not None:
            query = query.where(LegacyNumber.number == number)
        if unit is not None:
            query = query.where((LegacyUnit.code == unit) | (LegacyUnit.name == unit))
        if district is not None:
            query = query.where(LegacyUnit.district == district)
        if mode is not None:
            query = query.where(LegacyNumber.mode == mode)
        if queue is not None:
            query = query.where(LegacyNumber.queue == queue)
        query = query.order_by(LegacyNumber.unit_code, LegacyNumber.number)
        async with self._sessions() as session:
            rows = (await session.execute(query)).all()
        return [
            NumberView(
                NumberRecord(
                    n.number,
                    n.unit_code,
                    u.name,
                    u.district,
                    n.mode,
                    n.queue,
                    n.transfer_to,
                    n.note,
                ),
                n.version,
                as_utc(n.effective_from),
                as_utc(n.updated_at),
                n.updated_by,
            )
            for n, u in rows
        ]

    async def unit(self, code: str) -> UnitState | None:
        """The unit `code` as the directory has it now, or None."""
        async with self._sessions() as session:
            u = await session.get(LegacyUnit, code)
        return None if u is None else UnitState(u.code, u.name, u.district, u.transfer_line)

    async def units(
        self, *, after: str | None = None, limit: int | None = None
    ) -> list[tuple[UnitState, list[NumberRecord]]]:
        """Units by code with their numbers (the agents' transfer directory); `after` a
        code and `limit` read one page (keyset: the API's cursor)."""
        query = select(LegacyUnit).order_by(LegacyUnit.code)
        if after is not None:
            query = query.where(LegacyUnit.code > after)
        if limit is not None:
            query = query.limit(limit)
        async with self._sessions() as session:
            units = {
                u.code: UnitState(u.code, u.name, u.district, u.transfer_line)
                for u in await session.scalars(query)
            }
            numbers = select(LegacyNumber).order_by(LegacyNumber.number)
            if after is not None or limit is not None:
                numbers = numbers.where(LegacyNumber.unit_code.in_(list(units)))
            owned: dict[str, list[NumberRecord]] = {code: [] for code in units}
            for n in await session.scalars(numbers):
                unit = units[n.unit_code]
                owned[n.unit_code].append(
                    NumberRecord(
                        n.number,
                        n.unit_code,
                        unit.name,
                        unit.district,
                        n.mode,
                        n.queue,
                        n.transfer_to,
                        n.note,
                    )
                )
        return [(unit, owned[code]) for code, unit in units.items()]

    async def history(self, number: str) -> list[VersionView]:
        async with self._sessions() as session:
            rows = (
                await session.scalars(
                    select(LegacyNumberVersion)
                    .where(LegacyNumberVersion.number == number)
                    .order_by(LegacyNumberVersion.version)
                )
            ).all()
        out: list[VersionView] = []
        previous: LegacyNumberVersion | None = None
        for row in rows:
            if row.deleted:
                action = "delete"
                fields: list[tuple[str, object, object]] = []
            else:
                action = "add" if previous is None or previous.deleted else "change"
                fields = [
                    (name, None if action == "add" else getattr(previous, name), getattr(row, name))
                    for name in ("unit_code", "mode", "queue", "transfer_to", "note")
                    if action == "add" or getattr(previous, name) != getattr(row, name)
                ]
            out.append(
                VersionView(
                    row.version,
                    action,
                    row.actor,
                    as_utc(row.changed_at),
                    as_utc(row.effective_from),
                    row.reason,
                    fields,
                )
            )
            previous = row
        return out

    async def routing_snapshot(self, now: datetime) -> RoutingSnapshot:
        """The versions in force at `now` plus every later-scheduled one."""
        v = LegacyNumberVersion
        in_force = (
            select(v.number, func.max(v.version).label("version"))
            .where(v.effective_from <= now)
            .group_by(v.number)
            .subquery()
        )
        columns = (
            v.number,
            v.version,
            v.deleted,
            v.unit_code,
            v.mode,
            v.queue,
            v.transfer_to,
            v.effective_from,
        )
        current = select(*columns).join(
            in_force, (in_force.c.number == v.number) & (in_force.c.version == v.version)
        )
        later = select(*columns).where(v.effective_from > now)
        async with self._sessions() as session:
            version = int(await session.scalar(select(LegacyDirectoryState.version)) or 0)
            snapshot = RoutingSnapshot(version)
            for unit in (await session.execute(select(LegacyUnit))).scalars():
                snapshot.units[unit.code] = UnitState(
                    unit.code, unit.name, unit.district, unit.transfer_line
                )
            for query in (current, later):
                for row in await session.execute(query):
                    snapshot.rows.append(RoutingRow(*row[:7], effective_from=as_utc(row[7])))
        return snapshot

    # --- writes ------------------------------------------------------------------------
    async def import_records(
        self,
        records: Sequence[tuple[int | None, NumberRecord]],
        *,
        actor: str,
        reason: str,
        prune: bool = False,
        force: bool = False,
        dry_run: bool = False,
        effective_from: datetime | None = None,
        progress: Progress | None = None,
    ) -> WriteResult:
        """Make the directory match `records` (plus, with `prune`, nothing else).

        A prune removing more than the allowed share of the directory is refused
        (`guard_prune`) unless `force`; the refused plan still lists the removals."""

        # a unit emptied by a prune is dropped only when the removal routes at once: a
        # scheduled removal keeps routing to the unit until its time
        immediate = effective_from is None or as_utc(effective_from) <= self._clock()

        def plan(numbers: dict[str, NumberRecord], units: dict[str, UnitState]) -> Plan:
            planned = make_plan(
                numbers,
                units,
                records,
                prune=prune,
                allow_moves=prune,
                drop_empty_units=prune and immediate,
                report_kept=True,
            )
            if not force:
                guard_prune(planned, len(numbers), self._prune_max_share)
            return planned

        return await self._write(plan, actor, reason, dry_run, effective_from, progress)

    async def put(
        self,
        record: NumberRecord,
        *,
        actor: str,
        effective_from: datetime | None = None,
        reason: str = "api",
    ) -> WriteResult:
        def plan(numbers: dict[str, NumberRecord], units: dict[str, UnitState]) -> Plan:
            return make_plan(numbers, units, [(None, record)], allow_moves=True)

        return await self._write(plan, actor, reason, False, effective_from, None)

    async def delete(
        self,
        number: str,
        *,
        actor: str,
        effective_from: datetime | None = None,
        reason: str = "api",
    ) -> WriteResult:
        def plan(numbers: dict[str, NumberRecord], units: dict[str, UnitState]) -> Plan:
            if number not in numbers:
                raise NotFound(number)
            return make_plan(numbers, units, [], removals=[number])

        return await self._write(plan, actor, reason, False, effective_from, None)

    async def rollback(self, number: str, to_version: int, *, actor: str) -> WriteResult:
        """A new version with the content of `to_version` (history is never rewritten)."""
        async with self._sessions() as session:
            target = await session.scalar(
                select(LegacyNumberVersion).where(
                    LegacyNumberVersion.number == number,
                    LegacyNumberVersion.version == to_version,
                )
            )
        if target is None:
            raise NotFound(f"{number} has no version {to_version}")

        def plan(numbers: dict[str, NumberRecord], units: dict[str, UnitState]) -> Plan:
            if target.deleted:
                return make_plan(numbers, units, [], removals=[number])
            unit = units.get(target.unit_code or "")
            if unit is None:
                raise LegacyError(
                    [RowError(None, "unit_code", f"unit {target.unit_code} no longer exists")]
                )
            record = NumberRecord(
                number,
                unit.code,
                unit.name,
                unit.district,
                target.mode or "",
                target.queue or "",
                target.transfer_to,
                target.note or "",
            )
            return make_plan(numbers, units, [(None, record)], allow_moves=True)

        return await self._write(plan, actor, f"rollback to v{to_version}", False, None, None)

    async def _write(
        self,
        make: Callable[[dict[str, NumberRecord], dict[str, UnitState]], Plan],
        actor: str,
        reason: str,
        dry_run: bool,
        effective_from: datetime | None,
        progress: Progress | None,
    ) -> WriteResult:
        now = self._clock()
        effective = as_utc(effective_from) if effective_from is not None else now
        async with self._sessions() as session:
            if dry_run:
                numbers, units = await self._load(session)
                plan = await asyncio.to_thread(make, numbers, units)
                version = int(await session.scalar(select(LegacyDirectoryState.version)) or 0)
                return WriteResult(plan, False, True, effective, version)
            try:
                async with session.begin():
                    version = await self._lock(session, now)
                    numbers, units = await self._load(session)
                    plan = await asyncio.to_thread(make, numbers, units)
                    if plan.errors or plan.empty:
                        raise _NothingWritten(plan, version - 1)
                    await _apply(session, plan, actor, reason, now, effective, version, progress)
            except _NothingWritten as nothing:
                return WriteResult(nothing.plan, False, False, effective, nothing.version)
            return WriteResult(plan, True, False, effective, version)

    @staticmethod
    async def _lock(session: AsyncSession, now: datetime) -> int:
        if (await session.connection()).dialect.name == "sqlite":
            await session.execute(text(f"PRAGMA busy_timeout={SQLITE_IMPORT_BUSY_MS}"))
        await session.execute(
            update(LegacyDirectoryState)
            .where(LegacyDirectoryState.id == 1)
            .values(version=LegacyDirectoryState.version + 1, changed_at=now)
        )
        return int(await session.scalar(select(LegacyDirectoryState.version)) or 0)


async def _apply(
    session: AsyncSession,
    plan: Plan,
    actor: str,
    reason: str,
    now: datetime,
    effective: datetime,
    batch: int,
    progress: Progress | None,
) -> None:
    total = len(plan.adds) + len(plan.changes) + len(plan.removals) + len(plan.units)
    done = 0

    def step(n: int) -> None:
        nonlocal done
        done += n
        if progress is not None:
            progress(done, total)

    unit_versions = await _max_versions(session, LegacyUnitVersion.code, LegacyUnitVersion.version)
    new_units = [u for old, u in plan.units if old is None]
    changed_units = [u for old, u in plan.units if old is not None]
    stamp = {"actor": actor, "changed_at": now, "batch": batch}
    unit_rows = [
        {
            "code": u.code,
            "version": unit_versions.get(u.code, 0) + 1,
            "deleted": False,
            "name": u.name,
            "district": u.district,
            "transfer_line": u.transfer_line,
            **stamp,
        }
        for u in new_units + changed_units
    ]
    meta = {"updated_at": now, "updated_by": actor}
    current_units = [
        {k: row[k] for k in ("code", "name", "district", "transfer_line", "version")} | meta
        for row in unit_rows
    ]
    await _insert(session, LegacyUnit, current_units[: len(new_units)])
    if changed_units:
        await _update(session, LegacyUnit, "code", current_units[len(new_units) :])
    await _insert(session, LegacyUnitVersion, unit_rows)
    step(len(plan.units))

    versions = await _max_versions(session, LegacyNumberVersion.number, LegacyNumberVersion.version)
    history: list[dict[str, Any]] = []
    base = {"effective_from": effective, "reason": reason, **stamp}

    def state(record: NumberRecord) -> dict[str, Any]:
        return {
            "unit_code": record.unit_code,
            "mode": record.mode,
            "queue": record.queue,
            "transfer_to": record.transfer_to,
            "note": record.note,
        }

    rows: list[dict[str, Any]] = []
    for record in [*plan.adds, *(new for _, new in plan.changes)]:
        v = versions.get(record.number, 0) + 1
        history.append(
            {"number": record.number, "version": v, "deleted": False, **state(record), **base}
        )
        rows.append(
            {
                "number": record.number,
                "version": v,
                "effective_from": effective,
                **state(record),
                **meta,
            }
        )
    added, changed = rows[: len(plan.adds)], rows[len(plan.adds) :]
    for record in plan.removals:
        v = versions.get(record.number, 0) + 1
        history.append(
            {
                "number": record.number,
                "version": v,
                "deleted": True,
                "unit_code": None,
                "mode": None,
                "queue": None,
                "transfer_to": None,
                "note": None,
                **base,
            }
        )
    for chunk in _chunks([r.number for r in plan.removals]):
        await session.execute(delete(LegacyNumber).where(LegacyNumber.number.in_(chunk)))
    step(len(plan.removals))
    for chunk in _chunks(added):
        await _insert(session, LegacyNumber, chunk)
        step(len(chunk))
    for chunk in _chunks(changed):
        await _update(session, LegacyNumber, "number", chunk)
        step(len(chunk))
    await _insert(session, LegacyNumberVersion, history)

    if plan.unit_removals:
        codes = [u.code for u in plan.unit_removals]
        await session.execute(delete(LegacyUnit).where(LegacyUnit.code.in_(codes)))
        await _insert(
            session,
            LegacyUnitVersion,
            [
                {
                    "code": c,
                    "version": unit_versions.get(c, 0) + 1,
                    "deleted": True,
                    "name": None,
                    "district": None,
                    "transfer_line": None,
                    **stamp,
                }
                for c in codes
            ],
        )


# Core statements, not the ORM's bulk helpers: at 100k rows the ORM's per-row
# bookkeeping costs more than the database does (bench/legacy_bench.py).


async def _insert(session: AsyncSession, model: type[Any], rows: list[dict[str, Any]]) -> None:
    table = model.__table__
    for chunk in _chunks(rows):
        await session.execute(insert(table), chunk)


async def _update(
    session: AsyncSession, model: type[Any], key: str, rows: list[dict[str, Any]]
) -> None:
    """UPDATE ... WHERE key = :k for each row (executemany)."""
    if not rows:
        return
    table = model.__table__
    columns = [c for c in rows[0] if c != key]
    statement = (
        update(table)
        .where(table.c[key] == bindparam("k_" + key))
        .values({c: bindparam("v_" + c) for c in columns})
    )
    for chunk in _chunks(rows):
        params = [{"k_" + key: r[key], **{"v_" + c: r[c] for c in columns}} for r in chunk]
        await session.execute(statement, params)


async def _max_versions(session: AsyncSession, key: Any, version: Any) -> dict[str, int]:
    rows = await session.execute(select(key, func.max(version)).group_by(key))
    return {k: int(v) for k, v in rows}


def _chunks(items: list[Any], size: int = CHUNK) -> Iterable[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]

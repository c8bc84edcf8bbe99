"""Unit cards in the database: reads, searches, and the writes that keep the search
index in step (callcenter/legacy/card_text.py says how the index works).

A card and its grams are written in one transaction, so a search never sees a card
without its index or an index without its card. Every write starts with a write
statement (the card's UPDATE, or the import's UPDATE of the cards it rewrites): on
SQLite that takes the write lock before anything is read, so a transaction never has
to upgrade a stale read snapshot; on PostgreSQL it row-locks the cards concerned.
Editing is optimistic: a writer names the version it read, and the UPDATE holds only
where the card is still at that version (or, for version 0, the INSERT of a card that
does not exist yet); anything else is a StaleVersion the API answers with 409.

The queries are the same on both databases but one: the substring check is SQLite's
`instr` and PostgreSQL's `strpos` (both exact, by code point).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, func, insert, or_, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import aliased
from sqlalchemy.sql.elements import ColumnElement

from callcenter.clock import as_utc
from callcenter.legacy.card_tables import UnitCardGram, UnitCardRow
from callcenter.legacy.card_text import Query, card_fields, grams, search_text
from callcenter.legacy.cards import CardContent, KbLink, TransferNumber, UnitCard
from callcenter.legacy.models import LegacyUnit
from callcenter.legacy.records import RowError

CHUNK = 1000
GRAM_CHUNK = 5000
SQLITE_IMPORT_BUSY_MS = 120_000  # a bulk import waits for a running one
# Core statements for the bulk writes: the ORM's per-row bookkeeping costs more than
# the database does at a province's 10,000 cards and their grams.
_CARDS: Any = UnitCardRow.__table__
_GRAMS: Any = UnitCardGram.__table__


class UnknownUnit(LookupError):
    """The unit code is not in the legacy directory."""


class StaleVersion(Exception):
    """The card changed since the writer read it."""

    def __init__(self, unit_code: str, expected: int, current: int) -> None:
        super().__init__(
            f"the card of {unit_code} is at version {current}, not {expected}: "
            "read it again and redo the change"
        )
        self.unit_code, self.expected, self.current = unit_code, expected, current


@dataclass
class ImportResult:
    """What a bulk import did (or, dry, would do); `errors` non-empty: nothing."""

    applied: bool
    dry_run: bool
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        return {
            "applied": self.applied,
            "dry_run": self.dry_run,
            "adds": len(self.added),
            "changes": len(self.changed),
            "unchanged": len(self.unchanged),
            "added": self.added,
            "changed": self.changed,
            "errors": [e.as_dict() for e in self.errors],
        }


class _Stale(Exception):
    """Unwinds a write whose card is no longer at the version the writer read."""


class _Rejected(Exception):
    """Unwinds a bulk import the database rules refuse (an unknown unit code)."""

    def __init__(self, errors: list[RowError]) -> None:
        self.errors = errors


#: a card of a bulk import: (its line in the file, or None; unit code; content)
ImportedCard = tuple[int | None, str, CardContent]


class UnitCards:
    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], clock: Callable[[], datetime]
    ) -> None:
        self._sessions = sessions
        self._clock = clock

    # --- reads -------------------------------------------------------------------------
    async def get(self, unit_code: str) -> UnitCard | None:
        """The unit's card (empty, version 0, if nobody wrote one); None: no such unit."""
        query = (
            select(LegacyUnit.code, LegacyUnit.name, LegacyUnit.district, UnitCardRow)
            .outerjoin(UnitCardRow, UnitCardRow.unit_code == LegacyUnit.code)
            .where(LegacyUnit.code == unit_code)
        )
        async with self._sessions() as session:
            found = (await session.execute(query)).first()
        if found is None:
            return None
        code, name, district, row = found
        if row is None:
            return UnitCard(code, name, district)
        return _card(row, name, district)

    async def search(
        self, query: Query | None, *, after: str | None = None, limit: int = 100
    ) -> list[UnitCard]:
        """Written cards of units in the directory, by unit code: those whose text
        holds `query` (None: every card); `after` a unit code, for the next page."""
        c = UnitCardRow
        async with self._sessions() as session:
            if query is None:
                statement = select(c, LegacyUnit.name, LegacyUnit.district)
                key = c.unit_code
            elif query.prefix is not None:  # the cards with a gram in the prefix's range
                statement = select(c, LegacyUnit.name, LegacyUnit.district).where(
                    c.unit_code.in_(
                        select(UnitCardGram.unit_code).where(
                            UnitCardGram.gram >= query.prefix, UnitCardGram.gram < query.upper
                        )
                    )
                )
                key = c.unit_code
            else:
                # one copy of the index per probe, joined on the unit code: each lists
                # its cards in unit-code order (the primary key is (gram, unit_code)),
                # so the database merges the lists and stops at the page's end, however
                # many cards hold a common word
                probes = query.probes()
                first, *others = [aliased(UnitCardGram) for _ in probes]
                statement = select(c, LegacyUnit.name, LegacyUnit.district).select_from(first)
                for alias, gram in zip(others, probes[1:], strict=True):
                    statement = statement.join(
                        alias, (alias.unit_code == first.unit_code) & (alias.gram == gram)
                    )
                statement = statement.join(c, c.unit_code == first.unit_code).where(
                    first.gram == probes[0]
                )
                key = first.unit_code
            if query is not None:
                dialect = (await session.connection()).dialect.name
                statement = statement.where(_holds(dialect, c.search_text, query.text))
            statement = statement.join(LegacyUnit, LegacyUnit.code == c.unit_code)
            if after is not None:
                statement = statement.where(key > after)
            statement = statement.order_by(key).limit(limit)
            rows = (await session.execute(statement)).all()
        return [_card(row, name, district) for row, name, district in rows]

    async def stored(self) -> list[tuple[str, CardContent]]:
        """Every written card's unit code and content, by code (the export), also of
        units the directory no longer has."""
        async with self._sessions() as session:
            rows = await session.scalars(select(UnitCardRow).order_by(UnitCardRow.unit_code))
            return [(r.unit_code, _content(r)) for r in rows]

    async def version(self, unit_code: str) -> int:
        async with self._sessions() as session:
            found = await session.scalar(
                select(UnitCardRow.version).where(UnitCardRow.unit_code == unit_code)
            )
        return int(found or 0)

    # --- writes ------------------------------------------------------------------------
    async def put(
        self, unit_code: str, content: CardContent, *, version: int, actor: str
    ) -> UnitCard:
        """Write the card of `unit_code` over `version` (0: it has none yet).

        Raises UnknownUnit, or StaleVersion when the card is no longer at `version`."""
        before = await self.get(unit_code)
        if before is None:
            raise UnknownUnit(unit_code)
        fields = card_fields(unit_code, before.unit, before.district, content)
        now = self._clock()
        values = content.as_dict() | {
            "indexed_unit": before.unit,
            "indexed_district": before.district,
            "search_text": search_text(fields),
            "version": version + 1,
            "updated_at": now,
            "updated_by": actor,
        }
        async with self._sessions() as session:
            try:
                async with session.begin():
                    written = await session.execute(
                        update(UnitCardRow)
                        .where(UnitCardRow.unit_code == unit_code, UnitCardRow.version == version)
                        .values(values)
                    )
                    if _rowcount(written) == 0:
                        if version != 0:
                            raise _Stale
                        await session.execute(
                            insert(UnitCardRow).values(values | {"unit_code": unit_code})
                        )
                    if await session.get(LegacyUnit, unit_code) is None:
                        raise UnknownUnit(unit_code)  # pruned meanwhile: roll back
                    await _reindex(session, {unit_code: grams(fields)})
            except (_Stale, IntegrityError):
                raise StaleVersion(unit_code, version, await self.version(unit_code)) from None
        return UnitCard(unit_code, before.unit, before.district, content, version + 1, now, actor)

    async def import_cards(
        self, cards: Sequence[ImportedCard], *, actor: str, dry_run: bool = False
    ) -> ImportResult:
        """Write every card of a file in one transaction, or none: a unit code the
        directory does not have rejects the whole file. Cards equal to what is stored
        are left as they are (their version too)."""
        codes = [code for _, code, _ in cards]
        async with self._sessions() as session:
            if dry_run:
                return await self._import(session, cards, actor, dry_run=True)
            try:
                async with session.begin():
                    if (await session.connection()).dialect.name == "sqlite":
                        await session.execute(text(f"PRAGMA busy_timeout={SQLITE_IMPORT_BUSY_MS}"))
                    for chunk in _chunks(codes):  # the write lock first (see the module)
                        await session.execute(
                            update(UnitCardRow)
                            .where(UnitCardRow.unit_code.in_(chunk))
                            .values(version=UnitCardRow.version)
                        )
                    return await self._import(session, cards, actor, dry_run=False)
            except _Rejected as rejected:
                return ImportResult(False, False, errors=rejected.errors)

    async def _import(
        self, session: AsyncSession, cards: Sequence[ImportedCard], actor: str, *, dry_run: bool
    ) -> ImportResult:
        codes = [code for _, code, _ in cards]
        units: dict[str, tuple[str, str]] = {}
        stored: dict[str, UnitCardRow] = {}
        for chunk in _chunks(codes):
            rows = await session.execute(
                select(LegacyUnit.code, LegacyUnit.name, LegacyUnit.district).where(
                    LegacyUnit.code.in_(chunk)
                )
            )
            units.update((code, (name, district)) for code, name, district in rows)
            found = await session.scalars(
                select(UnitCardRow).where(UnitCardRow.unit_code.in_(chunk))
            )
            stored.update((r.unit_code, r) for r in found)
        errors = [
            RowError(line, "unit_code", f"unit {code} is not in the legacy directory")
            for line, code, _ in cards
            if code not in units
        ]
        if errors:
            if dry_run:
                return ImportResult(False, True, errors=errors)
            raise _Rejected(errors)
        result = ImportResult(False, dry_run)
        writes: list[tuple[str, CardContent]] = []
        for _, code, content in cards:
            row = stored.get(code)
            if row is None:
                result.added.append(code)
            elif (
                _content(row) != content or (row.indexed_unit, row.indexed_district) != units[code]
            ):
                result.changed.append(code)
            else:
                result.unchanged.append(code)
                continue
            writes.append((code, content))
        if dry_run or not writes:
            return result
        indexed = await asyncio.to_thread(_index_all, writes, units)
        now = self._clock()
        values: list[dict[str, Any]] = []
        for code, content in writes:
            old = stored.get(code)
            values.append(
                content.as_dict()
                | {
                    "unit_code": code,
                    "indexed_unit": units[code][0],
                    "indexed_district": units[code][1],
                    "search_text": indexed[code][0],
                    "version": (old.version if old is not None else 0) + 1,
                    "updated_at": now,
                    "updated_by": actor,
                }
            )
        added = set(result.added)
        for chunk in _chunks([v for v in values if v["unit_code"] in added]):
            await session.execute(insert(_CARDS), chunk)
        await _update_rows(session, [v for v in values if v["unit_code"] not in added])
        await _reindex(session, {code: entry[1] for code, entry in indexed.items()})
        result.applied = True
        return result

    async def refresh_unit_names(self) -> int:
        """Re-index the cards whose unit the directory renamed or moved to another
        district (a listener of the directory's reloads); how many were."""
        c = UnitCardRow
        stale = select(c, LegacyUnit.name, LegacyUnit.district).join(
            LegacyUnit, LegacyUnit.code == c.unit_code
        )
        stale = stale.where(
            or_(c.indexed_unit != LegacyUnit.name, c.indexed_district != LegacyUnit.district)
        )
        async with self._sessions() as session:
            rows = (await session.execute(stale)).all()
        done = 0
        for row, name, district in rows:
            fields = card_fields(row.unit_code, name, district, _content(row))
            async with self._sessions() as session, session.begin():
                written = await session.execute(
                    update(c)
                    .where(
                        c.unit_code == row.unit_code,
                        c.version == row.version,
                        c.indexed_unit == row.indexed_unit,
                        c.indexed_district == row.indexed_district,
                    )
                    .values(
                        indexed_unit=name,
                        indexed_district=district,
                        search_text=search_text(fields),
                    )
                )
                if _rowcount(written):  # else another instance or an editor got there first
                    await _reindex(session, {row.unit_code: grams(fields)})
                    done += 1
        return done


def _holds(dialect: str, column: Any, needle: str) -> ColumnElement[bool]:
    """`needle` occurs in `column`, exactly (no LIKE wildcards, no case rules)."""
    if dialect == "postgresql":
        return func.strpos(column, needle) > 0
    return func.instr(column, needle) > 0


def _rowcount(result: Any) -> int:
    return int(result.rowcount)


def _content(row: UnitCardRow) -> CardContent:
    return CardContent(
        row.responsibilities,
        row.hours,
        tuple(TransferNumber(t["number"], t["label"]) for t in row.transfer_numbers),
        tuple(KbLink(k["title"], k["url"]) for k in row.kb_links),
    )


def _card(row: UnitCardRow, unit: str, district: str) -> UnitCard:
    return UnitCard(
        row.unit_code,
        unit,
        district,
        _content(row),
        row.version,
        as_utc(row.updated_at),
        row.updated_by,
    )


def _index_all(
    writes: list[tuple[str, CardContent]], units: dict[str, tuple[str, str]]
) -> dict[str, tuple[str, set[str]]]:
    """code -> (search text, grams) of many cards (run off the event loop)."""
    out: dict[str, tuple[str, set[str]]] = {}
    for code, content in writes:
        fields = card_fields(code, units[code][0], units[code][1], content)
        out[code] = (search_text(fields), grams(fields))
    return out


async def _reindex(session: AsyncSession, index: dict[str, set[str]]) -> None:
    """Replace the grams of these cards."""
    for chunk in _chunks(list(index)):
        await session.execute(delete(UnitCardGram).where(UnitCardGram.unit_code.in_(chunk)))
    rows = [{"gram": gram, "unit_code": code} for code, found in index.items() for gram in found]
    for chunk in _chunks(rows, GRAM_CHUNK):
        await session.execute(insert(_GRAMS), chunk)


async def _update_rows(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    table = _CARDS
    columns = [name for name in rows[0] if name != "unit_code"]
    statement = (
        update(table)
        .where(table.c.unit_code == bindparam("k_unit_code"))
        .values({name: bindparam("v_" + name) for name in columns})
    )
    for chunk in _chunks(rows):
        params = [
            {"k_unit_code": r["unit_code"], **{"v_" + n: r[n] for n in columns}} for r in chunk
        ]
        await session.execute(statement, params)


def _chunks(items: list[Any], size: int = CHUNK) -> Iterable[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]

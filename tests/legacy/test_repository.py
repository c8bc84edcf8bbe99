"""The directory in the database: import, round trip, rejection, versions, concurrency."""

from __future__ import annotations

import asyncio
import collections
import dataclasses

import pytest
from sqlalchemy import func, select

from callcenter.legacy import csvfile
from callcenter.legacy.models import LegacyNumberVersion, LegacyUnit
from callcenter.legacy.queues import QueueCatalog
from callcenter.legacy.records import NumberRecord
from tests.legacy.conftest import Db, city_records

pytestmark = pytest.mark.db


async def test_city_import_counts_and_round_trip(db: Db) -> None:
    result = await db.repo.import_records(city_records(), actor="ops", reason="import")
    assert result.applied and len(result.plan.adds) == 280
    records = await db.repo.records()
    assert len(records) == 280
    assert len({r.unit_code for r in records}) == 109
    assert collections.Counter(r.mode for r in records) == {"merge": 212, "dock": 53, "retain": 15}
    units = await db.repo.units()
    assert len(units) == 109
    by_code = {u.code: u for u, _ in units}
    assert by_code["U003"].transfer_line == "12329"  # its retained national code
    assert by_code["U010"].transfer_line is not None  # a docked line
    # export → import is a no-op: nothing written, counter unchanged
    version = await db.repo.directory_version()
    exported = csvfile.read(csvfile.write(records), queues=QueueCatalog.default())
    again = await db.repo.import_records(exported.records, actor="ops", reason="re", prune=True)
    assert not again.applied and again.plan.empty
    assert await db.repo.directory_version() == version


async def test_rejected_batch_changes_nothing(db: Db) -> None:
    await db.repo.import_records(city_records(), actor="ops", reason="import")
    before, version = await db.repo.records(), await db.repo.directory_version()
    # 043266453987 belongs to U001; a partial file gives it to U002 and adds a new number
    text = (
        "number,unit_code,unit,district,mode,queue,transfer_to,note\n"
        "043269999999,U002,市医疗保障局,市本级,merge,social-security,,\n"
        "0432-6645 3987,U002,市医疗保障局,市本级,merge,social-security,,\n"
    )
    parsed = csvfile.read(text.encode(), queues=QueueCatalog.default())
    assert parsed.ok
    result = await db.repo.import_records(parsed.records, actor="ops", reason="bad")
    assert not result.applied
    assert [(e.line, e.column) for e in result.plan.errors] == [(3, "number")]
    assert "already belongs to unit U001" in result.plan.errors[0].reason
    assert await db.repo.records() == before
    assert await db.repo.directory_version() == version
    assert await db.repo.get("043269999999") is None


async def test_versions_history_and_rollback(db: Db) -> None:
    await db.repo.import_records(city_records(), actor="ops", reason="import")
    number = "043266453987"
    view = await db.repo.get(number)
    assert view is not None and view.version == 1
    moved = dataclasses.replace(view.record, queue="general", note="moved to general")
    await db.repo.put(moved, actor="alice")
    db.clock.advance(minutes=5)
    await db.repo.delete(number, actor="bob")
    assert await db.repo.get(number) is None
    history = await db.repo.history(number)
    assert [(v.version, v.action, v.actor) for v in history] == [
        (1, "add", "ops"),
        (2, "change", "alice"),
        (3, "delete", "bob"),
    ]
    assert ("queue", "social-security", "general") in history[1].fields
    result = await db.repo.rollback(number, 1, actor="carol")
    assert result.applied
    restored = await db.repo.get(number)
    assert restored is not None and restored.record == view.record and restored.version == 4
    assert (await db.repo.history(number))[-1].reason == "rollback to v1"


async def test_prune_removes_and_drops_empty_units(db: Db) -> None:
    await db.repo.import_records(city_records(), actor="ops", reason="import")
    keep = [(line, r) for line, r in city_records() if r.unit_code != "U109"]
    result = await db.repo.import_records(keep, actor="ops", reason="prune", prune=True)
    assert result.applied and {r.unit_code for r in result.plan.removals} == {"U109"}
    assert [u.code for u in result.plan.unit_removals] == ["U109"]
    async with db.repo._sessions() as session:
        assert await session.scalar(select(func.count()).select_from(LegacyUnit)) == 108


def _full_file(unit_code: str, prefix: str, n: int) -> list[tuple[int | None, NumberRecord]]:
    return [
        (
            i + 2,
            NumberRecord(
                f"0432{prefix}{i:04d}",
                unit_code,
                f"单位{unit_code}",
                "市本级",
                "merge",
                "general",
                None,
                "",
            ),
        )
        for i in range(n)
    ]


async def test_concurrent_imports_do_not_interleave(db: Db) -> None:
    """Two full-directory imports at once (two processes): the later one must see the
    earlier one's result, so the directory ends exactly equal to one of the files."""
    files = {"A": _full_file("UA", "6100", 300), "B": _full_file("UB", "6200", 300)}
    repos = {"A": db.another_repo(), "B": db.another_repo()}
    results = await asyncio.gather(
        *(
            repos[k].import_records(files[k], actor=k, reason=f"import {k}", prune=True, force=True)
            for k in files
        )
    )
    assert all(r.applied for r in results)
    first, last = sorted(zip(files, results, strict=True), key=lambda x: x[1].directory_version)
    assert last[1].directory_version == first[1].directory_version + 1
    assert await db.repo.records() == [r for _, r in files[last[0]]]
    assert len(last[1].plan.removals) == 300  # it saw (and pruned) the first file
    async with db.repo._sessions() as session:
        batches = dict(
            (
                await session.execute(
                    select(
                        LegacyNumberVersion.reason,
                        func.count(func.distinct(LegacyNumberVersion.batch)),
                    ).group_by(LegacyNumberVersion.reason)
                )
            ).all()
        )
    assert batches == {"import A": 1, "import B": 1}


async def test_unit_rename_and_transfer_line_are_versioned(db: Db) -> None:
    records = city_records()
    await db.repo.import_records(records, actor="ops", reason="import")
    renamed = [
        (line, dataclasses.replace(r, unit="市医疗保障局（新）") if r.unit_code == "U002" else r)
        for line, r in records
    ]
    # U002 gets a docked line: its transfer line appears
    renamed = [
        (line, dataclasses.replace(r, mode="dock", transfer_to="043262264412"))
        if r.number == "043262264412"
        else (line, r)
        for line, r in renamed
    ]
    result = await db.repo.import_records(renamed, actor="ops", reason="rename")
    assert result.applied and len(result.plan.changes) == 1
    assert [(old is None, new.code) for old, new in result.plan.units] == [(False, "U002")]
    unit = {u.code: u for u, _ in await db.repo.units()}["U002"]
    assert (unit.name, unit.transfer_line) == ("市医疗保障局（新）", "043262264412")
    view = await db.repo.get("043263146448")
    assert view is not None and view.record.unit == "市医疗保障局（新）"

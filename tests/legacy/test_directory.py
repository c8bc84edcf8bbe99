"""Routing lookups: at once, across instances, and at a scheduled cut-over."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest

from callcenter.legacy.directory import Directory
from tests.legacy.conftest import Db, city_records

pytestmark = pytest.mark.db


async def test_routes_the_city_file(db: Db) -> None:
    await db.repo.import_records(city_records(), actor="ops", reason="import")
    directory = Directory(db.repo, db.clock)
    await directory.reload()
    assert len(directory) == 280
    now = db.clock()
    route = directory.route("043266453987", now)
    assert route is not None
    assert (route.unit_code, route.unit, route.district, route.mode, route.queue) == (
        "U001",
        "市人力资源和社会保障局",
        "市本级",
        "merge",
        "hotline-social-security",
    )
    # the dialed number is normalized like the CSV's
    assert directory.route("+86 432 6645-3987", now) == route
    docked = directory.route("043263110058", now)
    assert docked is not None and docked.mode == "dock" and docked.transfer_to == "043263110058"
    assert directory.route("12345", now) is None
    assert directory.route("110", now) is None
    assert directory.route("garbage", now) is None


async def test_other_instance_sees_a_change_on_refresh(db: Db) -> None:
    await db.repo.import_records(city_records(), actor="ops", reason="import")
    writer = Directory(db.repo, db.clock)
    other = Directory(db.another_repo(), db.clock)
    await writer.reload()
    await other.reload()
    assert not await other.refresh()  # nothing changed: no reload
    view = await db.repo.get("043266453987")
    assert view is not None
    await writer.repository.put(dataclasses.replace(view.record, queue="health"), actor="api")
    await writer.reload()
    assert writer.route("043266453987", db.clock()).queue == "hotline-health"  # type: ignore[union-attr]
    assert other.route("043266453987", db.clock()).queue == "hotline-social-security"  # type: ignore[union-attr]
    assert await other.refresh()
    route = other.route("043266453987", db.clock())
    assert route is not None and route.queue == "hotline-health"
    await writer.repository.delete("043266453987", actor="api")
    assert await other.refresh()
    assert other.route("043266453987", db.clock()) is None


async def test_scheduled_cut_over_switches_at_its_time(db: Db) -> None:
    await db.repo.import_records(city_records(), actor="ops", reason="import")
    directory = Directory(db.repo, db.clock)
    changes: list[dict[str, str]] = []

    async def listener() -> None:
        changes.append(directory.queue_map(db.clock()))

    directory.add_listener(listener)
    view = await db.repo.get("043266453987")
    assert view is not None
    at = db.clock() + timedelta(hours=2)
    await db.repo.put(
        dataclasses.replace(view.record, queue="urban"), actor="ops", effective_from=at
    )
    new_number = dataclasses.replace(view.record, number="043269990001", queue="urban")
    await db.repo.put(new_number, actor="ops", effective_from=at)
    await directory.reload()
    before = directory.route("043266453987", db.clock())
    assert before is not None and before.queue == "hotline-social-security"
    assert directory.route("043269990001", db.clock()) is None
    # the lookup itself switches at the time, without any reload
    assert directory.route("043266453987", at).queue == "hotline-urban"  # type: ignore[union-attr]
    assert directory.route("043269990001", at) is not None
    assert directory.route("043269990001", at - timedelta(microseconds=1)) is None
    assert directory.next_switch == at
    # the refresh loop notices the switch time and tells listeners (the AstDB mirror)
    db.clock.advance(hours=1)
    assert not await directory.refresh()
    db.clock.advance(hours=1)
    reloads = directory.reloads
    assert await directory.refresh()
    assert directory.reloads == reloads + 1
    assert changes[-1]["043266453987"] == "hotline-urban"
    assert changes[-1]["043269990001"] == "hotline-urban"
    assert directory.next_switch is None


async def test_a_later_edit_supersedes_a_scheduled_change(db: Db) -> None:
    """The newest version whose time has come routes: an immediate edit made after
    scheduling a change replaces that schedule."""
    await db.repo.import_records(city_records(), actor="ops", reason="import")
    view = await db.repo.get("043266453987")
    assert view is not None
    at = db.clock() + timedelta(hours=1)
    await db.repo.put(dataclasses.replace(view.record, queue="urban"), actor="a", effective_from=at)
    db.clock.advance(minutes=1)
    await db.repo.put(dataclasses.replace(view.record, queue="health"), actor="b")
    directory = Directory(db.repo, db.clock)
    await directory.reload()
    for when in (db.clock(), at, at + timedelta(days=1)):
        assert directory.route("043266453987", when).queue == "hotline-health"  # type: ignore[union-attr]

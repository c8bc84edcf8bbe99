"""The reconciler on the real ledger Asterisk 22.10.1 wrote during a run with faults
(tests/fixtures/ledger/README.md), against the records the service had written."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import delete, insert, select, text

from callcenter import migrate
from callcenter.db import create_engine, session_factory
from callcenter.records.ledger import CEL
from callcenter.records.models import CallRecord, ReconciliationRun
from callcenter.records.reconcile import Reconciler
from callcenter.records.store import RecordStore
from tests.records.ledger_fixtures import NODE, load, record_rows, route

pytestmark = pytest.mark.db

FROM = datetime(2026, 12, 1, 23, 0, tzinfo=UTC)
TO = datetime(2026, 12, 2, 0, 0, tzinfo=UTC)
NOW = datetime(2026, 12, 2, 0, 5, tzinfo=UTC)
CALLBACK_LEGS = {"1796168768.16", "1796168770.18", "1796168770.19", "1796168771.20"}
CRASHED = {
    "1796168893.27": ("12345", "", "hotline-general", "1005"),
    "1796168893.28": ("043266453987", "U001", "hotline-social-security", "1003"),
    "1796168893.29": ("043263110058", "U003", "hotline-housing", "1004"),
}
SERVICE_DOWN = "1796168871.25"


async def _records(engine: Any) -> dict[str, CallRecord]:
    async with session_factory(engine)() as session:
        return {r.linkedid: r for r in (await session.scalars(select(CallRecord))).all()}


def _rows(records: dict[str, CallRecord]) -> dict[str, tuple[Any, ...]]:
    columns = [c.name for c in CallRecord.__table__.columns]
    return {k: tuple(getattr(r, c) for c in columns) for k, r in records.items()}


def _reconciler(engine: Any) -> Reconciler:
    sessions = session_factory(engine)
    return Reconciler(sessions, RecordStore(sessions, route), NODE, lambda: NOW)


async def test_the_real_ledger_rebuilds_and_corrects_and_then_changes_nothing(
    database_url: str,
) -> None:
    engine = create_engine(database_url)
    try:
        await migrate.upgrade(engine)
        await load(engine)
        before = await _records(engine)
        assert SERVICE_DOWN not in before
        reconciler = _reconciler(engine)

        report = await reconciler.run(FROM, TO)

        assert report.error == ""
        assert report.rebuilt == [SERVICE_DOWN]
        assert set(report.outbound) == CALLBACK_LEGS
        assert report.in_progress == [] and report.unexplained == []
        assert report.ledger_calls == 17 and report.records == 16
        after = await _records(engine)
        assert set(after) == set(before) | {SERVICE_DOWN}
        down = after[SERVICE_DOWN]
        assert (down.source, down.caller, down.dialed) == ("ledger", "13900009001", "043266453987")
        assert (down.unit, down.district, down.mode) == ("U001", "市本级", "merge")
        assert (down.queue, down.queues, down.seat, down.agent) == (
            "hotline-social-security",
            ["hotline-social-security"],
            "1001",
            "PJSIP/1001",
        )
        assert (down.wait_s, down.talk_s, down.hangup_by, down.disposition) == (
            1.0,
            12.0,
            "caller",
            "answered",
        )
        assert down.start_epoch == 1796168871
        # the service was down: the fallback queued the caller half a second after the
        # dialplan answered (CEL ANSWER 23:47:51.651846 -> ENTERQUEUE 23:47:52.154074)
        assert down.queued_after_s == 0.502
        for linkedid, (dialed, unit, queue, seat) in CRASHED.items():
            fixed = after[linkedid]
            assert (fixed.dialed, fixed.unit, fixed.queue, fixed.seat) == (
                dialed,
                unit,
                queue,
                seat,
            ), linkedid
            assert fixed.queues == [queue] and fixed.wait_s == 1.0 and fixed.source == "ami"
            assert fixed.timeline == before[linkedid].timeline  # kept
        assert after["1796168893.28"].district == "市本级"
        greeting = after["1796168858.24"]  # hung up during the greeting: the caller did
        assert (greeting.hangup_by, greeting.disposition) == ("caller", "ivr_only")
        fields = {(c.linkedid, c.field) for c in report.corrections}
        assert ("1796168858.24", "hangup_by") in fields
        # the callback legs stay what they were: neither rebuilt nor corrected
        for leg in CALLBACK_LEGS:
            assert after[leg].caller == before[leg].caller and after[leg].dialed == ""
            assert all(c.linkedid != leg for c in report.corrections)
        # nothing else was touched
        touched = {c.linkedid for c in report.corrections}
        assert touched == set(CRASHED) | {"1796168858.24"}

        again = await reconciler.run(FROM, TO)
        assert again.rebuilt == [] and again.corrections == [] and again.error == ""
        assert _rows(await _records(engine)) == _rows(after)
        async with session_factory(engine)() as session:
            runs = (await session.scalars(select(ReconciliationRun))).all()
        assert [(r.rebuilt, r.corrected, r.ledger_calls, r.error) for r in runs] == [
            (1, 4, 17, ""),
            (0, 0, 17, ""),
        ]
        assert all(r.finished_at is not None for r in runs)
        assert await reconciler.next_window_from() == TO - reconciler.overlap
    finally:
        await engine.dispose()


async def test_a_dry_run_reports_and_writes_nothing_but_the_run(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        await migrate.upgrade(engine)
        await load(engine)
        before = await _records(engine)
        reconciler = _reconciler(engine)
        report = await reconciler.run(FROM, TO, dry_run=True)
        assert report.rebuilt == [SERVICE_DOWN] and report.corrected == 4
        after = await _records(engine)
        assert {k: (v.dialed, v.queue, v.hangup_by) for k, v in after.items()} == {
            k: (v.dialed, v.queue, v.hangup_by) for k, v in before.items()
        }
        async with session_factory(engine)() as session:
            run = (await session.scalars(select(ReconciliationRun))).one()
        assert run.dry_run and run.rebuilt == 1 and run.corrected == 4
        # a dry run is no checkpoint: the next scheduled run still starts a day back
        assert await reconciler.next_window_from() == NOW - reconciler.first_lookback
    finally:
        await engine.dispose()


async def test_calls_in_progress_unknown_records_and_failures(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        await migrate.upgrade(engine)
        await load(engine)
        async with engine.begin() as conn:
            # the last call has not ended yet; a record the ledger never heard of
            await conn.execute(
                delete(CEL).where(
                    CEL.c.linkedid == "1796168953.1", CEL.c.eventtype == "LINKEDID_END"
                )
            )
            await conn.execute(
                insert(CallRecord.__table__),
                [record_rows()[0] | {"linkedid": "1796168800.99", "start_epoch": 1796168800}],
            )
        reconciler = _reconciler(engine)
        report = await reconciler.run(FROM, TO)
        assert report.in_progress == ["1796168953.1"]
        assert "1796168953.1" not in report.rebuilt
        assert report.unexplained == ["1796168800.99"]
        assert reconciler.unexplained == 1

        async with engine.begin() as conn:
            await conn.execute(text("DROP TABLE call_confidential_marks"))
        await conn_delete_record(engine, SERVICE_DOWN)
        failed = await reconciler.run(FROM, TO)
        assert failed.error and reconciler.failures == 1
        async with session_factory(engine)() as session:
            last = (
                await session.scalars(
                    select(ReconciliationRun).order_by(ReconciliationRun.id.desc())
                )
            ).first()
        assert last is not None and last.error == failed.error and last.finished_at
    finally:
        await engine.dispose()


async def conn_delete_record(engine: Any, linkedid: str) -> None:
    async with engine.begin() as conn:
        await conn.execute(delete(CallRecord).where(CallRecord.linkedid == linkedid))

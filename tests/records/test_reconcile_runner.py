"""The reconciler in the service: runs at start and after a reconnect of its node, one
at a time; /metrics counts what it did and /readyz reports a failed last run."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from sqlalchemy import text

from callcenter import migrate
from callcenter.db import create_engine, session_factory
from callcenter.process.service import reconcile_check
from callcenter.records.metrics import register_reconcile_metrics
from callcenter.records.reconcile import Reconciler
from callcenter.records.reconcile_runner import ReconcileRunner
from callcenter.records.store import RecordStore
from tests.records.ledger_fixtures import NODE, load, route

pytestmark = pytest.mark.db
NOW = datetime(2026, 12, 2, 0, 5, tzinfo=UTC)


async def _until(condition: Any) -> None:
    for _ in range(500):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not met")


async def test_runs_at_start_and_on_reconnect_counts_and_reports(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        await migrate.upgrade(engine)
        await load(engine)
        sessions = session_factory(engine)
        reconciler = Reconciler(sessions, RecordStore(sessions, route), NODE, lambda: NOW)
        registry = CollectorRegistry()
        register_reconcile_metrics(registry, reconciler)
        check = reconcile_check(reconciler)
        assert (await check()).ok
        runner = ReconcileRunner(reconciler, interval_s=3600)
        task = asyncio.create_task(runner.run())
        try:
            await _until(lambda: reconciler.last is not None)
            assert reconciler.rebuilt == 1 and reconciler.corrected_fields > 0
            assert reconciler.last is not None
            assert reconciler.last.window_from == NOW - timedelta(days=1)
            metrics = generate_latest(registry).decode()
            assert 'callcenter_reconcile_rebuilt_total{node="pbx1"} 1.0' in metrics
            assert "callcenter_reconcile_last_ok 1.0" in metrics
            assert (await check()).ok

            await runner.on_connected(SimpleNamespace(name="pbx2"))  # type: ignore[arg-type]
            await asyncio.sleep(0.05)
            assert reconciler.runs == 1  # another node's reconnect is not ours
            await runner.on_connected(SimpleNamespace(name=NODE))  # type: ignore[arg-type]
            first = reconciler.last
            await _until(lambda: reconciler.last is not first)
            assert reconciler.rebuilt == 1  # the second run found nothing left to do
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    finally:
        await engine.dispose()


async def test_a_failed_run_fails_readiness_and_counts(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        await migrate.upgrade(engine)
        sessions = session_factory(engine)
        reconciler = Reconciler(sessions, RecordStore(sessions, route), NODE, lambda: NOW)
        async with engine.begin() as conn:
            await conn.execute(text("DROP TABLE call_records"))
        report = await reconciler.run(NOW - timedelta(hours=1), NOW)
        assert report.error
        result = await reconcile_check(reconciler)()
        assert not result.ok and "last reconciliation failed" in result.detail
        registry = CollectorRegistry()
        register_reconcile_metrics(registry, reconciler)
        metrics = generate_latest(registry).decode()
        assert 'callcenter_reconcile_failures_total{node="pbx1"} 1.0' in metrics
        assert "callcenter_reconcile_last_ok 0.0" in metrics
    finally:
        await engine.dispose()

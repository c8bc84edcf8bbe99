"""`callcenter records reconcile` on the real ledger: JSON report, dry run, exit codes."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from callcenter import migrate
from callcenter.db import create_engine, session_factory
from callcenter.process.cli import app
from callcenter.records.models import CallRecord, ReconciliationRun
from tests.records.ledger_fixtures import load

pytestmark = pytest.mark.db
WINDOW = ["--from", "2026-12-01T23:00:00", "--to", "2026-12-02T00:00:00+00:00"]


async def _seed(url: str) -> None:
    engine = create_engine(url)
    await migrate.upgrade(engine)
    await load(engine)
    await engine.dispose()


async def _counts(url: str) -> tuple[int, int, int]:
    engine = create_engine(url)
    async with session_factory(engine)() as s:
        records = await s.scalar(select(func.count()).select_from(CallRecord))
        rebuilt = await s.scalar(
            select(func.count()).select_from(CallRecord).where(CallRecord.source == "ledger")
        )
        runs = await s.scalar(select(func.count()).select_from(ReconciliationRun))
    await engine.dispose()
    return records or 0, rebuilt or 0, runs or 0


def test_reconcile_cli_dry_run_then_for_real(
    database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("CALLCENTER_DATABASE_URL", database_url)
    monkeypatch.chdir(tmp_path)
    asyncio.run(_seed(database_url))
    runner = CliRunner()

    dry = runner.invoke(app, ["records", "reconcile", *WINDOW, "--dry-run", "--json"])
    assert dry.exit_code == 0, dry.output
    report = json.loads(dry.stdout)
    assert report["dry_run"] and report["rebuilt"] == ["1796168871.25"]
    assert len(report["outbound"]) == 4 and report["unexplained"] == []
    assert {c["field"] for c in report["corrections"]} >= {"dialed", "queue", "seat"}
    assert asyncio.run(_counts(database_url)) == (20, 0, 1)  # only the run was written

    real = runner.invoke(app, ["records", "reconcile", *WINDOW])
    assert real.exit_code == 0, real.output
    assert "1 records rebuilt" in real.stdout
    assert "1796168893.27 dialed: 's' -> '12345'" in real.stdout
    assert asyncio.run(_counts(database_url)) == (21, 1, 2)


def test_reconcile_cli_usage_errors_exit_2(
    database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("CALLCENTER_DATABASE_URL", database_url)
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    bad_time = runner.invoke(app, ["records", "reconcile", "--from", "yesterday", "--to", "x"])
    assert bad_time.exit_code == 2 and "ISO 8601" in bad_time.output
    backwards = runner.invoke(
        app, ["records", "reconcile", "--from", "2026-12-02", "--to", "2026-12-01"]
    )
    assert backwards.exit_code == 2
    unknown = runner.invoke(app, ["records", "reconcile", *WINDOW, "--node", "pbx9"])
    assert unknown.exit_code == 2 and "pbx1" in unknown.output
    assert "Exit status" in runner.invoke(app, ["records", "reconcile", "--help"]).output

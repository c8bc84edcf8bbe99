"""The `callcenter` command line, run as a user would."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from callcenter import migrate
from callcenter.process.cli import app


@pytest.mark.db
def test_db_upgrade_current_downgrade(
    database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("CALLCENTER_DATABASE_URL", database_url)
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    result = runner.invoke(app, ["db", "current"])
    assert result.exit_code == 0, result.output
    assert "(empty)" in result.output
    result = runner.invoke(app, ["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert runner.invoke(app, ["db", "current"]).output.strip() == migrate.head_revision()
    result = runner.invoke(app, ["db", "downgrade", "base"])
    assert result.exit_code == 0, result.output


def test_configuration_error_exits_2(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CALLCENTER_DATABASE_URL", "oracle://x")
    result = CliRunner().invoke(app, ["db", "current"])
    assert result.exit_code == 2
    assert "CALLCENTER_DATABASE_URL" in result.output

"""`callcenter legacy ...` run as an operator would."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from callcenter.process.cli import app
from tests.conftest import LEGACY_CSV
from tests.legacy.test_csvfile import DIRTY

pytestmark = pytest.mark.db


@pytest.fixture
def cli(database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> CliRunner:
    monkeypatch.setenv("CALLCENTER_DATABASE_URL", database_url)
    monkeypatch.setenv("USER", "operator1")
    monkeypatch.chdir(tmp_path)
    return CliRunner()


def test_import_export_diff_show_history_rollback(cli: CliRunner, tmp_path: Path) -> None:
    gbk = tmp_path / "city-gbk.csv"
    gbk.write_bytes(LEGACY_CSV.read_text(encoding="utf-8").encode("gb18030"))
    r = cli.invoke(app, ["legacy", "import", str(gbk), "--json"])
    assert r.exit_code == 0, r.output
    summary = json.loads(r.stdout)
    assert (summary["encoding"], summary["rows"], summary["adds"], summary["applied"]) == (
        "gb18030",
        280,
        280,
        True,
    )
    r = cli.invoke(app, ["legacy", "export", "-o", "out.csv"])
    assert r.exit_code == 0, r.output
    r = cli.invoke(app, ["legacy", "import", "out.csv", "--prune"])
    assert r.exit_code == 0 and "no change" in r.output
    r = cli.invoke(app, ["legacy", "diff", str(LEGACY_CSV)])
    assert r.exit_code == 0 and r.stdout == ""

    edited = (tmp_path / "out.csv").read_text(encoding="utf-8")
    edited = edited.replace(
        "043266453987,U001,市人力资源和社会保障局,市本级,merge,social-security",
        "043266453987,U001,市人力资源和社会保障局,市本级,merge,health",
    )
    (tmp_path / "edited.csv").write_text(edited, encoding="utf-8")
    r = cli.invoke(app, ["legacy", "diff", "edited.csv"])
    assert r.exit_code == 1 and "queue: social-security → health" in r.stdout
    r = cli.invoke(app, ["legacy", "import", "edited.csv", "--actor", "alice"])
    assert r.exit_code == 0 and "1 changed" in r.output

    r = cli.invoke(app, ["legacy", "show", "0432-66453987"])
    assert r.exit_code == 0 and "health" in r.stdout and "alice" in r.stdout
    r = cli.invoke(app, ["legacy", "history", "043266453987"])
    lines = r.stdout.strip().splitlines()
    assert lines[0].startswith("v1") and "operator1" in lines[0] and "add" in lines[0]
    assert lines[1].startswith("v2") and "alice" in lines[1]
    r = cli.invoke(app, ["legacy", "rollback", "043266453987", "--to", "1"])
    assert r.exit_code == 0, r.output
    assert "social-security" in cli.invoke(app, ["legacy", "show", "043266453987"]).stdout
    r = cli.invoke(app, ["legacy", "rollback", "043266453987", "--to", "9"])
    assert r.exit_code == 1 and "no version 9" in r.output


def test_dirty_file_rejected_with_every_line(cli: CliRunner, tmp_path: Path) -> None:
    assert cli.invoke(app, ["legacy", "import", str(LEGACY_CSV)]).exit_code == 0
    before = cli.invoke(app, ["legacy", "export"]).stdout
    (tmp_path / "dirty.csv").write_text(DIRTY, encoding="utf-8-sig")
    r = cli.invoke(app, ["legacy", "import", "dirty.csv"])
    assert r.exit_code == 1
    assert "nothing was written" in r.output
    for line, column in [(3, "number"), (4, "number"), (5, "number"), (6, "mode"),
                         (7, "queue"), (8, "queue"), (9, "transfer_to"), (10, "transfer_to"),
                         (11, "unit")]:  # fmt: skip
        assert f"dirty.csv:{line}: {column}:" in r.stdout
    r = cli.invoke(app, ["legacy", "import", "dirty.csv", "--json"])
    assert r.exit_code == 1 and len(json.loads(r.stdout)["errors"]) == 9
    assert cli.invoke(app, ["legacy", "export"]).stdout == before
    r = cli.invoke(app, ["legacy", "import", str(LEGACY_CSV), "--effective-from", "tomorrow"])
    assert r.exit_code == 2 and "ISO 8601" in r.output

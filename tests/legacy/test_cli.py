"""`callcenter legacy ...` run as an operator would."""

from __future__ import annotations

import csv
import io
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
    runner = CliRunner()
    upgraded = runner.invoke(app, ["db", "upgrade"])
    assert upgraded.exit_code == 0, upgraded.output
    return runner


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
        assert f"dirty.csv:{line}: {column}:" in r.stderr
    r = cli.invoke(app, ["legacy", "import", "dirty.csv", "--json"])
    assert r.exit_code == 1 and len(json.loads(r.stdout)["errors"]) == 9
    assert cli.invoke(app, ["legacy", "export"]).stdout == before
    r = cli.invoke(app, ["legacy", "import", str(LEGACY_CSV), "--effective-from", "tomorrow"])
    assert r.exit_code == 2 and "ISO 8601" in r.output


def _hostile_rows() -> bytes:
    """Cells a spreadsheet would run as formulas (unit codes cannot be: import refuses
    them, tests/security/test_directory_fields.py). A cell guarded as the export guards
    it is read unguarded: `''=市交通局` is `'=市交通局`."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["number", "unit_code", "unit", "district", "mode", "queue", "transfer_to",
                     "note"])  # fmt: skip
    writer.writerow(["043262000101", "U-H1", '=HYPERLINK("http://e.x","x")', "市本级",
                     "merge", "general", "", "-first line, second line"])  # fmt: skip
    writer.writerow(["043262000102", "U-H2", "+市水务局", "@SUM(1+1)", "merge", "general",
                     "", "=cmd|' /C calc'!A0"])  # fmt: skip
    writer.writerow(["043262000103", "U-X", "''=市交通局", "市本级", "merge", "general", "",
                     "'plain note"])  # fmt: skip
    return buffer.getvalue().encode()


def test_export_opens_in_excel_and_imports_back(cli: CliRunner, tmp_path: Path) -> None:
    assert cli.invoke(app, ["legacy", "import", str(LEGACY_CSV)]).exit_code == 0
    (tmp_path / "hostile.csv").write_bytes(_hostile_rows())
    r = cli.invoke(app, ["legacy", "import", "hostile.csv"])
    assert r.exit_code == 0, r.output

    r = cli.invoke(app, ["legacy", "export", "-o", "excel.csv"])
    assert r.exit_code == 0, r.output
    assert "excel.csv: 283 numbers (utf-8-sig)" in r.output
    data = (tmp_path / "excel.csv").read_bytes()
    assert data.startswith(b"\xef\xbb\xbfnumber,unit_code,unit,district,mode,queue,transfer_to,"
                           b"note\r\n")  # fmt: skip
    assert data.count(b"\xef\xbb\xbf") == 1
    rows = {r[0]: r for r in csv.reader(io.StringIO(data.decode("utf-8-sig"), newline=""))}
    assert rows["043262000101"][2] == '\'=HYPERLINK("http://e.x","x")'
    assert rows["043262000101"][7] == "'-first line, second line"
    assert rows["043262000102"][1:4] == ["U-H2", "'+市水务局", "'@SUM(1+1)"]
    assert rows["043262000102"][7] == "'=cmd|' /C calc'!A0"
    assert rows["043262000103"][1:3] == ["U-X", "''=市交通局"]
    assert rows["043262000103"][7] == "'plain note"  # not a formula: as it is
    assert cli.invoke(app, ["legacy", "export"]).stdout_bytes == data

    r = cli.invoke(app, ["legacy", "import", "excel.csv", "--prune"])
    assert r.exit_code == 0 and "no change" in r.output, r.output
    r = cli.invoke(app, ["legacy", "show", "043262000103"])
    assert "'=市交通局" in r.stdout and "''" not in r.stdout and "'plain note" in r.stdout

    r = cli.invoke(app, ["legacy", "export", "-o", "gbk.csv", "--encoding", "GB18030"])
    assert r.exit_code == 0 and "283 numbers (gb18030)" in r.output, r.output
    gbk = (tmp_path / "gbk.csv").read_bytes()
    assert gbk.startswith(b"number,") and gbk.decode("gb18030") == data.decode("utf-8-sig")
    r = cli.invoke(app, ["legacy", "import", "gbk.csv", "--prune", "--json"])
    assert r.exit_code == 0, r.output
    summary = json.loads(r.stdout)
    assert (summary["encoding"], summary["rows"], summary["applied"]) == ("gb18030", 283, False)

    r = cli.invoke(app, ["legacy", "export", "--encoding", "latin-1"])
    assert r.exit_code == 2
    assert "--encoding" in r.output and all(
        name in r.output for name in ("utf-8-sig", "gb18030", "utf-8")
    )

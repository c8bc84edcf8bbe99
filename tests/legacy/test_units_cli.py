"""`callcenter units import|export` run as an operator would."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from callcenter.process.cli import app
from tests.conftest import LEGACY_CSV

pytestmark = pytest.mark.db

CARDS = [
    {
        "unit_code": "U004",
        "responsibilities": "负责全市住房保障、公租房申请受理",
        "hours": "工作日 8:30-17:00",
        "transfer_numbers": [{"number": "0432-6200 0004", "label": "住房保障科"}],
        "kb_links": [{"title": "公租房申请条件", "url": "https://kb.example.gov.cn/h/1"}],
    },
    {"unit_code": "U002", "responsibilities": "医保报销", "hours": "7×24"},
]


@pytest.fixture
def cli(database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> CliRunner:
    monkeypatch.setenv("CALLCENTER_DATABASE_URL", database_url)
    monkeypatch.setenv("USER", "operator1")
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    for command in (["db", "upgrade"], ["legacy", "import", str(LEGACY_CSV)]):
        done = runner.invoke(app, command)
        assert done.exit_code == 0, done.output
    return runner


def _write(path: Path, cards: list[dict[str, object]]) -> Path:
    path.write_text(json.dumps(cards, ensure_ascii=False, indent=2), encoding="utf-8")
    return path


def test_import_export_round_trip(cli: CliRunner, tmp_path: Path) -> None:
    file = _write(tmp_path / "cards.json", CARDS)
    r = cli.invoke(app, ["units", "import", str(file), "--dry-run", "--json"])
    assert r.exit_code == 0, r.output
    dry = json.loads(r.stdout)
    assert (dry["applied"], dry["dry_run"], dry["added"]) == (False, True, ["U004", "U002"])
    r = cli.invoke(app, ["units", "export", "-o", "empty.json", "--json"])
    assert r.exit_code == 0 and json.loads(r.stdout)["cards"] == 0

    r = cli.invoke(app, ["units", "import", str(file)])
    assert r.exit_code == 0, r.output
    assert "2 added, 0 changed, 0 unchanged: applied" in r.output
    r = cli.invoke(app, ["units", "export"])
    assert r.exit_code == 0
    exported = json.loads(r.stdout)
    assert [c["unit_code"] for c in exported] == ["U002", "U004"]
    assert exported[1]["transfer_numbers"] == [{"number": "043262000004", "label": "住房保障科"}]

    r = cli.invoke(app, ["units", "export", "-o", "cards.csv"])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "cards.csv").read_bytes().startswith(b"\xef\xbb\xbf")  # Excel's UTF-8
    r = cli.invoke(app, ["units", "import", "cards.csv", "--json"])
    assert r.exit_code == 0, r.output
    again = json.loads(r.stdout)
    assert (again["format"], again["applied"], again["unchanged"]) == ("csv", False, 2)


def test_a_bad_file_writes_nothing(cli: CliRunner, tmp_path: Path) -> None:
    bad = [
        *CARDS,
        {"unit_code": "U005", "kb_links": [{"title": "x", "url": "javascript:alert(1)"}]},
    ]
    file = _write(tmp_path / "bad.json", bad)
    r = cli.invoke(app, ["units", "import", str(file), "--json"])
    assert r.exit_code == 1
    report = json.loads(r.stdout)
    assert report["applied"] is False
    assert [(e["line"], e["column"]) for e in report["errors"]] == [(24, "kb_links[0].url")]
    assert "bad.json:24: kb_links[0].url:" in r.stderr and "nothing was written" in r.stderr

    unknown = _write(tmp_path / "unknown.json", [*CARDS, {"unit_code": "U404"}])
    r = cli.invoke(app, ["units", "import", str(unknown)])
    assert r.exit_code == 1 and "U404 is not in the legacy directory" in r.stderr
    r = cli.invoke(app, ["units", "export"])
    assert json.loads(r.stdout) == []  # the good cards of both files were not written either


def test_usage_errors_exit_2(cli: CliRunner, tmp_path: Path) -> None:
    (tmp_path / "cards.txt").write_text("[]", encoding="utf-8")
    r = cli.invoke(app, ["units", "import", "cards.txt"])
    assert r.exit_code == 2 and "--format json or --format csv" in r.stderr
    r = cli.invoke(app, ["units", "import", "cards.txt", "--format", "json"])
    assert r.exit_code == 0, r.output
    r = cli.invoke(app, ["units", "import", "missing.json"])
    assert r.exit_code == 2 and "cannot read" in r.stderr
    r = cli.invoke(app, ["units", "export", "--json"])
    assert r.exit_code == 2 and "needs -o FILE" in r.stderr


def test_commands_do_not_migrate(
    database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("CALLCENTER_DATABASE_URL", database_url)
    file = _write(tmp_path / "cards.json", CARDS)
    r = CliRunner().invoke(app, ["units", "import", str(file)])
    assert r.exit_code == 2 and "callcenter db upgrade" in r.stderr

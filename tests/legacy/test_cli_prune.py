"""`legacy import` and `legacy diff` agree on --prune, and the prune guard, run as an
operator (and a script reading --json) would."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from callcenter.process.cli import app
from tests.conftest import LEGACY_CSV

pytestmark = pytest.mark.db

HEADER = "number,unit_code,unit,district,mode,queue,transfer_to,note\n"


@pytest.fixture
def cli(database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> CliRunner:
    monkeypatch.setenv("CALLCENTER_DATABASE_URL", database_url)
    monkeypatch.setenv("USER", "operator1")
    monkeypatch.delenv("CALLCENTER_LEGACY_PRUNE_MAX_SHARE", raising=False)
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    r = runner.invoke(app, ["legacy", "import", str(LEGACY_CSV)])
    assert r.exit_code == 0, r.output
    return runner


def _partial(tmp_path: Path, drop: int) -> tuple[Path, list[str]]:
    """The city file without its last `drop` numbers and with one queue changed."""
    lines = LEGACY_CSV.read_text(encoding="utf-8").splitlines(keepends=True)
    kept, dropped = lines[: len(lines) - drop], lines[len(lines) - drop :]
    text = "".join(kept).replace(
        "043266453987,U001,市人力资源和社会保障局,市本级,merge,social-security",
        "043266453987,U001,市人力资源和社会保障局,市本级,merge,health",
    )
    path = tmp_path / "partial.csv"
    path.write_text(text, encoding="utf-8")
    return path, [line.split(",", 1)[0] for line in dropped]


def _export(cli: CliRunner) -> bytes:
    r = cli.invoke(app, ["legacy", "export"])
    assert r.exit_code == 0, r.output
    return r.stdout_bytes


def _json(cli: CliRunner, args: list[str], code: int) -> dict[str, Any]:
    r = cli.invoke(app, [*args, "--json"])
    assert r.exit_code == code, r.output
    document = json.loads(r.stdout)
    assert isinstance(document, dict)
    return document


def test_diff_then_import_settles_without_prune(cli: CliRunner, tmp_path: Path) -> None:
    partial, dropped = _partial(tmp_path, drop=5)
    r = cli.invoke(app, ["legacy", "diff", str(partial)])
    assert r.exit_code == 1, r.output
    assert "~ 043266453987\tqueue: social-security → health" in r.stdout
    assert "- " not in r.stdout  # nothing the file lacks is a removal
    assert "5 number(s) of the directory not in the file are kept (not in file)" in r.stderr
    assert all(number in r.stderr for number in dropped)

    r = cli.invoke(app, ["legacy", "import", str(partial)])
    assert r.exit_code == 0 and "1 changed, 0 removed, 5 kept (not in file)" in r.stderr

    r = cli.invoke(app, ["legacy", "diff", str(partial)])
    assert r.exit_code == 0, r.output
    assert r.stdout == "" and "kept (not in file)" in r.stderr
    document = _json(cli, ["legacy", "diff", str(partial)], 0)
    assert document["differences"] is False and document["prune"] is False
    assert document["kept"] == sorted(dropped) and document["removed"] == []
    r = cli.invoke(app, ["legacy", "import", str(partial)])
    assert r.exit_code == 0 and "no change" in r.stderr


def test_diff_then_import_settles_with_prune(cli: CliRunner, tmp_path: Path) -> None:
    partial, dropped = _partial(tmp_path, drop=5)
    r = cli.invoke(app, ["legacy", "diff", str(partial), "--prune"])
    assert r.exit_code == 1
    assert all(f"- {number}\t" in r.stdout for number in dropped)
    document = _json(cli, ["legacy", "diff", str(partial), "--prune"], 1)
    assert document["removed"] == sorted(dropped) and document["kept"] == []
    assert document["prune_refusal"] is None  # 5 of 280: under the 10 % guard

    r = cli.invoke(app, ["legacy", "import", str(partial), "--prune"])
    assert r.exit_code == 0 and "1 changed, 5 removed" in r.stderr, r.output
    r = cli.invoke(app, ["legacy", "diff", str(partial), "--prune"])
    assert r.exit_code == 0 and r.stdout == "", r.output
    assert cli.invoke(app, ["legacy", "diff", str(partial), "--no-prune"]).exit_code == 0
    r = cli.invoke(app, ["legacy", "diff", str(LEGACY_CSV)])
    assert r.exit_code == 1 and all(f"+ {number}\t" in r.stdout for number in dropped)


def test_a_header_only_prune_is_refused_and_lists_what_it_would_remove(
    cli: CliRunner, tmp_path: Path
) -> None:
    before = _export(cli)
    empty = tmp_path / "header_only.csv"
    empty.write_text(HEADER, encoding="utf-8")

    r = cli.invoke(app, ["legacy", "import", str(empty), "--prune"])
    assert r.exit_code == 1, r.output
    assert "would remove 280 of 280 numbers (100.0%)" in r.stderr
    assert "more than the 10% allowed" in r.stderr and "nothing was written" in r.stderr
    removals = [line for line in r.stdout.splitlines() if line.startswith("- ")]
    assert len(removals) == 50 and "... and 230 more (--json lists all)" in r.stdout
    assert _export(cli) == before

    for args in (["legacy", "import"], ["legacy", "import", "--dry-run"], ["legacy", "diff"]):
        document = _json(cli, [*args, str(empty), "--prune"], 1)
        assert document["applied"] is False
        assert document["prune_refusal"] == {
            "removals": 280,
            "directory": 280,
            "share": 1.0,
            "max_share": 0.1,
        }
        assert isinstance(document["removed"], list) and len(document["removed"]) == 280
        errors = document["errors"]
        assert isinstance(errors, list) and [e["column"] for e in errors] == ["prune"]
        assert errors[0]["line"] is None and "280 of 280" in errors[0]["reason"]
    assert _export(cli) == before

    r = cli.invoke(app, ["legacy", "import", str(empty)])  # no prune: nothing to do
    assert r.exit_code == 0 and "280 kept (not in file)" in r.stderr and "no change" in r.stderr
    assert cli.invoke(app, ["legacy", "diff", str(empty)]).exit_code == 0

    r = cli.invoke(app, ["legacy", "import", str(empty), "--prune", "--force"])
    assert r.exit_code == 0 and "280 removed" in r.stderr, r.output
    assert _export(cli).decode("utf-8-sig").strip() == HEADER.strip()


def test_the_guard_share_is_a_setting(
    cli: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    partial, _ = _partial(tmp_path, drop=5)
    monkeypatch.setenv("CALLCENTER_LEGACY_PRUNE_MAX_SHARE", "0.01")
    r = cli.invoke(app, ["legacy", "import", str(partial), "--prune"])
    assert r.exit_code == 1 and "would remove 5 of 280 numbers (1.8%)" in r.stderr, r.output
    monkeypatch.setenv("CALLCENTER_LEGACY_PRUNE_MAX_SHARE", "1.5")
    r = cli.invoke(app, ["legacy", "import", str(partial), "--prune"])
    assert r.exit_code == 2 and "legacy_prune_max_share" in r.stderr.lower()
    monkeypatch.setenv("CALLCENTER_LEGACY_PRUNE_MAX_SHARE", "0.02")
    r = cli.invoke(app, ["legacy", "import", str(partial), "--prune"])
    assert r.exit_code == 0 and "5 removed" in r.stderr, r.output


def test_json_of_show_history_rollback_and_export(cli: CliRunner, tmp_path: Path) -> None:
    partial, _ = _partial(tmp_path, drop=0)
    assert cli.invoke(app, ["legacy", "import", str(partial), "--actor", "alice"]).exit_code == 0

    shown = _json(cli, ["legacy", "show", "0432-66453987"], 0)
    assert (shown["number"], shown["queue"], shown["version"]) == ("043266453987", "health", 2)
    assert shown["updated_by"] == "alice"
    history = _json(cli, ["legacy", "history", "043266453987"], 0)
    versions = history["versions"]
    assert history["number"] == "043266453987" and isinstance(versions, list)
    assert [(v["version"], v["action"], v["actor"]) for v in versions] == [
        (1, "add", "operator1"),
        (2, "change", "alice"),
    ]
    assert versions[1]["changes"] == {"queue": ["social-security", "health"]}

    rolled = _json(cli, ["legacy", "rollback", "043266453987", "--to", "1"], 0)
    assert (rolled["number"], rolled["to"], rolled["applied"], rolled["changes"]) == (
        "043266453987",
        1,
        True,
        1,
    )
    refused = _json(cli, ["legacy", "rollback", "043266453987", "--to", "9"], 1)
    assert refused["applied"] is False and refused["directory_version"] is None
    assert refused["errors"] == [
        {"line": None, "column": "to", "reason": "043266453987 has no version 9"}
    ]
    r = cli.invoke(app, ["legacy", "show", "043200000000", "--json"])
    assert r.exit_code == 1 and r.stdout == "" and "not in the directory" in r.stderr

    r = cli.invoke(app, ["legacy", "export", "--json"])
    assert r.exit_code == 2 and r.stdout == "" and "-o FILE" in r.stderr
    exported = _json(cli, ["legacy", "export", "-o", "all.csv"], 0)
    assert exported == {"file": "all.csv", "numbers": 280, "encoding": "utf-8-sig"}
    assert (tmp_path / "all.csv").read_bytes() == _export(cli)


def test_every_row_error_in_json_and_a_missing_file(cli: CliRunner, tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text(HEADER + "0432-1,U1,单位,市本级,fly,general,,\n,U1,单位,市本级,merge,,,\n")
    for command in ("import", "diff"):
        document = _json(cli, ["legacy", command, str(bad)], 1)
        assert document["errors"] == [
            {"line": 2, "column": "number", "reason": document["errors"][0]["reason"]},
            {"line": 2, "column": "mode", "reason": document["errors"][1]["reason"]},
            {"line": 3, "column": "number", "reason": document["errors"][2]["reason"]},
            {"line": 3, "column": "queue", "reason": document["errors"][3]["reason"]},
        ]
        assert document["directory_version"] is None and document["applied"] is False
    r = cli.invoke(app, ["legacy", "import", "missing.csv", "--json"])
    assert r.exit_code == 2 and r.stdout == "" and "cannot read missing.csv" in r.stderr
    assert "Traceback" not in r.output

"""The `callcenter` command line, run as a user would."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from callcenter import migrate
from callcenter.process.cli import app
from tests.conftest import LEGACY_CSV


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


def _clean(result: Result, code: int) -> None:
    """Exited with `code` on purpose: no traceback, no exception escaping."""
    assert result.exit_code == code, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output


NEEDS_THE_SCHEMA = [
    ["token", "list"],
    ["token", "list", "--json"],
    ["token", "create", "--name", "wallboard", "--role", "supervisor"],
    ["token", "revoke", "1"],
    ["legacy", "import", str(LEGACY_CSV)],
    ["legacy", "diff", str(LEGACY_CSV)],
    ["legacy", "export"],
    ["legacy", "show", "043266453987"],
    ["legacy", "history", "043266453987"],
    ["legacy", "rollback", "043266453987", "--to", "1"],
    ["audit", "purge"],
    ["records", "purge"],
    ["records", "reconcile", "--from", "2026-12-01", "--to", "2026-12-02"],
    ["units", "export"],
]


@pytest.mark.db
def test_a_database_never_migrated_is_exit_2_and_stays_unmigrated(
    database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("CALLCENTER_DATABASE_URL", database_url)
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    for args in NEEDS_THE_SCHEMA:
        result = runner.invoke(app, args)
        _clean(result, 2)
        assert "run `callcenter db upgrade` first" in result.stderr, args
        assert result.stdout == "", args
    current = runner.invoke(app, ["db", "current", "--json"])
    _clean(current, 0)
    assert json.loads(current.stdout) == {
        "revision": None,
        "head": migrate.head_revision(),
        "up_to_date": False,
    }


def test_an_unreachable_database_is_exit_2(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CALLCENTER_DATABASE_URL", "postgresql+asyncpg://cc:secret@127.0.0.1:1/cc")
    for args in (["token", "list"], ["db", "current"], ["legacy", "show", "043266453987"]):
        result = CliRunner().invoke(app, args)
        _clean(result, 2)
        assert "cannot use the database postgresql+asyncpg://cc:***@127.0.0.1:1/cc" in (
            result.stderr
        )
        assert "secret" not in result.output


def test_a_bad_file_is_refused_before_the_database_is_opened(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A missing file is a usage error (2), a bad CSV rejected input (1) with every
    error, whatever state the database is in."""
    monkeypatch.setenv("CALLCENTER_DATABASE_URL", "postgresql+asyncpg://cc@127.0.0.1:1/cc")
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    missing = runner.invoke(app, ["legacy", "import", "nowhere.csv"])
    _clean(missing, 2)
    assert "cannot read nowhere.csv" in missing.stderr
    (tmp_path / "bad.csv").write_text("number,unit_code\n0432-1,U1\n")
    bad = runner.invoke(app, ["legacy", "import", "bad.csv"])
    _clean(bad, 1)
    assert bad.stdout == "" and bad.stderr.count("bad.csv:1: ") == 6  # six columns missing
    usage = runner.invoke(app, ["legacy", "import", "bad.csv", "--no-such-flag"])
    _clean(usage, 2)


@pytest.mark.db
def test_db_and_token_json(database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CALLCENTER_DATABASE_URL", database_url)
    runner = CliRunner()
    upgraded = runner.invoke(app, ["db", "upgrade", "--json"])
    _clean(upgraded, 0)
    head = migrate.head_revision()
    assert json.loads(upgraded.stdout) == {"revision": head, "head": head, "up_to_date": True}
    _clean(runner.invoke(app, ["db", "upgrade", "no-such-revision"]), 2)

    created = runner.invoke(app, ["token", "create", "--name", "desk", "--role", "agent",
                                  "--seat", "1001", "--json"])  # fmt: skip
    _clean(created, 0)
    token = json.loads(created.stdout)
    assert token["token"].startswith("cc_") and token["id"] == 1
    assert (token["name"], token["role"], token["seat"]) == ("desk", "agent", "1001")
    refused = runner.invoke(app, ["token", "create", "--name", "x", "--role", "agent", "--json"])
    _clean(refused, 2)
    assert refused.stdout == "" and "bound to a seat" in refused.stderr

    revoked = runner.invoke(app, ["token", "revoke", "1", "--json"])
    _clean(revoked, 0)
    assert json.loads(revoked.stdout) == {"id": 1, "revoked": True}
    _clean(runner.invoke(app, ["token", "revoke", "1"]), 1)
    listed = runner.invoke(app, ["token", "list", "--json"])
    _clean(listed, 0)
    [row] = json.loads(listed.stdout)
    assert (row["id"], row["state"], row["seat"]) == (1, "revoked", "1001")
    assert row["revoked_at"] and token["token"] not in listed.stdout

    for command in ("audit", "records"):
        purged = runner.invoke(app, [command, "purge", "--json"])
        _clean(purged, 0)
        report = json.loads(purged.stdout)
        assert (report["purged"], report["days"]) == (0, 400 if command == "audit" else 730)


def test_the_exit_codes_are_in_the_top_level_help() -> None:
    result = CliRunner().invoke(app, ["--help"])
    _clean(result, 0)
    text = " ".join(result.output.split())
    assert "Exit codes: 0 done; 1 input rejected" in text
    assert "2 usage, configuration or database not reachable/migrated" in text
    assert "--json one JSON document on stdout" in text

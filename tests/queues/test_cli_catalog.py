"""`callcenter seats provision|list`, skill parsing, and the catalog against
asterisk-conf/queues.conf (app_queue applies those parameters; the views explain them)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from callcenter.legacy.queues import QueueCatalog
from callcenter.process.cli import app
from queues.catalog import catalog, parse_skills, penalty

CONF = Path(__file__).resolve().parents[2] / "asterisk-conf" / "queues.conf"


@pytest.mark.db
def test_provision_cli_is_idempotent_and_grows(
    database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("CALLCENTER_DATABASE_URL", database_url)
    monkeypatch.chdir(tmp_path)
    cli = CliRunner()
    r = cli.invoke(app, ["seats", "provision", "--count", "3", "--skills", "general:2,health:5"])
    assert r.exit_code == 0, r.output
    assert "3 seats added, 0 already provisioned" in r.output
    r = cli.invoke(app, ["seats", "provision", "--count", "5"])
    assert "2 seats added, 3 already provisioned" in r.output
    r = cli.invoke(app, ["seats", "list"])
    lines = r.stdout.splitlines()
    assert len(lines) == 5
    assert lines[0].split("\t") == [
        "1001",
        "PJSIP/1001",
        "pbx1",
        "logged_out",
        "general:2,health:5",
    ]
    assert lines[4].endswith("general:3")
    r = cli.invoke(app, ["seats", "provision", "--count", "1", "--skills", "cooking:3"])
    assert r.exit_code == 2 and "unknown queue 'cooking'" in r.output
    r = cli.invoke(app, ["seats", "provision", "--count", "1", "--node", "pbx9"])
    assert r.exit_code == 2 and "pbx9" in r.output


def test_skills_and_penalties() -> None:
    queues = QueueCatalog.default()
    assert parse_skills(" general:1, housing ", queues) == {"general": 1, "housing": 3}
    for bad, message in (
        ("general:0", "1..5"),
        ("general:x", "number"),
        ("", "at least one"),
        ("cooking:3", "unknown queue 'cooking'"),
    ):
        with pytest.raises(ValueError, match=message):
            parse_skills(bad, queues)
    assert [penalty(level) for level in (5, 3, 1)] == [0, 2, 4]  # the expert is rung first


def test_catalog_matches_queues_conf() -> None:
    text = CONF.read_text(encoding="utf-8")
    template = text[text.index("[hotline](!)") :].split("\n\n")[0]

    def value(key: str) -> str:
        match = re.search(rf"^{key}\s*=\s*(\S+)", template, re.M)
        assert match, key
        return match.group(1)

    specs = catalog(QueueCatalog.default().with_overflow({"housing": 60}))
    assert sorted(specs) == sorted(QueueCatalog.default().names)
    for spec in specs.values():
        assert f"[{spec.asterisk}](hotline)" in text
        assert spec.strategy == value("strategy")
        assert spec.wrapup_s == int(value("wrapuptime"))
        assert spec.ring_timeout_s == int(value("timeout"))
        assert spec.service_level_s == int(value("servicelevel"))
    assert specs["housing"].overflow_after_s == 60 and specs["general"].overflow_after_s is None
    with pytest.raises(ValueError, match="unknown queue 'nope'"):
        QueueCatalog.default().with_overflow({"nope": 1})
    with pytest.raises(ValueError, match="general queue cannot overflow into itself"):
        QueueCatalog.default().with_overflow({"general": 1})

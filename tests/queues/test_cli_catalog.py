"""`callcenter seats provision|list|update`, skill parsing, and the catalog against
asterisk-conf/queues.conf (app_queue applies those parameters; the views explain them)."""

from __future__ import annotations

import asyncio
import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from callcenter import migrate
from callcenter.db import create_engine, session_factory
from callcenter.legacy.queues import QueueCatalog
from callcenter.process.cli import app
from queues.catalog import catalog, parse_skills, penalty
from queues.repository import SeatRepository

CONF = Path(__file__).resolve().parents[2] / "asterisk-conf" / "queues.conf"


@pytest.mark.db
def test_provision_cli_is_idempotent_and_grows(
    database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("CALLCENTER_DATABASE_URL", database_url)
    monkeypatch.chdir(tmp_path)
    cli = CliRunner()
    # a database never migrated: one line and exit 2, nothing created behind the back
    for command in (["seats", "list"], ["seats", "provision", "--count", "1"]):
        r = cli.invoke(app, command)
        assert r.exit_code == 2 and r.stdout == "", r.output
        assert "callcenter db upgrade" in r.stderr and "Traceback" not in r.output
        assert len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert cli.invoke(app, ["db", "upgrade"]).exit_code == 0
    r = cli.invoke(app, ["seats", "provision", "--count", "3", "--skills", "general:2,health:5"])
    assert r.exit_code == 0, r.output
    assert "3 seats added, 0 already provisioned" in r.stderr and r.stdout == ""
    r = cli.invoke(app, ["seats", "provision", "--count", "5", "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout) == {
        "added": ["1004", "1005"],
        "existing": ["1001", "1002", "1003"],
        # asked for general:3, they have general:2,health:5: kept, and said so
        "existing_with_other_skills": ["1001", "1002", "1003"],
    }
    assert "2 seats added, 3 already provisioned" in r.stderr
    assert "3 existing seats have other skills" in r.stderr and "seats update" in r.stderr
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
    listed = json.loads(cli.invoke(app, ["seats", "list", "--json"]).stdout)
    assert [s["id"] for s in listed] == ["1001", "1002", "1003", "1004", "1005"]
    assert listed[0]["skills"] == {"general": 2, "health": 5} and not listed[0]["logged_in"]
    r = cli.invoke(app, ["seats", "provision", "--count", "1", "--skills", "cooking:3"])
    assert r.exit_code == 2 and "unknown queue 'cooking'" in r.stderr
    r = cli.invoke(app, ["seats", "provision", "--count", "1", "--node", "pbx9"])
    assert r.exit_code == 2 and "pbx9" in r.stderr


@pytest.mark.db
def test_update_cli_changes_a_logged_out_seat_and_refuses_bad_input(
    database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("CALLCENTER_DATABASE_URL", database_url)
    monkeypatch.chdir(tmp_path)
    cli = CliRunner()
    r = cli.invoke(app, ["seats", "update", "1001", "--skills", "general:4"])
    assert r.exit_code == 2 and "callcenter db upgrade" in r.stderr
    assert cli.invoke(app, ["db", "upgrade"]).exit_code == 0
    assert cli.invoke(app, ["seats", "provision", "--count", "2"]).exit_code == 0

    r = cli.invoke(
        app,
        ["seats", "update", "1001", "--skills", "general:4,housing:5", "--interface",
         "Local/1001@agents/n", "--json"],
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    seat = json.loads(r.stdout)
    assert seat["skills"] == {"general": 4, "housing": 5}
    assert (seat["interface"], seat["node"]) == ("Local/1001@agents/n", "pbx1")
    r = cli.invoke(app, ["seats", "list"])
    assert r.stdout.splitlines()[0].split("\t")[1] == "Local/1001@agents/n"

    def refused(args: list[str], code: int, words: str) -> None:
        result = cli.invoke(app, ["seats", "update", *args])
        assert result.exit_code == code and result.stdout == "", result.output
        assert words in result.stderr and "Traceback" not in result.output

    refused(["1001", "--skills", "cooking:3"], 2, "unknown queue 'cooking'")
    refused(["1001", "--skills", "general:9"], 2, "1..5")
    refused(["1001", "--interface", "PJSIP/1 001"], 2, "not a dial interface")
    refused(["1001", "--node", "pbx9"], 2, "configured nodes are ['pbx1']")
    refused(["1001"], 2, "nothing to change")
    refused(["9999", "--skills", "general:3"], 1, "no seat '9999'")
    refused(["1002", "--interface", "Local/1001@agents/n"], 1, "belongs to seat 1001")
    # nothing of the refusals was written
    listed = json.loads(cli.invoke(app, ["seats", "list", "--json"]).stdout)
    assert listed[1]["interface"] == "PJSIP/1002"
    assert listed[0]["skills"] == {"general": 4, "housing": 5}


@pytest.mark.db
async def test_update_cli_leaves_a_logged_in_seat_to_the_service(
    database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("CALLCENTER_DATABASE_URL", database_url)
    monkeypatch.chdir(tmp_path)
    engine = create_engine(database_url)
    try:
        await migrate.upgrade(engine)
        repo = SeatRepository(session_factory(engine), lambda: datetime.now(UTC))
        await repo.provision(1, 1001, lambda _i: {"general": 3}, "PJSIP/{extension}", "pbx1")
        await repo.mark("1001", True, None)
        r = await asyncio.to_thread(
            CliRunner().invoke, app, ["seats", "update", "1001", "--skills", "housing:2"]
        )
        assert r.exit_code == 1 and "PATCH /api/v1/seats/1001" in r.stderr, r.output
        seat = await repo.seat("1001")
        assert seat is not None and seat.skills == {"general": 3}
    finally:
        await engine.dispose()


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


def test_rendered_queue_template_matches_queues_conf() -> None:
    """`asterisk-conf render` writes each queue from queue.in; the bundled queues.conf
    (what pbxsim reads) sets the same options in its [hotline] template."""

    def options(text: str) -> dict[str, str]:
        found = re.findall(r"^([a-z-]+)\s*=\s*(\S+)", text, re.M)
        return {k: v for k, v in found if k != "wrapuptime"}

    conf = CONF.read_text(encoding="utf-8")
    template = conf[conf.index("[hotline](!)") :].split("\n\n")[0]
    general = catalog(QueueCatalog.default())["general"]
    queue_in = (
        (CONF.parent / "templates" / "queue.in")
        .read_text(encoding="utf-8")
        .replace("@@STRATEGY@@", general.strategy)
        .replace("@@SERVICELEVEL@@", str(general.service_level_s))
    )
    assert options(queue_in) == options(template)
    assert options(queue_in)["timeout"] == str(general.ring_timeout_s)


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
    # a seat that lets a call ring out is paused everywhere, within the service level
    assert value("autopause") == "all" and int(value("autopausedelay")) == 0
    assert all(spec.ring_timeout_s < spec.service_level_s for spec in specs.values())
    assert specs["housing"].overflow_after_s == 60 and specs["general"].overflow_after_s is None
    with pytest.raises(ValueError, match="unknown queue 'nope'"):
        QueueCatalog.default().with_overflow({"nope": 1})
    with pytest.raises(ValueError, match="general queue cannot overflow into itself"):
        QueueCatalog.default().with_overflow({"general": 1})

"""`callcenter asterisk-conf render` and Asterisk's own ledger: on PostgreSQL the PBX is
configured to write CDR, CEL and queue_log into schema `asterisk` of the service's
database, with every time in UTC, the way the real run of ledger/README.md was set up
by hand (cel_pgsql needs the schema twice, queue_log goes through res_config_pgsql)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr
from typer.testing import CliRunner

from callcenter.asterisk_conf import (
    ConfInputs,
    DatabaseContent,
    LedgerDb,
    ProvisionedSeat,
    RenderError,
    RenderOptions,
    ledger_db,
    plan,
    render,
)
from callcenter.config import AmiNode, Settings
from callcenter.process.cli import app
from tests.agi.test_asterisk_conf import SECRET, SIP, sections

LEDGER_URL = "postgresql://asterisk:ledger-pw@db.example:5433/callcenter"


def invoke(tmp: Path, *extra: str) -> tuple[Path, str]:
    env = {
        "CALLCENTER_DATABASE_URL": f"sqlite+aiosqlite:///{tmp / 'cc.db'}",
        "CALLCENTER_AMI_NODES": f'[{{"name": "pbx1", "secret": "{SECRET}"}}]',
        "CALLCENTER_SIP_SECRET": SIP,
    }
    out = tmp / "out"
    runner = CliRunner()
    for setup in (["db", "upgrade"], ["seats", "provision", "--count", "2"]):
        assert runner.invoke(app, setup, env=env).exit_code == 0
    args = ["asterisk-conf", "render", "--out", str(out), *extra]
    result = runner.invoke(app, args, env=env)
    assert result.exit_code == 0, result.output
    return out / "pbx1", result.output


def test_sqlite_service_renders_no_ledger(tmp_path: Path) -> None:
    out, output = invoke(tmp_path)
    for name in ("cdr_pgsql", "cel_pgsql", "res_pgsql", "extconfig", "logger"):
        assert not (out / f"{name}.conf").exists(), name
    assert "no ledger files" in output


def test_ledger_files_point_at_schema_asterisk_in_utc(tmp_path: Path) -> None:
    out, output = invoke(tmp_path, "--ledger-db", LEDGER_URL)
    [cdr] = sections(out / "cdr_pgsql.conf")["global"]
    assert cdr == {
        "hostname": "db.example",
        "port": "5433",
        "dbname": "callcenter",
        "user": "asterisk",
        "password": "ledger-pw",
        "encoding": "UTF8",
        "table": "asterisk.cdr",
        "timezone": "UTC",
    }
    [cel] = sections(out / "cel_pgsql.conf")["global"]
    assert (cel["schema"], cel["table"], cel["usegmtime"]) == ("asterisk", "asterisk.cel", "yes")
    assert (cel["hostname"], cel["user"], cel["password"]) == (
        "db.example",
        "asterisk",
        "ledger-pw",
    )
    [realtime] = sections(out / "res_pgsql.conf")["general"]
    assert realtime == {
        "dbhost": "db.example",
        "dbport": "5433",
        "dbname": "callcenter",
        "dbuser": "asterisk",
        "dbpass": "ledger-pw",
    }
    [settings] = sections(out / "extconfig.conf")["settings"]
    assert settings["queue_log"] == "pgsql,general,asterisk.queue_log"
    [general] = sections(out / "logger.conf")["general"]
    assert general["queue_log_realtime_use_gmt"] == "yes"
    assert general["queue_log_to_file"] == "yes"
    assert sections(out / "logger.conf")["logfiles"]
    for name in ("cdr_pgsql.conf", "cel_pgsql.conf", "res_pgsql.conf"):
        assert (out / name).stat().st_mode & 0o007 == 0, name
    assert "ledger: asterisk@db.example:5433/callcenter" in output
    assert "ledger-pw" not in output


def test_a_database_without_password_renders_no_password_line() -> None:
    db = ledger_db("postgresql+asyncpg://postgres@127.0.0.1/test")
    assert db == LedgerDb("127.0.0.1", 5432, "test", "postgres", None)
    inputs = ConfInputs(
        agi_url="agi://127.0.0.1:4573", default_queue="hotline-general",
        queues=("hotline-general",), transfer_targets={}, seats=(), trunk_host="127.0.0.2",
        ami_user="callcenter", ami_secret="s", ledger=db,
    )  # fmt: skip
    files = render(inputs)
    assert "password" not in files["cdr_pgsql.conf"].split("[global]")[1]
    assert "dbpass" not in files["res_pgsql.conf"]


def test_ledger_urls_asterisk_cannot_use_are_refused() -> None:
    assert ledger_db("sqlite+aiosqlite:///cc.db") is None
    for bad in (
        "mysql://u:p@h/db",
        "postgresql://h/db",  # no user
        "postgresql://u@h",  # no database
        "not a url",
    ):
        with pytest.raises(RenderError):
            ledger_db(bad)
    inputs = ConfInputs(
        agi_url="agi://127.0.0.1:4573", default_queue="hotline-general",
        queues=("hotline-general",), transfer_targets={}, seats=(), trunk_host="127.0.0.2",
        ami_user="callcenter", ami_secret="s",
        ledger=LedgerDb("h", 5432, "db", "u", "pw;x"),  # would start a comment
    )  # fmt: skip
    with pytest.raises(RenderError):
        render(inputs)


@pytest.mark.parametrize(
    "database_url",
    ["sqlite+aiosqlite:///cc.db", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"],
)
def test_the_ledger_defaults_to_the_services_own_database(database_url: str) -> None:
    settings = Settings(
        database_url=database_url,
        ami_nodes=[AmiNode(name="pbx1", secret=SecretStr(SECRET))],
        sip_secret=SecretStr(SIP),
    )
    content = DatabaseContent(
        seats=(ProvisionedSeat("1001", "PJSIP/1001", "pbx1"),),
        queues=("hotline-general",),
        default_queue="hotline-general",
        transfer_targets={},
    )
    rendering = plan(settings, RenderOptions(agi_url="agi://127.0.0.1:4573"), content)
    [node] = rendering.nodes
    assert node.inputs.ledger == rendering.ledger
    if database_url.startswith("sqlite"):
        assert rendering.ledger is None
    else:
        assert rendering.ledger == ledger_db(database_url)
        assert rendering.ledger is not None and rendering.ledger.dbname == "test"

"""`callcenter asterisk-conf render` for a real deployment: the provisioned seats (1,500
over two Asterisk nodes), one directory per node, manager.conf bound and opened where
the service connects from, every problem reported in one run, recording, and a
database that is read but never migrated."""

from __future__ import annotations

import asyncio
import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import event
from typer.testing import CliRunner

from callcenter import migrate
from callcenter.asterisk_conf import (
    DatabaseContent,
    ProvisionedSeat,
    RenderOptions,
    RenderProblems,
    plan,
    read_database,
    render,
    seat_password,
)
from callcenter.config import AmiNode, Settings
from callcenter.db import create_engine, session_factory
from callcenter.process.cli import app
from queues.repository import SeatRepository
from tests.agi.test_asterisk_conf import SIP, sections

NODES = json.dumps(
    [
        {"name": "pbx1", "host": "10.0.0.11", "secret": "s-one"},
        {"name": "pbx2", "host": "10.0.0.12", "username": "cc2", "secret": "s-two"},
    ]
)


async def _provision(url: str) -> None:
    """1,000 PJSIP seats on pbx1, 450 PJSIP and 50 Local seats on pbx2."""
    engine = create_engine(url)
    await migrate.upgrade(engine)
    repo = SeatRepository(session_factory(engine), lambda: datetime.now(UTC))
    skills = lambda _i: {"general": 3}  # noqa: E731
    await repo.provision(1000, 1001, skills, "PJSIP/{extension}", "pbx1")
    await repo.provision(450, 3001, skills, "PJSIP/{extension}", "pbx2")
    await repo.provision(50, 3451, skills, "Local/{extension}@agents/n", "pbx2")
    await engine.dispose()


def _env(url: str, **extra: str) -> dict[str, str]:
    return {
        "CALLCENTER_DATABASE_URL": url,
        "CALLCENTER_AMI_NODES": NODES,
        "CALLCENTER_SIP_SECRET": SIP,
        "CALLCENTER_AGI_HOST": "10.0.0.5",
        "CALLCENTER_AGI_ALLOWED_PEERS": '["10.0.0.0/24"]',
        **extra,
    }


def _endpoints(pjsip: Path) -> set[str]:
    return {
        name
        for name, bodies in sections(pjsip).items()
        if any(b.get("type") == "endpoint" for b in bodies) and name != "trunk"
    }


def test_1500_seats_on_two_nodes_give_two_configurations(database_url: str, tmp_path: Path) -> None:
    asyncio.run(_provision(database_url))
    out = tmp_path / "out"
    # the ledger as Asterisk on 10.0.0.x reaches it, not the service's 127.0.0.1
    ledger = ["--ledger-db", "postgresql://asterisk:pw@10.0.0.2/callcenter"]
    args = ["asterisk-conf", "render", "--out", str(out), "--json", *ledger]
    result = CliRunner().invoke(app, args, env=_env(database_url))
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert sorted(p.name for p in out.iterdir()) == ["pbx1", "pbx2"]

    assert _endpoints(out / "pbx1" / "pjsip.conf") == {str(n) for n in range(1001, 2001)}
    assert _endpoints(out / "pbx2" / "pjsip.conf") == {str(n) for n in range(3001, 3451)}
    [auth] = [b for b in sections(out / "pbx2" / "pjsip.conf")["3001"] if b["type"] == "auth"]
    assert auth["password"] == seat_password(SIP, "3001")

    dialled = re.findall(r"^exten => (\d+),1,Dial\(([^,]+),30\)", _read(out, "pbx2"), re.M)
    assert len(dialled) == 500
    assert ("3451", "Local/3451@agents/n") in dialled and ("3001", "PJSIP/3001") in dialled
    assert "1001" not in dict(dialled)
    assert len(re.findall(r"^exten => \d+,1,Dial\(PJSIP/\d+,", _read(out, "pbx1"), re.M)) == 1000

    for node, user, secret in (("pbx1", "callcenter", "s-one"), ("pbx2", "cc2", "s-two")):
        [general] = sections(out / node / "manager.conf")["general"]
        assert general["bindaddr"] == f"10.0.0.1{node[-1]}"
        [body] = sections(out / node / "manager.conf")[user]
        assert body["secret"] == secret
        assert "permit = 10.0.0.5/255.255.255.255" in (out / node / "manager.conf").read_text()
    assert "s-two" not in (out / "pbx1" / "manager.conf").read_text()

    nodes = {n["node"]: n for n in document["nodes"]}
    assert (nodes["pbx1"]["seats"], nodes["pbx1"]["pjsip_endpoints"]) == (1000, 1000)
    assert (nodes["pbx2"]["seats"], nodes["pbx2"]["pjsip_endpoints"]) == (500, 450)
    assert nodes["pbx2"]["ami"]["service_address"] == "10.0.0.5"
    assert "10.0.0.12:5038 from 10.0.0.5" in nodes["pbx2"]["needs"]
    assert "manager.conf" in nodes["pbx2"]["files"]
    assert any("agents" in w for w in document["warnings"])  # Local seats' context
    assert "wrote" in result.stderr and "wrote" not in result.stdout


def _read(out: Path, node: str) -> str:
    return (out / node / "extensions.conf").read_text()


async def test_seats_are_read_in_one_query(database_url: str) -> None:
    await _provision(database_url)
    engine = create_engine(database_url)
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", seen)
    try:
        content = await read_database(engine, Settings(database_url=database_url))
    finally:
        await engine.dispose()
    assert len(content.seats) == 1500
    assert len([s for s in statements if re.search(r"\bFROM seats\b", s)]) == 1


def test_an_unmigrated_database_is_refused_and_left_alone(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cc.db'}"
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["asterisk-conf", "render", "--out", str(out)], env=_env(url))
    assert result.exit_code == 2
    assert "run `callcenter db upgrade` first" in result.stderr
    assert "Traceback" not in result.output
    assert not out.exists()

    async def revision() -> str | None:
        engine = create_engine(url)
        try:
            return await migrate.current_revision(engine)
        finally:
            await engine.dispose()

    assert asyncio.run(revision()) is None


def test_a_database_without_seats_is_said_so(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cc.db'}"
    runner = CliRunner()
    assert runner.invoke(app, ["db", "upgrade"], env=_env(url)).exit_code == 0
    result = runner.invoke(app, ["asterisk-conf", "render", "--out", str(tmp_path / "o")],
                           env=_env(url))  # fmt: skip
    assert result.exit_code == 1
    assert "the database has no seats" in result.stderr
    assert "seats provision" in result.stderr
    assert not (tmp_path / "o").exists()


def test_every_problem_is_reported_in_one_run(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cc.db'}"
    nodes = '[{"name": "pbx1", "host": "10.0.0.11"}, {"name": "pbx2", "host": "pbx2.lan"}]'
    env = {
        "CALLCENTER_DATABASE_URL": url,
        "CALLCENTER_AMI_NODES": nodes,
        "CALLCENTER_AMI_PERMIT": '["10.0.0.300"]',
        "CALLCENTER_RECORDING_FORMAT": "mp3",
    }
    runner = CliRunner()
    for args in (
        ["db", "upgrade"],
        ["seats", "provision", "--count", "3"],
    ):
        assert runner.invoke(app, args, env=env).exit_code == 0
    asyncio.run(_seat_on_unknown_node(url))
    result = runner.invoke(app, ["asterisk-conf", "render", "--out", str(tmp_path / "o")], env=env)
    assert result.exit_code == 2
    said = result.stderr
    for expected in (
        "CALLCENTER_SIP_SECRET is not set",
        "node pbx1 has no secret",
        "node pbx2 has no secret",
        "node pbx2: host 'pbx2.lan' is a name",
        "AMI permit '10.0.0.300' is not an address",
        "cannot reach FastAGI at agi://127.0.0.1:4573",
        "seats 9001, 9002 are on node 'pbx9'",
        "CALLCENTER_RECORDING_FORMAT='mp3'",
    ):
        assert expected in said, expected
    assert not (tmp_path / "o").exists()


async def _seat_on_unknown_node(url: str) -> None:
    engine = create_engine(url)
    repo = SeatRepository(session_factory(engine), lambda: datetime.now(UTC))
    await repo.provision(2, 9001, lambda _i: {}, "PJSIP/{extension}", "pbx9")
    await engine.dispose()


CONTENT = DatabaseContent(
    seats=(ProvisionedSeat("1001", "PJSIP/1001", "pbx1"),),
    queues=("hotline-general", "hotline-housing"),
    default_queue="hotline-general",
    transfer_targets={"110": "police"},
)


def _settings(**kw: Any) -> Settings:
    kw.setdefault("ami_nodes", [AmiNode(name="pbx1", host="10.0.0.11", secret=SecretStr("s"))])
    kw.setdefault("agi_allowed_peers", ["10.0.0.11"])
    return Settings(sip_secret=SecretStr(SIP), agi_host="10.0.0.5", **kw)


def _manager(settings: Settings, options: RenderOptions | None = None) -> str:
    [node] = plan(settings, options or RenderOptions(), CONTENT).nodes
    return render(node.inputs)["manager.conf"]


def test_bind_and_permits_come_from_settings_node_and_options() -> None:
    text = _manager(_settings())
    assert "bindaddr = 10.0.0.11" in text and "permit = 10.0.0.5/255.255.255.255" in text
    assert "deny = ::/0" in text  # the IPv4 deny-all does not cover IPv6 clients

    text = _manager(_settings(ami_bindaddr="0.0.0.0", ami_permit=["10.0.1.0/24", "fd00::5"]))
    assert "bindaddr = 0.0.0.0" in text
    assert "permit = 10.0.1.0/255.255.255.0" in text and "permit = fd00::5/128" in text
    assert text.index("deny = ::/0") < text.index("permit = fd00::5/128")

    node = AmiNode(name="pbx1", host="10.0.0.11", secret=SecretStr("s"), bindaddr="10.0.0.11",
                   permit=["10.0.0.6"])  # fmt: skip
    text = _manager(_settings(ami_bindaddr="0.0.0.0", ami_nodes=[node]))
    assert "bindaddr = 10.0.0.11" in text and "permit = 10.0.0.6/255.255.255.255" in text

    options = RenderOptions(ami_bind="10.0.0.11", ami_permits=("10.0.0.7",))
    text = _manager(_settings(ami_bindaddr="0.0.0.0", ami_nodes=[node]), options)
    assert "permit = 10.0.0.7/255.255.255.255" in text
    assert "permit = 10.0.0.6" not in text


def test_a_node_on_this_host_binds_and_permits_loopback() -> None:
    settings = Settings(
        ami_nodes=[AmiNode(name="pbx1", secret=SecretStr("s"))], sip_secret=SecretStr(SIP)
    )
    text = _manager(settings)
    assert "bindaddr = 127.0.0.1" in text and "permit = 127.0.0.1/255.255.255.255" in text


@pytest.mark.parametrize(
    ("settings", "said"),
    [
        (dict(ami_bindaddr="127.0.0.1"), "cannot reach it"),
        (dict(ami_bindaddr="10.0.0.x"), "bindaddr '10.0.0.x' is not an IP address"),
        (dict(ami_permit=["nope"]), "AMI permit 'nope' is not an address"),
        (
            dict(ami_nodes=[AmiNode(name="pbx1", secret=SecretStr("s"))], ami_permit=["10.0.0.5"]),
            "not 127.0.0.1, where the service connects from",
        ),
        (dict(recording_pbx_dir="var/rec"), "CALLCENTER_RECORDING_PBX_DIR='var/rec'"),
        (dict(recording_pbx_dir="/var/../etc"), "CALLCENTER_RECORDING_PBX_DIR"),
    ],
)
def test_addresses_that_cannot_work_are_refused(settings: dict[str, Any], said: str) -> None:
    with pytest.raises(RenderProblems) as caught:
        plan(_settings(**settings), RenderOptions(), CONTENT)
    assert caught.value.configuration
    assert any(said in p.message for p in caught.value.problems), caught.value.problems


def test_ledger_on_loopback_is_refused_for_a_remote_node() -> None:
    options = RenderOptions(ledger_url="postgresql://asterisk:pw@127.0.0.1/cc")
    with pytest.raises(RenderProblems, match="cannot reach the ledger database"):
        plan(_settings(), options, CONTENT)
    plan(_settings(), RenderOptions(ledger_url="postgresql://asterisk:pw@10.0.0.2/cc"), CONTENT)


def test_calls_are_recorded_where_an_agent_answers() -> None:
    [node] = plan(_settings(timezone="Asia/Shanghai"), RenderOptions(), CONTENT).nodes
    files = render(node.inputs)
    queues = sections_of(files["queues.conf"])
    for name in ("hotline-general", "hotline-housing"):
        assert queues[name]["monitor-format"] == "wav"
    assert (
        " same => n,Set(MONITOR_FILENAME=/var/spool/asterisk/monitor/hotline/"
        "${STRFTIME(${EPOCH},Asia/Shanghai,%Y/%m/%d)}/${CHANNEL(linkedid)})\n"
        " same => n,Set(HOTLINE_QUEUED_AT=${EPOCH})\n"
        " same => n,Queue(${HOTLINE_QUEUE}," in files["extensions.conf"]
    )

    [node] = plan(_settings(recording_enabled=False), RenderOptions(), CONTENT).nodes
    files = render(node.inputs)
    assert "monitor-format" not in files["queues.conf"]
    assert "MONITOR_FILENAME=" not in files["extensions.conf"]


def sections_of(text: str) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    current: dict[str, str] = {}
    for line in text.splitlines():
        line = line.split(";", 1)[0].strip()
        if line.startswith("[") and line.endswith("]"):
            current = out.setdefault(line[1:-1], {})
        elif "=" in line:
            key, _, value = line.partition("=")
            current[key.strip()] = value.strip()
    return out


def test_a_node_fastagi_would_refuse_is_warned_about() -> None:
    rendering = plan(_settings(agi_allowed_peers=["10.0.9.0/24"]), RenderOptions(), CONTENT)
    assert any("not in CALLCENTER_AGI_ALLOWED_PEERS" in w for w in rendering.warnings)
    assert not plan(_settings(), RenderOptions(), CONTENT).warnings


def test_localhost_is_a_node_on_this_host() -> None:
    node = AmiNode(name="pbx1", host="localhost", secret=SecretStr("s"))
    settings = Settings(ami_nodes=[node], sip_secret=SecretStr(SIP))
    assert "bindaddr = 127.0.0.1" in _manager(settings)


@pytest.mark.parametrize("interface", ["PJSIP/10;02", "PJSIP/1002,60", "PJSIP/[1002]", "1002"])
def test_a_seat_asterisk_cannot_dial_is_rejected_by_name(interface: str) -> None:
    seats = (*CONTENT.seats, ProvisionedSeat("1002", interface, "pbx1"))
    content = DatabaseContent(seats, CONTENT.queues, CONTENT.default_queue, {})
    with pytest.raises(RenderProblems) as caught:
        plan(_settings(), RenderOptions(), content)
    assert not caught.value.configuration  # the data: exit 1
    [problem] = caught.value.problems
    assert "1002" in problem.message and "1001" not in problem.message

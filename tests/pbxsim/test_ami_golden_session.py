"""Replay the non-call AMI exchanges of the real-Asterisk transcripts against pbxsim.

Each client action recorded in the transcripts is sent byte for byte (the recorders
always sent CRLF) to a pbxsim AMI server configured with the transcripts' own
manager.conf; every frame Asterisk answered with (matched by ActionID) must come back
with the same field names, in the same order, with the same values. The only values
not compared are clocks: Ping's Timestamp and FullyBooted's Uptime/LastReload.

Covered here, because they need only the AMI server, AstDB and the CLI framing:
refused and accepted Login (ami.log 1), FullyBooted, Ping, an unknown action, Command
framing and Logoff (ami.log 8), DBPut/DBGet/DBGet-not-found/DBDel (ami-2.log 9), and
the Login/Logoff of ami-sip.log. Scenarios with calls and queues belong to the
telephony and app_queue replays.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from pbxsim.ami_server import AmiServer, ManagerUser, users_from_manager_conf
from pbxsim.astdb import AstDB
from pbxsim.clock import AsyncioScheduler
from pbxsim.events import EventBus
from pbxsim.manager_actions import register_manager_actions
from pbxsim.manager_api import ActionRegistry, CliRegistry
from tests.pbxsim.test_ami_server import TIMEOUT, AmiClient
from tests.pbxsim.transcript import (
    ClientAction,
    Scenario,
    ServerFrame,
    find_scenario,
    load_ami_log,
)

#: values that are clocks; their field names and positions are still compared
VOLATILE = {"Timestamp", "Uptime", "LastReload"}


def load_manager_conf(path: Path) -> dict[str, ManagerUser]:
    return users_from_manager_conf(path.read_text())


class Golden:
    def __init__(self, server: AmiServer, cli: CliRegistry) -> None:
        self.server = server
        self.cli = cli

    async def connect(self) -> AmiClient:
        return await AmiClient.connect(self.server.port)


@pytest.fixture
async def golden(transcripts_dir: Path) -> AsyncIterator[Golden]:
    loop = asyncio.get_running_loop()
    scheduler = AsyncioScheduler(loop, speed=1000.0, start=1_795_691_890.0)
    registry, cli = ActionRegistry(), CliRegistry()
    register_manager_actions(registry, scheduler=scheduler, cli=cli, astdb=AstDB())
    users = load_manager_conf(transcripts_dir / "config" / "manager.conf")
    server = AmiServer(scheduler, EventBus(), registry, users, cli, port=0, authtimeout=1e9)
    await server.start()
    yield Golden(server, cli)
    await server.stop()


def assert_same_frame(ours: bytes, theirs: ServerFrame) -> None:
    text = ours.decode("utf-8", "surrogateescape")
    assert text.endswith("\r\n\r\n"), ours
    fields = [line.partition(": ") for line in text[:-4].split("\r\n")]
    assert [k for k, _, _ in fields] == list(theirs.keys), (text, theirs)
    for (key, sep, value), (_, expected) in zip(fields, theirs.fields, strict=True):
        assert sep == ": "
        if key not in VOLATILE:
            assert value == expected, (key, text)
    if not VOLATILE & set(theirs.keys):
        assert ours == theirs.to_bytes()  # and therefore byte for byte


async def replay_action(client: AmiClient, scenario: Scenario, action: ClientAction) -> None:
    """Send one recorded action; compare what comes back with what Asterisk sent for it
    (its response, list items and list Complete; OriginateResponse is not ours)."""
    expected = [f for f in scenario.replies_to(action) if f.name != "OriginateResponse"]
    assert expected, f"nothing recorded for {action}"
    client.send_raw(action.to_bytes())
    for frame in expected:
        raw = await client.read_raw_frame()
        assert raw is not None, f"connection closed before {frame}"
        assert_same_frame(raw, frame)


async def test_refused_login_then_reconnect_login_and_ping(
    golden: Golden, transcripts_dir: Path
) -> None:
    scenarios = load_ami_log(transcripts_dir / "ami.log")
    refused, accepted = scenarios[0], scenarios[1]

    client = await golden.connect()
    banner = refused.frames[0]
    assert banner.kind == "banner" and client.banner == banner.to_bytes()
    (login,) = refused.actions
    await replay_action(client, refused, login)
    assert refused.frames[-1].kind == "eof"
    assert await client.read_raw_frame() is None  # Asterisk closed the socket too

    client = await golden.connect()
    assert client.banner == accepted.frames[0].to_bytes()
    login, ping = accepted.actions
    await replay_action(client, accepted, login)
    booted = accepted.events("FullyBooted")[0]
    raw = await client.read_raw_frame()
    assert raw is not None
    assert_same_frame(raw, booted)
    await replay_action(client, accepted, ping)
    await client.close()


async def test_unknown_action_command_framing_and_logoff(
    golden: Golden, transcripts_dir: Path
) -> None:
    scenarios = load_ami_log(transcripts_dir / "ami.log")
    last = find_scenario(scenarios, "bad action")
    by_name = {a.action: a for a in last.actions}

    # The queue engine owns the text of `queue show`; this replay owns the framing
    # around it. So the CLI command prints exactly the lines Asterisk printed, and the
    # response must frame them as Asterisk did (Message first, one Output per line,
    # the trailing blank line kept as an empty Output).
    recorded = last.response_to(by_name["Command"])
    assert recorded is not None
    printed = recorded.get_all("Output")

    def queue_show(words: list[str]) -> list[str]:
        assert words == ["hotline-general"]
        return printed

    golden.cli.register("queue show", queue_show)
    client = await golden.connect()
    await client.login(booted=True)
    for name in ("NoSuchAction", "Command", "Logoff"):
        await replay_action(client, last, by_name[name])
    assert last.frames[-1].kind == "eof"
    assert await client.read_raw_frame() is None


async def test_astdb_put_get_missing_delete(golden: Golden, transcripts_dir: Path) -> None:
    scenarios = load_ami_log(transcripts_dir / "ami-2.log")
    astdb = find_scenario(scenarios, "AstDB")
    db_actions = [a for a in astdb.actions if a.action.startswith("DB")]
    assert [a.action for a in db_actions] == ["DBPut", "DBGet", "DBGet", "DBDel"]
    client = await golden.connect()
    await client.login()
    for action in db_actions:
        await replay_action(client, astdb, action)
    await client.close()


async def test_sip_log_login_and_logoff(golden: Golden, transcripts_dir: Path) -> None:
    scenarios = load_ami_log(transcripts_dir / "sip" / "ami-sip.log")
    prologue, calls = scenarios
    client = await golden.connect()
    assert client.banner == prologue.frames[0].to_bytes()
    (login,) = prologue.actions
    await replay_action(client, prologue, login)
    raw = await client.read_raw_frame()
    assert raw is not None
    assert_same_frame(raw, prologue.events("FullyBooted")[0])
    logoff = calls.actions[-1]
    assert logoff.action == "Logoff"
    await replay_action(client, calls, logoff)
    assert await asyncio.wait_for(client.read_raw_frame(), TIMEOUT) is None


def test_manager_conf_of_the_transcripts_is_read(transcripts_dir: Path) -> None:
    users = load_manager_conf(transcripts_dir / "config" / "manager.conf")
    assert list(users) == ["callcenter"]
    user = users["callcenter"]
    assert user.secret == "rec-secret"
    assert user.readperm & user.writeperm  # both class lists parsed
    assert "originate" in user.write and "originate" not in user.read
    assert user.allow_multiple_login


def test_manager_conf_reader_details() -> None:
    users = users_from_manager_conf(
        "[general]\nenabled = yes\nallowmultiplelogin = no\n"
        "[a] ; comment\nsecret = s1\nread = call\nread = agent ; last wins\n"
        "[b]\nsecret=s2\nallowmultiplelogin=yes\n[nosecret]\nread=all\n"
    )
    assert sorted(users) == ["a", "b"]
    assert users["a"].read == "agent" and not users["a"].allow_multiple_login
    assert users["b"].allow_multiple_login and users["b"].readperm == 0

"""The AMI server over real sockets: sessions, login, framing, filtering, robustness.

The scheduler runs 1000x faster than real time so Asterisk's 1 s pause after a failed
Login costs 1 ms; no test asserts on elapsed time, only on order and content.
"""

from __future__ import annotations

import asyncio
import hashlib
import socket
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from typing import cast

import pytest

from pbxsim.ami_server import AmiServer, ManagerUser, get_perm, strings_to_mask
from pbxsim.astdb import AstDB
from pbxsim.clock import AsyncioScheduler
from pbxsim.events import EventBus
from pbxsim.manager_actions import (
    AstDBActions,
    CliFailed,
    CliShowUsage,
    CommandAction,
    parse_cli_args,
    register_manager_actions,
)
from pbxsim.manager_api import (
    ActionError,
    ActionRegistry,
    CliRegistry,
    Message,
    Request,
    list_complete,
    list_item,
    list_start,
    response,
)

Frame = list[tuple[str, str]]
TIMEOUT = 10.0  # a hang guard, not a timing assertion
START = 1_795_691_890.0


class AmiClient:
    """A minimal, strict AMI client for tests: frames are split on the blank line."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.banner = b""
        self._buf = b""

    @classmethod
    async def connect(cls, port: int) -> AmiClient:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        client = cls(reader, writer)
        client.banner = await asyncio.wait_for(reader.readline(), TIMEOUT)
        return client

    def send_raw(self, data: bytes) -> None:
        self.writer.write(data)

    def send(self, *headers: tuple[str, str]) -> None:
        self.send_raw("".join(f"{k}: {v}\r\n" for k, v in headers).encode() + b"\r\n")

    async def read_raw_frame(self) -> bytes | None:
        """The next message's bytes including its blank line, or None at EOF."""
        while b"\r\n\r\n" not in self._buf:
            chunk = await asyncio.wait_for(self.reader.read(65536), TIMEOUT)
            if not chunk:
                return None
            self._buf += chunk
        raw, self._buf = self._buf.split(b"\r\n\r\n", 1)
        return raw + b"\r\n\r\n"

    async def read_frame(self) -> Frame | None:
        raw = await self.read_raw_frame()
        if raw is None:
            return None
        text = raw[:-4].decode("utf-8", "surrogateescape")
        return [(k, v) for k, _, v in (line.partition(": ") for line in text.split("\r\n"))]

    async def expect_frame(self) -> Frame:
        frame = await self.read_frame()
        assert frame is not None, "connection closed"
        return frame

    async def expect_eof(self) -> None:
        frame = await self.read_frame()
        assert frame is None, f"expected EOF, got {frame}"

    async def login(
        self,
        user: str = "callcenter",
        secret: str = "rec-secret",
        *,
        booted: bool = True,
        **extra: str,
    ) -> list[Frame]:
        """Log in; also read FullyBooted when `booted` (the session takes system events)."""
        self.send(("Action", "Login"), ("Username", user), ("Secret", secret), *extra.items())
        frames = [await self.expect_frame()]
        accepted = frames[0][-1] == ("Message", "Authentication accepted")
        if accepted and booted and extra.get("Events", "on") != "off":
            frames.append(await self.expect_frame())
            assert frames[-1][0] == ("Event", "FullyBooted")
        return frames

    async def close(self) -> None:
        self.writer.close()
        try:
            await self.writer.wait_closed()
        except ConnectionError:
            pass


def transport_of(client: AmiClient) -> asyncio.Transport:
    """The client's socket transport (StreamWriter only types it as a WriteTransport)."""
    return cast(asyncio.Transport, client.writer.transport)


def keys(frame: Frame) -> list[str]:
    return [k for k, _ in frame]


@dataclass
class Env:
    server: AmiServer
    bus: EventBus
    registry: ActionRegistry
    cli: CliRegistry
    scheduler: AsyncioScheduler

    async def client(self) -> AmiClient:
        return await AmiClient.connect(self.server.port)

    async def logged_in(self, events: str | None = None) -> AmiClient:
        client = await self.client()
        frames = await (client.login() if events is None else client.login(Events=events))
        assert frames[0][0] == ("Response", "Success")
        return client


USERS: dict[str, ManagerUser | tuple[str, str | Iterable[str], str | Iterable[str]]] = {
    "callcenter": ("rec-secret", "all", "all"),
    "caller-only": ManagerUser("pw", read="call", write="call"),
    "single": ManagerUser("pw", read="all", write="all", allow_multiple_login=False),
}


async def make_env(**server_args: object) -> Env:
    loop = asyncio.get_running_loop()
    scheduler = AsyncioScheduler(loop, speed=1000.0, start=START)
    bus = EventBus()
    registry = ActionRegistry()
    cli = CliRegistry()
    register_manager_actions(registry, scheduler=scheduler, cli=cli, astdb=AstDB())
    args: dict[str, object] = {"port": 0, "authtimeout": 1e9, "boot_time": START - 5}
    args.update(server_args)
    server = AmiServer(scheduler, bus, registry, USERS, cli, **args)  # type: ignore[arg-type]
    await server.start()
    return Env(server, bus, registry, cli, scheduler)


@pytest.fixture
async def env() -> AsyncIterator[Env]:
    environment = await make_env()
    yield environment
    await environment.server.stop()


# --------------------------------------------------------------------------- login


async def test_banner_then_login_then_fully_booted(env: Env) -> None:
    client = await env.client()
    assert client.banner == b"Asterisk Call Manager/11.0.0\r\n"
    client.send(
        ("Action", "Login"),
        ("ActionID", "a1"),
        ("Username", "callcenter"),
        ("Secret", "rec-secret"),
    )
    assert await client.expect_frame() == [
        ("Response", "Success"),
        ("ActionID", "a1"),
        ("Message", "Authentication accepted"),
    ]
    booted = await client.expect_frame()
    assert keys(booted) == ["Event", "Privilege", "Uptime", "LastReload", "Status"]
    assert booted[1] == ("Privilege", "system,all")
    assert booted[4] == ("Status", "Fully Booted")
    assert int(booted[2][1]) >= 5  # booted 5 simulated seconds before the server start
    await client.close()


async def test_refused_login_answers_then_closes(env: Env) -> None:
    for user, secret in (("callcenter", "wrong"), ("nobody", "x"), ("", "")):
        client = await env.client()
        client.send(("Action", "Login"), ("ActionID", "r"), ("Username", user), ("Secret", secret))
        assert await client.expect_frame() == [
            ("Response", "Error"),
            ("ActionID", "r"),
            ("Message", "Authentication failed"),
        ]
        await client.expect_eof()


async def test_refused_login_ignores_what_the_client_sent_after_it(env: Env) -> None:
    client = await env.client()
    client.send(("Action", "Login"), ("Username", "callcenter"), ("Secret", "bad"))
    client.send(("Action", "Ping"), ("ActionID", "after"))
    assert (await client.expect_frame())[1] == ("Message", "Authentication failed")
    await client.expect_eof()


async def test_user_name_is_case_insensitive_secret_is_not(env: Env) -> None:
    client = await env.client()
    assert (await client.login(user="CallCenter"))[0][0] == ("Response", "Success")
    other = await env.client()
    assert (await other.login(secret="REC-SECRET"))[0][0] == ("Response", "Error")
    await client.close()


async def test_second_login_is_already_authenticated(env: Env) -> None:
    client = await env.logged_in()
    client.send(("Action", "Login"), ("Username", "callcenter"), ("Secret", "rec-secret"))
    assert await client.expect_frame() == [
        ("Response", "Success"),
        ("Message", "Already authenticated"),
    ]
    await client.close()


async def test_login_events_off_means_no_fully_booted_and_no_broadcasts(env: Env) -> None:
    client = await env.logged_in(events="off")
    env.bus.emit("Newchannel", "call", [("Channel", "Local/x")])
    client.send(("Action", "Ping"), ("ActionID", "p"))
    frame = await client.expect_frame()
    assert frame[:3] == [("Response", "Success"), ("ActionID", "p"), ("Ping", "Pong")]
    await client.close()


async def test_allowmultiplelogin_off_refuses_a_second_session(env: Env) -> None:
    first = await env.client()
    assert (await first.login(user="single", secret="pw"))[0][0] == ("Response", "Success")
    second = await env.client()
    second.send(("Action", "Login"), ("Username", "single"), ("Secret", "pw"))
    assert await second.expect_frame() == [
        ("Response", "Error"),
        ("Message", "Login Already In Use"),
    ]
    await second.expect_eof()
    await first.close()


async def test_challenge_md5_login(env: Env) -> None:
    client = await env.client()
    client.send(("Action", "Challenge"), ("ActionID", "c"), ("AuthType", "MD5"))
    frame = await client.expect_frame()
    assert keys(frame) == ["Response", "ActionID", "Challenge"]
    key = hashlib.md5((frame[2][1] + "rec-secret").encode()).hexdigest()
    client.send(("Action", "Login"), ("Username", "callcenter"), ("AuthType", "md5"), ("Key", key))
    assert (await client.expect_frame())[1] == ("Message", "Authentication accepted")
    assert (await client.expect_frame())[0] == ("Event", "FullyBooted")
    client.send(("Action", "Challenge"))
    assert await client.expect_frame() == [
        ("Response", "Error"),
        ("Message", "Must specify AuthType"),
    ]
    await client.close()


async def test_unauthenticated_session_is_dropped_after_authtimeout() -> None:
    # 300 simulated s = 0.3 s here: ample time for the second client to log in first
    environment = await make_env(authtimeout=300.0)
    try:
        idle = await environment.client()
        logged = await environment.logged_in()
        await idle.expect_eof()  # dropped without a word
        await asyncio.sleep(0.35)  # past the deadline for the logged-in one too
        logged.send(("Action", "Ping"))
        assert (await logged.expect_frame())[0] == ("Response", "Success")
        await logged.close()
    finally:
        await environment.server.stop()


async def test_authlimit_closes_extra_unauthenticated_connections() -> None:
    environment = await make_env(authlimit=2)
    try:
        waiting = [await environment.client() for _ in range(2)]
        reader, writer = await asyncio.open_connection("127.0.0.1", environment.server.port)
        assert await asyncio.wait_for(reader.read(), TIMEOUT) == b""  # not even a banner
        writer.close()
        await waiting[0].login()  # one logs in: room for one more
        extra = await environment.client()
        assert extra.banner.startswith(b"Asterisk Call Manager/")
        for client in (*waiting, extra):
            await client.close()
    finally:
        await environment.server.stop()


# --------------------------------------------------------------------------- errors


async def test_before_login_only_login_logoff_challenge(env: Env) -> None:
    client = await env.client()
    client.send(("Action", "Ping"), ("ActionID", "1"))
    assert await client.expect_frame() == [
        ("Response", "Error"),
        ("ActionID", "1"),
        ("Message", "Permission denied"),
    ]
    client.send(("Action", "NoSuchAction"))
    assert (await client.expect_frame())[1] == ("Message", "Permission denied")
    client.send(("ActionID", "2"))
    assert await client.expect_frame() == [
        ("Response", "Error"),
        ("ActionID", "2"),
        ("Message", "Missing action in request"),
    ]
    client.send(("Action", "Logoff"), ("ActionID", "3"))
    assert await client.expect_frame() == [
        ("Response", "Goodbye"),
        ("ActionID", "3"),
        ("Message", "Thanks for all the fish."),
    ]
    await client.expect_eof()


async def test_unknown_action_text(env: Env) -> None:
    client = await env.logged_in()
    client.send(("Action", "NoSuchAction"), ("ActionID", "x"))
    assert await client.expect_frame() == [
        ("Response", "Error"),
        ("ActionID", "x"),
        (
            "Message",
            "Invalid/unknown command: NoSuchAction. "
            "Use Action: ListCommands to show available commands.",
        ),
    ]
    await client.close()


async def test_write_class_is_enforced(env: Env) -> None:
    client = await env.client()
    await client.login(user="caller-only", secret="pw", booted=False)
    client.send(("Action", "DBPut"), ("Family", "f"), ("Key", "k"), ("Val", "v"))
    assert await client.expect_frame() == [("Response", "Error"), ("Message", "Permission denied")]
    client.send(("Action", "Ping"))
    assert (await client.expect_frame())[0] == ("Response", "Success")  # authority 0
    await client.close()


async def test_parse_errors_are_answered_and_the_session_goes_on(env: Env) -> None:
    client = await env.logged_in()
    client.send_raw(b"Action: Ping\r\nActionID: long\r\nX: " + b"z" * 2000 + b"\r\n\r\n")
    assert await client.expect_frame() == [
        ("Response", "Error"),
        ("ActionID", "long"),
        ("Message", "Failed to parse message: line too long"),
    ]
    client.send_raw(b"\r\n")
    assert await client.expect_frame() == [
        ("Response", "Error"),
        ("Message", "Missing action in request"),
    ]
    client.send(("Action", "Ping"), ("ActionID", "ok"))
    assert (await client.expect_frame())[1] == ("ActionID", "ok")
    await client.close()


async def test_handler_errors_become_error_responses(env: Env) -> None:
    def refuse(request: Request) -> list[Message]:
        raise ActionError("Interface not found")

    env.registry.register("QueuePause", refuse)
    client = await env.logged_in()
    client.send(("Action", "queuepause"), ("ActionID", "q"))
    assert await client.expect_frame() == [
        ("Response", "Error"),
        ("ActionID", "q"),
        ("Message", "Interface not found"),
    ]
    await client.close()


# --------------------------------------------------------------------------- ActionID


async def test_actionid_echo_rules(env: Env) -> None:
    client = await env.logged_in()
    client.send(("Action", "Ping"))
    assert keys(await client.expect_frame()) == ["Response", "Ping", "Timestamp"]
    client.send(("Action", "Ping"), ("ActionID", ""))
    assert keys(await client.expect_frame()) == ["Response", "Ping", "Timestamp"]
    client.send(("ActionID", "first"), ("Action", "Ping"), ("ActionID", "second"))
    assert (await client.expect_frame())[:2] == [("Response", "Success"), ("ActionID", "first")]
    await client.close()


async def test_ping_timestamp_is_simulated_time_with_six_decimals(env: Env) -> None:
    client = await env.logged_in()
    before = env.scheduler.now()
    client.send(("Action", "Ping"), ("ActionID", "t"))
    frame = await client.expect_frame()
    stamp = dict(frame)["Timestamp"]
    assert len(stamp.split(".")[1]) == 6
    assert before <= float(stamp) <= env.scheduler.now()
    await client.close()


async def test_list_framing_and_actionid_positions(env: Env) -> None:
    def show(request: Request) -> list[Message]:
        items = [list_item(request, "Item", [("N", str(n))]) for n in range(3)]
        return [
            list_start(request, "Items will follow"),
            *items,
            list_complete(request, "ItemsComplete", 3),
        ]

    env.registry.register("ShowItems", show)
    client = await env.logged_in()
    client.send(("Action", "ShowItems"), ("ActionID", "L"))
    ack = await client.expect_frame()
    assert ack == [
        ("Response", "Success"),
        ("ActionID", "L"),
        ("EventList", "start"),
        ("Message", "Items will follow"),
    ]
    items = [await client.expect_frame() for _ in range(3)]
    assert all(keys(i) == ["Event", "N", "ActionID"] for i in items)  # no Privilege
    assert await client.expect_frame() == [
        ("Event", "ItemsComplete"),
        ("ActionID", "L"),
        ("EventList", "Complete"),
        ("ListItems", "3"),
    ]
    await client.close()


# --------------------------------------------------------------------------- events


async def test_broadcast_events_carry_privilege_and_no_actionid(env: Env) -> None:
    client = await env.logged_in()
    env.bus.emit("QueueMemberPause", "agent", [("Queue", "q"), ("Paused", "1")])
    assert await client.expect_frame() == [
        ("Event", "QueueMemberPause"),
        ("Privilege", "agent,all"),
        ("Queue", "q"),
        ("Paused", "1"),
    ]
    await client.close()


async def test_privilege_is_written_in_asterisk_class_order(env: Env) -> None:
    client = await env.logged_in()
    env.bus.emit("Cdr", "cdr,reporting", [("A", "1")])  # perms[]: reporting before cdr
    assert (await client.expect_frame())[1] == ("Privilege", "reporting,cdr,all")
    await client.close()


async def test_a_handler_may_answer_later_and_the_session_waits(env: Env) -> None:
    loop = asyncio.get_running_loop()
    pending: list[asyncio.Future[list[Message]]] = []

    def slow(request: Request) -> asyncio.Future[list[Message]]:
        future: asyncio.Future[list[Message]] = loop.create_future()
        env.scheduler.call_later(
            5.0, lambda: future.set_result([response(request, "Originate successfully queued")])
        )
        pending.append(future)
        return future

    env.registry.register("SlowOriginate", slow)  # type: ignore[arg-type]
    client = await env.logged_in(events="off")
    client.send(("Action", "SlowOriginate"), ("ActionID", "o"))
    client.send(("Action", "Ping"), ("ActionID", "p"))
    assert (await client.expect_frame())[1:] == [
        ("ActionID", "o"),
        ("Message", "Originate successfully queued"),
    ]
    assert (await client.expect_frame())[1] == ("ActionID", "p")
    assert pending and pending[0].done()
    await client.close()


async def test_timestampevents_adds_a_timestamp_after_privilege() -> None:
    environment = await make_env(timestampevents=True)
    try:
        client = await environment.logged_in()
        before = environment.scheduler.now()
        environment.bus.emit("Newchannel", "call", [("Channel", "c")])
        frame = await client.expect_frame()
        assert keys(frame) == ["Event", "Privilege", "Timestamp", "Channel"]
        assert before <= float(frame[2][1]) <= environment.scheduler.now()
        await client.close()
    finally:
        await environment.server.stop()


async def test_events_are_filtered_by_read_class(env: Env) -> None:
    limited = await env.client()
    await limited.login(user="caller-only", secret="pw", booted=False)  # read=call
    env.bus.emit("AgentCalled", "agent", [("Queue", "q")])
    env.bus.emit("Newchannel", "call", [("Channel", "c")])
    assert (await limited.expect_frame())[0] == ("Event", "Newchannel")
    await limited.close()


async def test_events_action_sets_the_mask(env: Env) -> None:
    client = await env.logged_in()
    client.send(("Action", "Events"), ("ActionID", "e"), ("EventMask", "off"))
    assert await client.expect_frame() == [
        ("Response", "Success"),
        ("ActionID", "e"),
        ("Events", "Off"),
    ]
    env.bus.emit("Newchannel", "call", [("Channel", "c1")])
    client.send(("Action", "Events"), ("EventMask", "agent"))
    assert await client.expect_frame() == [("Response", "Success"), ("Events", "On")]
    env.bus.emit("Newchannel", "call", [("Channel", "c2")])
    env.bus.emit("AgentCalled", "agent", [("Queue", "q")])
    assert (await client.expect_frame())[0] == ("Event", "AgentCalled")
    client.send(("Action", "Events"), ("EventMask", ""))
    assert await client.expect_frame() == [("Response", "Error"), ("Message", "Invalid event mask")]
    await client.close()


async def test_events_of_an_action_follow_its_response(env: Env) -> None:
    def add(request: Request) -> list[Message]:
        env.bus.emit("QueueMemberAdded", "agent", [("Queue", "q")])
        return [response(request, "Added interface to queue")]

    env.registry.register("QueueAdd", add)
    client = await env.logged_in()
    client.send(("Action", "QueueAdd"), ("ActionID", "1"))
    client.send(("Action", "QueueAdd"), ("ActionID", "2"))
    frames = [await client.expect_frame() for _ in range(4)]
    assert [f[0][1] for f in frames] == [
        "Success",
        "Success",
        "QueueMemberAdded",
        "QueueMemberAdded",
    ]
    await client.close()


async def test_events_before_login_are_not_delivered(env: Env) -> None:
    client = await env.client()
    env.bus.emit("Newchannel", "call", [("Channel", "early")])
    await asyncio.sleep(0)
    await client.login()
    env.bus.emit("Newchannel", "call", [("Channel", "late")])
    assert (await client.expect_frame())[2] == ("Channel", "late")
    await client.close()


async def test_several_clients_each_get_every_event(env: Env) -> None:
    clients = [await env.logged_in() for _ in range(4)]
    for n in range(20):
        env.bus.emit("VarSet", "dialplan", [("Variable", "N"), ("Value", str(n))])
    for client in clients:
        values = [dict(await client.expect_frame())["Value"] for _ in range(20)]
        assert values == [str(n) for n in range(20)]
        await client.close()


def _small_buffers(sock: socket.socket, option: int, size: int = 4096) -> None:
    sock.setsockopt(socket.SOL_SOCKET, option, size)


async def test_a_client_that_stops_reading_is_disconnected_others_keep_going() -> None:
    environment = await make_env(max_output_bytes=64 * 1024)
    try:
        stuck = await environment.logged_in()
        transport_of(stuck).pause_reading()  # never reads again
        # small kernel buffers on both ends, so the test need not push megabytes
        _small_buffers(stuck.writer.transport.get_extra_info("socket"), socket.SO_RCVBUF)
        (stuck_session,) = environment.server.sessions.values()
        server_socket = stuck_session._writer.transport.get_extra_info("socket")
        _small_buffers(server_socket, socket.SO_SNDBUF)
        good = await environment.logged_in()
        received = 0
        total = 6000  # ~1.5 MB of events, far more than the stuck client may buffer
        filler = "x" * 200

        async def drain_good() -> None:
            nonlocal received
            while received < total:
                frame = await good.expect_frame()
                assert dict(frame)["Value"] == str(received)
                received += 1

        reader_task = asyncio.create_task(drain_good())
        for n in range(total):
            environment.bus.emit("VarSet", "dialplan", [("Filler", filler), ("Value", str(n))])
            if n % 50 == 0:
                await asyncio.sleep(0.001)  # let the loop move bytes, as a real PBX would
        await asyncio.wait_for(reader_task, TIMEOUT)
        assert received == total
        assert environment.server.stats.sessions_shed == 1
        assert len(environment.server.sessions) == 1  # only the good client remains
        # and the server still serves new clients
        late = await environment.logged_in()
        late.send(("Action", "Ping"))
        assert (await late.expect_frame())[0] == ("Response", "Success")
        for client in (good, late):
            await client.close()
        stuck.writer.transport.abort()
    finally:
        await environment.server.stop()


# --------------------------------------------------------------------------- robustness


async def test_partial_frames_byte_by_byte(env: Env) -> None:
    client = await env.client()
    data = (
        b"Action: Login\r\nUsername: callcenter\r\nSecret: rec-secret\r\nEvents: off\r\n\r\n"
        b"Action: Ping\nActionID: slow\n\n"
    )
    for i in range(len(data)):
        client.send_raw(data[i : i + 1])
        await client.writer.drain()
        await asyncio.sleep(0)
    assert (await client.expect_frame())[-1] == ("Message", "Authentication accepted")
    assert (await client.expect_frame())[:2] == [("Response", "Success"), ("ActionID", "slow")]
    await client.close()


async def test_utf8_split_across_writes_is_echoed_intact(env: Env) -> None:
    client = await env.logged_in()
    data = "Action: Ping\r\nActionID: 市民热线-12345\r\n\r\n".encode()
    cut = data.index("热".encode()) + 2
    client.send_raw(data[:cut])
    await client.writer.drain()
    await asyncio.sleep(0.01)
    client.send_raw(data[cut:])
    raw = await client.read_raw_frame()
    assert raw is not None
    assert b"ActionID: " + "市民热线-12345".encode() + b"\r\n" in raw
    await client.close()


async def test_disconnect_mid_action_leaves_the_server_serving(env: Env) -> None:
    quitter = await env.logged_in()
    quitter.send_raw(b"Action: DBPut\r\nFamily: f\r\nKe")
    await quitter.writer.drain()
    quitter.writer.transport.abort()
    other = await env.logged_in()
    other.send(("Action", "Ping"), ("ActionID", "still-here"))
    assert (await other.expect_frame())[1] == ("ActionID", "still-here")
    env.bus.emit("Newchannel", "call", [("Channel", "c")])  # no write to the dead session
    assert (await other.expect_frame())[0] == ("Event", "Newchannel")
    for _ in range(100):
        if len(env.server.sessions) == 1:
            break
        await asyncio.sleep(0.01)
    assert len(env.server.sessions) == 1
    await other.close()


async def test_flood_of_ten_thousand_pings(env: Env) -> None:
    client = await env.logged_in(events="off")
    count = 10_000
    client.send_raw(b"".join(b"Action: Ping\r\nActionID: %d\r\n\r\n" % n for n in range(count)))
    for n in range(count):
        frame = await client.expect_frame()
        assert frame[1] == ("ActionID", str(n))
    assert env.server.stats.actions >= count
    await client.close()


async def _tight_env() -> tuple[Env, AmiClient]:
    """A server with small output bounds and a logged-in client whose kernel buffers
    (both ends) are small, so pacing and shedding show up without megabytes of data."""
    environment = await make_env(max_output_bytes=256 * 1024, high_water=32 * 1024)
    client = await environment.logged_in(events="off")
    # 64 KiB, not less: tinier loopback buffers make TCP crawl (delayed ACKs)
    _small_buffers(transport_of(client).get_extra_info("socket"), socket.SO_RCVBUF, 65536)
    (session,) = environment.server.sessions.values()
    _small_buffers(session._writer.transport.get_extra_info("socket"), socket.SO_SNDBUF, 65536)
    return environment, client


async def test_flooding_client_that_does_not_read_is_paced_not_shed() -> None:
    environment, client = await _tight_env()
    try:
        transport_of(client).pause_reading()
        count = 20_000
        client.send_raw(b"Action: Ping\r\nActionID: 0123456789\r\n\r\n" * count)  # 800 KB
        for _ in range(20):
            await asyncio.sleep(0.005)
        # the server stopped reading this client instead of queueing ~1.4 MB of replies
        assert environment.server.stats.sessions_shed == 0
        assert environment.server.stats.actions < count
        transport_of(client).resume_reading()
        for _ in range(count):
            await client.expect_frame()
        assert environment.server.stats.sessions_shed == 0
        await client.close()
    finally:
        await environment.server.stop()


async def test_large_replies_are_paced_per_message_not_shed() -> None:
    environment, client = await _tight_env()
    blob = "b" * 100_000

    def big(request: Request) -> list[Message]:
        return [response(request, None, extra=[("Blob", blob)])]

    environment.registry.register("Big", big)
    try:
        count = 40  # 4 MB of replies to one small write: 16 times max_output_bytes
        client.send_raw(b"".join(b"Action: Big\r\nActionID: %d\r\n\r\n" % n for n in range(count)))
        for n in range(count):
            frame = await client.expect_frame()
            assert frame[1] == ("ActionID", str(n)) and len(frame[2][1]) == len(blob)
        assert environment.server.stats.sessions_shed == 0
        await client.close()
    finally:
        await environment.server.stop()


# --------------------------------------------------------------------------- masks


def test_strings_to_mask_follows_manager_c() -> None:
    assert strings_to_mask("") == -1
    assert strings_to_mask("off") == 0 and strings_to_mask("No") == 0
    assert strings_to_mask("on") == 0x7FFFFFFF and strings_to_mask("YES") == 0x7FFFFFFF
    assert strings_to_mask("1") == 1  # digits are a number first: system only
    assert strings_to_mask("call,agent") == get_perm("call") | get_perm("agent")
    assert strings_to_mask("bogus") == 0


def test_get_perm_has_asterisks_prefix_quirk() -> None:
    call, cdr, cc = get_perm("call"), get_perm("cdr"), get_perm("cc")
    # every token but the last is compared on its own length: "c" matches all c* classes
    assert get_perm("c,agent") & (call | cdr | cc) == call | cdr | cc
    assert get_perm("agent,c") == get_perm("agent")  # the last token must match exactly
    assert get_perm("all") == 0x7FFFFFFF
    assert get_perm("system,call") == 0b11


# --------------------------------------------------------------------------- panoramisk


async def test_panoramisk_logs_in_and_gets_a_ping_reply(env: Env) -> None:
    from panoramisk import Manager

    manager = Manager(
        host="127.0.0.1",
        port=env.server.port,
        username="callcenter",
        secret="rec-secret",
        ping_delay=3600,
        ping_interval=3600,
    )
    try:
        await asyncio.wait_for(manager.connect(), TIMEOUT)
        await asyncio.wait_for(manager.authenticated_future, TIMEOUT)
        assert manager.authenticated
        reply = await asyncio.wait_for(manager.send_action({"Action": "Ping"}), TIMEOUT)
        assert reply.Response == "Success" and reply.Ping == "Pong"
        put = await asyncio.wait_for(
            manager.send_action({"Action": "DBPut", "Family": "f", "Key": "k", "Val": "v"}),
            TIMEOUT,
        )
        assert put.Message == "Updated database successfully"
        got = await asyncio.wait_for(
            manager.send_action({"Action": "DBGet", "Family": "f", "Key": "k"}), TIMEOUT
        )
        assert [m.get("Event") for m in got] == [None, "DBGetResponse", "DBGetComplete"]
        assert got[1].Val == "v"
    finally:
        manager.close()


# --------------------------------------------------------------------------- AstDB


def _db_request(action: str, **headers: str) -> Request:
    return Request((("Action", action), ("ActionID", "d"), *headers.items()))


def test_astdb_uses_asterisks_like_semantics() -> None:
    db = AstDB()
    assert db.put("hotline-legacy", "043262345678", "social-security")
    assert db.put("Hotline-Legacy", "000", "upper")
    assert db.put("hotline-legacyX", "1", "other family")
    assert db.get("hotline-legacy", "043262345678") == "social-security"
    assert db.get("hotline-legacy", "000") is None  # get is an exact key match
    # the tree statements use LIKE: ASCII case-insensitive, family boundary kept
    assert [k for k, _ in db.gettree("hotline-legacy")] == [
        "/Hotline-Legacy/000",
        "/hotline-legacy/043262345678",
    ]
    assert db.deltree("HOTLINE-LEGACY") == 2
    assert len(db) == 1
    assert db.deltree("h_tline-legacyX") == 1  # "_" is a LIKE wildcard, as in Asterisk
    assert db.deltree("nothing") == 0


def test_astdb_limits() -> None:
    db = AstDB()
    assert not db.put("f" * 200, "k" * 54, "v")  # 200 + 54 + 2 > 255
    assert db.put("f" * 200, "k" * 53, "v")
    assert db.put("f", "k", "v" * 400)
    assert db.get("f", "k") == "v" * 400
    assert db.get("f", "k", limit=255) == "v" * 255
    assert not db.delete("f", "missing")
    assert db.delete("f", "k") and db.get("f", "k") is None


def test_db_actions_texts() -> None:
    actions = AstDBActions(AstDB())
    assert actions.put(_db_request("DBPut", Key="k"))[0][-1] == ("Message", "No family specified")
    assert actions.put(_db_request("DBPut", Family="f"))[0][-1] == ("Message", "No key specified")
    assert actions.get(_db_request("DBGet", Key="k"))[0][-1] == ("Message", "No family specified.")
    assert actions.put(_db_request("DBPut", Family="f", Key="k"))[0][-1] == (
        "Message",
        "Updated database successfully",
    )
    (ack, item, done) = actions.get(_db_request("DBGet", Family="f", Key="k"))
    assert item == [
        ("Event", "DBGetResponse"),
        ("Family", "f"),
        ("Key", "k"),
        ("Val", ""),
        ("ActionID", "d"),
    ]
    assert done[-2:] == [("EventList", "Complete"), ("ListItems", "1")]
    (ack, *items, done) = actions.get_tree(_db_request("DBGetTree", Family="f"))
    assert ack[-1] == ("Message", "Result will follow")
    assert [i[1] for i in items] == [("Key", "/f/k")] and done[0] == ("Event", "DBGetTreeComplete")
    assert actions.delete(_db_request("DBDel", Family="f", Key="x"))[0][-1] == (
        "Message",
        "Database entry could not be deleted",
    )
    assert actions.delete_tree(_db_request("DBDelTree", Family="none"))[0][-1] == (
        "Message",
        "Database entry not found",
    )
    assert actions.delete_tree(_db_request("DBDelTree", Family="f"))[0][-1] == (
        "Message",
        "Key tree deleted successfully",
    )


# --------------------------------------------------------------------------- Command


def _command(cli: CliRegistry, command: str | None) -> Message:
    headers: list[tuple[str, str]] = [("Action", "Command"), ("ActionID", "c")]
    if command is not None:
        headers.append(("Command", command))
    (reply,) = CommandAction(cli)(Request(tuple(headers)))
    return reply


def test_command_framing_errors_and_blacklist() -> None:
    cli = CliRegistry()
    cli.register("core show channels", lambda words: ["Channel  Location", "0 active channels"])
    assert _command(cli, None) == [
        ("Response", "Error"),
        ("ActionID", "c"),
        ("Message", "No command provided"),
    ]
    assert _command(cli, "module   load x")[-1] == ("Message", "Command blacklisted")
    assert _command(cli, "Restart gracefully")[-1] == ("Message", "Command blacklisted")
    assert _command(cli, "module show")[-1] != ("Message", "Command blacklisted")
    assert _command(cli, "core show channels") == [
        ("Response", "Success"),
        ("ActionID", "c"),
        ("Message", "Command output follows"),
        ("Output", "Channel  Location"),
        ("Output", "0 active channels"),
    ]


def test_unknown_cli_command_text() -> None:
    cli = CliRegistry()
    cli.register("core show channels", lambda words: [])
    cli.register("queue show", lambda words: [])
    reply = _command(cli, "queue shwo hotline")
    assert reply[0] == ("Response", "Error")
    assert reply[2:] == [
        ("Message", "Command output follows"),
        (
            "Output",
            "No such command 'queue shwo hotline' "
            "(type 'core show help queue' for other possible commands)",
        ),
    ]


def test_cli_usage_and_failure_are_errors_with_output() -> None:
    def usage(words: list[str]) -> list[str]:
        raise CliShowUsage("Usage: queue show\n       Provides summary information.\n")

    def failed(words: list[str]) -> list[str]:
        raise CliFailed(["partial"])

    cli = CliRegistry()
    cli.register("queue show", usage)
    cli.register("queue reset stats", failed)
    assert _command(cli, "queue show")[2:] == [
        ("Message", "Command output follows"),
        ("Output", "Usage: queue show"),
        ("Output", "       Provides summary information."),
    ]
    reply = _command(cli, "queue reset stats")
    assert reply[0] == ("Response", "Error")
    assert reply[-2:] == [("Output", "partial"), ("Output", "Command 'queue reset stats' failed.")]


def test_cli_args_are_parsed_like_asterisk() -> None:
    assert parse_cli_args('  queue show "hotline general" a\\ b') == [
        "queue",
        "show",
        "hotline general",
        "a b",
    ]
    assert parse_cli_args('""') == [""]
    assert parse_cli_args("\t") == []

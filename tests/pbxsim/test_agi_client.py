"""The Asterisk side of FastAGI, replayed against the real sessions byte for byte.

A fake FastAGI server plays the `>>>` side of each transcript; the session under test
must send exactly the `<<<` bytes: environment block, replies, `HANGUP`, `511`, `520-`.
The caller's behaviour (a key press, a hangup) is scheduled when the server sends the
command that waits for it, at the delay the transcript shows.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest

from pbxsim.agi_client import (
    FAILURE,
    HANGUP,
    NOTFOUND,
    SUCCESS,
    USAGE,
    FastAgiSession,
    parse_agi_url,
    parse_command_args,
    start_fastagi,
)
from pbxsim.astdb import AstDB
from pbxsim.channel import UP, Channel
from pbxsim.clock import AsyncioScheduler, Scheduler
from pbxsim.dialplan import Scope, assign, substitute
from tests.pbxsim.transcript import AgiSession, load_agi_log

SPEED = 20.0  # simulated seconds per real second: keeps the replays short


class FakeHost:
    """An `AgiHost` over a plain Channel, with the dialplan evaluator behind variables."""

    def __init__(self, channel: Channel, scheduler: Scheduler) -> None:
        self.channel = channel
        self.scheduler = scheduler
        self.db = AstDB()
        self.varsets: list[tuple[str, str]] = []
        self.scope = Scope.for_channel(
            channel, now=scheduler.now, db=self.db, on_set=lambda n, v: self.varsets.append((n, v))
        )
        self._hangup: list[Callable[[], None]] = []
        self._dtmf: list[Callable[[str], None]] = []
        self.sounds = {"beep": 0.3, "digits/1": 0.4, "digits/2": 0.4}
        self.gotos: list[tuple[str | None, str | None, int | None]] = []
        self.apps: list[tuple[str, str]] = []
        self.agi_events: list[tuple[str, list[tuple[str, str]]]] = []

    def get_variable(self, name: str) -> str | None:
        if name.endswith(")"):
            return self.scope.read_function(name)
        return self.scope.variable(name)

    def set_variable(self, name: str, value: str) -> None:
        assign(self.scope, name, value)

    def agi_event(self, name: str, fields: list[tuple[str, str]]) -> None:
        self.agi_events.append((name, fields))

    def substitute(self, text: str, channel_name: str | None = None) -> str | None:
        if channel_name is not None and channel_name != self.channel.name:
            return None
        return substitute(text, self.scope)

    def answer(self) -> int:
        self.channel.state = UP
        return 0

    def hangup(self, channel_name: str | None = None) -> bool:
        if channel_name not in (None, self.channel.name):
            return False
        self.caller_hangs_up()
        return True

    def is_hung_up(self) -> bool:
        return self.channel.hungup

    def channel_state(self, channel_name: str) -> int | None:
        return self.channel.state if channel_name == self.channel.name else None

    def on_hangup(self, callback: Callable[[], None]) -> Callable[[], None]:
        self._hangup.append(callback)
        return lambda: self._hangup.remove(callback)

    def on_dtmf(self, callback: Callable[[str], None]) -> Callable[[], None]:
        self._dtmf.append(callback)
        return lambda: self._dtmf.remove(callback)

    def sound_length(self, name: str) -> float | None:
        return self.sounds.get(name)

    def exec_app(self, app: str, data: str, done: Callable[[int], None]) -> bool:
        if app.lower() != "wait":
            return False
        self.apps.append((app, data))
        self.scheduler.call_later(float(data), done, 0)
        return True

    def explicit_goto(self, context: str | None, exten: str | None, priority: int | None) -> None:
        self.gotos.append((context, exten, priority))

    def find_label(self, label: str) -> int | None:
        return 9 if label == "fallback" else None

    def music_on_hold(self, on: bool, moh_class: str | None) -> None:
        pass

    def locate(self, context: str, exten: str, priority: str) -> int | None:
        known = {("sub", "s", "1"): 1, ("sub", "s", "start"): 1, ("sub", "s", "bad"): 3}
        return known.get((context, exten, priority))

    def run_subroutine(
        self,
        context: str,
        exten: str,
        priority: int,
        args: str | None,
        done: Callable[[bool], None],
    ) -> int:
        self.apps.append(("Gosub", f"{context},{exten},{priority}({args or ''})"))
        self.scheduler.call_later(0.5, done, priority == 1)
        return 0

    # the simulated caller
    def press(self, digit: str) -> None:
        for callback in list(self._dtmf):
            callback(digit)

    def caller_hangs_up(self) -> None:
        if not self.channel.hungup:
            self.channel.hungup = True
            for callback in list(self._hangup):
                callback()


def channel_from_env(session: AgiSession) -> Channel:
    env = dict(session.env)
    ch = Channel(
        env["agi_channel"],
        env["agi_uniqueid"],
        env["agi_uniqueid"],
        env["agi_context"],
        env["agi_extension"],
        priority=int(env["agi_priority"]),
        state=UP,  # the dialplans answer before AGI()
        caller_num=env["agi_callerid"],
        caller_name=env["agi_calleridname"],
        language=env["agi_language"],
        dnid="" if env["agi_dnid"] == "unknown" else env["agi_dnid"],
    )
    return ch


async def read_reply(reader: asyncio.StreamReader, count: int) -> bytes:
    data = b""
    for _ in range(count):
        data += await asyncio.wait_for(reader.readline(), 5)
    return data


async def replay(
    transcript: AgiSession,
    actions: dict[int, Callable[[FakeHost], None]],
) -> tuple[str, FakeHost, list[bytes]]:
    """Serve the transcript's commands; return AGISTATUS, the host, and what differed."""
    loop = asyncio.get_running_loop()
    scheduler = AsyncioScheduler(loop, speed=SPEED)
    host = FakeHost(channel_from_env(transcript), scheduler)
    received: list[bytes] = []
    mismatches: list[bytes] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        env = b""
        while not env.endswith(b"\n\n"):
            env += await asyncio.wait_for(reader.readline(), 5)
        received.append(env)
        if env != transcript.env_bytes():
            mismatches.append(env)
        for index, exchange in enumerate(transcript.exchanges):
            writer.write(exchange.command.encode() + b"\n")
            await writer.drain()
            if index in actions:
                actions[index](host)
            reply = await read_reply(reader, len(exchange.replies))
            received.append(reply)
            if reply != exchange.reply_bytes():
                mismatches.append(reply)
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    env = dict(transcript.env)
    args = [v for k, v in transcript.env if k.startswith("agi_arg_")]
    session = FastAgiSession(
        host,
        env["agi_request"],
        args,
        threadid=int(env["agi_threadid"]),
        connect_to=("127.0.0.1", port),
    )
    status = await asyncio.wait_for(session.run(), 10)
    server.close()
    await server.wait_closed()
    return status, host, mismatches


def press_after(seconds: float, digit: str) -> Callable[[FakeHost], None]:
    def action(host: FakeHost) -> None:
        host.scheduler.call_later(seconds, host.press, digit)

    return action


def hangup_after(seconds: float) -> Callable[[FakeHost], None]:
    def action(host: FakeHost) -> None:
        host.scheduler.call_later(seconds, host.caller_hangs_up)

    return action


@pytest.mark.parametrize("name", ["agi-1.log", "agi-2.log", "agi-3.log"])
async def test_incoming_ivr_sessions(transcripts_dir: Path, name: str) -> None:
    transcript = load_agi_log(transcripts_dir / name)
    status, host, mismatches = await replay(transcript, {1: press_after(1.7, "1")})
    assert mismatches == []
    assert status == SUCCESS
    assert ("HOTLINE_QUEUE", "hotline-general") in host.varsets
    assert host.channel.variables["HOTLINE_ACTION"] == "queue"


async def test_caller_hangs_up_during_get_data(transcripts_dir: Path) -> None:
    """agi-4.log: `200 result=-1`, then the unsolicited HANGUP, then 511 in dead mode."""
    transcript = load_agi_log(transcripts_dir / "agi-4.log")
    status, host, mismatches = await replay(transcript, {1: hangup_after(2.0)})
    assert mismatches == []
    assert status == HANGUP  # the AGI application then returns -1
    assert host.channel.variables["HOTLINE_ACTION"] == "hangup"  # SET VARIABLE runs dead


async def test_survey_session(transcripts_dir: Path) -> None:
    transcript = load_agi_log(transcripts_dir / "agi-2-1.log")
    status, host, mismatches = await replay(transcript, {0: press_after(1.7, "2")})
    assert mismatches == []
    assert status == SUCCESS
    assert host.channel.variables["SURVEY_RESULT"] == "2"


@pytest.mark.parametrize("name", ["agi-sip-1.log", "agi-sip-2.log"])
async def test_sip_sessions(transcripts_dir: Path, name: str) -> None:
    transcript = load_agi_log(transcripts_dir / "sip" / name)
    status, host, mismatches = await replay(transcript, {1: press_after(1.1, "1")})
    assert mismatches == []
    assert status == SUCCESS
    assert host.channel.variables["HOTLINE_ROUTED"] == "1"


async def test_stream_file_usage_is_asterisks_text(transcripts_dir: Path) -> None:
    transcript = load_agi_log(transcripts_dir / "agi-1.log")
    block = next(e for e in transcript.exchanges if e.command == "STREAM FILE")
    lines = [r.text for r in block.replies]
    assert lines[0] == "520-Invalid command syntax.  Proper usage follows:"
    assert "\n".join(lines[1:-1]) == USAGE["stream file"]
    assert lines[-1] == "520 End of proper usage."


# ------------------------------------------------------------------ scripted sessions


class Server:
    """A FastAGI server driven step by step by the test."""

    def __init__(self) -> None:
        self.connected: asyncio.Future[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = (
            asyncio.get_running_loop().create_future()
        )
        self.env = b""

    async def start(self) -> int:
        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            while not self.env.endswith(b"\n\n"):
                line = await reader.readline()
                if not line:
                    break
                self.env += line
            self.connected.set_result((reader, writer))

        self.server = await asyncio.start_server(serve, "127.0.0.1", 0)
        return int(self.server.sockets[0].getsockname()[1])

    async def ask(self, command: str, lines: int = 1) -> str:
        reader, writer = await asyncio.wait_for(self.connected, 5)
        writer.write(command.encode() + b"\n")
        await writer.drain()
        return (await read_reply(reader, lines)).decode()

    async def read_line(self) -> str:
        reader, _ = await asyncio.wait_for(self.connected, 5)
        return (await asyncio.wait_for(reader.readline(), 5)).decode()

    async def close(self) -> None:
        _, writer = await asyncio.wait_for(self.connected, 5)
        writer.close()
        self.server.close()


def make_host() -> FakeHost:
    scheduler = AsyncioScheduler(asyncio.get_running_loop(), speed=SPEED)
    ch = Channel(
        "PJSIP/trunk-00000000",
        "1795692697.0",
        "1795692697.0",
        "from-trunk",
        "043262345678",
        priority=3,
        state=UP,
        caller_num="1390001",
        caller_name="caller",
        dnid="043262345678",
    )
    return FakeHost(ch, scheduler)


async def start(host: FakeHost, **kwargs: object) -> tuple[Server, asyncio.Future[str]]:
    server = Server()
    port = await server.start()
    statuses: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    session = FastAgiSession(host, f"agi://127.0.0.1:{port}/incoming?x=1", ["a", ""], **kwargs)  # type: ignore[arg-type]
    start_fastagi(session, statuses.set_result)
    return server, statuses


async def test_environment_of_a_pjsip_channel_with_empty_args() -> None:
    host = make_host()
    server, status = await start(host)
    await server.ask("NOOP")
    env = server.env.decode()
    assert env.startswith("agi_network: yes\nagi_network_script: incoming?x=1\nagi_request: ")
    assert "agi_type: PJSIP\n" in env and "agi_dnid: 043262345678\n" in env
    assert env.endswith("agi_arg_1: a\nagi_arg_2: \n\n")  # empty args are still sent
    await server.close()
    assert await asyncio.wait_for(status, 5) == SUCCESS


async def test_garbage_and_usage_errors() -> None:
    host = make_host()
    server, status = await start(host)
    assert await server.ask("NOOPX") == "510 Invalid or unknown command\n"
    assert await server.ask("") == "510 Invalid or unknown command\n"
    assert await server.ask("GET") == "510 Invalid or unknown command\n"
    assert await server.ask("answer\r") == "510 Invalid or unknown command\n"
    usage = await server.ask("GET VARIABLE", 1 + len(USAGE["get variable"].split("\n")) + 1)
    assert usage.startswith("520-Invalid command syntax.  Proper usage follows:\n")
    assert usage.endswith(USAGE["get variable"] + "\n520 End of proper usage.\n")
    assert await server.ask("SET VARIABLE ONLYNAME", 3) == (
        "520-Invalid command syntax.  Proper usage follows:\n"
        "Sets a variable to the current channel.\n520 End of proper usage.\n"
    )
    assert await server.ask('set variable X "a b\\"c"') == "200 result=1\n"  # case-insensitive
    assert host.channel.variables["X"] == 'a b"c'
    assert await server.ask("GET VARIABLE X") == '200 result=1 (a b"c)\n'
    assert await server.ask("GET VARIABLE NOPE") == "200 result=0\n"
    assert await server.ask("GET FULL VARIABLE ${EXTEN:-4}") == "200 result=1 (5678)\n"
    assert await server.ask("GET FULL VARIABLE x OtherChannel") == "200 result=0\n"
    assert await server.ask("CHANNEL STATUS") == "200 result=6\n"
    assert await server.ask("CHANNEL STATUS nosuch") == "200 result=-1\n"
    assert await server.ask("DATABASE PUT did 043262345678 hotline-general") == "200 result=1\n"
    assert await server.ask("DATABASE GET did 043262345678") == "200 result=1 (hotline-general)\n"
    assert await server.ask("DATABASE DEL did 043262345678") == "200 result=1\n"
    assert await server.ask("DATABASE GET did 043262345678") == "200 result=0\n"
    assert await server.ask("EXEC NoSuchApp x") == "200 result=-2\n"
    assert await server.ask("EXEC Wait 0.5") == "200 result=0\n"
    assert await server.ask("SET PRIORITY fallback") == "200 result=0\n"
    assert host.gotos == [(None, None, 9)]
    assert await server.ask("WAIT FOR DIGIT 100") == "200 result=0\n"
    assert await server.ask("GOSUB sub s start a,b", 2) == (
        "100 result=0 Trying...\n200 result=0 Gosub complete\n"
    )
    assert ("Gosub", "sub,s,1(a,b)") in host.apps
    assert await server.ask("GOSUB sub s bad", 2) == (
        "100 result=0 Trying...\n200 result=0 Gosub complete (abnormal exit)\n"
    )
    assert await server.ask("GOSUB sub s nolabel") == "200 result=-1 Gosub label not found\n"
    assert await server.ask("GOSUB sub", 3) == (
        "520-Invalid command syntax.  Proper usage follows:\n"
        "Cause the channel to execute the specified dialplan subroutine, returning to the "
        "dialplan with execution of a Return().\n520 End of proper usage.\n"
    )
    assert await server.ask('STREAM FILE nosuchfile ""') == "200 result=-1 endpos=0\n"
    assert await server.ask('STREAM FILE beep ""') == "200 result=0 endpos=2400\n"
    assert host.varsets[-1] == ("PLAYBACKSTATUS", "SUCCESS")
    assert await server.ask("GET DATA beep 200") == "200 result= (timeout)\n"
    await server.close()
    assert await asyncio.wait_for(status, 5) == FAILURE  # STREAM FILE of a missing file


async def test_digits_during_prompt_and_between_digits() -> None:
    host = make_host()
    host.sounds["long-prompt"] = 5.0
    server, status = await start(host)
    reply = asyncio.ensure_future(server.ask("GET DATA long-prompt 3000 3"))
    await asyncio.sleep(0.02)
    host.press("4")  # interrupts the prompt
    host.press("2")
    host.press("#")  # ends input early; not part of the result
    assert await reply == "200 result=42\n"
    host.press("9")  # between commands: nobody reads the channel, the digit is lost
    assert await server.ask("WAIT FOR DIGIT 50") == "200 result=0\n"
    reply = asyncio.ensure_future(server.ask("WAIT FOR DIGIT -1"))
    await asyncio.sleep(0.02)
    host.press("5")
    assert await reply == f"200 result={ord('5')}\n"
    reply = asyncio.ensure_future(server.ask('STREAM FILE long-prompt "12"'))
    await asyncio.sleep(0.02)
    host.press("7")  # not an escape digit: playback goes on
    await asyncio.sleep(0.02)
    host.press("2")
    text = await reply
    assert text.startswith(f"200 result={ord('2')} endpos=")
    assert 0 < int(text.split("endpos=")[1]) < 5 * 8000
    await server.close()
    assert await asyncio.wait_for(status, 5) == SUCCESS


async def test_server_that_never_answers_gets_hangup_lines() -> None:
    host = make_host()
    server, status = await start(host)
    await server.ask("NOOP")
    host.caller_hangs_up()
    assert await server.read_line() == "HANGUP\n"  # unsolicited, while idle
    assert await server.ask("ANSWER") == (
        "511 Command Not Permitted on a dead channel or intercept routine\n"
    )
    assert await server.ask("VERBOSE still-here 1") == "200 result=1\n"
    reader, writer = await server.connected
    writer.write_eof()
    assert await asyncio.wait_for(reader.readline(), 5) == b"HANGUP\n"  # again on exit
    await server.close()
    assert await asyncio.wait_for(status, 5) == HANGUP


async def test_agisighup_no_and_exit_on_hangup() -> None:
    host = make_host()
    host.channel.variables["AGISIGHUP"] = "no"
    host.channel.variables["AGIEXITONHANGUP"] = "yes"
    server, status = await start(host)
    await server.ask("NOOP")
    host.caller_hangs_up()
    assert await asyncio.wait_for(status, 5) == HANGUP  # returned without the server
    reader, _ = await server.connected
    assert await asyncio.wait_for(reader.read(), 5) == b""  # and no HANGUP line at all
    await server.close()


async def test_server_that_closes_right_away() -> None:
    host = make_host()
    server, status = await start(host)
    await server.close()
    assert await asyncio.wait_for(status, 5) == SUCCESS


async def test_server_down_and_bad_urls() -> None:
    host = make_host()
    listener = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    listener.close()
    await listener.wait_closed()
    session = FastAgiSession(host, f"agi://127.0.0.1:{port}/incoming")
    assert await session.run() == FAILURE  # scenario 7: nobody listens
    assert await FastAgiSession(host, "/var/lib/asterisk/agi-bin/x.agi").run() == NOTFOUND
    assert await FastAgiSession(host, "hagi://agi.example.com/incoming").run() == FAILURE


def test_url_and_argument_parsing() -> None:
    url = parse_agi_url("agi://10.0.0.5/inbound?x=1")
    assert url is not None and (url.host, url.port, url.script) == ("10.0.0.5", 4573, "inbound?x=1")
    url = parse_agi_url("agi://[::1]:4600")
    assert url is not None and (url.host, url.port, url.script) == ("::1", 4600, "")
    assert parse_agi_url("/usr/bin/script") is None
    assert parse_command_args('SET VARIABLE HOTLINE_QUEUE "hotline-general"') == [
        "SET", "VARIABLE", "HOTLINE_QUEUE", "hotline-general",
    ]  # fmt: skip
    assert parse_command_args('SAY DIGITS 1 ""') == ["SAY", "DIGITS", "1", ""]
    assert parse_command_args("VERBOSE a\\ b\t3") == ["VERBOSE", "a b", "3"]
    assert parse_command_args('X pre"quoted part"post') == ["X", "prequoted partpost"]


async def test_every_command_is_published_as_agi_exec_start_and_end(
    transcripts_dir: Path,
) -> None:
    """res_agi.c `agi_handle_command`: `AGIExecStart` (CommandId, Command as received)
    before the command runs, `AGIExecEnd` (the same two, ResultCode, Result) after it."""
    transcript = load_agi_log(transcripts_dir / "agi-1.log")
    _, host, mismatches = await replay(transcript, {1: press_after(1.7, "1")})
    assert mismatches == []
    commands = [exchange.command for exchange in transcript.exchanges]
    starts = [dict(f) for name, f in host.agi_events if name == "AGIExecStart"]
    ends = [dict(f) for name, f in host.agi_events if name == "AGIExecEnd"]
    assert [s["Command"] for s in starts] == [e["Command"] for e in ends] == commands
    (start, start_fields), (end, end_fields) = host.agi_events[:2]
    assert (start, [k for k, _ in start_fields]) == ("AGIExecStart", ["CommandId", "Command"])
    assert (end, [k for k, _ in end_fields]) == (
        "AGIExecEnd",
        ["CommandId", "Command", "ResultCode", "Result"],
    )
    assert [s["CommandId"] for s in starts] == [e["CommandId"] for e in ends]
    assert all(0 <= int(s["CommandId"]) < 2**31 for s in starts)
    results = {e["Command"]: (e["ResultCode"], e["Result"]) for e in ends}
    assert results["GET DATA beep 3000 1"] == ("200", "Success")
    assert results["NOOPX"] == ("510", "Invalid or unknown command")
    assert results["STREAM FILE"] == ("520", "Usage")

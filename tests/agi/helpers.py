"""A scripted Asterisk for the AGI tests: sends an environment, answers each command line
with given reply lines, records what the server sent."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping

from agi.protocol.server import FastAgiServer, Handler, ServerConfig
from pbxsim.agi_client import parse_command_args

ENV_LINES = [
    "agi_network: yes",
    "agi_network_script: incoming",
    "agi_request: agi://127.0.0.1:4573/incoming",
    "agi_channel: PJSIP/trunk-00000001",
    "agi_language: en",
    "agi_type: PJSIP",
    "agi_uniqueid: 1795692697.1",
    "agi_version: 22.10.1",
    "agi_callerid: 13900001111",
    "agi_calleridname: caller",
    "agi_callingpres: 0",
    "agi_callingani2: 0",
    "agi_callington: 0",
    "agi_callingtns: 0",
    "agi_dnid: 12345",
    "agi_rdnis: unknown",
    "agi_context: from-trunk",
    "agi_extension: 12345",
    "agi_priority: 4",
    "agi_enhanced: 0.0",
    "agi_accountcode: ",
    "agi_threadid: 140026983880384",
]


def env_block(script: str = "incoming", args: tuple[str, ...] = (), **fields: str) -> bytes:
    lines = []
    for line in ENV_LINES:
        key = line.split(":", 1)[0]
        if key == "agi_network_script":
            line = f"agi_network_script: {script}"
        elif key == "agi_request":
            line = f"agi_request: agi://127.0.0.1:4573/{script}"
        elif key[4:] in fields:
            line = f"{key}: {fields[key[4:]]}"
        lines.append(line)
    lines += [f"agi_arg_{i}: {a}" for i, a in enumerate(args, start=1)]
    return ("\n".join(lines) + "\n\n").encode()


@contextlib.asynccontextmanager
async def running_server(
    routes: Mapping[str, Handler], **config: object
) -> AsyncIterator[FastAgiServer]:
    options: dict[str, object] = {"port": 0, "env_timeout_s": 2.0, "read_timeout_s": 2.0}
    options.update(config)
    server = FastAgiServer(routes, ServerConfig(**options))  # type: ignore[arg-type]
    await server.start()
    try:
        yield server
    finally:
        await server.stop(grace_s=1.0)


async def read_command(reader: asyncio.StreamReader, timeout: float = 2.0) -> list[str] | None:
    """The next command the server sent, split as res_agi does; None once it closed."""
    raw = await asyncio.wait_for(reader.readline(), timeout)
    if not raw:
        return None
    return parse_command_args(raw.decode().rstrip("\n"))


async def wait_closed(reader: asyncio.StreamReader, timeout: float = 3.0) -> bytes:
    """Everything the server still sends until it closes the socket."""
    return await asyncio.wait_for(reader.read(), timeout)


async def refused(reader: asyncio.StreamReader, timeout: float = 2.0) -> bool:
    """True if the server closed without a byte: FIN, or RST when it left our
    environment unread (a refusal at accept time)."""
    try:
        return await asyncio.wait_for(reader.read(), timeout) == b""
    except ConnectionResetError:
        return True


class AnyCall:
    """A CallGate for tests whose PBX has no AMI link, so no live model to ask: it
    vouches for every session (the real gate is tested in tests/security)."""

    def allows(self, what: str, env: object) -> bool:
        return True

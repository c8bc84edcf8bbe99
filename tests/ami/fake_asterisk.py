"""A scriptable AMI peer for fault tests: it logs in, records what it is sent, and can
go silent, refuse logins, or send arbitrary bytes. (Behaviour-level tests against the
real protocol stand-in are in tests/live/, on pbxsim.)"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field


@dataclass
class FakeAsterisk:
    secret: str = "s3cret"
    silent_after_login: bool = False
    answer_actions: bool = True
    received: list[dict[str, str]] = field(default_factory=list)
    logins: int = 0
    login_times: list[float] = field(default_factory=list)
    writers: list[asyncio.StreamWriter] = field(default_factory=list)

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._session, "127.0.0.1", 0)
        return int(self._server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        self._server.close()
        for w in self.writers:
            w.close()
        await self._server.wait_closed()

    def drop_all(self) -> None:
        for w in self.writers:
            transport = w.transport
            transport.abort()  # type: ignore[attr-defined]
        self.writers.clear()

    def send_raw(self, data: bytes) -> None:
        for w in self.writers:
            w.write(data)

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.writers.append(writer)
        writer.write(b"Asterisk Call Manager/11.0.0\r\n")
        silent = False
        try:
            while True:
                block = await reader.readuntil(b"\r\n\r\n")
                headers = dict(
                    line.split(": ", 1) for line in block.decode().split("\r\n") if ": " in line
                )
                self.received.append(headers)
                action_id = headers.get("ActionID", "")
                if silent:
                    continue
                if headers.get("Action") == "Login":
                    self.logins += 1
                    self.login_times.append(asyncio.get_running_loop().time())
                    if headers.get("Secret") != self.secret:
                        await asyncio.sleep(0.05)
                        writer.write(
                            f"Response: Error\r\nActionID: {action_id}\r\n"
                            "Message: Authentication failed\r\n\r\n".encode()
                        )
                        await writer.drain()
                        writer.close()
                        return
                    writer.write(
                        f"Response: Success\r\nActionID: {action_id}\r\n"
                        "Message: Authentication accepted\r\n\r\n".encode()
                    )
                    silent = self.silent_after_login
                elif headers.get("Action") in ("CoreShowChannels", "QueueStatus"):
                    event = (
                        "CoreShowChannelsComplete"
                        if headers["Action"] == "CoreShowChannels"
                        else "QueueStatusComplete"
                    )
                    writer.write(
                        f"Response: Success\r\nActionID: {action_id}\r\n"
                        "EventList: start\r\nMessage: will follow\r\n\r\n"
                        f"Event: {event}\r\nActionID: {action_id}\r\n"
                        "EventList: Complete\r\nListItems: 0\r\n\r\n".encode()
                    )
                elif headers.get("Action") == "Ping" or self.answer_actions:
                    writer.write(
                        f"Response: Success\r\nActionID: {action_id}\r\n"
                        "Ping: Pong\r\nTimestamp: 1.0\r\n\r\n".encode()
                    )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            return

"""Runs the bundled simulator (`python -m pbxsim`) as a child process for `serve --demo`.

A separate process, not a task in our loop: the simulator stands in for a PBX on another
machine, so it must not share our event loop (a stall on one side would hide a bug on the
other) and it must be reached only through its sockets, as Asterisk is.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
from pathlib import Path

log = logging.getLogger(__name__)

#: a SIGTERMed simulator gets this long to close its sockets before SIGKILL
STOP_GRACE_S = 2.0


class PbxSimPortBusy(RuntimeError):
    """The demo's AMI port is taken before the simulator started."""


async def _answers(port: int) -> bool:
    try:
        _, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        return False
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True


class PbxSimProcess:
    def __init__(
        self,
        *,
        ami_port: int,
        ami_user: str,
        ami_secret: str,
        agi_url: str,
        seats: int,
        calls_per_hour: float,
        speed: float,
        seed: int,
        legacy_csv: Path | None,
        login_seats: bool = True,
        ledger_url: str | None = None,
    ) -> None:
        """`ledger_url`: where the simulator writes Asterisk's own ledger (the service's
        database, as a real Asterisk would through cdr_pgsql/cel_pgsql/res_config_pgsql).
        It and the AMI secret go in the child's environment (readable by its owner only),
        never on its command line, which `ps` shows to every user. The child is told our
        pid so it stops when we are gone, however we went."""
        self.ami_port = ami_port
        self._env = {
            **os.environ,
            "PBXSIM_AMI_SECRET": ami_secret,
            "PBXSIM_PARENT_PID": str(os.getpid()),
        }
        if ledger_url is not None:
            self._env["PBXSIM_LEDGER_URL"] = ledger_url
        self._args = [
            "--ami-port",
            str(ami_port),
            "--ami-user",
            ami_user,
            "--agi-url",
            agi_url,
            "--seats",
            str(seats),
            "--calls-per-hour",
            str(calls_per_hour),
            "--speed",
            str(speed),
            "--seed",
            str(seed),
            "--timestampevents",  # as asterisk-conf's manager.conf: the event-lag metric
        ]
        if legacy_csv is not None:
            self._args += ["--legacy-csv", str(legacy_csv)]
        if not login_seats:
            self._args.append("--no-login-seats")
        self._proc: asyncio.subprocess.Process | None = None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.returncode is None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    async def start(self, ready_timeout: float = 15.0) -> None:
        """Start the simulator and wait until its AMI port accepts connections.

        A port that already answers belongs to someone else (often a simulator left by
        an earlier run): we would log in to it with a secret it does not know and retry
        for ever, so that is refused with a message saying so."""
        if await _answers(self.ami_port):
            raise PbxSimPortBusy(
                f"AMI port 127.0.0.1:{self.ami_port} is already in use (another pbxsim or "
                "Asterisk?): stop that process or choose another port in "
                "CALLCENTER_AMI_NODES"
            )
        self._proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "pbxsim", *self._args, env=self._env
        )
        loop = asyncio.get_running_loop()
        deadline = loop.time() + ready_timeout
        while True:
            if self._proc.returncode is not None:
                raise RuntimeError(f"pbxsim exited at start-up with code {self._proc.returncode}")
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", self.ami_port)
            except OSError:
                if loop.time() > deadline:
                    await self.stop()
                    raise RuntimeError(
                        f"pbxsim did not open AMI port {self.ami_port} in {ready_timeout:.0f} s"
                    ) from None
                await asyncio.sleep(0.1)
                continue
            writer.close()
            await writer.wait_closed()
            log.info("pbxsim running (pid %s, AMI 127.0.0.1:%s)", self._proc.pid, self.ami_port)
            return

    async def stop(self, grace: float = STOP_GRACE_S) -> None:
        """SIGTERM, then SIGKILL once `grace` has passed."""
        proc, self._proc = self._proc, None
        if proc is None or proc.returncode is not None:
            return
        proc.terminate()
        try:
            await asyncio.wait_for(proc.wait(), grace)
        except TimeoutError:
            proc.kill()
            await proc.wait()

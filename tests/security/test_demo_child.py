"""Low items of issue 15 on `serve --demo`'s simulator child: the AMI secret never shows
in the process list, and the child dies with the service however the service ends
(SIGKILL included), so no orphan keeps the AMI port for the next start."""

from __future__ import annotations

import json
import os
import signal
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")

REPO = Path(__file__).resolve().parents[2]
CHILD_GONE_WITHIN_S = 5.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == pid:
            found.append(int(entry.name))
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def wait_for(predicate: object, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(0.1)
    return False


def demo_env(tmp_path: Path, ami_port: int) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "CALLCENTER_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/demo.db",
        "CALLCENTER_RECORDS_SPOOL_DIR": str(tmp_path / "spool"),
        "CALLCENTER_HTTP_PORT": str(free_port()),
        "CALLCENTER_AGI_PORT": str(free_port()),
        "CALLCENTER_AMI_NODES": json.dumps([{"name": "pbx1", "port": ami_port}]),
        "CALLCENTER_DEMO_SEATS": "4",
        "CALLCENTER_DEMO_CALLS_PER_HOUR": "60",
        "CALLCENTER_LOG_LEVEL": "WARNING",
    }


class Demo:
    def __init__(self, tmp_path: Path) -> None:
        self.ami_port = free_port()
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "from callcenter.process.cli import main; main()",
                "serve",
                "--demo",
            ],
            cwd=tmp_path,
            env=demo_env(tmp_path, self.ami_port),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            umask=0o022,
        )
        self.child = 0

    def wait_for_child(self) -> int:
        def started() -> bool:
            kids = children_of(self.proc.pid)
            if kids and ami_answers(self.ami_port):
                self.child = kids[0]
                return True
            return False

        assert wait_for(started, 60.0), "serve --demo did not start its simulator"
        return self.child


def ami_answers(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
    except OSError:
        return False
    return True


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[Demo]:
    running = Demo(tmp_path)
    yield running
    for pid in (running.proc.pid, running.child):
        if pid and alive(pid):
            os.kill(pid, signal.SIGKILL)
    running.proc.wait(10)


def test_the_ami_secret_is_not_on_the_childs_command_line(demo: Demo) -> None:
    child = demo.wait_for_child()
    cmdline = Path(f"/proc/{child}/cmdline").read_bytes().split(b"\0")
    environ = dict(
        line.split(b"=", 1)
        for line in Path(f"/proc/{child}/environ").read_bytes().split(b"\0")
        if b"=" in line
    )
    secret = environ[b"PBXSIM_AMI_SECRET"]
    assert len(secret) >= 16
    assert b"--ami-secret" not in cmdline
    assert not any(secret in arg for arg in cmdline)
    assert Path(f"/proc/{child}/environ").stat().st_mode & 0o077 == 0


def test_serve_creates_database_and_spool_private(demo: Demo, tmp_path: Path) -> None:
    """Under a careless umask too: `serve` sets its own."""
    demo.wait_for_child()
    db = tmp_path / "demo.db"
    created = [db, db.with_name("demo.db-wal"), tmp_path / "spool"]
    assert wait_for(lambda: all(p.exists() for p in created), 10.0)
    modes = [stat.S_IMODE(p.stat().st_mode) for p in created]
    assert modes == [0o600, 0o600, 0o700]


def test_the_child_dies_when_the_service_is_killed(demo: Demo) -> None:
    child = demo.wait_for_child()
    demo.proc.send_signal(signal.SIGKILL)
    demo.proc.wait(10)
    assert wait_for(lambda: not alive(child), CHILD_GONE_WITHIN_S), "pbxsim outlived SIGKILL"
    assert wait_for(lambda: not ami_answers(demo.ami_port), CHILD_GONE_WITHIN_S)


def test_a_clean_sigterm_stops_service_and_child_promptly(demo: Demo) -> None:
    child = demo.wait_for_child()
    time.sleep(1.0)  # past start-up: uvicorn serves and holds SIGTERM
    started = time.monotonic()
    demo.proc.send_signal(signal.SIGTERM)
    assert wait_for(lambda: not alive(child), 3.0), "pbxsim outlived a clean SIGTERM by 3 s"
    assert demo.proc.wait(10) == 0, demo.proc.stderr.read().decode() if demo.proc.stderr else ""
    assert time.monotonic() - started < 10


def test_a_taken_ami_port_is_refused_with_a_clear_message(tmp_path: Path) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        proc = subprocess.run(
            [
                sys.executable,
                "-c",
                "from callcenter.process.cli import main; main()",
                "serve",
                "--demo",
            ],
            cwd=tmp_path,
            env=demo_env(tmp_path, port),
            capture_output=True,
            timeout=60,
        )
    assert proc.returncode != 0
    assert f"AMI port 127.0.0.1:{port} is already in use" in proc.stderr.decode()

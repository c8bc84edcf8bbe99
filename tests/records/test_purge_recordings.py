"""`callcenter records purge` deletes the recordings of the records it purges, and
nothing else: a record's file name is data that came over AMI, so a name outside
Asterisk's recording directory, one climbing out with `..`, or one leading out of the
service's directory through a symbolic link is left alone and counted."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from callcenter import migrate
from callcenter.asterisk_conf import Recording
from callcenter.db import create_engine, session_factory
from callcenter.process.cli import app
from callcenter.records.models import CallIntake, CallRecord
from callcenter.records.recordings import RecordingCleanup, RecordingFiles
from callcenter.records.store import RecordStore, purge
from tests.records.factory import call

PBX_DIR = "/var/spool/asterisk/monitor/hotline"


async def _seed(url: str, recordings: dict[str, tuple[str, float]]) -> None:
    engine = create_engine(url)
    await migrate.upgrade(engine)
    calls = [
        call(linkedid, started_at=started, recording=recording)
        for linkedid, (recording, started) in recordings.items()
    ]
    await RecordStore(session_factory(engine)).upsert(calls)
    await engine.dispose()


def _file(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"RIFF")
    return path


def test_purge_deletes_the_purged_records_recordings_only(
    database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    local = tmp_path / "rec"
    old, new = time.time() - 40 * 86400, time.time() - 86400
    kept = _file(local / "2026/11/20/new.1.wav")
    gone = _file(local / "2026/10/01/old.1.wav")
    outside = _file(tmp_path / "outside.wav")
    (local / "2026/10/02").mkdir(parents=True)
    (local / "2026/10/02/link.wav").symlink_to(outside)
    (local / "escape").symlink_to(tmp_path)
    asyncio.run(
        _seed(
            database_url,
            {
                "old.1": (f"{PBX_DIR}/2026/10/01/old.1.wav", old),
                "old.2": (f"{PBX_DIR}/2026/10/01/old.2.wav", old),  # never written
                "old.3": ("/etc/hostname", old),
                "old.4": (f"{PBX_DIR}/../../../../..{outside}", old),
                "old.5": (f"{PBX_DIR}/2026/10/02/link.wav", old),
                "old.6": (f"{PBX_DIR}/escape/outside.wav", old),
                "old.7": ("", old),
                "new.1": (f"{PBX_DIR}/2026/11/20/new.1.wav", new),
            },
        )
    )
    monkeypatch.setenv("CALLCENTER_DATABASE_URL", database_url)
    monkeypatch.setenv("CALLCENTER_RECORDING_PBX_DIR", PBX_DIR)
    monkeypatch.setenv("CALLCENTER_RECORDINGS_DIR", str(local))
    result = CliRunner().invoke(app, ["records", "purge", "--days", "30", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["purged"] == 7
    assert report["recordings"] | {"examples": []} == {
        "directory": str(local),
        "deleted": 1,
        "missing": 1,
        "unreachable": 4,
        "examples": [],
    }
    assert not gone.exists()
    assert not (local / "2026/10/01").exists()  # its empty date folder went with it
    assert kept.exists() and outside.exists()
    assert (local / "2026/10/02/link.wav").is_symlink()
    assert "1 deleted, 1 already gone, 4 not reachable" in result.stderr


def test_without_the_recordings_directory_nothing_is_deleted(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cc.db'}"
    asyncio.run(_seed(url, {"old.1": (f"{PBX_DIR}/x/old.1.wav", time.time() - 40 * 86400)}))
    monkeypatch.setenv("CALLCENTER_DATABASE_URL", url)
    monkeypatch.delenv("CALLCENTER_RECORDINGS_DIR", raising=False)
    result = CliRunner().invoke(app, ["records", "purge", "--days", "30", "--json"])
    assert result.exit_code == 0, result.output
    recordings = json.loads(result.stdout)["recordings"]
    assert (recordings["deleted"], recordings["unreachable"]) == (0, 1)
    assert "CALLCENTER_RECORDINGS_DIR is not set" in recordings["examples"][0]


def test_purge_refuses_an_unmigrated_database(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("CALLCENTER_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'cc.db'}")
    result = CliRunner().invoke(app, ["records", "purge"])
    assert result.exit_code == 2
    assert "callcenter db upgrade" in result.stderr


def test_the_rendered_file_name_maps_into_the_services_directory(tmp_path: Path) -> None:
    """The name the dialplan gives (Recording.monitor_filename, as Asterisk expands it,
    plus app_queue's `.<format>`) is one purge can find."""
    recording = Recording("wav", PBX_DIR, "Asia/Shanghai")
    expanded = (
        recording.monitor_filename()
        .replace("${STRFTIME(${EPOCH},Asia/Shanghai,%Y/%m/%d)}", "2026/12/06")
        .replace("${CHANNEL(linkedid)}", "1764141243.2207")
        + ".wav"
    )
    assert expanded == f"{PBX_DIR}/2026/12/06/1764141243.2207.wav"
    files = RecordingFiles(PBX_DIR, tmp_path)
    assert files.local_path(expanded) == tmp_path / "2026/12/06/1764141243.2207.wav"
    for bad in (f"{PBX_DIR}/..", f"{PBX_DIR}", f"{PBX_DIR}-other/x.wav", "x.wav", f"{PBX_DIR}/a\0"):
        assert files.local_path(bad) is None, bad
    cleanup = RecordingCleanup()
    RecordingFiles(PBX_DIR, None).delete([expanded], cleanup)
    assert cleanup.unreachable == 1


def _intake(linkedid: str) -> CallIntake:
    return CallIntake(
        node="pbx1",
        linkedid=linkedid,
        version=1,
        current=True,
        kind="complaint",
        unit="HOUSING",
        unit_name="住建局",
        summary="来电人姓名、地址",
        ticket=None,
        resolved_on_call=False,
        author="agent",
        role="agent",
        seat="1001",
        written_at=datetime.now(UTC),
        correction=False,
    )


async def test_purge_goes_in_batches_and_hands_over_committed_ones(database_url: str) -> None:
    old = time.time() - 40 * 86400
    await _seed(
        database_url,
        {f"old.{i}": (f"{PBX_DIR}/d/old.{i}.wav" if i % 2 else "", old) for i in range(7)}
        | {"new.1": (f"{PBX_DIR}/d/new.1.wav", time.time())},
    )
    engine = create_engine(database_url)
    sessions = session_factory(engine)
    async with sessions() as session, session.begin():
        session.add_all(_intake(linkedid) for linkedid in ("old.2", "new.1"))
    batches: list[list[str]] = []
    deleted = await purge(sessions, int(time.time()) - 30 * 86400, on_batch=batches.append, batch=3)
    async with sessions() as session:
        left = list(await session.scalars(select(CallRecord.linkedid)))
        intakes = list(await session.scalars(select(CallIntake.linkedid)))
    await engine.dispose()
    assert intakes == ["new.1"]  # an intake goes with its record
    assert deleted == 7
    assert len(batches) == 3  # 3 + 3 + 1 records, each batch's recordings once committed
    assert sorted(name for b in batches for name in b) == [
        f"{PBX_DIR}/d/old.{i}.wav" for i in (1, 3, 5)
    ]
    assert left == ["new.1"]

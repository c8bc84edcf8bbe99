"""Low item of issue 15: the SQLite database (with its WAL and SHM), the records spool
and the rendered Asterisk secrets are never readable by other users, not even for a
moment: they are created with their final mode, whatever the umask."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from callcenter import asterisk_conf, private_files
from callcenter.db import create_engine
from callcenter.records.spool import Spool
from tests.records.factory import call


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(autouse=True)
def permissive_umask() -> Iterator[None]:
    """The umask of a careless shell: nothing of ours may rely on a stricter one."""
    old = os.umask(0o022)
    yield
    os.umask(old)


async def test_the_sqlite_database_wal_and_shm_are_private(tmp_path: Path) -> None:
    db = tmp_path / "var" / "callcenter.db"
    engine = create_engine(f"sqlite+aiosqlite:///{db}")
    try:
        async with engine.begin() as conn:
            await conn.execute(text("CREATE TABLE t (caller TEXT)"))
            await conn.execute(text("INSERT INTO t VALUES ('13800138000')"))
        async with engine.connect() as conn:  # the WAL and SHM exist while connected
            await conn.execute(text("SELECT * FROM t"))
            companions = [db.with_name(db.name + s) for s in ("-wal", "-shm")]
            assert all(p.exists() for p in companions)
            assert [mode(p) for p in (db, *companions)] == [0o600] * 3
    finally:
        await engine.dispose()
    assert mode(db.parent) == 0o700


async def test_an_earlier_runs_world_readable_database_is_narrowed(tmp_path: Path) -> None:
    folder = tmp_path / "var"
    folder.mkdir()
    folder.chmod(0o755)
    db = folder / "callcenter.db"
    wal = folder / "callcenter.db-wal"
    for path in (db, wal):
        path.touch()
        path.chmod(0o644)
    engine = create_engine(f"sqlite+aiosqlite:///{db}")
    await engine.dispose()
    assert mode(db) == 0o600 and mode(wal) == 0o600
    assert mode(folder) == 0o755  # a folder we did not create is left alone


def test_the_spool_folder_journal_and_sealed_files_are_private(tmp_path: Path) -> None:
    spool_dir = tmp_path / "spool"
    spool = Spool(spool_dir)
    spool.append(call("p.1"))
    assert mode(spool_dir) == 0o700
    assert mode(spool_dir / "open.jsonl") == 0o600
    sealed = spool.seal()
    assert sealed is not None and mode(sealed) == 0o600
    spool.close()


def test_an_earlier_runs_open_spool_folder_is_narrowed(tmp_path: Path) -> None:
    spool_dir = tmp_path / "spool"
    spool_dir.mkdir(mode=0o755)
    (spool_dir / "open.jsonl").touch(mode=0o644)
    spool = Spool(spool_dir)
    spool.append(call("p.2"))
    spool.close()
    assert mode(spool_dir) == 0o700
    assert mode(spool_dir / "open.jsonl") == 0o600


def test_rendered_secret_files_have_their_mode_before_they_have_content(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every file is complete, with its final mode, under a temporary name before it
    takes its own; an existing 0644 manager.conf is replaced, not rewritten in place."""
    (tmp_path / "manager.conf").write_text("old")
    (tmp_path / "manager.conf").chmod(0o644)
    seen: dict[str, tuple[int, str]] = {}
    real_replace = os.replace

    def spy(src: str, dst: str) -> None:
        seen[Path(dst).name] = (mode(Path(src)), Path(src).read_text())
        real_replace(src, dst)

    monkeypatch.setattr(private_files.os, "replace", spy)
    files = {"manager.conf": "secret = s3cret\n", "extensions.conf": "[hotline]\n"}
    asterisk_conf.write(tmp_path, files)
    assert seen == {
        "manager.conf": (0o640, "secret = s3cret\n"),
        "extensions.conf": (0o644, "[hotline]\n"),
    }
    assert mode(tmp_path / "manager.conf") == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["extensions.conf", "manager.conf"]

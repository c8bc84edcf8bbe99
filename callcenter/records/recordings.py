"""The recording files of call records, deleted with the records they belong to.

Asterisk writes a recording where the rendered configuration tells it
(`CALLCENTER_RECORDING_PBX_DIR`, see callcenter/asterisk_conf.py) and a record carries
the file's name as Asterisk wrote it (MIXMONITOR_FILENAME). The service reaches the
same directory under its own path (`CALLCENTER_RECORDINGS_DIR`, a mount or the same
disk). A record's file name is data that came over AMI: a name outside Asterisk's
directory, with `..`, or reaching out of the service's directory through a symbolic
link is never followed, and only regular files are deleted.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath


@dataclass
class RecordingCleanup:
    """What happened to the recordings of purged records."""

    deleted: int = 0
    #: already gone (never written: a call too short, a disk that was full)
    missing: int = 0
    #: not deleted: no local directory, a name outside it, or the file system refused
    unreachable: int = 0
    #: a few examples of the unreachable ones, with why
    examples: list[str] = field(default_factory=list)

    def refuse(self, name: str, why: str) -> None:
        self.unreachable += 1
        if len(self.examples) < 5:
            self.examples.append(f"{name}: {why}")


class RecordingFiles:
    """Asterisk's recording directory (`pbx_dir`, as Asterisk names files) mapped onto
    the service's view of it (`local_dir`; None: not reachable from here)."""

    def __init__(self, pbx_dir: str, local_dir: Path | None) -> None:
        self._pbx_dir = PurePosixPath(pbx_dir)
        self._local_dir = local_dir

    @property
    def local_dir(self) -> Path | None:
        return self._local_dir

    def local_path(self, recording: str) -> Path | None:
        """Where the service finds the file Asterisk named `recording`; None when the
        name is not inside Asterisk's recording directory (or tries to leave it)."""
        if self._local_dir is None or not recording or "\x00" in recording:
            return None
        try:
            relative = PurePosixPath(recording).relative_to(self._pbx_dir)
        except ValueError:
            return None
        if not relative.parts or any(part in ("..", ".") for part in relative.parts):
            return None
        return self._local_dir.joinpath(*relative.parts)

    def delete(self, recordings: Iterable[str], cleanup: RecordingCleanup) -> None:
        """Delete the files named, counting into `cleanup`; empty date folders left
        behind are removed too (never the recording directory itself)."""
        for name in recordings:
            if not name:
                continue
            if self._local_dir is None:
                cleanup.refuse(name, "CALLCENTER_RECORDINGS_DIR is not set")
                continue
            path = self.local_path(name)
            if path is None:
                cleanup.refuse(name, f"not inside {self._pbx_dir}")
                continue
            self._delete_one(name, path, cleanup)

    def _delete_one(self, name: str, path: Path, cleanup: RecordingCleanup) -> None:
        assert self._local_dir is not None
        root = self._local_dir.resolve()
        try:
            if not path.parent.resolve().is_relative_to(root):
                cleanup.refuse(name, f"leads out of {self._local_dir}")
                return
            mode = os.lstat(path).st_mode
        except FileNotFoundError:
            cleanup.missing += 1
            return
        except OSError as exc:
            cleanup.refuse(name, exc.strerror or type(exc).__name__)
            return
        if not stat.S_ISREG(mode):
            cleanup.refuse(name, "not a regular file")
            return
        try:
            path.unlink()
        except FileNotFoundError:
            cleanup.missing += 1
            return
        except OSError as exc:
            cleanup.refuse(name, exc.strerror or type(exc).__name__)
            return
        cleanup.deleted += 1
        parent = path.parent
        while parent != self._local_dir and parent.is_relative_to(self._local_dir):
            with contextlib.suppress(OSError):
                parent.rmdir()  # only an empty folder goes
            if parent.exists():
                break
            parent = parent.parent

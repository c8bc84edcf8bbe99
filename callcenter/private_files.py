"""Files that hold callers' numbers, token hashes or secrets are created private.

The SQLite database (and the WAL and SHM files SQLite creates next to it with the
database's own mode), the records spool and the rendered Asterisk secrets must never be
readable by other users of the machine, not even for the moment between creating a file
and a chmod: every such file is created with its final mode (`os.open` with a mode,
then `fchmod` before a byte is written, so the process umask cannot widen it).
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat
import tempfile
from pathlib import Path

log = logging.getLogger(__name__)

PRIVATE_FILE = 0o600
PRIVATE_DIR = 0o700
#: the process umask of `callcenter serve`: whatever else it creates is private too
PRIVATE_UMASK = 0o077


def private_dir(path: Path) -> Path:
    """Create `path` (and missing parents) 0700; an existing one open to others is
    narrowed to 0700 with a warning."""
    path.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
    narrow(path, PRIVATE_DIR)
    return path


def private_file(path: Path) -> Path:
    """Create `path` empty and 0600 if it does not exist; narrow an existing one."""
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE))
    narrow(path, PRIVATE_FILE)
    return path


def open_private_append(path: Path) -> int:
    """A file descriptor appending to `path`, created 0600 when missing."""
    return _open_private(path, os.O_APPEND)


def open_private_truncate(path: Path) -> int:
    """A file descriptor writing `path` from empty, created 0600 when missing."""
    return _open_private(path, os.O_TRUNC)


def _open_private(path: Path, how: int) -> int:
    """Open for writing with `how`; a file others could read is made private first."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | how, PRIVATE_FILE)
    with contextlib.suppress(OSError):
        if stat.S_IMODE(os.fstat(fd).st_mode) & ~PRIVATE_FILE:
            os.fchmod(fd, PRIVATE_FILE)
    return fd


def write_file(path: Path, text: str, mode: int) -> None:
    """Write `text` to `path` atomically (a temporary file renamed over it), the file
    having `mode` from its creation on."""
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def narrow(path: Path, mode: int) -> None:
    """Take group and other access away from an existing file or folder of ours."""
    try:
        current = stat.S_IMODE(path.stat().st_mode)
        if current & ~mode & 0o077:
            path.chmod(current & mode)
            log.warning("%s was open to other users (mode %o): now %o", path, current, mode)
    except OSError as error:
        log.warning("%s: could not narrow its mode to %o: %s", path, mode, error)

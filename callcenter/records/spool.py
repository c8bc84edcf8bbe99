"""The on-disk spool: every finished call is appended here before it is written.

Why a journal and not only an in-memory buffer: the brief is "nothing lost". A finished
record is appended (and flushed to the OS) the moment its call ends, so a crash of the
service loses only calls still in progress (rebuilt from Asterisk on resync), and a
database outage only delays records. The writer *seals* the open journal file before
each batch (rename to `sealed-<n>.jsonl`), upserts the sealed files' records, and
deletes a sealed file only after its upsert committed. Upserts are idempotent, so a
file replayed twice (crash between commit and delete) changes nothing.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from callcenter.records.builder import FinishedCall

log = logging.getLogger(__name__)

OPEN_NAME = "open.jsonl"


class SpoolError(ValueError):
    """A spool line that cannot be read back (named by file and line)."""


class Spool:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self._file: IO[str] | None = None
        self._appended = 0
        self._seq = max((self._number(p) for p in self.sealed()), default=0)

    @staticmethod
    def _number(path: Path) -> int:
        try:
            return int(path.stem.split("-", 1)[1])
        except (IndexError, ValueError):
            return 0

    def append(self, record: FinishedCall) -> None:
        if self._file is None:
            self._file = (self.directory / OPEN_NAME).open("a", encoding="utf-8")
        self._file.write(json.dumps(record.to_json(), ensure_ascii=False) + "\n")
        self._file.flush()  # into the OS: survives a crash of this process
        self._appended += 1

    def seal(self) -> Path | None:
        """Close the open journal and give it a sealed name; None if it was empty."""
        if self._file is not None:
            self._file.close()
            self._file = None
        path = self.directory / OPEN_NAME
        if not path.exists() or path.stat().st_size == 0:
            return None
        self._seq += 1
        sealed = self.directory / f"sealed-{self._seq:09d}.jsonl"
        os.replace(path, sealed)
        self._appended = 0
        return sealed

    def sealed(self) -> list[Path]:
        return sorted(self.directory.glob("sealed-*.jsonl"), key=self._number)

    @staticmethod
    def read(path: Path) -> Iterator[FinishedCall]:
        """Records of a sealed file. A torn last line (the crash hit mid-write) is
        skipped with a warning; any other bad line is an error naming file and line."""
        lines = path.read_text(encoding="utf-8").splitlines()
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                yield FinishedCall.from_json(json.loads(line))
            except (ValueError, TypeError) as exc:
                if number == len(lines):
                    log.warning("%s:%d: torn last line skipped (%s)", path, number, exc)
                    continue
                raise SpoolError(f"{path}:{number}: not a call record: {exc}") from None

    def pending(self) -> int:
        """Records appended to the open journal since it was last sealed."""
        return self._appended

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

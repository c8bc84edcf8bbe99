"""The on-disk spool: every finished call is appended here before it is written.

Why a journal and not only an in-memory buffer: the brief is "nothing lost". A finished
record is appended (and flushed to the OS) the moment its call ends, so a crash of the
service loses only calls still in progress (rebuilt from Asterisk on resync), and a
database outage only delays records. The writer *seals* the open journal file before
each batch (rename to `sealed-<n>.jsonl`), upserts the sealed files' records, and
deletes a sealed file only after its upsert committed. Upserts are idempotent, so a
file replayed twice (crash between commit and delete) changes nothing.

The records of the journal just sealed are also still at hand (`records`): the writer
takes them from there instead of decoding the file it has just written, which was a
third of its work. The file stays the record of truth: it is read back whenever it may
hold anything else (a journal an earlier run left, a line a failed write cut short) and
for any retry.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from callcenter.private_files import open_private_append, private_dir
from callcenter.records.builder import FinishedCall

log = logging.getLogger(__name__)

OPEN_NAME = "open.jsonl"


class SpoolError(ValueError):
    """A spool line that cannot be read back (named by file and line)."""


class Spool:
    """`hold_at_most`: how many records of the open journal are also kept at hand, for
    `records` to hand back once the journal is sealed without reading it back (decoding
    is most of a read). Beyond that (a database write that hangs while calls keep
    ending) the journal is read back like any other file."""

    def __init__(self, directory: Path, hold_at_most: int = 5_000) -> None:
        self.directory = directory
        private_dir(directory)  # callers' numbers: nobody else's to read
        self.hold_at_most = hold_at_most
        self._file: IO[str] | None = None
        # the open journal's records while it holds nothing else: not so if it holds an
        # earlier run's lines, or part of a line a failed write left
        journal = directory / OPEN_NAME
        self._held: list[FinishedCall] | None = (
            None if journal.exists() and journal.stat().st_size else []
        )
        self._sealed_held: tuple[Path, list[FinishedCall]] | None = None
        # one encoder for every line: json.dumps with an option builds a new one per call
        self._encode = json.JSONEncoder(ensure_ascii=False).encode
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
            fd = open_private_append(self.directory / OPEN_NAME)
            self._file = os.fdopen(fd, "a", encoding="utf-8")
        try:
            self._file.write(self._encode(record.to_json()) + "\n")
            self._file.flush()  # into the OS: survives a crash of this process
        except BaseException:
            self._held = None
            raise
        self._appended += 1
        if self._held is not None:
            self._held.append(record)
            if len(self._held) > self.hold_at_most:
                self._held = None

    def seal(self) -> Path | None:
        """Close the open journal and give it a sealed name; None if it was empty."""
        if self._file is not None:
            self._file.close()
            self._file = None
        path = self.directory / OPEN_NAME
        if not path.exists() or path.stat().st_size == 0:
            self._held = []
            return None
        self._seq += 1
        sealed = self.directory / f"sealed-{self._seq:09d}.jsonl"
        os.replace(path, sealed)
        self._appended = 0
        self._sealed_held = None if self._held is None else (sealed, self._held)
        self._held = []
        return sealed

    def sealed(self) -> list[Path]:
        return sorted(self.directory.glob("sealed-*.jsonl"), key=self._number)

    def records(self, path: Path) -> list[FinishedCall]:
        """The records of the sealed file `path`. Those of the journal sealed last are
        at hand, once (a retry after a failed write reads the file); any other file,
        left by an earlier run or a failed write, is read back."""
        held = self._sealed_held
        if held is not None and held[0] == path:
            self._sealed_held = None
            return held[1]
        return list(self.read(path))

    @staticmethod
    def read(path: Path) -> Iterator[FinishedCall]:
        """Records of a sealed file. A torn last line (the crash hit mid-write) is
        skipped with a warning; any other bad line is an error naming file and line.

        Lines end at "\n" only: the journal is written without ASCII escaping, so a
        record may hold U+2028 or U+0085 raw, which `str.splitlines` would also cut at."""
        lines = path.read_text(encoding="utf-8").split("\n")
        if lines[-1] == "":
            lines.pop()
        records = _whole([line for line in lines if line.strip()])
        return iter(records) if records is not None else _line_by_line(path, lines)

    def pending(self) -> int:
        """Records appended to the open journal since it was last sealed."""
        return self._appended

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def _whole(lines: list[str]) -> list[FinishedCall] | None:
    """The usual file, every line one whole record, decoded as one JSON array: one call
    into the C decoder instead of one per line. None if anything is off (a torn or bad
    line, or lines that only parse joined); then `_line_by_line` names the culprit."""
    try:
        decoded = json.loads("[" + ",".join(lines) + "]")
        if len(decoded) != len(lines):
            return None
        return [FinishedCall.from_json(data) for data in decoded]
    except (ValueError, TypeError):
        return None


def _line_by_line(path: Path, lines: list[str]) -> Iterator[FinishedCall]:
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

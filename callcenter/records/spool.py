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

A spool must never stop the writer for good. A torn last line (the process was killed
mid-write) is skipped and counted. Any other bad line (a torn line a later run wrote
after, or bytes the disk mangled) is set aside in `quarantine/` beside the spool, with a
reason file, and every good line of its file is still written. A file that cannot be
read at all is retried by the writer and, after its last try, moved whole into
`quarantine/` (`quarantine()`): kept for a person to look at, never silently dropped.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from callcenter.private_files import open_private_append, open_private_truncate, private_dir
from callcenter.records.builder import FinishedCall

log = logging.getLogger(__name__)

OPEN_NAME = "open.jsonl"
QUARANTINE = "quarantine"


class SpoolError(ValueError):
    """A spool line that cannot be read back (named by file and line)."""


@dataclass(frozen=True, slots=True)
class BadLine:
    """A line of a spool file that is no call record; `text` holds its bytes as read
    (bytes that are not UTF-8 as lone surrogates)."""

    number: int
    text: str
    reason: str


@dataclass(slots=True)
class Loaded:
    """What a spool file holds: its records, the bad lines between them, and whether
    its last line was torn (skipped)."""

    records: list[FinishedCall] = field(default_factory=list)
    bad: list[BadLine] = field(default_factory=list)
    torn: bool = False


class Spool:
    """`hold_at_most`: how many records of the open journal are also kept at hand, for
    `records` to hand back once the journal is sealed without reading it back (decoding
    is most of a read). Beyond that (a database write that hangs while calls keep
    ending) the journal is read back like any other file."""

    def __init__(self, directory: Path, hold_at_most: int = 5_000) -> None:
        self.directory = directory
        private_dir(directory)  # callers' numbers: nobody else's to read
        self.hold_at_most = hold_at_most
        self._file: IO[bytes] | None = None
        #: the journal may end in part of a line (a write failed or the process died
        #: mid-write): the next line starts on a line of its own
        self._broken = False
        self.torn_lines = 0
        self.bad_lines = 0
        self.quarantined_files = 0
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
        """Write one record as one line, straight into the OS (survives a crash of this
        process). On OSError part of the line may be on disk: the file is closed and the
        next line starts after a newline, so the bad part stays a line of its own."""
        line = (self._encode(record.to_json()) + "\n").encode("utf-8")
        try:
            if self._file is None:
                self._file = self._open_journal()
            if self._broken:
                line = b"\n" + line
            _write_all(self._file, line)
            self._broken = False
        except BaseException:
            self._held = None
            self._broken = True
            self._drop_file()
            raise
        self._appended += 1
        if self._held is not None:
            self._held.append(record)
            if len(self._held) > self.hold_at_most:
                self._held = None

    def _open_journal(self) -> IO[bytes]:
        """The journal, unbuffered: a write is in the OS once it returns. A journal an
        earlier run left cut mid-line gets its next line on a line of its own."""
        file = os.fdopen(open_private_append(self.directory / OPEN_NAME), "ab", buffering=0)
        try:
            if file.tell() > 0:
                with (self.directory / OPEN_NAME).open("rb") as existing:
                    existing.seek(-1, os.SEEK_END)
                    self._broken = self._broken or existing.read(1) != b"\n"
        except BaseException:
            file.close()
            raise
        return file

    def _drop_file(self) -> None:
        file, self._file = self._file, None
        if file is not None:
            try:
                file.close()
            except OSError:
                log.warning("call records: closing the spool journal failed", exc_info=True)

    def seal(self) -> Path | None:
        """Close the open journal and give it a sealed name; None if it was empty."""
        self._drop_file()
        path = self.directory / OPEN_NAME
        if not path.exists() or path.stat().st_size == 0:
            self._held = []
            return None
        self._seq += 1
        sealed = self.directory / f"sealed-{self._seq:09d}.jsonl"
        os.replace(path, sealed)
        self._broken = False
        self._appended = 0
        self._sealed_held = None if self._held is None else (sealed, self._held)
        self._held = []
        return sealed

    def sealed(self) -> list[Path]:
        return sorted(self.directory.glob("sealed-*.jsonl"), key=self._number)

    def records(self, path: Path) -> list[FinishedCall]:
        """The good records of the sealed file `path`. Those of the journal sealed last
        are at hand, once (a retry after a failed write reads the file); any other file,
        left by an earlier run or a failed write, is read back: its torn last line is
        skipped and counted, its other bad lines are quarantined (`quarantine/`) and
        counted. OSError: the file (or the quarantine) cannot be read or written; the
        writer retries."""
        held = self._sealed_held
        if held is not None and held[0] == path:
            self._sealed_held = None
            return held[1]
        loaded = self.load(path)
        if loaded.torn:
            self.torn_lines += 1
            log.warning("%s: torn last line skipped (a write was cut short)", path)
        if loaded.bad:
            kept = self._set_aside(path, loaded.bad)
            self.bad_lines += len(loaded.bad)
            log.error(
                "%s: %d bad line(s) quarantined in %s; its %d good record(s) are written",
                path,
                len(loaded.bad),
                kept,
                len(loaded.records),
            )
        if loaded.torn or loaded.bad:
            self._rewrite(path, loaded.records)
        return loaded.records

    def _rewrite(self, path: Path, records: list[FinishedCall]) -> None:
        """The file `path` with its good records only, so that a retry (the database
        is away) neither sets its bad lines aside again nor counts them twice."""
        temporary = path.with_name(path.name + ".tmp")
        with os.fdopen(open_private_truncate(temporary), "wb") as file:
            for record in records:
                file.write((self._encode(record.to_json()) + "\n").encode("utf-8"))
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)

    def quarantine(self, path: Path, reason: str) -> Path:
        """Move the spool file `path` into `quarantine/`, with a reason file beside it;
        returns where it went."""
        target = self._quarantine_name(path.name)
        os.replace(path, target)
        _write_reason(target, reason)
        self.quarantined_files += 1
        log.error("call records: %s quarantined as %s: %s", path, target, reason)
        return target

    def _set_aside(self, path: Path, bad: list[BadLine]) -> Path:
        target = self._quarantine_name(path.stem + ".bad-lines.jsonl")
        target.write_bytes(
            b"".join(line.text.encode("utf-8", "surrogateescape") + b"\n" for line in bad)
        )
        _write_reason(
            target,
            "".join(f"{path.name}:{line.number}: {line.reason}\n" for line in bad),
        )
        return target

    def _quarantine_name(self, name: str) -> Path:
        """A name in `quarantine/` that holds nothing yet (a file is never overwritten:
        numbers of sealed files start again after those are gone)."""
        folder = self.directory / QUARANTINE
        folder.mkdir(exist_ok=True)
        target = folder / name
        n = 0
        while target.exists() or _reason_of(target).exists():
            n += 1
            target = folder / f"{name}.{n}"
        return target

    @staticmethod
    def read(path: Path) -> Iterator[FinishedCall]:
        """Records of a sealed file, strictly: a torn last line (the crash hit
        mid-write) is skipped with a warning; any other bad line is an error naming file
        and line."""
        loaded = Spool.load(path)
        if loaded.torn:
            log.warning("%s: torn last line skipped", path)
        if loaded.bad:
            first = loaded.bad[0]
            raise SpoolError(f"{path}:{first.number}: not a call record: {first.reason}")
        return iter(loaded.records)

    @staticmethod
    def load(path: Path) -> Loaded:
        """Every good record of a spool file, its bad lines, and whether its last line
        was torn. Bytes that are not UTF-8 make their line bad, not the file.

        Lines end at "\n" only: the journal is written without ASCII escaping, so a
        record may hold U+2028 or U+0085 raw, which `str.splitlines` would also cut at."""
        data = path.read_bytes()
        try:
            lines = data.decode("utf-8").split("\n")
            records = _whole([line for line in lines if line.strip()])
        except UnicodeDecodeError:  # keep the bytes of the bad line for the quarantine
            lines = data.decode("utf-8", errors="surrogateescape").split("\n")
            records = None
        if lines[-1] == "":
            lines.pop()
        return Loaded(records) if records is not None else _line_by_line(lines)

    def pending(self) -> int:
        """Records appended to the open journal since it was last sealed."""
        return self._appended

    def close(self) -> None:
        self._drop_file()


def _write_all(file: IO[bytes], data: bytes) -> None:
    """An unbuffered write may take part of the data: write the rest."""
    view = memoryview(data)
    while view:
        written = file.write(view)
        if not written:
            raise OSError("the spool journal took no bytes")
        view = view[written:]


def _reason_of(path: Path) -> Path:
    return path.with_name(path.name + ".reason")


def _write_reason(target: Path, reason: str) -> None:
    _reason_of(target).write_text(reason if reason.endswith("\n") else reason + "\n", "utf-8")


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


def _line_by_line(lines: list[str]) -> Loaded:
    loaded = Loaded()
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            line.encode("utf-8")  # a byte that was not UTF-8 is a lone surrogate here
            loaded.records.append(FinishedCall.from_json(json.loads(line)))
        except (ValueError, TypeError) as exc:
            if number == len(lines):
                loaded.torn = True
                continue
            loaded.bad.append(BadLine(number, line, f"{type(exc).__name__}: {exc}"))
    return loaded

"""A CSV that a spreadsheet opens right: the one format of every file the service
exports (the calls export, the legacy directory export).

Excel on a Chinese Windows desktop reads a CSV without a byte-order mark as the ANSI
code page (GBK), so UTF-8 Chinese comes out garbled: the default is UTF-8 *with* a BOM
(`utf-8-sig`), written once at the very start even when the file is streamed; GB18030
(what older Chinese office software writes) on request, and plain UTF-8 without a BOM
for programs. Lines end in CRLF as Excel's own do, the first row is the header, numbers
are written as plain numbers so they stay numbers, times are city time with the offset
(`CityTime.iso`), so nobody reads a UTC time as local.

A text cell beginning with `=`, `+`, `-`, `@`, a tab or a carriage return is a formula
to a spreadsheet (`=HYPERLINK(...)`, `=cmd|' /C calc'!A0`): it gets a leading `'`, the
usual neutraliser (`guard`). A cell that already begins with `'` before such a
character gets one more, so `unguard` gives back exactly what was written and an
exported file imports unchanged. Numbers are never guarded: -3 is a number.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Literal, get_args

from callcenter.clock import SHANGHAI, CityTime

Cell = str | int | float | bool | datetime | date | None
Row = Sequence[Cell]

#: what makes a spreadsheet read a text cell as a formula
FORMULA_STARTS = frozenset("=+-@\t\r")
GUARD = "'"


#: the encodings an export can be written in (`?encoding=` / `--encoding`)
Encoding = Literal["utf-8-sig", "gb18030", "utf-8"]
ENCODINGS: tuple[Encoding, ...] = get_args(Encoding)
DEFAULT_ENCODING: Encoding = "utf-8-sig"


def encoding_named(name: str) -> Encoding:
    """The export encoding `name` (any case); a ValueError naming the accepted ones."""
    for known in ENCODINGS:
        if name.strip().lower() == known:
            return known
    raise ValueError(f"unknown encoding {name!r} (one of {', '.join(ENCODINGS)})")


def needs_guard(text: str) -> bool:
    """Whether `text` would be a formula, or is a guarded-looking cell that must be
    guarded again to read back unchanged."""
    return text.lstrip(GUARD)[:1] in FORMULA_STARTS


def guard(text: str) -> str:
    """`text` as a cell a spreadsheet shows as text, never runs as a formula."""
    return GUARD + text if needs_guard(text) else text


def unguard(text: str) -> str:
    """The cell `guard` wrote, as it was: the import reads an export back unchanged."""
    if text.startswith(GUARD) and needs_guard(text[1:]):
        return text[1:]
    return text


@dataclass(frozen=True)
class SpreadsheetCsv:
    """How one export is written: its encoding and the city its times are shown in."""

    encoding: Encoding = DEFAULT_ENCODING
    city: CityTime = field(default_factory=lambda: SHANGHAI)

    @property
    def media_type(self) -> str:
        """The Content-Type: the BOM is part of UTF-8, not a charset of its own."""
        charset = "utf-8" if self.encoding == "utf-8-sig" else self.encoding
        return f"text/csv; charset={charset}"

    @staticmethod
    def disposition(filename: str) -> str:
        """A Content-Disposition that saves the response as `filename`."""
        return f'attachment; filename="{filename}"'

    def cell(self, value: Cell) -> str:
        """One cell's text: None empty, booleans TRUE/FALSE (what Excel writes), ints
        without `.0`, floats as they are, times in city time with the offset, text
        guarded against formulas."""
        if value is None:
            return ""
        if isinstance(value, bool):
            return "TRUE" if value else "FALSE"
        if isinstance(value, int):
            return str(value)
        if isinstance(value, float):
            return repr(value)
        if isinstance(value, datetime):
            return self.city.iso(value)
        if isinstance(value, date):
            return value.isoformat()
        return guard(value)

    def text(self, rows: Iterable[Row]) -> str:
        """The CSV lines of `rows`, CRLF-ended, not yet encoded."""
        buffer = io.StringIO(newline="")
        writer = csv.writer(buffer, lineterminator="\r\n")
        writer.writerows([self.cell(value) for value in row] for row in rows)
        return buffer.getvalue()

    def document(self, header: Sequence[str], rows: Iterable[Row]) -> bytes:
        """A whole file: BOM (for utf-8-sig), header, rows."""
        return self.text([header, *rows]).encode(self.encoding)

    async def stream(
        self, header: Sequence[str], chunks: AsyncIterable[Iterable[Row]]
    ) -> AsyncIterator[bytes]:
        """A file streamed chunk by chunk: the BOM once, at the very start, then the
        header, then each chunk's rows as they come (memory stays one chunk)."""
        encoder = codecs.getincrementalencoder(self.encoding)()
        yield encoder.encode(self.text([header]))
        async for chunk in chunks:
            part = self.text(chunk)
            if part:
                yield encoder.encode(part)
        tail = encoder.encode("", final=True)
        if tail:
            yield tail

"""Reading and writing the directory CSV.

Written as every export is (`callcenter.spreadsheet`); read back from that, from what
Excel or WPS saves (UTF-8 with or without BOM, GB18030), a cell the export guarded
against formulas read as it was.

The whole file is checked before anything is written: per-cell rules (records.py) and
the rules that need the whole file (a number twice, one unit code with two names). The
database-dependent rule (a number held by another unit) is checked by the repository
inside the import transaction.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from callcenter.legacy.queues import QueueCatalog
from callcenter.legacy.records import COLUMNS, NumberRecord, RowError, validate_fields
from callcenter.spreadsheet import DEFAULT_ENCODING, Encoding, SpreadsheetCsv, unguard

UTF8_BOM = b"\xef\xbb\xbf"


class CsvError(ValueError):
    """The file as a whole cannot be read (encoding, header)."""


def decode(data: bytes, encoding: str | None = None) -> tuple[str, str]:
    """The file's text and the encoding used.

    Without `encoding`: UTF-8 (BOM or not) when the bytes are valid UTF-8, else GB18030,
    the superset of GBK/GB2312 that Chinese office software writes. Valid UTF-8 is
    almost never accidental for Chinese text, so trying it first is a safe detector.
    """
    if encoding:
        try:
            text = data.decode(encoding)
        except LookupError as exc:
            raise CsvError(f"unknown encoding {encoding!r}") from exc
        except UnicodeDecodeError as exc:
            raise CsvError(f"not valid {encoding} at byte {exc.start}: {exc.reason}") from exc
        return text.removeprefix("\ufeff"), encoding
    if data.startswith(UTF8_BOM):
        try:
            return data[len(UTF8_BOM) :].decode("utf-8"), "utf-8-sig"
        except UnicodeDecodeError as exc:
            raise CsvError(f"UTF-8 BOM but invalid UTF-8 at byte {exc.start + 3}") from exc
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030"), "gb18030"
    except UnicodeDecodeError as exc:
        raise CsvError(f"neither UTF-8 nor GB18030 (byte {exc.start}); give --encoding") from exc


@dataclass
class ParsedFile:
    """Valid rows with their line numbers, and every error found."""

    records: list[tuple[int, NumberRecord]] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    encoding: str = "utf-8"

    @property
    def ok(self) -> bool:
        return not self.errors


#: the queue catalogue rows are checked against, or how to get it: asked for only once
#: the header is sound, so a file broken as a whole is refused without the database
Catalogue = QueueCatalog | Callable[[], QueueCatalog]


def parse(text: str, encoding: str = "utf-8", *, queues: Catalogue) -> ParsedFile:
    """Validate every row of the CSV text against the catalogue `queues`; never stops
    at the first error."""
    out = ParsedFile(encoding=encoding)
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        out.errors.append(RowError(1, "number", "empty file (expected a header row)"))
        return out
    names = [h.strip().lower() for h in header]
    missing = [c for c in COLUMNS if c not in names]
    unknown = [h for h in names if h and h not in COLUMNS]
    for column in missing:
        out.errors.append(RowError(1, column, "column missing from the header"))
    for column in unknown:
        out.errors.append(RowError(1, column, f"unknown column (expected {', '.join(COLUMNS)})"))
    if missing:
        return out
    catalog = queues if isinstance(queues, QueueCatalog) else queues()
    index = {name: names.index(name) for name in COLUMNS}
    seen: dict[str, int] = {}
    units: dict[str, tuple[int, str, str]] = {}
    previous_end = reader.line_num
    for row in reader:
        line, previous_end = previous_end + 1, reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        if len(row) > len(names):
            out.errors.append(
                RowError(line, "note", f"{len(row)} cells, the header has {len(names)}")
            )
            continue
        fields = {
            name: unguard(row[i]).strip() if i < len(row) else "" for name, i in index.items()
        }
        record, errors = validate_fields(fields, catalog)
        errors += _unit_conflicts(units, fields, line)
        if record is not None:
            first = seen.setdefault(record.number, line)
            if first != line:
                errors.append(RowError(line, "number", f"{record.number} duplicates line {first}"))
        out.errors.extend(RowError(line, e.column, e.reason) for e in errors)
        if record is not None and not errors:
            out.records.append((line, record))
    return out


def _unit_conflicts(
    units: dict[str, tuple[int, str, str]], fields: dict[str, str], line: int
) -> list[RowError]:
    """One unit code, one name and district: a second spelling is a typo somewhere.
    Checked on the raw cells, so a unit's first row counts even if it has other errors."""
    code, name, district = fields["unit_code"], fields["unit"], fields["district"]
    if not (code and name and district):
        return []
    first, first_name, first_district = units.setdefault(code, (line, name, district))
    if first_name != name:
        return [
            RowError(line, "unit", f"unit {code} is {first_name!r} on line {first}, here {name!r}")
        ]
    if first_district != district:
        return [
            RowError(
                line,
                "district",
                f"unit {code} is in {first_district!r} on line {first}, here {district!r}",
            )
        ]
    return []


def read(data: bytes, encoding: str | None = None, *, queues: Catalogue) -> ParsedFile:
    """Decode and validate a CSV file's bytes (queues: the catalogue in force)."""
    try:
        text, used = decode(data, encoding)
    except CsvError as exc:
        return ParsedFile(errors=[RowError(None, "file", str(exc))])
    return parse(text, used, queues=queues)


def write(records: Iterable[NumberRecord], encoding: Encoding = DEFAULT_ENCODING) -> bytes:
    """The file of `records`, in the columns import reads, as a spreadsheet opens it
    (`callcenter.spreadsheet`: BOM, CRLF, formula-like text guarded; import unguards)."""
    return SpreadsheetCsv(encoding).document(
        COLUMNS,
        (
            (r.number, r.unit_code, r.unit, r.district, r.mode, r.queue, r.transfer_to, r.note)
            for r in records
        ),
    )

"""Unit cards as files: the bulk load and its export, in JSON or CSV.

JSON is an array of cards, each `{"unit_code", "responsibilities", "hours",
"transfer_numbers": [{"number", "label"}], "kb_links": [{"title", "url"}]}`; an error
names the line the card starts on. CSV (for spreadsheets; written as every export is,
`callcenter.spreadsheet`) has the columns `unit_code, responsibilities, hours,
transfer_numbers, kb_links`; a list cell holds one item per line, `label|number` or
`title|url` (split at the last `|`: neither numbers nor URLs hold one; a line without
`|` is a number without label, or a link without title). Both are checked whole before
anything is written, and what export writes import reads back unchanged.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from callcenter.legacy.cards import CardContent, validate_card
from callcenter.legacy.csvfile import CsvError, decode
from callcenter.legacy.records import UNIT_CODE, RowError
from callcenter.spreadsheet import DEFAULT_ENCODING, Encoding, SpreadsheetCsv, unguard

Format = Literal["json", "csv"]
COLUMNS = ("unit_code", "responsibilities", "hours", "transfer_numbers", "kb_links")
ITEM_SEPARATOR = "|"


@dataclass
class ParsedCards:
    """Valid cards with their lines, and every error found."""

    cards: list[tuple[int | None, str, CardContent]] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    encoding: str = "utf-8"

    @property
    def ok(self) -> bool:
        return not self.errors


def read(data: bytes, form: Format, encoding: str | None = None) -> ParsedCards:
    """Decode and check a card file's bytes."""
    try:
        text, used = decode(data, encoding)
    except CsvError as exc:
        return ParsedCards(errors=[RowError(None, "file", str(exc))])
    out = ParsedCards(encoding=used)
    rows = _json_rows(text, out) if form == "json" else _csv_rows(text, out)
    seen: dict[str, int | None] = {}
    for line, raw in rows:
        code = raw.pop("unit_code", None)
        content, errors = validate_card(raw)
        if not isinstance(code, str) or not UNIT_CODE.fullmatch(code.strip()):
            errors.insert(0, RowError(None, "unit_code", f"{code!r} is not a unit code"))
        else:
            code = code.strip()
            if code in seen:
                errors.insert(
                    0, RowError(None, "unit_code", f"{code} is also on line {seen[code]}")
                )
            seen.setdefault(code, line)
        out.errors.extend(RowError(line, e.column, e.reason) for e in errors)
        if content is not None and not errors:
            out.cards.append((line, str(code), content))
    return out


def _json_rows(text: str, out: ParsedCards) -> list[tuple[int | None, dict[str, Any]]]:
    """The array's objects with the line each starts on."""
    decoder = json.JSONDecoder()
    rows: list[tuple[int | None, dict[str, Any]]] = []

    def line_of(position: int) -> int:
        return text.count("\n", 0, position) + 1

    def skip(position: int) -> int:
        while position < len(text) and text[position] in " \t\r\n":
            position += 1
        return position

    position = skip(0)
    if text[position : position + 1] != "[":
        out.errors.append(RowError(line_of(position), "file", "expected a JSON array of cards"))
        return rows
    position = skip(position + 1)
    if text[position : position + 1] == "]":
        return rows
    while True:
        try:
            item, end = decoder.raw_decode(text, position)
        except json.JSONDecodeError as exc:
            out.errors.append(RowError(exc.lineno, "file", f"not JSON: {exc.msg}"))
            return rows
        if isinstance(item, dict):
            rows.append((line_of(position), item))
        else:
            out.errors.append(
                RowError(
                    line_of(position), "file", f"a card is an object, not {type(item).__name__}"
                )
            )
        position = skip(end)
        mark = text[position : position + 1]
        if mark == "]":
            if skip(position + 1) != len(text):
                out.errors.append(RowError(line_of(position), "file", "text after the array"))
            return rows
        if mark != ",":
            out.errors.append(RowError(line_of(position), "file", "expected , or ] after a card"))
            return rows
        position = skip(position + 1)


def _csv_rows(text: str, out: ParsedCards) -> list[tuple[int | None, dict[str, Any]]]:
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [h.strip().lower() for h in next(reader)]
    except StopIteration:
        out.errors.append(RowError(1, "unit_code", "empty file (expected a header row)"))
        return []
    for column in COLUMNS:
        if column not in header:
            out.errors.append(RowError(1, column, "column missing from the header"))
    for column in header:
        if column and column not in COLUMNS:
            out.errors.append(
                RowError(1, column, f"unknown column (expected {', '.join(COLUMNS)})")
            )
    if out.errors:
        return []
    rows: list[tuple[int | None, dict[str, Any]]] = []
    previous_end = reader.line_num
    for row in reader:
        line, previous_end = previous_end + 1, reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        if len(row) > len(header):
            out.errors.append(
                RowError(line, "kb_links", f"{len(row)} cells, the header has {len(header)}")
            )
            continue
        cells = {name: unguard(row[i]) if i < len(row) else "" for i, name in enumerate(header)}
        rows.append(
            (
                line,
                {
                    "unit_code": cells["unit_code"],
                    "responsibilities": cells["responsibilities"],
                    "hours": cells["hours"],
                    "transfer_numbers": [
                        {"number": value, "label": name}
                        for name, value in _items(cells["transfer_numbers"])
                    ],
                    "kb_links": [
                        {"title": name, "url": value} for name, value in _items(cells["kb_links"])
                    ],
                },
            )
        )
    return rows


def _items(cell: str) -> list[tuple[str, str]]:
    """`name|value` lines of a list cell; a line without `|` is a value alone."""
    out = []
    for line in cell.replace("\r\n", "\n").split("\n"):
        if not line.strip():
            continue
        name, _, value = line.rpartition(ITEM_SEPARATOR)
        out.append((name.strip(), value.strip()))
    return out


def write(
    cards: Iterable[tuple[str, CardContent]], form: Format, encoding: Encoding = DEFAULT_ENCODING
) -> bytes:
    """The file of `cards` in `form`, which `read` reads back as they are."""
    if form == "json":
        document = [{"unit_code": code, **content.as_dict()} for code, content in cards]
        return (json.dumps(document, ensure_ascii=False, indent=2) + "\n").encode("utf-8")
    return SpreadsheetCsv(encoding).document(
        COLUMNS,
        (
            (
                code,
                c.responsibilities,
                c.hours,
                "\n".join(f"{t.label}{ITEM_SEPARATOR}{t.number}" for t in c.transfer_numbers),
                "\n".join(f"{k.title}{ITEM_SEPARATOR}{k.url}" for k in c.kb_links),
            )
            for code, c in cards
        ),
    )

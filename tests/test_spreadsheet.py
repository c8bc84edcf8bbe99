"""`callcenter.spreadsheet`: the one CSV format of every export."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import AsyncIterator, Iterable
from datetime import UTC, date, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from callcenter.clock import CityTime
from callcenter.spreadsheet import (
    Encoding,
    Row,
    SpreadsheetCsv,
    encoding_named,
    guard,
    unguard,
)

BOM = b"\xef\xbb\xbf"


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ('=HYPERLINK("http://e.x","x")', '\'=HYPERLINK("http://e.x","x")'),
        ("=cmd|' /C calc'!A0", "'=cmd|' /C calc'!A0"),
        ("+SUM(1+1)", "'+SUM(1+1)"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("'=1", "''=1"),  # guarded again: reads back as it was
        ("'plain", "'plain"),
        ("a=b", "a=b"),
        ("市本级", "市本级"),
        ("", ""),
    ],
)
def test_text_is_guarded_against_formulas(value: str, shown: str) -> None:
    assert guard(value) == shown
    assert unguard(shown) == value


@given(st.text())
def test_guard_reads_back_exactly(value: str) -> None:
    assert unguard(guard(value)) == value


def test_cells_numbers_times_and_empty() -> None:
    sheet = SpreadsheetCsv()
    moment = datetime(2026, 12, 2, 1, 15, 3, tzinfo=UTC)
    assert [
        sheet.cell(v)
        for v in (12, 3.5, 287.0, -3, -0.5, None, True, False, moment, date(2026, 12, 2))
    ] == ["12", "3.5", "287.0", "-3", "-0.5", "", "TRUE", "FALSE",
          "2026-12-02T09:15:03+08:00", "2026-12-02"]  # fmt: skip
    assert sheet.cell(moment.replace(tzinfo=None)) == "2026-12-02T09:15:03+08:00"  # naive: UTC
    tokyo = SpreadsheetCsv(city=CityTime.named("Asia/Tokyo"))
    assert tokyo.cell(moment) == "2026-12-02T10:15:03+09:00"


def test_document_bom_header_crlf_numbers_unquoted() -> None:
    data = SpreadsheetCsv().document(
        ("name", "n", "x"), [("市本级", 12, 3.5), ("a,b\nc", -1, None)]
    )
    assert data == BOM + 'name,n,x\r\n市本级,12,3.5\r\n"a,b\nc",-1,\r\n'.encode()
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    assert rows == [["name", "n", "x"], ["市本级", "12", "3.5"], ["a,b\nc", "-1", ""]]


@pytest.mark.parametrize(
    ("encoding", "charset", "start"),
    [
        ("utf-8-sig", "utf-8", BOM),
        ("gb18030", "gb18030", b""),
        ("utf-8", "utf-8", b""),
    ],
)
async def test_stream_writes_the_bom_once(encoding: Encoding, charset: str, start: bytes) -> None:
    sheet = SpreadsheetCsv(encoding)
    assert sheet.media_type == f"text/csv; charset={charset}"

    async def chunks() -> AsyncIterator[Iterable[Row]]:
        for i in range(3):
            yield [(f"市{i}", i)]
        yield []

    parts = [part async for part in sheet.stream(("unit", "n"), chunks())]
    data = b"".join(parts)
    assert data.startswith(start + b"unit,n\r\n")
    assert data.count(BOM) == len(start) // 3
    assert data == sheet.document(("unit", "n"), [(f"市{i}", i) for i in range(3)])
    text = data.decode(encoding)
    assert text == "unit,n\r\n市0,0\r\n市1,1\r\n市2,2\r\n"
    assert len(parts) == 4  # the header, then one part per chunk as it comes


def test_encoding_names() -> None:
    assert [encoding_named(n) for n in ("utf-8-sig", "GB18030", " utf-8 ")] == [
        "utf-8-sig",
        "gb18030",
        "utf-8",
    ]
    with pytest.raises(ValueError, match=re.escape("'latin-1' (one of utf-8-sig, gb18030, utf-8)")):
        encoding_named("latin-1")

"""CSV reading: every defect class reported with line, column and reason; encodings."""

from __future__ import annotations

import collections
import dataclasses

from callcenter.legacy import csvfile
from callcenter.legacy.queues import QueueCatalog
from tests.conftest import LEGACY_CSV

HEADER = "number,unit_code,unit,district,mode,queue,transfer_to,note\n"

# one row per defect class; the line numbers are asserted below
DIRTY = HEADER + (
    "0432-62345678,U001,市人社局,市本级,merge,social-security,,\n"  # 2 ok
    "0432-6234ABCD,U001,市人社局,市本级,merge,social-security,,\n"  # 3 letters
    "(0432) 62 345678,U001,市人社局,市本级,merge,social-security,,\n"  # 4 duplicate of 2
    "110,U002,市公安局,市本级,merge,general,,\n"  # 5 emergency
    "043262000005,U002,市公安局,市本级,mergee,general,,\n"  # 6 unknown mode
    "043262000006,U002,市公安局,市本级,merge,police,,\n"  # 7 unknown queue
    "043262000007,U002,市公安局,市本级,merge,,,\n"  # 8 missing queue
    "043262000008,U002,市公安局,市本级,dock,general,,\n"  # 9 dock without transfer_to
    "12399,U002,市公安局,市本级,retain,general,,\n"  # 10 retain without transfer_to
    "043262000011,U002,市公安局分局,市本级,merge,general,,\n"  # 11 unit name conflict
    "\n"  # 12 blank: skipped
    "+86 432 6200 0013,U003,市水务局,市本级,dock,utilities,０４３２－６２００００１３,\n"  # 13 ok
)


def test_every_defect_class_with_its_line_and_column() -> None:
    parsed = csvfile.read(DIRTY.encode(), queues=QueueCatalog.default())
    found = {(e.line, e.column) for e in parsed.errors}
    assert found == {
        (3, "number"),
        (4, "number"),
        (5, "number"),
        (6, "mode"),
        (7, "queue"),
        (8, "queue"),
        (9, "transfer_to"),
        (10, "transfer_to"),
        (11, "unit"),
    }
    reasons = {e.line: e.reason for e in parsed.errors}
    assert "letters" in reasons[3]
    assert "duplicates line 2" in reasons[4]
    assert "emergency" in reasons[5]
    assert "unknown mode 'mergee'" in reasons[6]
    assert "unknown queue 'police'" in reasons[7]
    assert reasons[8] == "missing"
    assert "needs the unit's line" in reasons[9] and "dock" in reasons[9]
    assert "retain" in reasons[10]
    assert "on line 5" in reasons[11]
    assert [(line, r.number, r.transfer_to) for line, r in parsed.records] == [
        (2, "043262345678", None),
        (13, "043262000013", "043262000013"),
    ]


def test_header_problems() -> None:
    parsed = csvfile.read(
        b"number,unit,mode,queue,extra\n043262345678,x,merge,general,1\n",
        queues=QueueCatalog.default(),
    )
    columns = {(e.line, e.column) for e in parsed.errors}
    assert {(1, "unit_code"), (1, "district"), (1, "transfer_to"), (1, "extra")} <= columns
    assert not parsed.records
    assert csvfile.read(b"", queues=QueueCatalog.default()).errors[0].line == 1


def test_the_city_file_and_its_encodings() -> None:
    data = LEGACY_CSV.read_bytes()
    plain = csvfile.read(data, queues=QueueCatalog.default())
    assert plain.ok and plain.encoding == "utf-8"
    records = [r for _, r in plain.records]
    assert len(records) == 280
    assert len({r.unit_code for r in records}) == 109
    assert collections.Counter(r.mode for r in records) == {"merge": 212, "dock": 53, "retain": 15}
    text = data.decode()
    for encoded, encoding in [
        (csvfile.UTF8_BOM + data, "utf-8-sig"),
        (text.encode("gb18030"), "gb18030"),
        (text.replace("\n", "\r\n").encode("gb18030"), "gb18030"),
    ]:
        parsed = csvfile.read(encoded, queues=QueueCatalog.default())
        assert parsed.encoding == encoding
        assert [r for _, r in parsed.records] == records
    assert (
        csvfile.read(text.encode("gb18030"), "gb18030", queues=QueueCatalog.default()).records
        == plain.records
    )
    wrong = csvfile.read(text.encode("gb18030"), "utf-8", queues=QueueCatalog.default())
    assert wrong.errors and wrong.errors[0].column == "file" and "utf-8" in wrong.errors[0].reason


def test_write_reads_back() -> None:
    records = [
        r for _, r in csvfile.read(LEGACY_CSV.read_bytes(), queues=QueueCatalog.default()).records
    ]
    again = csvfile.read(csvfile.write(records), queues=QueueCatalog.default())
    assert [r for _, r in again.records] == records


def test_formula_like_cells_and_gb18030_read_back() -> None:
    records = [
        r for _, r in csvfile.read(LEGACY_CSV.read_bytes(), queues=QueueCatalog.default()).records
    ][:3]
    records[0] = dataclasses.replace(records[0], unit_code="X1", unit="=1+1", note="-x y")
    records[1] = dataclasses.replace(records[1], unit="'+市水务局", note="@SUM(A1)")
    for encoding, found in [("utf-8-sig", "utf-8-sig"), ("gb18030", "gb18030")]:
        data = csvfile.write(records, encoding)
        assert b"'=1+1" in data.replace(b'"', b"")
        again = csvfile.read(data, queues=QueueCatalog.default())
        assert again.encoding == found
        assert [r for _, r in again.records] == records

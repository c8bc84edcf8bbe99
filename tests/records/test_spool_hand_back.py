"""The spool hands back the journal it just sealed without reading it, and reads any
other file back whole, whatever the record's text holds."""

from __future__ import annotations

import json
from pathlib import Path

from callcenter.records.spool import OPEN_NAME, Spool
from tests.records.factory import call


def test_the_journal_just_sealed_is_handed_back_once(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    records = [call(f"h.{i}") for i in range(3)]
    for record in records:
        spool.append(record)
    sealed = spool.seal()
    assert sealed is not None
    first = spool.records(sealed)
    assert all(got is sent for got, sent in zip(first, records, strict=True))
    again = spool.records(sealed)  # a retry after a failed write: the file itself
    assert again == records and again[0] is not records[0]


def test_a_journal_an_earlier_run_left_is_read_back_whole(tmp_path: Path) -> None:
    earlier = call("earlier.1")
    (tmp_path / OPEN_NAME).write_text(json.dumps(earlier.to_json()) + "\n", encoding="utf-8")
    spool = Spool(tmp_path)
    spool.append(call("now.1"))
    sealed = spool.seal()
    assert sealed is not None
    assert [r.linkedid for r in spool.records(sealed)] == ["earlier.1", "now.1"]
    spool.append(call("next.1"))  # the next journal is this run's alone
    following = spool.seal()
    assert following is not None
    assert [r.linkedid for r in spool.records(following)] == ["next.1"]


def test_beyond_the_hold_the_journal_is_read_back(tmp_path: Path) -> None:
    spool = Spool(tmp_path, hold_at_most=2)
    records = [call(f"h.{i}") for i in range(3)]
    for record in records:
        spool.append(record)
    sealed = spool.seal()
    assert sealed is not None
    got = spool.records(sealed)
    assert got == records and got[0] is not records[0]


def test_unicode_line_separators_inside_a_record_survive(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    odd = call(
        "u.1",
        recording="a\u2028b\x85c\u2029d",
        prompts=["市民热线\x1cwelcome"],
        timeline=[[0.0, "start", "12345\x0b"]],
    )
    spool.append(odd)
    spool.append(call("u.2"))
    sealed = spool.seal()
    assert sealed is not None
    assert list(Spool.read(sealed)) == [odd, call("u.2")]

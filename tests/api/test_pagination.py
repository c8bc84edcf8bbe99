"""api/pagination.py: cursors round-trip, anything else is refused with the parameter
named, and pages of a list neither repeat nor skip a row."""

from __future__ import annotations

import base64
import json

import pytest
from fastapi.exceptions import RequestValidationError

from api.pagination import CursorError, PageRequest, decode_cursor, encode_cursor


def raw(value: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


def test_a_cursor_round_trips_and_is_url_safe() -> None:
    key = ("U017", "057187001234", 42, "市住建局/+")
    cursor = encode_cursor(key)
    assert decode_cursor(cursor, (str, str, int, str)) == key
    assert all(ch.isalnum() or ch in "-_" for ch in cursor)


@pytest.mark.parametrize(
    ("cursor", "why"),
    [
        ("!!!", "handed out"),
        ("bm90IGpzb24", "handed out"),  # base64 of "not json"
        (raw({"a": 1}), "of this list"),
        (raw([1]), "of this list"),  # one part, two expected
        (raw(["a", "b"]), "of this list"),  # a str where an int belongs
        (raw([True, "b"]), "of this list"),  # JSON true is no position
        (raw([2**63, "b"]), "out of range"),
        (raw([1, "x" * 301]), "of this list"),
        (raw([1, "a\x00b"]), "of this list"),
    ],
)
def test_what_is_not_our_cursor_is_refused(cursor: str, why: str) -> None:
    with pytest.raises(CursorError, match=why):
        decode_cursor(cursor, (int, str))


def test_a_bad_cursor_is_a_validation_error_naming_it() -> None:
    with pytest.raises(RequestValidationError) as caught:
        PageRequest("garbage", 10).after(int)
    assert caught.value.errors()[0]["loc"] == ("query", "cursor")
    assert PageRequest(None, 10).after(int) is None


def test_pages_cover_the_list_once() -> None:
    rows = list(range(1, 24))
    seen: list[int] = []
    cursor = None
    pages = 0
    while True:
        request = PageRequest(cursor, 5)
        after = request.after(int)
        page = request.within(rows, after, key=lambda r: (r,), item=lambda r: r * 10)
        seen.extend(page.items)
        pages += 1
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == [r * 10 for r in rows] and pages == 5


def test_a_full_last_page_has_no_next_cursor() -> None:
    request = PageRequest(None, 3)
    assert request.of([1, 2, 3], key=lambda r: (r,), item=str).next_cursor is None
    assert request.of([1, 2, 3, 4], key=lambda r: (r,), item=str).next_cursor == encode_cursor((3,))
    assert request.of([], key=lambda r: (r,), item=str).model_dump() == {
        "items": [],
        "next_cursor": None,
    }

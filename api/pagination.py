"""Cursor (keyset) pagination, the same for every list of the API.

A page is `{"items": [...], "next_cursor": "..." | null}`; the client passes
`next_cursor` back as `?cursor=` until it is null. The cursor is the last item's sort
key, JSON-encoded and urlsafe-base64'd: opaque to clients, but not a secret (it holds
nothing the page did not show). Keyset, not offset: the next page starts *after* that
key, so rows inserted or removed meanwhile neither repeat nor skip rows, and a deep page
costs what the first one does (an index range, not a scan of everything before it).

Using it in a route::

    @router.get("/things", response_model=Page[Thing])
    async def things(page: Paging) -> Page[Thing]:
        after = page.after(str, int)        # the decoded key or None; a cursor that does
                                            # not decode to (str, int) is a 422 naming it
        rows = await repo.things(after=after, limit=page.fetch)   # fetch = limit + 1
        return page.of(rows, key=lambda r: (r.name, r.id), item=Thing.of)

`page.of` takes up to `limit + 1` rows in sort order: the extra row only says whether
there is a next page. Lists that are computed in memory rather than queried (seats: the
database's seats merged with the PBX's members) use `page.within(rows, after, key,
item)`, which applies the same cursor to an already sorted list.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Generic, TypeVar

from fastapi import Depends, Query
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field

T = TypeVar("T")
R = TypeVar("R")
KeyPart = int | str
Key = tuple[KeyPart, ...]

LIMIT_DEFAULT = 100
LIMIT_MAX = 1000
CURSOR_MAX_CHARS = 600
_INT_MIN, _INT_MAX = -(2**63), 2**63 - 1  # what a BIGINT column can be compared with
_TEXT_MAX = 300


class Page(BaseModel, Generic[T]):
    """One page of a list; `next_cursor` is null on the last page."""

    items: list[T]
    next_cursor: str | None = Field(
        description="pass as `cursor` for the next page; null: this was the last page",
        examples=["WyIxMDA0Il0"],
    )


def encode_cursor(key: Sequence[KeyPart]) -> str:
    raw = json.dumps(list(key), ensure_ascii=False, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


class CursorError(ValueError):
    """A cursor this endpoint did not hand out; the message says what is wrong."""


def decode_cursor(cursor: str, shape: Sequence[type[KeyPart]]) -> Key:
    """The key inside `cursor`, checked against `shape` (the types of its parts)."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        key = json.loads(raw.decode("utf-8"))
    except (binascii.Error, ValueError):  # JSONDecodeError and UnicodeError are ValueErrors
        raise CursorError("not a cursor handed out by this API") from None
    if not isinstance(key, list) or len(key) != len(shape):
        raise CursorError("not a cursor of this list")
    for part, kind in zip(key, shape, strict=True):
        if type(part) is not kind:  # bool is an int subclass; `type is` refuses it
            raise CursorError("not a cursor of this list")
        if isinstance(part, int) and not _INT_MIN <= part <= _INT_MAX:
            raise CursorError("position out of range")
        if isinstance(part, str) and (len(part) > _TEXT_MAX or "\x00" in part):
            raise CursorError("not a cursor of this list")
    return tuple(key)


def bad_query(name: str, message: str) -> RequestValidationError:
    """A 422 for one query parameter, in the same problem body as FastAPI's own."""
    return RequestValidationError([{"loc": ("query", name), "msg": message, "type": "value_error"}])


@dataclass(frozen=True)
class PageRequest:
    cursor: str | None
    limit: int

    @property
    def fetch(self) -> int:
        """Rows to read: one more than shown, to know whether a next page exists."""
        return self.limit + 1

    def after(self, *shape: type[KeyPart]) -> Key | None:
        if self.cursor is None:
            return None
        try:
            return decode_cursor(self.cursor, shape)
        except CursorError as exc:
            raise bad_query("cursor", f"{exc}; pass back a next_cursor unchanged") from None

    def of(self, rows: Sequence[R], key: Callable[[R], Key], item: Callable[[R], T]) -> Page[T]:
        shown = rows[: self.limit]
        more = len(rows) > self.limit and bool(shown)
        return Page(
            items=[item(r) for r in shown],
            next_cursor=encode_cursor(key(shown[-1])) if more else None,
        )

    def within(
        self,
        rows: Sequence[R],
        after: Key | None,
        key: Callable[[R], Key],
        item: Callable[[R], T],
    ) -> Page[T]:
        """The page after `after` (from `self.after`) of an in-memory list sorted
        ascending by `key`."""
        if after is not None:
            rows = [r for r in rows if key(r) > after]
        return self.of(rows[: self.fetch], key, item)


def page_request(
    cursor: Annotated[
        str | None,
        Query(
            max_length=CURSOR_MAX_CHARS,
            description="`next_cursor` of the previous page (absent: the first page)",
        ),
    ] = None,
    limit: Annotated[
        int, Query(ge=1, le=LIMIT_MAX, description=f"items per page (1..{LIMIT_MAX})")
    ] = LIMIT_DEFAULT,
) -> PageRequest:
    return PageRequest(cursor, limit)


Paging = Annotated[PageRequest, Depends(page_request)]

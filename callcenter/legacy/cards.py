"""Unit cards: what an agent needs about a unit while the caller waits.

A card belongs to a unit of the legacy directory (by its code) and holds the unit's
responsibilities, its opening hours, the numbers a call can be handed to (normalized as
the directory's numbers are, `normalize.normalize_number`) and links into the
province's knowledge base. The rules live here once, for the API and the bulk import
alike; a rejected card names each field and item (`transfer_numbers[2].number: ...`).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from callcenter.legacy.normalize import NumberError, normalize_number
from callcenter.legacy.records import RowError, text_problem

RESPONSIBILITIES_MAX = 4000
HOURS_MAX = 200
LABEL_MAX = 100
TITLE_MAX = 200
URL_MAX = 500
TRANSFER_NUMBERS_MAX = 20
KB_LINKS_MAX = 50
#: the fields a card is written with (plus `version` over the API)
EDITABLE = ("responsibilities", "hours", "transfer_numbers", "kb_links")
URL_SCHEMES = ("http", "https")


@dataclass(frozen=True, slots=True)
class TransferNumber:
    number: str  # directory form: national digits, short codes as they are
    label: str

    def as_dict(self) -> dict[str, str]:
        return {"number": self.number, "label": self.label}


@dataclass(frozen=True, slots=True)
class KbLink:
    title: str
    url: str

    def as_dict(self) -> dict[str, str]:
        return {"title": self.title, "url": self.url}


@dataclass(frozen=True, slots=True)
class CardContent:
    """What an editor writes on a card (everything but the unit and the stamps)."""

    responsibilities: str = ""
    hours: str = ""
    transfer_numbers: tuple[TransferNumber, ...] = ()
    kb_links: tuple[KbLink, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "responsibilities": self.responsibilities,
            "hours": self.hours,
            "transfer_numbers": [t.as_dict() for t in self.transfer_numbers],
            "kb_links": [k.as_dict() for k in self.kb_links],
        }


EMPTY = CardContent()


@dataclass(frozen=True, slots=True)
class UnitCard:
    """A unit's card as shown: the directory's name and district with the content.
    A unit nobody wrote a card for yet has empty content, version 0 and no stamps."""

    unit_code: str
    unit: str
    district: str
    content: CardContent = field(default=EMPTY)
    version: int = 0
    updated_at: datetime | None = None
    updated_by: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "unit_code": self.unit_code,
            "unit": self.unit,
            "district": self.district,
            **self.content.as_dict(),
            "version": self.version,
            "updated_at": self.updated_at.isoformat() if self.updated_at else None,
            "updated_by": self.updated_by,
        }


class CardRejected(ValueError):
    """A card that breaks a rule; `errors` names every field and item at fault."""

    def __init__(self, errors: Sequence[RowError]) -> None:
        super().__init__("; ".join(f"{e.column}: {e.reason}" for e in errors))
        self.errors = list(errors)


def validate_card(raw: Mapping[str, Any]) -> tuple[CardContent | None, list[RowError]]:
    """The card's content from its editable fields (a JSON object, a CSV row read into
    one, an API body), or None and every problem found. A missing field is empty."""
    errors: list[RowError] = []

    def fail(where: str, reason: str) -> None:
        errors.append(RowError(None, where, reason))

    for name in raw:
        if name not in EDITABLE:
            fail(name, f"unknown field (a card has {', '.join(EDITABLE)})")
    responsibilities = _text(raw, "responsibilities", RESPONSIBILITIES_MAX, fail, lines=True)
    hours = _text(raw, "hours", HOURS_MAX, fail)
    numbers = _transfer_numbers(_items(raw, "transfer_numbers", TRANSFER_NUMBERS_MAX, fail), fail)
    links = _kb_links(_items(raw, "kb_links", KB_LINKS_MAX, fail), fail)
    if errors:
        return None, errors
    return CardContent(responsibilities, hours, tuple(numbers), tuple(links)), []


def card_content(raw: Mapping[str, Any]) -> CardContent:
    """`validate_card`, raising CardRejected."""
    content, errors = validate_card(raw)
    if content is None:
        raise CardRejected(errors)
    return content


#: reports one problem: (where, reason)
Fail = Callable[[str, str], None]


def _text(raw: Mapping[str, Any], name: str, limit: int, fail: Fail, *, lines: bool = False) -> str:
    return _checked_text(raw.get(name), name, limit, fail, lines=lines) or ""


def _checked_text(
    value: Any, where: str, limit: int, fail: Fail, *, lines: bool = False
) -> str | None:
    """`value` as a stripped string ("" when absent), or None after reporting why it
    cannot be one."""
    if value is None:
        return ""
    if not isinstance(value, str):
        fail(where, f"expected text, got {type(value).__name__}")
        return None
    text = value.replace("\r\n", "\n").strip()
    if len(text) > limit:
        fail(where, f"{len(text)} characters, at most {limit}")
        return None
    problem = _multiline_problem(text) if lines else text_problem(text)
    if problem:
        fail(where, problem)
        return None
    return text


def _multiline_problem(text: str) -> str | None:
    """Like `records.text_problem`, but line breaks and tabs are allowed."""
    for position, char in enumerate(text, start=1):
        if char in "\n\t":
            continue
        if unicodedata.category(char) == "Cc" or char in "\u2028\u2029":
            return f"control character U+{ord(char):04X} at character {position}"
    return None


def _items(raw: Mapping[str, Any], where: str, limit: int, fail: Fail) -> list[tuple[str, Any]]:
    """The list `where` as (its item's name, item) pairs; bad shapes reported."""
    value = raw.get(where)
    if value is None:
        return []
    if not isinstance(value, list):
        fail(where, f"expected a list, got {type(value).__name__}")
        return []
    if len(value) > limit:
        fail(where, f"{len(value)} items, at most {limit}")
        return []
    out: list[tuple[str, Any]] = []
    for index, item in enumerate(value):
        name = f"{where}[{index}]"
        if not isinstance(item, Mapping):
            fail(name, f"expected an object, got {type(item).__name__}")
        else:
            out.append((name, item))
    return out


def _unknown_keys(item: Mapping[str, Any], name: str, keys: tuple[str, ...], fail: Fail) -> None:
    for key in item:
        if key not in keys:
            fail(f"{name}.{key}", f"unknown field (an item has {', '.join(keys)})")


def _transfer_numbers(items: list[tuple[str, Any]], fail: Fail) -> list[TransferNumber]:
    out: list[TransferNumber] = []
    seen: dict[str, str] = {}
    for name, item in items:
        _unknown_keys(item, name, ("number", "label"), fail)
        label = _checked_text(item.get("label"), f"{name}.label", LABEL_MAX, fail)
        raw_number = _checked_text(item.get("number"), f"{name}.number", LABEL_MAX, fail)
        if raw_number == "":
            fail(f"{name}.number", "missing")
        if not raw_number or label is None:
            continue
        try:
            number = normalize_number(raw_number)
        except NumberError as exc:
            fail(f"{name}.number", str(exc))
            continue
        first = seen.setdefault(number, name)
        if first != name:
            fail(f"{name}.number", f"{number} is already {first}.number")
            continue
        out.append(TransferNumber(number, label))
    return out


def _kb_links(items: list[tuple[str, Any]], fail: Fail) -> list[KbLink]:
    out: list[KbLink] = []
    for name, item in items:
        _unknown_keys(item, name, ("title", "url"), fail)
        title = _checked_text(item.get("title"), f"{name}.title", TITLE_MAX, fail)
        url = _checked_text(item.get("url"), f"{name}.url", URL_MAX, fail)
        if title == "":
            fail(f"{name}.title", "missing")
        problem = "missing" if url == "" else (url_problem(url) if url else None)
        if problem:
            fail(f"{name}.url", problem)
        if title and url and not problem:
            out.append(KbLink(title, url))
    return out


def url_problem(url: str) -> str | None:
    """Why `url` cannot be a knowledge-base link (only http and https, to a host,
    without credentials or spaces); None if it can."""
    if any(c.isspace() for c in url):
        return f"{url[:60]!r}: spaces in a link (write them as %20)"
    try:
        parts = urlsplit(url)
        port = parts.port  # a port that is no number raises here
    except ValueError as exc:
        return f"{url[:60]!r} is not a link: {exc}"
    del port
    if parts.scheme.lower() not in URL_SCHEMES:
        shown = f"{parts.scheme}:" if parts.scheme else "no scheme"
        return f"{url[:60]!r}: {shown}; only http:// and https:// links"
    if not parts.hostname:
        return f"{url[:60]!r}: no host"
    if parts.username is not None or parts.password is not None:
        return f"{url[:60]!r}: a link must not carry a user name or password"
    return None

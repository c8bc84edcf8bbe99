"""One directory row and its validation, shared by the CSV import and the HTTP API, so
a number is held to the same rules whichever way it arrives."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from callcenter.legacy.normalize import NumberError, normalize_number
from callcenter.legacy.queues import QueueCatalog

COLUMNS = ("number", "unit_code", "unit", "district", "mode", "queue", "transfer_to", "note")
MODES = ("merge", "dock", "retain")
#: modes whose calls may be handed back to the unit's own line
NEEDS_TRANSFER = frozenset({"dock", "retain"})
MAX_LEN = {"unit_code": 32, "unit": 200, "district": 100, "note": 500}
#: a unit code is a short code (the city's U001..U109): ASCII letters, digits, "-" and
#: "_", starting with a letter or digit, so it never reads as a formula (= + - @)
UNIT_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")
#: the text fields: one line each, no control characters (NUL, CR, LF, tab, ...)
TEXT_FIELDS = ("unit", "district", "note")
#: a unit's name is written into the Asterisk configuration (the transfer targets'
#: comments), where ";" starts a comment: refused here, not when the config is rendered
CONFIG_UNSAFE = {"unit": ";"}
_NAMED = {"\0": "NUL", "\r": "CR", "\n": "LF", "\t": "tab", "\u2028": "LS", "\u2029": "PS"}


@dataclass(frozen=True, slots=True)
class NumberRecord:
    """A number as configured: the CSV columns, normalized."""

    number: str
    unit_code: str
    unit: str
    district: str
    mode: str
    queue: str
    transfer_to: str | None
    note: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class RowError:
    """What is wrong and where: the operator fixes the spreadsheet from this alone."""

    line: int | None
    column: str
    reason: str

    def __str__(self) -> str:
        where = f"line {self.line}, " if self.line is not None else ""
        return f"{where}column {self.column}: {self.reason}"

    def as_dict(self) -> dict[str, Any]:
        return {"line": self.line, "column": self.column, "reason": self.reason}


def text_problem(text: str, forbidden: str = "") -> str | None:
    """Why `text` cannot be a directory field (a control character or line break, or
    one of `forbidden`), naming the character and where; None if it can."""
    for position, char in enumerate(text, start=1):
        if char in forbidden:
            return (
                f"{char!r} at character {position}: the name goes into the Asterisk "
                f"configuration, where {char!r} starts a comment"
            )
        if unicodedata.category(char) == "Cc" or char in "\u2028\u2029":
            name = _NAMED.get(char, f"U+{ord(char):04X}")
            return f"control character {name} at character {position} (one line, no controls)"
    return None


def validate_fields(
    fields: Mapping[str, str | None], queues: QueueCatalog
) -> tuple[NumberRecord | None, list[RowError]]:
    """Check one row's cells (its queue one of `queues`, the catalogue in force);
    returns the record, or None and every problem found."""
    errors: list[RowError] = []

    def cell(name: str) -> str:
        return (fields.get(name) or "").strip()

    def fail(column: str, reason: str) -> None:
        errors.append(RowError(None, column, reason))

    number = ""
    try:
        number = normalize_number(cell("number"))
    except NumberError as exc:
        fail("number", str(exc))
    for name in ("unit_code", "unit", "district"):
        if not cell(name):
            fail(name, "missing")
    for name, limit in MAX_LEN.items():
        if len(cell(name)) > limit:
            fail(name, f"longer than {limit} characters")
    code = cell("unit_code")
    if code and not UNIT_CODE.fullmatch(code):
        fail(
            "unit_code",
            f"{code[:40]!r} is not a unit code: letters, digits, '-' and '_', "
            "starting with a letter or digit (like U017)",
        )
    for name in TEXT_FIELDS:
        problem = text_problem(cell(name), CONFIG_UNSAFE.get(name, ""))
        if problem:
            fail(name, problem)
    mode = cell("mode").lower()
    if not mode:
        fail("mode", f"missing (one of {', '.join(MODES)})")
    elif mode not in MODES:
        fail("mode", f"unknown mode {cell('mode')!r} (one of {', '.join(MODES)})")
    queue = cell("queue").lower()
    if not queue:
        fail("queue", "missing")
    elif queue not in queues:
        fail("queue", f"unknown queue {cell('queue')!r} (known: {', '.join(queues.names)})")
    transfer_to: str | None = None
    if cell("transfer_to"):
        try:
            transfer_to = normalize_number(cell("transfer_to"))
        except NumberError as exc:
            fail("transfer_to", str(exc))
    elif mode in NEEDS_TRANSFER:
        fail("transfer_to", f"mode {mode} needs the unit's line to transfer to")
    if errors:
        return None, errors
    record = NumberRecord(
        number=number,
        unit_code=cell("unit_code"),
        unit=cell("unit"),
        district=cell("district"),
        mode=mode,
        queue=queue,
        transfer_to=transfer_to,
        note=cell("note"),
    )
    return record, []

"""One directory row and its validation, shared by the CSV import and the HTTP API, so
a number is held to the same rules whichever way it arrives."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from callcenter.legacy.normalize import NumberError, normalize_number
from callcenter.legacy.queues import KNOWN, QUEUES

COLUMNS = ("number", "unit_code", "unit", "district", "mode", "queue", "transfer_to", "note")
MODES = ("merge", "dock", "retain")
#: modes whose calls may be handed back to the unit's own line
NEEDS_TRANSFER = frozenset({"dock", "retain"})
MAX_LEN = {"unit_code": 32, "unit": 200, "district": 100, "note": 500}


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


def validate_fields(fields: Mapping[str, str | None]) -> tuple[NumberRecord | None, list[RowError]]:
    """Check one row's cells; returns the record, or None and every problem found."""
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
    mode = cell("mode").lower()
    if not mode:
        fail("mode", f"missing (one of {', '.join(MODES)})")
    elif mode not in MODES:
        fail("mode", f"unknown mode {cell('mode')!r} (one of {', '.join(MODES)})")
    queue = cell("queue").lower()
    if not queue:
        fail("queue", "missing")
    elif queue not in KNOWN:
        fail("queue", f"unknown queue {cell('queue')!r} (known: {', '.join(QUEUES)})")
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

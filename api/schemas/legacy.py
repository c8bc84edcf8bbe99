"""Bodies of the legacy-number directory's endpoints (api/legacy.py).

Numbers are shown as the directory stores them: national digits without separators
(`0571-87001234` -> `057187001234`, callcenter/legacy/normalize.py); a path parameter may
be typed either way.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from callcenter.legacy.records import NumberRecord
from callcenter.legacy.repository import NumberView, WriteResult

Mode = Literal["merge", "dock", "retain"]

_NUMBER: dict[str, Any] = {
    "number": "057187001234",
    "unit_code": "U017",
    "unit": "市住房和城乡建设局",
    "district": "市本级",
    "mode": "merge",
    "queue": "housing",
    "transfer_to": None,
    "note": "原住建局服务热线 0571-87001234",
}
_STAMP: dict[str, Any] = {
    "version": 3,
    "effective_from": "2026-11-01T00:00:00Z",
    "updated_at": "2026-10-28T07:30:12Z",
    "updated_by": "remap script",
}


class LegacyNumberIn(BaseModel):
    """A number's configuration. `unit`/`district` may be left out for a known unit."""

    unit_code: str = Field(min_length=1, max_length=32)
    unit: str | None = Field(None, max_length=200, description="default: the unit's name")
    district: str | None = Field(None, max_length=100, description="default: the unit's")
    mode: Mode = Field(
        description="merge: answered as 12345; dock: 12345 answers, transfers to the unit "
        "on request; retain: the unit keeps answering, 12345 is the overflow"
    )
    queue: str = Field(description="directory queue: general, housing, social-security, ...")
    transfer_to: str | None = Field(None, description="the unit's own line (dock, retain)")
    note: str = Field("", max_length=500)
    effective_from: datetime | None = Field(
        None, description="when the change starts routing (default: now); ISO 8601 with offset"
    )

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "unit_code": "U017",
                    "mode": "dock",
                    "queue": "housing",
                    "transfer_to": "057187001234",
                    "note": "住建局热线并入 12345，按需转回",
                    "effective_from": "2026-12-01T00:00:00+08:00",
                }
            ]
        },
    )


class LegacyNumberOut(BaseModel):
    number: str = Field(description="national digits, as the directory stores it")
    unit_code: str
    unit: str
    district: str
    mode: Mode
    queue: str
    transfer_to: str | None
    note: str
    version: int = Field(description="this number's version (history: `legacy history N`)")
    effective_from: datetime = Field(description="when this version started routing")
    updated_at: datetime
    updated_by: str

    model_config = ConfigDict(json_schema_extra={"examples": [_NUMBER | _STAMP]})

    @classmethod
    def of(cls, view: NumberView) -> LegacyNumberOut:
        return cls.model_validate(view.as_dict())


class RouteNow(BaseModel):
    queue: str = Field(description="the Asterisk queue a call to this number joins now")
    mode: Mode
    version: int

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"queue": "hotline-housing", "mode": "merge", "version": 3}]
        }
    )


class LegacyNumberDetail(LegacyNumberOut):
    routes_now: RouteNow | None = Field(
        description="how a call routes at this moment (the version in force may be older "
        "than the stored one while a change waits for its effective_from); null: not yet"
    )

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                _NUMBER
                | _STAMP
                | {"routes_now": {"queue": "hotline-housing", "mode": "merge", "version": 3}}
            ]
        }
    )


class RowErrorOut(BaseModel):
    line: int | None = Field(description="CSV line (1 = header); null: not from a file")
    column: str
    reason: str

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"line": 7, "column": "queue", "reason": "unknown queue 'nowhere'"},
            ]
        }
    )


class NumberChange(BaseModel):
    number: str
    fields: dict[str, list[Any]] = Field(description="field -> [before, after]")

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"number": "057187001234", "fields": {"mode": ["merge", "dock"]}}]
        }
    )


_SUMMARY: dict[str, Any] = {
    "applied": True,
    "dry_run": False,
    "effective_from": "2026-12-01T00:00:00Z",
    "directory_version": 42,
    "adds": 1,
    "changes": 1,
    "removals": 0,
    "unit_changes": 0,
    "unit_removals": 0,
    "errors": [],
    "added": ["057187005678"],
    "changed": [{"number": "057187001234", "fields": {"mode": ["merge", "dock"]}}],
    "removed": [],
}


class WriteSummary(BaseModel):
    """What a write did (or, for a dry run, would do)."""

    applied: bool = Field(description="false: a dry run, or nothing to change")
    dry_run: bool
    effective_from: datetime
    directory_version: int = Field(description="the directory's version after the write")
    adds: int
    changes: int
    removals: int
    unit_changes: int
    unit_removals: int
    errors: list[RowErrorOut]
    added: list[str]
    changed: list[NumberChange]
    removed: list[str]

    model_config = ConfigDict(json_schema_extra={"examples": [_SUMMARY]})

    @classmethod
    def of(cls, result: WriteResult) -> WriteSummary:
        return cls.model_validate(result.summary())


class ImportSummary(WriteSummary):
    rows: int = Field(description="data rows read from the file")
    encoding: str = Field(description="the encoding the file was read as")

    model_config = ConfigDict(
        json_schema_extra={"examples": [dict(_SUMMARY, rows=280, encoding="gb18030")]}
    )


class UnitNumber(BaseModel):
    number: str
    mode: Mode
    queue: str
    transfer_to: str | None

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "number": "057187001234",
                    "mode": "dock",
                    "queue": "housing",
                    "transfer_to": "057187001234",
                }
            ]
        }
    )

    @classmethod
    def of(cls, record: NumberRecord) -> UnitNumber:
        return cls.model_validate(
            {
                "number": record.number,
                "mode": record.mode,
                "queue": record.queue,
                "transfer_to": record.transfer_to,
            }
        )


class UnitOut(BaseModel):
    code: str
    name: str
    district: str
    transfer_line: str | None = Field(description="where an agent hands a call to the unit")
    numbers: list[UnitNumber]

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "code": "U017",
                    "name": "市住房和城乡建设局",
                    "district": "市本级",
                    "transfer_line": "057187001234",
                    "numbers": [
                        {
                            "number": "057187001234",
                            "mode": "dock",
                            "queue": "housing",
                            "transfer_to": "057187001234",
                        },
                        {
                            "number": "057187005678",
                            "mode": "merge",
                            "queue": "housing",
                            "transfer_to": None,
                        },
                    ],
                }
            ]
        }
    )

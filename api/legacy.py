"""The legacy-number directory over HTTP, for operators' scripts (integration role)
and the agents' transfer directory (`/units`).

Writes go through the same validation and versioning as the CLI; the acting token's
name is recorded as "who". The instance that writes reloads its routing at once;
other instances pick the change up by polling (callcenter/legacy/directory.py).
A rejected write is a 422 whose `detail` lists every row error {line, column, reason}
(the same list the CSV import reports), and nothing is written.

Numbers are shown as the directory stores them: national digits without separators
(`0571-87001234` -> `057187001234`, callcenter/legacy/normalize.py); a path parameter may
be typed either way.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from api.auth import require_roles
from api.city import ACCEPTED, MAX_LENGTH, City, Stamp, time_query, written
from api.pagination import Page, Paging
from api.queue_names import queue_filter
from api.services import legacy_directory, queue_catalog
from callcenter.clock import CityTime
from callcenter.legacy import csvfile
from callcenter.legacy.directory import Directory
from callcenter.legacy.normalize import NumberError, normalize_number
from callcenter.legacy.queues import QueueCatalog, directory_name
from callcenter.legacy.records import NumberRecord, RowError, validate_fields
from callcenter.legacy.repository import LegacyError, NotFound, NumberView, WriteResult
from callcenter.tokens import Principal, Role

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
    "effective_from": "2026-11-01T00:00:00+08:00",
    "updated_at": "2026-10-28T15:30:12+08:00",
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
    effective_from: str | None = Field(
        None,
        max_length=MAX_LENGTH,
        description=f"when the change starts routing (default: now). {ACCEPTED}",
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
    effective_from: Stamp = Field(
        description="when this version started routing; ISO 8601, city time with offset"
    )
    updated_at: Stamp
    updated_by: str

    model_config = ConfigDict(json_schema_extra={"examples": [_NUMBER | _STAMP]})

    @classmethod
    def of(cls, view: NumberView, city: CityTime) -> LegacyNumberOut:
        return written(cls, _view_fields(view), city)


_ROUTE: dict[str, Any] = {
    "queue": "housing",
    "asterisk": "hotline-housing",
    "mode": "merge",
    "version": 3,
}


class RouteNow(BaseModel):
    queue: str = Field(description="the queue a call to this number joins now (directory name)")
    asterisk: str = Field(description="that queue's Asterisk name, for operators")
    mode: Mode
    version: int

    model_config = ConfigDict(json_schema_extra={"examples": [_ROUTE]})


class LegacyNumberDetail(LegacyNumberOut):
    routes_now: RouteNow | None = Field(
        description="how a call routes at this moment (the version in force may be older "
        "than the stored one while a change waits for its effective_from); null: not yet"
    )

    model_config = ConfigDict(
        json_schema_extra={"examples": [_NUMBER | _STAMP | {"routes_now": _ROUTE}]}
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
    "effective_from": "2026-12-01T00:00:00+08:00",
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
    effective_from: Stamp
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
    def of(cls, result: WriteResult, city: CityTime) -> WriteSummary:
        return written(cls, result.summary() | {"effective_from": result.effective_from}, city)


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


router = APIRouter(prefix="/api/v1", tags=["legacy numbers"])
#: the CSV import's path: its body may be as large as `BodyLimits.import_bytes`
IMPORT_PATH = "/legacy-numbers/import"
IMPORT_URL = router.prefix + IMPORT_PATH

Integration = Annotated[Principal, Depends(require_roles(Role.INTEGRATION))]
Reader = Annotated[Principal, Depends(require_roles(Role.INTEGRATION, Role.SUPERVISOR, Role.AGENT))]
Numbers = Annotated[Directory, Depends(legacy_directory)]
#: the queue catalogue in force: what a number's queue must be one of
Queues = Annotated[QueueCatalog, Depends(queue_catalog)]
EffectiveFrom = Annotated[
    datetime | None,
    time_query("effective_from", "when the change starts routing (default: now)", "2026-12-01"),
]

NumberPath = Annotated[
    str,
    Path(
        max_length=MAX_LENGTH,
        description="as people write it or as stored: `0571-87001234` and `057187001234` "
        "name the same number",
        examples=["0571-87001234"],
    ),
]

_CSV_EXAMPLE = (
    "number,unit_code,unit,district,mode,queue,transfer_to,note\n"
    "0571-87001234,U017,市住房和城乡建设局,市本级,dock,housing,0571-87001234,原住建局热线\n"
    "0571-87005678,U017,市住房和城乡建设局,市本级,merge,housing,,\n"
)


def _key(number: str) -> str:
    try:
        return normalize_number(number)
    except NumberError as exc:
        raise HTTPException(422, [RowError(None, "number", str(exc)).as_dict()]) from exc


def _rejected(errors: list[RowError]) -> HTTPException:
    return HTTPException(422, [e.as_dict() for e in errors])


def _view_fields(view: NumberView) -> dict[str, Any]:
    """The view's fields, its times as the datetimes they are (`as_dict` writes them
    for the CLI)."""
    return view.as_dict() | {"effective_from": view.effective_from, "updated_at": view.updated_at}


def _effective(city: CityTime, value: str | None) -> datetime | None:
    """The body's `effective_from`, read in city time, as UTC."""
    if value is None:
        return None
    try:
        return city.read(value).astimezone(UTC)
    except (ValueError, OverflowError) as exc:
        reason = f"{exc}; accepted: {ACCEPTED}"
        raise HTTPException(422, [RowError(None, "effective_from", reason).as_dict()]) from None


def _utc(value: datetime | None) -> datetime | None:
    return value.astimezone(UTC) if value is not None else None


async def _applied(directory: Directory, result: WriteResult, city: CityTime) -> WriteSummary:
    if result.plan.errors:
        raise _rejected(result.plan.errors)
    if result.applied:
        await directory.reload()  # visible to routing in this instance now
    return WriteSummary.of(result, city)


@router.get(
    "/legacy-numbers",
    response_model=Page[LegacyNumberOut],
    summary="The directory, filtered; by unit code, then number",
)
async def list_numbers(
    _who: Integration,
    page: Paging,
    directory: Numbers,
    city: City,
    unit: Annotated[
        str | None, Query(max_length=200, description="unit code or exact name, e.g. U017")
    ] = None,
    district: Annotated[str | None, Query(max_length=100, examples=["市本级"])] = None,
    mode: Mode | None = None,
    *,
    queue: Annotated[str | None, Depends(queue_filter)],
) -> Page[LegacyNumberOut]:
    after = page.after(str, str)
    views = await directory.repository.find(
        unit=unit,
        district=district,
        mode=mode,
        queue=None if queue is None else directory_name(queue),
        after=(str(after[0]), str(after[1])) if after else None,
        limit=page.fetch,
    )
    return page.of(
        views,
        key=lambda v: (v.record.unit_code, v.record.number),
        item=lambda v: LegacyNumberOut.of(v, city),
    )


@router.get(
    "/legacy-numbers/{number}",
    response_model=LegacyNumberDetail,
    summary="One number, and how it routes now",
)
async def get_number(
    number: NumberPath,
    _who: Integration,
    directory: Numbers,
    city: City,
) -> LegacyNumberDetail:
    key = _key(number)
    view = await directory.repository.get(key)
    if view is None:
        raise HTTPException(404, f"{key} is not in the directory")
    route = directory.route(key, datetime.now(UTC))
    routes_now = (
        None
        if route is None
        else RouteNow.model_validate(
            {
                "queue": directory_name(route.queue),
                "asterisk": route.queue,
                "mode": route.mode,
                "version": route.version,
            }
        )
    )
    return written(LegacyNumberDetail, _view_fields(view) | {"routes_now": routes_now}, city)


@router.put(
    "/legacy-numbers/{number}",
    response_model=WriteSummary,
    summary="Create or change a number (versioned)",
)
async def put_number(
    number: NumberPath,
    body: LegacyNumberIn,
    who: Integration,
    directory: Numbers,
    city: City,
    queues: Queues,
) -> WriteSummary:
    key = _key(number)
    effective_from = _effective(city, body.effective_from)
    fields = body.model_dump(exclude={"effective_from"}) | {"number": key}
    if body.unit is None or body.district is None:
        known = {u.code: u for u, _ in await directory.repository.units()}
        unit = known.get(body.unit_code)
        if unit is None:
            raise _rejected(
                [RowError(None, "unit", f"unit {body.unit_code} is new: give unit and district")]
            )
        fields["unit"] = body.unit or unit.name
        fields["district"] = body.district or unit.district
    record, errors = validate_fields(fields, queues)
    if record is None:
        raise _rejected(errors)
    result = await directory.repository.put(record, actor=who.name, effective_from=effective_from)
    return await _applied(directory, result, city)


@router.delete("/legacy-numbers/{number}", status_code=204, summary="Remove a number")
async def delete_number(
    number: NumberPath,
    who: Integration,
    directory: Numbers,
    city: City,
    effective_from: EffectiveFrom,
) -> Response:
    key = _key(number)
    try:
        result = await directory.repository.delete(
            key, actor=who.name, effective_from=_utc(effective_from)
        )
    except NotFound as exc:
        raise HTTPException(404, f"{key} is not in the directory") from exc
    await _applied(directory, result, city)
    return Response(status_code=204)


@router.post(
    IMPORT_PATH,
    response_model=ImportSummary,
    summary="Import a CSV (the body); all or nothing",
    description="The body may be up to `CALLCENTER_HTTP_MAX_IMPORT_BYTES` (20 MiB by "
    "default, about 180,000 rows); a larger one is refused with 413 before it is read.",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "text/csv": {
                    "schema": {"type": "string"},
                    "examples": {"two numbers": {"value": _CSV_EXAMPLE}},
                }
            },
        }
    },
)
async def import_csv(
    request: Request,
    who: Integration,
    directory: Numbers,
    city: City,
    queues: Queues,
    effective_from: EffectiveFrom,
    dry_run: Annotated[bool, Query(description="report what would change, write nothing")] = False,
    prune: Annotated[bool, Query(description="remove numbers the file does not list")] = False,
    force: Annotated[
        bool,
        Query(
            description="apply a prune that removes more than "
            "CALLCENTER_LEGACY_PRUNE_MAX_SHARE of the directory (10 % by default); "
            "without it such a prune is a 422 (column `prune`) and nothing is written"
        ),
    ] = False,
    encoding: Annotated[
        str | None,
        Query(
            max_length=20,
            pattern=r"^[A-Za-z0-9_.-]+$",
            description="a Python codec name, e.g. gb18030; default: detect UTF-8 / GB18030",
        ),
    ] = None,
) -> ImportSummary:
    # parsing and checking 100,000 rows takes seconds: off the event loop
    body = await request.body()
    parsed = await asyncio.to_thread(csvfile.read, body, encoding, queues=queues)
    if not parsed.ok:
        raise _rejected(parsed.errors)
    try:
        result = await directory.repository.import_records(
            parsed.records,
            actor=who.name,
            reason="api import",
            prune=prune,
            force=force,
            dry_run=dry_run,
            effective_from=_utc(effective_from),
        )
    except LegacyError as exc:
        raise _rejected(exc.errors) from exc
    summary = await _applied(directory, result, city)
    return ImportSummary.model_validate(
        summary.model_dump() | {"rows": len(parsed.records), "encoding": parsed.encoding}
    )


@router.get(
    "/units",
    response_model=Page[UnitOut],
    summary="Units and their transfer lines (the agents' transfer directory), by code",
)
async def list_units(_who: Reader, page: Paging, directory: Numbers) -> Page[UnitOut]:
    after = page.after(str)
    units = await directory.repository.units(
        after=str(after[0]) if after else None, limit=page.fetch
    )
    return page.of(
        units,
        key=lambda pair: (pair[0].code,),
        item=lambda pair: UnitOut(
            code=pair[0].code,
            name=pair[0].name,
            district=pair[0].district,
            transfer_line=pair[0].transfer_line,
            numbers=[UnitNumber.of(r) for r in pair[1]],
        ),
    )

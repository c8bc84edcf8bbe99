"""The legacy-number directory over HTTP, for operators' scripts (integration role)
and the agents' transfer directory (`/units`).

Writes go through the same validation and versioning as the CLI; the acting token's
name is recorded as "who". The instance that writes reloads its routing at once;
other instances pick the change up by polling (callcenter/legacy/directory.py).
A rejected write is a 422 whose `detail` lists every row error {line, column, reason}
(the same list the CSV import reports), and nothing is written.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, Response

from api.auth import require_roles
from api.pagination import Page, Paging
from api.schemas.legacy import (
    ImportSummary,
    LegacyNumberDetail,
    LegacyNumberIn,
    LegacyNumberOut,
    Mode,
    RouteNow,
    UnitNumber,
    UnitOut,
    WriteSummary,
)
from callcenter.legacy import csvfile
from callcenter.legacy.directory import Directory
from callcenter.legacy.normalize import NumberError, normalize_number
from callcenter.legacy.records import RowError, validate_fields
from callcenter.legacy.repository import LegacyError, NotFound, WriteResult
from callcenter.tokens import Principal, Role

router = APIRouter(prefix="/api/v1", tags=["legacy numbers"])
Integration = Annotated[Principal, Depends(require_roles(Role.INTEGRATION))]
Reader = Annotated[Principal, Depends(require_roles(Role.INTEGRATION, Role.SUPERVISOR, Role.AGENT))]

NumberPath = Annotated[
    str,
    Path(
        max_length=40,
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


def _directory(request: Request) -> Directory:
    directory: Directory | None = getattr(request.app.state, "legacy", None)
    if directory is None:
        raise HTTPException(503, "the legacy directory is not configured in this instance")
    return directory


def _key(number: str) -> str:
    try:
        return normalize_number(number)
    except NumberError as exc:
        raise HTTPException(422, [RowError(None, "number", str(exc)).as_dict()]) from exc


def _rejected(errors: list[RowError]) -> HTTPException:
    return HTTPException(422, [e.as_dict() for e in errors])


def _utc(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        raise HTTPException(422, [RowError(None, "effective_from", "needs a UTC offset").as_dict()])
    return value.astimezone(UTC) if value is not None else None


async def _applied(directory: Directory, result: WriteResult) -> WriteSummary:
    if result.plan.errors:
        raise _rejected(result.plan.errors)
    if result.applied:
        await directory.reload()  # visible to routing in this instance now
    return WriteSummary.of(result)


@router.get(
    "/legacy-numbers",
    response_model=Page[LegacyNumberOut],
    summary="The directory, filtered; by unit code, then number",
)
async def list_numbers(
    request: Request,
    _who: Integration,
    page: Paging,
    unit: Annotated[
        str | None, Query(max_length=200, description="unit code or exact name, e.g. U017")
    ] = None,
    district: Annotated[str | None, Query(max_length=100, examples=["市本级"])] = None,
    mode: Mode | None = None,
    queue: Annotated[str | None, Query(max_length=64, examples=["housing"])] = None,
) -> Page[LegacyNumberOut]:
    after = page.after(str, str)
    views = await _directory(request).repository.find(
        unit=unit,
        district=district,
        mode=mode,
        queue=queue,
        after=(str(after[0]), str(after[1])) if after else None,
        limit=page.fetch,
    )
    return page.of(
        views, key=lambda v: (v.record.unit_code, v.record.number), item=LegacyNumberOut.of
    )


@router.get(
    "/legacy-numbers/{number}",
    response_model=LegacyNumberDetail,
    summary="One number, and how it routes now",
)
async def get_number(
    request: Request,
    number: NumberPath,
    _who: Integration,
) -> LegacyNumberDetail:
    directory = _directory(request)
    key = _key(number)
    view = await directory.repository.get(key)
    if view is None:
        raise HTTPException(404, f"{key} is not in the directory")
    route = directory.route(key, datetime.now(UTC))
    routes_now = (
        None
        if route is None
        else RouteNow.model_validate(
            {"queue": route.queue, "mode": route.mode, "version": route.version}
        )
    )
    return LegacyNumberDetail.model_validate(
        LegacyNumberOut.of(view).model_dump() | {"routes_now": routes_now}
    )


@router.put(
    "/legacy-numbers/{number}",
    response_model=WriteSummary,
    summary="Create or change a number (versioned)",
)
async def put_number(
    request: Request, number: NumberPath, body: LegacyNumberIn, who: Integration
) -> WriteSummary:
    directory = _directory(request)
    key = _key(number)
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
    record, errors = validate_fields(fields)
    if record is None:
        raise _rejected(errors)
    result = await directory.repository.put(
        record, actor=who.name, effective_from=_utc(body.effective_from)
    )
    return await _applied(directory, result)


@router.delete("/legacy-numbers/{number}", status_code=204, summary="Remove a number")
async def delete_number(
    request: Request,
    number: NumberPath,
    who: Integration,
    effective_from: Annotated[
        datetime | None, Query(description="default: now; ISO 8601 with offset")
    ] = None,
) -> Response:
    directory = _directory(request)
    key = _key(number)
    try:
        result = await directory.repository.delete(
            key, actor=who.name, effective_from=_utc(effective_from)
        )
    except NotFound as exc:
        raise HTTPException(404, f"{key} is not in the directory") from exc
    await _applied(directory, result)
    return Response(status_code=204)


@router.post(
    "/legacy-numbers/import",
    response_model=ImportSummary,
    summary="Import a CSV (the body); all or nothing",
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
    dry_run: Annotated[bool, Query(description="report what would change, write nothing")] = False,
    prune: Annotated[bool, Query(description="remove numbers the file does not list")] = False,
    effective_from: Annotated[
        datetime | None, Query(description="default: now; ISO 8601 with offset")
    ] = None,
    encoding: Annotated[
        str | None,
        Query(
            max_length=20,
            pattern=r"^[A-Za-z0-9_.-]+$",
            description="a Python codec name, e.g. gb18030; default: detect UTF-8 / GB18030",
        ),
    ] = None,
) -> ImportSummary:
    directory = _directory(request)
    parsed = csvfile.read(await request.body(), encoding)
    if not parsed.ok:
        raise _rejected(parsed.errors)
    try:
        result = await directory.repository.import_records(
            parsed.records,
            actor=who.name,
            reason="api import",
            prune=prune,
            dry_run=dry_run,
            effective_from=_utc(effective_from),
        )
    except LegacyError as exc:
        raise _rejected(exc.errors) from exc
    summary = await _applied(directory, result)
    return ImportSummary.model_validate(
        summary.model_dump() | {"rows": len(parsed.records), "encoding": parsed.encoding}
    )


@router.get(
    "/units",
    response_model=Page[UnitOut],
    summary="Units and their transfer lines (the agents' transfer directory), by code",
)
async def list_units(request: Request, _who: Reader, page: Paging) -> Page[UnitOut]:
    after = page.after(str)
    units = await _directory(request).repository.units(
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

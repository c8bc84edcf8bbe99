"""The legacy-number directory over HTTP, for operators' scripts (integration role)
and the agents' transfer directory (`/units`).

Writes go through the same validation and versioning as the CLI; the acting token's
name is recorded as "who". The instance that writes reloads its routing at once;
other instances pick the change up by polling (callcenter/legacy/directory.py).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from pydantic import BaseModel, Field

from api.auth import require_roles
from callcenter.legacy import csvfile
from callcenter.legacy.directory import Directory
from callcenter.legacy.normalize import NumberError, normalize_number
from callcenter.legacy.records import RowError, validate_fields
from callcenter.legacy.repository import LegacyError, NotFound, WriteResult
from callcenter.tokens import Principal, Role

router = APIRouter(prefix="/api/v1", tags=["legacy numbers"])
Integration = Annotated[Principal, Depends(require_roles(Role.INTEGRATION))]
Reader = Annotated[Principal, Depends(require_roles(Role.INTEGRATION, Role.SUPERVISOR, Role.AGENT))]


class LegacyNumberIn(BaseModel):
    """A number's configuration. `unit`/`district` may be left out for a known unit."""

    unit_code: str = Field(min_length=1, max_length=32)
    unit: str | None = None
    district: str | None = None
    mode: Literal["merge", "dock", "retain"]
    queue: str
    transfer_to: str | None = None
    note: str = ""
    effective_from: datetime | None = Field(
        None, description="when the change starts routing (default: now); ISO 8601 with offset"
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


async def _applied(directory: Directory, result: WriteResult) -> dict[str, Any]:
    if result.plan.errors:
        raise _rejected(result.plan.errors)
    if result.applied:
        await directory.reload()  # visible to routing in this instance now
    return result.summary()


@router.get("/legacy-numbers", summary="The directory, filtered")
async def list_numbers(
    request: Request,
    _who: Integration,
    unit: Annotated[str | None, Query(description="unit code or exact name")] = None,
    district: str | None = None,
    mode: str | None = None,
    queue: str | None = None,
) -> list[dict[str, Any]]:
    repo = _directory(request).repository
    views = await repo.find(unit=unit, district=district, mode=mode, queue=queue)
    return [v.as_dict() for v in views]


@router.get("/legacy-numbers/{number}", summary="One number, and how it routes now")
async def get_number(request: Request, number: str, _who: Integration) -> dict[str, Any]:
    directory = _directory(request)
    key = _key(number)
    view = await directory.repository.get(key)
    if view is None:
        raise HTTPException(404, f"{key} is not in the directory")
    route = directory.route(key, datetime.now(UTC))
    return view.as_dict() | {
        "routes_now": None
        if route is None
        else {"queue": route.queue, "mode": route.mode, "version": route.version}
    }


@router.put("/legacy-numbers/{number}", summary="Create or change a number (versioned)")
async def put_number(
    request: Request, number: str, body: LegacyNumberIn, who: Integration
) -> dict[str, Any]:
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
    number: str,
    who: Integration,
    effective_from: Annotated[datetime | None, Query(description="default: now")] = None,
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
    summary="Import a CSV (the body); all or nothing",
    openapi_extra={
        "requestBody": {"required": True, "content": {"text/csv": {"schema": {"type": "string"}}}}
    },
)
async def import_csv(
    request: Request,
    who: Integration,
    dry_run: bool = False,
    prune: bool = False,
    effective_from: datetime | None = None,
    encoding: Annotated[str | None, Query(description="default: detect UTF-8 / GB18030")] = None,
) -> dict[str, Any]:
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
    return {"rows": len(parsed.records), "encoding": parsed.encoding} | await _applied(
        directory, result
    )


@router.get("/units", summary="Units and their transfer lines (the agents' transfer directory)")
async def list_units(request: Request, _who: Reader) -> list[dict[str, Any]]:
    units = await _directory(request).repository.units()
    return [
        {
            "code": unit.code,
            "name": unit.name,
            "district": unit.district,
            "transfer_line": unit.transfer_line,
            "numbers": [
                {"number": r.number, "mode": r.mode, "queue": r.queue, "transfer_to": r.transfer_to}
                for r in numbers
            ],
        }
        for unit, numbers in units
    ]

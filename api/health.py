"""Liveness and readiness.

`/healthz` answers as long as the process serves HTTP. `/readyz` says whether this
instance can do its job right now, and if not, why: each check reports its own reason so
an operator sees "database: ..." rather than a bare 503. Both are public (a load
balancer has no token).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Literal

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict

from api.services import CheckResult, ReadinessCheck, readiness_checks
from api.strict_query import reject_unknown_query

router = APIRouter(tags=["health"], dependencies=[Depends(reject_unknown_query)])


class Health(BaseModel):
    status: Literal["ok"]

    model_config = ConfigDict(json_schema_extra={"examples": [{"status": "ok"}]})


class Check(BaseModel):
    ok: bool
    detail: str

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"ok": True, "detail": "schema at 0007; 2 service instance(s) alive"}]
        }
    )


class Readiness(BaseModel):
    status: Literal["ready", "not ready"]
    checks: dict[str, Check]

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "status": "not ready",
                    "checks": {
                        "database": {
                            "ok": True,
                            "detail": "schema at 0007; 2 service instance(s) alive",
                        },
                        "pbx1": {"ok": False, "detail": "AMI not connected: connection refused"},
                    },
                }
            ]
        }
    )


@router.get("/healthz", response_model=Health, summary="The process is up")
async def healthz() -> Health:
    return Health(status="ok")


@router.get(
    "/readyz",
    response_model=Readiness,
    summary="Every dependency is usable",
    responses={503: {"model": Readiness, "description": "not ready: each check says why"}},
)
async def readyz(
    checks: Annotated[Mapping[str, ReadinessCheck], Depends(readiness_checks)],
) -> JSONResponse:
    results: dict[str, Check] = {}
    for name, check in checks.items():
        try:
            result = await check()
        except Exception as exc:  # a failing check is a reason, not a 500
            result = CheckResult(False, f"{type(exc).__name__}: {exc}")
        results[name] = Check(ok=result.ok, detail=result.detail)
    ready = all(r.ok for r in results.values())
    body = Readiness(status="ready" if ready else "not ready", checks=results)
    return JSONResponse(body.model_dump(), status_code=200 if ready else 503)

"""Liveness and readiness.

`/healthz` answers as long as the process serves HTTP. `/readyz` says whether this
instance can do its job right now, and if not, why: each check reports its own reason so
an operator sees "database: ..." rather than a bare 503.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse


@dataclass(frozen=True)
class CheckResult:
    ok: bool
    detail: str


ReadinessCheck = Callable[[], Awaitable[CheckResult]]

router = APIRouter()


@router.get("/healthz", tags=["health"], summary="The process is up")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", tags=["health"], summary="Every dependency is usable")
async def readyz(request: Request) -> JSONResponse:
    checks: dict[str, ReadinessCheck] = request.app.state.readiness_checks
    results: dict[str, dict[str, object]] = {}
    for name, check in checks.items():
        try:
            result = await check()
        except Exception as exc:  # a failing check is a reason, not a 500
            result = CheckResult(False, f"{type(exc).__name__}: {exc}")
        results[name] = {"ok": result.ok, "detail": result.detail}
    ready = all(bool(r["ok"]) for r in results.values())
    return JSONResponse(
        {"status": "ready" if ready else "not ready", "checks": results},
        status_code=200 if ready else 503,
    )

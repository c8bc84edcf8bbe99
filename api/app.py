"""Builds the FastAPI application from already-constructed services (no globals)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import Depends, FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from starlette.responses import Response

from api import queues, seats, stats
from api.audit_log import AuditMiddleware
from api.audit_log import router as audit_router
from api.callbacks import router as callbacks_router
from api.calls import router as calls_router
from api.desk import router as desk_router
from api.desk_ws import DeskCollector
from api.docs_page import install as install_docs
from api.errors import install as install_error_handlers
from api.health import router as health_router
from api.intake import router as intake_router
from api.ivr import router as ivr_router
from api.legacy import IMPORT_URL
from api.legacy import router as legacy_router
from api.live import router as live_router
from api.live_ws import StreamCollector, quiet_invalid_utf8
from api.openapi import install as install_openapi
from api.queue_catalog import router as queue_catalog_router
from api.reconciliation import router as reconciliation_router
from api.request_limits import KIB, MIB, BodyLimits, RequestGuard
from api.security_headers import SecurityHeaders
from api.services import ApiServices, attach
from api.stats import router as stats_router
from api.strict_query import reject_unknown_query
from api.transfers import router as transfers_router
from api.unit_cards import router as unit_cards_router
from api.webhooks import router as webhooks_router

STATIC = Path(__file__).with_name("static")


def body_limits(json_bytes: int = 64 * KIB, import_bytes: int = 20 * MIB) -> BodyLimits:
    """The caps on request bodies: `import_bytes` for the legacy directory's CSV import
    (a city's whole directory, about 100,000 rows, is some 11 MB), `json_bytes` for
    every other body (the largest, an IVR flow, is a few KB)."""
    return BodyLimits(json_bytes=json_bytes, large={IMPORT_URL: import_bytes})


def create_app(
    services: ApiServices,
    metrics: CollectorRegistry,
    version: str,
    limits: BodyLimits | None = None,
) -> FastAPI:
    stream = services.stream
    if stream is not None:
        metrics.register(StreamCollector(stream))
    if services.desk is not None:
        metrics.register(DeskCollector(services.desk))

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        quiet_invalid_utf8()
        yield
        if stream is not None:
            await stream.stop()
        if services.desk is not None:
            await services.desk.stop()

    app = FastAPI(
        lifespan=lifespan,
        title="12345 hotline call center",
        version=version,
        description="Seats, queues, live state and call records of a 12345 hotline "
        "running on Asterisk.",
        docs_url=None,  # served from the package: api/docs_page.py
        redoc_url=None,
    )
    install_error_handlers(app)
    install_openapi(app, queues.EXAMPLES | seats.EXAMPLES | stats.EXAMPLES)
    attach(app, services)
    # the last added runs first: the audit log sees the guard's refusals
    app.add_middleware(RequestGuard, tokens=services.tokens, limits=limits or body_limits())
    if services.audit is not None:
        app.add_middleware(AuditMiddleware, audit=services.audit)
    app.add_middleware(SecurityHeaders)
    app.include_router(health_router)
    app.include_router(queues.router)
    app.include_router(queue_catalog_router)
    app.include_router(live_router)
    app.include_router(desk_router)
    app.include_router(seats.router)
    app.include_router(callbacks_router)
    app.include_router(legacy_router)
    app.include_router(unit_cards_router)
    app.include_router(calls_router)
    app.include_router(intake_router)
    app.include_router(stats_router)
    app.include_router(audit_router)
    app.include_router(reconciliation_router)
    app.include_router(ivr_router)
    app.include_router(webhooks_router)
    app.include_router(transfers_router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    install_docs(app)

    @app.get("/", include_in_schema=False)
    async def wallboard() -> FileResponse:
        return FileResponse(STATIC / "wallboard.html", media_type="text/html; charset=utf-8")

    @app.get("/agent", include_in_schema=False)
    async def agent_desk() -> FileResponse:
        return FileResponse(STATIC / "agent.html", media_type="text/html; charset=utf-8")

    @app.get(
        "/metrics",
        tags=["health"],
        summary="Prometheus metrics",
        response_class=Response,
        dependencies=[Depends(reject_unknown_query)],
        responses={200: {"content": {CONTENT_TYPE_LATEST: {"schema": {"type": "string"}}}}},
    )
    async def metrics_endpoint() -> Response:
        return Response(generate_latest(metrics), media_type=CONTENT_TYPE_LATEST)

    return app

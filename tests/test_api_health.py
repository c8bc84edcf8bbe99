"""Health, readiness and metrics endpoints."""

from __future__ import annotations

import httpx
from prometheus_client import CollectorRegistry, Counter

from api.app import create_app
from api.services import ApiServices, CheckResult


async def ok() -> CheckResult:
    return CheckResult(True, "fine")


async def down() -> CheckResult:
    return CheckResult(False, "connection refused")


async def broken() -> CheckResult:
    raise RuntimeError("boom")


def client(checks: dict) -> httpx.AsyncClient:  # type: ignore[type-arg]
    registry = CollectorRegistry()
    Counter("demo_total", "a counter", registry=registry).inc(3)
    app = create_app(ApiServices(readiness=checks), registry, "test")
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")


async def test_ready_when_every_check_passes() -> None:
    async with client({"database": ok}) as c:
        assert (await c.get("/healthz")).json() == {"status": "ok"}
        r = await c.get("/readyz")
        assert r.status_code == 200
        assert r.json()["checks"]["database"] == {"ok": True, "detail": "fine"}


async def test_not_ready_names_each_failing_reason() -> None:
    async with client({"database": ok, "pbx": down, "other": broken}) as c:
        r = await c.get("/readyz")
        assert r.status_code == 503
        checks = r.json()["checks"]
        assert checks["pbx"] == {"ok": False, "detail": "connection refused"}
        assert checks["other"] == {"ok": False, "detail": "RuntimeError: boom"}
        assert checks["database"]["ok"] is True


async def test_metrics_are_prometheus_text() -> None:
    async with client({}) as c:
        r = await c.get("/metrics")
        assert r.status_code == 200
        assert "demo_total 3.0" in r.text


async def test_wallboard_page_and_assets_are_served_locally() -> None:
    async with client({}) as c:
        page = await c.get("/")
        assert page.status_code == 200 and "text/html" in page.headers["content-type"]
        assert "12345" in page.text and "http" not in page.text.replace("http-equiv", "")
        for asset in ("/static/wallboard.js", "/static/wallboard.css"):
            r = await c.get(asset)
            assert r.status_code == 200, asset
        js = (await c.get("/static/wallboard.js")).text
        assert "/api/v1/live" in js  # the stream (api/live_ws.py), not polling

"""Issue 15, low items: security headers on every response, and /docs served from the
package (no CDN: the origin that holds the wallboard's token runs no foreign script,
and the page works on an intranet without Internet access)."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
from prometheus_client import CollectorRegistry

import api.docs_page
from api.app import create_app
from api.docs_page import SWAGGER_UI_VERSION, script_hashes
from api.services import ApiServices
from tests.api.static_tokens import StaticTokens

EXPECTED = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
}


def client() -> httpx.AsyncClient:
    app = create_app(ApiServices(tokens=StaticTokens()), CollectorRegistry(), "t")  # type: ignore[arg-type]
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")


async def test_every_response_carries_the_headers() -> None:
    async with client() as c:
        responses = [
            await c.get("/"),
            await c.get("/static/wallboard.js"),
            await c.get("/healthz"),
            await c.get("/openapi.json"),
            await c.get("/api/v1/queues"),  # 401 from the route
            await c.post("/api/v1/seats/1001/pause", json={}),  # 401 before the body
            await c.get("/nowhere"),
        ]
    for response in responses:
        for name, value in EXPECTED.items():
            assert response.headers.get(name) == value, (response.url, name)
        policy = response.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in policy and "script-src 'self';" in policy
        assert "unsafe-inline" not in policy and "object-src 'none'" in policy


async def test_the_wallboard_needs_no_inline_script_or_style() -> None:
    async with client() as c:
        page = (await c.get("/")).text
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", page)  # every script a file
    assert "<style" not in page and "style=" not in page


async def test_docs_use_the_packaged_swagger_ui_and_no_other_host() -> None:
    async with client() as c:
        docs = await c.get("/docs")
        assert docs.status_code == 200
        html = docs.text
        assert not re.search(r"(https?:)?//", html), html  # no CDN, no other host
        for asset in ("swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png"):
            assert f"/static/swagger/{asset}" in html
            served = await c.get(f"/static/swagger/{asset}")
            assert served.status_code == 200 and served.content, asset
        bundle = (await c.get("/static/swagger/swagger-ui-bundle.js")).text
        assert (await c.get("/redoc")).status_code == 404  # ReDoc is a CDN loader too
    readme = Path(api.docs_page.__file__).with_name("static") / "swagger" / "README.md"
    assert f"swagger-ui-dist {SWAGGER_UI_VERSION}" in readme.read_text(encoding="utf-8")
    assert "SwaggerUIBundle" in bundle
    policy = docs.headers["content-security-policy"]
    (inline,) = script_hashes(html)
    assert f"script-src 'self' '{inline}';" in policy  # its one inline script, by hash
    assert "frame-ancestors 'none'" in policy and docs.headers["x-frame-options"] == "DENY"

"""`/docs`: swagger-ui from this package, not from a CDN.

FastAPI's page loads swagger-ui from a CDN at a floating version without integrity, on
the origin where the wallboard keeps a supervisor token, and shows a blank page on a
government intranet without Internet access. The assets are vendored under
api/static/swagger/ (README.md there: version, source, licence); the page is FastAPI's
own, pointed at them, with a Content-Security-Policy naming the hash of its one inline
script. ReDoc, another CDN loader, is not offered.
"""

from __future__ import annotations

import base64
import hashlib
import re

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from starlette.responses import HTMLResponse

from api.security_headers import CSP, content_security_policy

#: the vendored swagger-ui-dist (api/static/swagger/README.md)
SWAGGER_UI_VERSION = "5.36.0"
ASSETS = "/static/swagger"
_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)


def script_hashes(html: str) -> list[str]:
    """'sha256-...' of each inline script of the page, as CSP names them."""
    return [
        "sha256-" + base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
        for body in _INLINE_SCRIPT.findall(html)
    ]


def docs_page(openapi_url: str, title: str) -> HTMLResponse:
    page = get_swagger_ui_html(
        openapi_url=openapi_url,
        title=f"{title} - API",
        swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js",
        swagger_css_url=f"{ASSETS}/swagger-ui.css",
        swagger_favicon_url=f"{ASSETS}/favicon-32x32.png",
        oauth2_redirect_url=None,
        # swagger-ui would send the document to validator.swagger.io for a badge
        swagger_ui_parameters={"validatorUrl": None},
    )
    html = bytes(page.body).decode()
    policy = content_security_policy(script_hashes(html), inline_styles=True)
    return HTMLResponse(html, headers={CSP: policy})


def install(app: FastAPI) -> None:
    """`/docs`, for an app made with `docs_url=None, redoc_url=None`."""
    assert app.openapi_url is not None
    page = docs_page(app.openapi_url, app.title)

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return HTMLResponse(bytes(page.body), headers={CSP: page.headers[CSP]})

"""Headers every HTTP response carries, so that a browser holding a supervisor token
(the wallboard keeps one) runs only this service's own scripts, in no one else's frame.

- Content-Security-Policy: scripts, styles, images and connections from this origin
  only (the wallboard has no inline script or style; its WebSocket is same-origin);
  `frame-ancestors 'none'` with X-Frame-Options DENY for older browsers;
- X-Content-Type-Options: nosniff (a JSON or CSV body is never run as a script);
- Referrer-Policy: no-referrer (paths carry call ids and filters).

A response that sets its own Content-Security-Policy keeps it: /docs names the hash of
its one inline script (api/docs_page.py).
"""

from __future__ import annotations

from collections.abc import Iterable

from starlette.types import ASGIApp, Message, Receive, Scope, Send


def content_security_policy(script_hashes: Iterable[str] = (), inline_styles: bool = False) -> str:
    """The policy: this origin only; `script_hashes` ('sha256-...') add inline scripts,
    `inline_styles` allows style attributes and elements (swagger-ui sets some)."""
    scripts = " ".join(["'self'", *(f"'{h}'" for h in script_hashes)])
    styles = "'self' 'unsafe-inline'" if inline_styles else "'self'"
    return (
        f"default-src 'self'; script-src {scripts}; style-src {styles}; "
        "img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
        "form-action 'self'; frame-ancestors 'none'"
    )


CSP = "content-security-policy"
HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (CSP.encode(), content_security_policy().encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
)


class SecurityHeaders:
    """Plain ASGI: adds each of HEADERS a response does not set itself."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers.extend(h for h in HEADERS if h[0] not in present)
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)

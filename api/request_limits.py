"""Who is asking, and how much they may send, before a byte of the body is read.

FastAPI reads and parses a route's body before it resolves the route's dependencies,
the token check among them: a 50 MB JSON body without a token was read and parsed (8 s
of the event loop, 1.3 GB) only to be answered 401, and a malformed one was a 400
before the 401. This middleware stands in front of the routes:

- a request under /api/ that carries a body names a known token first; otherwise 401,
  with the body unread (past the cap or of unknown length, the connection is closed:
  what the client still sends is not read either);
- no body is larger than its cap (`BodyLimits`): 413 at once when Content-Length says
  so, or as soon as the streamed bytes pass the cap (chunked), never buffered whole.

Requests without a body pass untouched: their routes check the token as before. Where
no token store is configured the routes answer 503 anyway; only the caps apply then.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.auth import CHALLENGE, MISSING_TOKEN, UNKNOWN_TOKEN
from api.errors import problem
from callcenter.tokens import TokenStore

KIB = 1024
MIB = 1024 * KIB
#: what a client must not keep the connection for after a refusal
CLOSE = {"Connection": "close"}


@dataclass(frozen=True)
class BodyLimits:
    """The largest body accepted, in bytes: `json_bytes` for every request but the
    paths in `large` (path -> cap), e.g. the legacy directory's CSV import."""

    json_bytes: int = 64 * KIB
    large: Mapping[str, int] = field(default_factory=dict)

    def cap(self, path: str) -> int:
        return self.large.get(path, self.json_bytes)


class BodyTooLarge(HTTPException):
    """A streamed body passed its cap: raised from `receive`, answered 413 by the
    app's handler for HTTPException (api/errors.py), or by the guard itself."""

    def __init__(self, cap: int) -> None:
        super().__init__(413, _too_large(cap), headers=CLOSE)


def _too_large(cap: int) -> str:
    return f"request body larger than {cap:,} bytes"


def _has_body(headers: Headers) -> bool:
    return "transfer-encoding" in headers or headers.get("content-length", "0") != "0"


def _declared_length(headers: Headers) -> int | None:
    try:
        return int(headers["content-length"])
    except (KeyError, ValueError):
        return None


def _bearer(headers: Headers) -> str | None:
    scheme, _, credentials = headers.get("authorization", "").partition(" ")
    credentials = credentials.strip()
    return credentials if scheme.lower() == "bearer" and credentials else None


class RequestGuard:
    """Plain ASGI: the body stays in the socket until the request is allowed in."""

    def __init__(self, app: ASGIApp, tokens: TokenStore | None, limits: BodyLimits) -> None:
        self.app = app
        self.tokens = tokens
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        if not _has_body(headers):
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        cap = self.limits.cap(path)
        declared = _declared_length(headers)
        if self.tokens is not None and path.startswith("/api/"):
            refusal = await self._unknown(headers)
            if refusal is not None:
                # a small body is read and dropped by the server, the connection kept;
                # a large or endless one is not read at all: the connection is closed
                small = declared is not None and declared <= cap
                refused = problem(401, refusal, headers=CHALLENGE | ({} if small else CLOSE))
                await refused(scope, receive, send)
                return
        if declared is not None and declared > cap:
            await problem(413, _too_large(cap), headers=CLOSE)(scope, receive, send)
            return
        await self._capped(scope, receive, send, cap)

    async def _unknown(self, headers: Headers) -> str | None:
        """Why the request's token is not good enough to read its body; None: it is."""
        assert self.tokens is not None
        token = _bearer(headers)
        if token is None:
            return MISSING_TOKEN
        if await self.tokens.verify(token) is None:
            return UNKNOWN_TOKEN
        return None

    async def _capped(self, scope: Scope, receive: Receive, send: Send, cap: int) -> None:
        received = 0
        started = False

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > cap:
                    raise BodyTooLarge(cap)
            return message

        async def watched(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, watched)
        except BodyTooLarge:
            if started:
                raise
            await problem(413, _too_large(cap), headers=CLOSE)(scope, receive, send)

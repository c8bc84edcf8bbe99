"""Problem-style error bodies (RFC 9457, `application/problem+json`) for every error.

`detail` keeps what the handler said (a sentence, or a list of row errors for the
legacy import, which clients already read), `title` and `status` are added, and for
request validation `detail` becomes one sentence naming each bad field and where it was
(`query parameter 'since'`, `body field 'reason'`), with the pieces in `errors`. An
unexpected exception is a 500 with a problem body too, logged with its traceback,
never a stack trace sent to the client.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse

log = logging.getLogger(__name__)

PROBLEM = "application/problem+json"

_PLACES = {
    "query": "query parameter",
    "path": "path parameter",
    "body": "body field",
    "header": "header",
    "cookie": "cookie",
}


class ProblemItem(BaseModel):
    where: str = Field(examples=["query parameter 'start'"])
    message: str = Field(examples=["'2026-13-01' is not a real date; accepted: YYYY-MM-DD ..."])
    type: str = Field(examples=["value_error"])

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "where": "query parameter 'start'",
                    "message": "'2026-13-01' is not a real date; accepted: YYYY-MM-DD ...",
                    "type": "value_error",
                }
            ]
        }
    )


class Problem(BaseModel):
    """Every error of the API (RFC 9457 `application/problem+json`)."""

    type: str = Field(description="always about:blank: `status` and `title` say it all")
    title: str = Field(description="the HTTP status phrase")
    status: int
    detail: str | list[dict[str, Any]] = Field(
        description="what went wrong, naming the field and where it was; the legacy "
        "directory's writes give a list of row errors {line, column, reason} instead"
    )
    errors: list[ProblemItem] | None = Field(
        None, description="request validation only: each bad field on its own"
    )

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "type": "about:blank",
                    "title": "Unprocessable Entity",
                    "status": 422,
                    "detail": "query parameter 'start': '2026-13-01' is not a real date; "
                    "accepted: YYYY-MM-DD ...",
                    "errors": [
                        {
                            "where": "query parameter 'start'",
                            "message": "'2026-13-01' is not a real date; accepted: YYYY-MM-DD ...",
                            "type": "value_error",
                        }
                    ],
                },
                {
                    "type": "about:blank",
                    "title": "Forbidden",
                    "status": 403,
                    "detail": "an agent token acts only on its own seat ('1001'), not '1002'",
                },
            ]
        }
    )


def problem(
    status: int, detail: Any, headers: dict[str, str] | None = None, **extra: Any
) -> JSONResponse:
    try:
        title = HTTPStatus(status).phrase
    except ValueError:
        title = "Error"
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail, **extra}
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM)


def where(loc: tuple[int | str, ...] | list[int | str]) -> str:
    """('query', 'since') -> "query parameter 'since'"; ('body',) -> 'the request body'."""
    if not loc:
        return "the request"
    place, *path = [str(p) for p in loc]
    if not path:
        return "the request body" if place == "body" else place
    return f"{_PLACES.get(place, place)} {'.'.join(path)!r}"


def _validation(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {"where": where(e.get("loc", ())), "message": e.get("msg", ""), "type": e.get("type", "")}
        for e in exc.errors()
    ]
    detail = "; ".join(f"{e['where']}: {e['message']}" for e in errors) or "invalid request"
    return problem(422, detail, errors=errors)


def _http(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    return problem(exc.status_code, exc.detail, headers=getattr(exc, "headers", None))


def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return problem(500, "internal error; the service log has the details")


def install(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_exception_handler(Exception, _unexpected)

"""Unknown query parameters are refused (422 naming them), not silently ignored.

FastAPI ignores a parameter it was not told about, so `/api/v1/callbacks?stauts=open`
would quietly return every callback: a typo in a script's filter becomes a wrong
answer instead of an error. `reject_unknown_query` compares the request's query with
the parameters the matched route (and its dependencies) declare.

It runs *after* the token and role checks (api/auth.py calls it at the end of
`require_roles`), so a request without a token is a 401 and a refused role a 403 even
when its query is also wrong; routes without a token use it as a plain dependency.
tests/api/test_openapi_contract.py sends an unknown parameter to every operation.
"""

from __future__ import annotations

from fastapi import Request
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute

_KNOWN = "_callcenter_query_names"


def _query_names(dependant: Dependant) -> frozenset[str]:
    """Query parameters of a route and of every dependency under it (pagination's
    `cursor` and `limit` come from a dependency)."""
    names: set[str] = set()
    pending = [dependant]
    while pending:
        current = pending.pop()
        names.update(field.alias for field in current.query_params)
        pending.extend(current.dependencies)
    return frozenset(names)


def _declared(route: APIRoute) -> frozenset[str]:
    known: frozenset[str] | None = getattr(route, _KNOWN, None)
    if known is None:  # once per route, not per request
        known = _query_names(route.dependant)
        setattr(route, _KNOWN, known)
    return known


def reject_unknown_query(request: Request) -> None:
    route = request.scope.get("route")
    if not isinstance(route, APIRoute) or not request.query_params:
        return
    known = _declared(route)
    unknown = [name for name in dict.fromkeys(request.query_params.keys()) if name not in known]
    if unknown:
        accepted = ", ".join(sorted(known)) or "none"
        raise RequestValidationError(
            [
                {
                    "loc": ("query", name),
                    "msg": f"unknown query parameter (this endpoint takes: {accepted})",
                    "type": "extra_forbidden",
                }
                for name in unknown
            ]
        )

"""Bearer-token authentication and role checks for the HTTP API.

401 means "who are you?" (no token, or one we do not know); 403 means "you may not".
Both come before any complaint about the request itself: an unknown query parameter
(api/strict_query.py) is checked only once the caller is known and allowed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.services import token_store
from api.strict_query import reject_unknown_query
from callcenter.tokens import Principal, Role, TokenStore

#: the request-state key under which the audit middleware (api/audit_log.py) leaves the
#: coroutine that opens a state-changing request's audit row; called once the caller is
#: known and allowed, before the handler changes anything (it raises 503 if it cannot)
AUDIT_GATE = "audit_gate"

_bearer = HTTPBearer(auto_error=False, description="`callcenter token create` makes one")

#: the 401s' sentences and challenge, here and in api/request_limits.py (before a body)
MISSING_TOKEN = "missing bearer token (Authorization: Bearer cc_...)"
UNKNOWN_TOKEN = "unknown or revoked token"
CHALLENGE = {"WWW-Authenticate": "Bearer"}


async def current_principal(
    request: Request,
    store: Annotated[TokenStore, Depends(token_store)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise HTTPException(401, MISSING_TOKEN, headers=CHALLENGE)
    principal = await store.verify(credentials.credentials)
    if principal is None:
        raise HTTPException(401, UNKNOWN_TOKEN, headers=CHALLENGE)
    request.state.principal = principal
    return principal


def require_roles(*roles: Role) -> Callable[..., Awaitable[Principal]]:
    """A dependency: the caller must hold one of `roles` (admin always may)."""
    allowed = set(roles) | {Role.ADMIN}

    async def check(
        request: Request, principal: Annotated[Principal, Depends(current_principal)]
    ) -> Principal:
        if principal.role not in allowed:
            names = ", ".join(sorted(r.value for r in allowed))
            raise HTTPException(
                403, f"role {principal.role.value!r} may not do this (needs one of: {names})"
            )
        reject_unknown_query(request)
        gate: Callable[[], Awaitable[None]] | None = getattr(request.state, AUDIT_GATE, None)
        if gate is not None:
            await gate()
        return principal

    return check

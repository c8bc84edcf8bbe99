"""Token checks without a database, for tests of endpoints where who calls is not the
point (tests/test_auth.py and the role matrix use the real store)."""

from __future__ import annotations

from callcenter.tokens import Principal, Role

SUPERVISOR_TOKEN = "cc_test-supervisor"


class StaticTokens:
    """Knows exactly the tokens it was given; any other is unknown (a 401)."""

    def __init__(self, principals: dict[str, Principal] | None = None) -> None:
        self.principals = principals or {
            SUPERVISOR_TOKEN: Principal(1, "floor", Role.SUPERVISOR, None)
        }

    async def verify(self, token: str) -> Principal | None:
        return self.principals.get(token)


AS_SUPERVISOR = {"Authorization": f"Bearer {SUPERVISOR_TOKEN}"}

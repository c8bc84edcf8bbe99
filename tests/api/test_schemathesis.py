"""Schemathesis against the OpenAPI document: whatever the generated request, no 5xx
except the 503s that say a part is not configured in this instance (the app here has
no seats system, directory or database behind it; the role matrix and the suites of
each part cover those paths with the parts present)."""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, settings
from prometheus_client import CollectorRegistry

from api.app import create_app
from api.services import ApiServices
from callcenter.live.live_state import LiveState
from callcenter.tokens import Principal, Role

ADMIN_TOKEN = "cc_schemathesis-admin"


class OneAdminToken:
    """Token verification without a database: exactly one admin token is valid."""

    async def verify(self, token: str) -> Principal | None:
        return Principal(1, "fuzz", Role.ADMIN, None) if token == ADMIN_TOKEN else None


services = ApiServices.from_systems(tokens=OneAdminToken(), live=LiveState(lambda: 0.0))  # type: ignore[arg-type]
app = create_app(services, CollectorRegistry(), "t")
schema = schemathesis.openapi.from_asgi("/openapi.json", app)


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_errors(case: schemathesis.Case) -> None:
    response = case.call(headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
    if response.status_code == 503:  # a part missing here, said as a problem
        assert response.json()["detail"], response.text
    else:
        assert response.status_code < 500, (case.method, case.formatted_path, response.text)
    if response.status_code >= 400:
        assert "application/problem+json" in str(response.headers["content-type"])
        assert response.json()["status"] == response.status_code

"""Every endpoint of the OpenAPI document against every role: 401 without or with an
unknown token, 403 for a role that may not, anything else for one that may (the app has
no PBX, seats, directory or records, so an allowed request ends in 503 or 404: what
matters is that it got past the door). Seat rows come twice: the agent's own seat and
another one."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from prometheus_client import CollectorRegistry

from api.app import create_app
from api.services import ApiServices
from callcenter.tokens import Role
from tests.api.server import sqlite_tokens

ADM, SUP, AGT, INT = Role.ADMIN, Role.SUPERVISOR, Role.AGENT, Role.INTEGRATION
OWN, OTHER = "1001", "2002"  # the agent token is bound to seat 1001

#: (method, path, body, roles that may) ; None = public, no token needed
MATRIX: list[tuple[str, str, object, set[Role] | None]] = [
    ("GET", "/healthz", None, None),
    ("GET", "/readyz", None, None),
    ("GET", "/metrics", None, None),
    ("GET", "/api/v1/queues", None, {ADM, SUP, AGT}),
    ("GET", "/api/v1/queues/general", None, {ADM, SUP, AGT}),
    ("GET", "/api/v1/queue-catalog", None, {ADM, SUP, AGT}),
    ("POST", "/api/v1/queue-catalog", {"name": "x", "display": {"zh": "x", "en": "x"}}, {ADM}),
    ("PATCH", "/api/v1/queue-catalog/housing", {"wrapup_s": 12}, {ADM}),
    ("DELETE", "/api/v1/queue-catalog/housing", None, {ADM}),
    ("GET", "/api/v1/seats", None, {ADM, SUP, AGT, INT}),  # an agent: its own seat only
    ("GET", f"/api/v1/seats/{OWN}", None, {ADM, SUP, AGT, INT}),  # as its stats
    ("GET", f"/api/v1/seats/{OTHER}", None, {ADM, SUP, INT}),
    ("GET", f"/api/v1/seats/{OWN}/stats", None, {ADM, SUP, AGT, INT}),
    ("GET", f"/api/v1/seats/{OTHER}/stats", None, {ADM, SUP, INT}),
    ("POST", f"/api/v1/seats/{OWN}/login", None, {ADM, AGT}),
    ("POST", f"/api/v1/seats/{OTHER}/login", None, {ADM}),
    ("POST", f"/api/v1/seats/{OWN}/logout", None, {ADM, SUP, AGT}),
    ("POST", f"/api/v1/seats/{OTHER}/logout", None, {ADM, SUP}),
    ("POST", f"/api/v1/seats/{OWN}/pause", {"reason": "break"}, {ADM, SUP, AGT}),
    ("POST", f"/api/v1/seats/{OTHER}/pause", {"reason": "break"}, {ADM, SUP}),
    ("POST", f"/api/v1/seats/{OWN}/unpause", None, {ADM, SUP, AGT}),
    ("POST", f"/api/v1/seats/{OTHER}/unpause", None, {ADM, SUP}),
    # a seat's configuration is admin's, as provisioning is (api/seats.py)
    ("PATCH", f"/api/v1/seats/{OWN}", {"skills": {"general": 3}}, {ADM}),
    ("PATCH", f"/api/v1/seats/{OTHER}", {"node": "pbx1"}, {ADM}),
    ("GET", "/api/v1/desk/pop", None, {ADM, AGT}),  # admin names a seat (else 422)
    ("GET", f"/api/v1/desk/pop?seat={OWN}", None, {ADM, AGT}),
    ("GET", f"/api/v1/desk/pop?seat={OTHER}", None, {ADM}),
    ("GET", "/api/v1/callbacks", None, {ADM, SUP, INT}),
    ("POST", "/api/v1/callbacks/1/assign", {"seat": OWN}, {ADM, SUP}),
    ("POST", "/api/v1/callbacks/1/cancel", {"reason": "duplicate"}, {ADM, SUP}),
    ("GET", "/api/v1/legacy-numbers", None, {ADM, INT}),
    ("GET", "/api/v1/legacy-numbers/01012345", None, {ADM, INT}),
    (
        "PUT",
        "/api/v1/legacy-numbers/01012345",
        {"unit_code": "u1", "mode": "merge", "queue": "general"},
        {ADM, INT},
    ),
    ("DELETE", "/api/v1/legacy-numbers/01012345", None, {ADM, INT}),
    ("POST", "/api/v1/legacy-numbers/import?dry_run=true", None, {ADM, INT}),
    ("GET", "/api/v1/units", None, {ADM, SUP, AGT, INT}),
    ("GET", "/api/v1/units/U017/card", None, {ADM, SUP, AGT}),
    ("PUT", "/api/v1/units/U017/card", {"version": 0}, {ADM}),
    ("GET", "/api/v1/unit-cards?q=公租房", None, {ADM, SUP, AGT}),
    ("GET", "/api/v1/audit", None, {ADM}),
    ("GET", "/api/v1/ivr", None, {ADM}),
    ("PUT", "/api/v1/ivr", {"version": 2}, {ADM}),
    ("GET", "/api/v1/records/reconciliation", None, {ADM, SUP}),
    ("GET", "/api/v1/calls", None, {ADM, SUP, INT, AGT}),  # an agent: its seat's calls
    ("GET", "/api/v1/calls/active", None, {ADM, SUP, INT, AGT}),
    ("GET", "/api/v1/calls/export.csv", None, {ADM, SUP, INT, AGT}),
    # an agent: another seat's call is a 404 like a missing one (tests/records/test_api.py)
    ("GET", "/api/v1/calls/pbx1:1764141243.2207", None, {ADM, SUP, INT, AGT}),
    (
        "POST",
        "/api/v1/calls/pbx1:1764141243.2207/confidential",
        {"reason": "来电人要求保密"},
        {ADM, SUP, AGT},
    ),
    # the intake: the call's agent or a supervisor writes, an integration token links
    # the ticket (PATCH; the fields it may change are the records domain's rule)
    (
        "POST",
        "/api/v1/calls/pbx1:1764141243.2207/intake",
        {"kind": "complaint", "unit": "HOUSING"},
        {ADM, SUP, AGT},
    ),
    (
        "PATCH",
        "/api/v1/calls/pbx1:1764141243.2207/intake",
        {"ticket": "ZJ12345-000187"},
        {ADM, SUP, AGT, INT},
    ),
    ("GET", "/api/v1/calls/pbx1:1764141243.2207/intake", None, {ADM, SUP, AGT, INT}),
    ("GET", "/api/v1/intake-kinds", None, {ADM, SUP, AGT, INT}),
    # transfers: the call's agent (another seat's call is a 404), supervisors, admins
    ("GET", "/api/v1/transfer-targets", None, {ADM, SUP, AGT}),
    (
        "POST",
        "/api/v1/calls/pbx1:1764141243.2207/transfer",
        {"to": "110", "mode": "blind"},
        {ADM, SUP, AGT},
    ),
    ("POST", "/api/v1/calls/pbx1:1764141243.2207/transfer/complete", None, {ADM, SUP, AGT}),
    ("POST", "/api/v1/calls/pbx1:1764141243.2207/transfer/cancel", None, {ADM, SUP, AGT}),
    ("POST", "/api/v1/calls/pbx1:1764141243.2207/conference/leave", None, {ADM, SUP, AGT}),
    ("GET", "/api/v1/calls/pbx1:1764141243.2207/transfers", None, {ADM, SUP, AGT}),
    ("GET", "/api/v1/stats/kpis?start=2026-11-26&end=2026-11-27", None, {ADM, SUP, INT}),
    ("GET", "/api/v1/stats/today", None, {ADM, SUP, INT}),
    ("GET", "/api/v1/webhooks/deliveries?status=failed", None, {ADM, INT}),
    ("POST", "/api/v1/webhooks/deliveries/1/retry", None, {ADM}),
]


@pytest.fixture
async def setup(tmp_path: Path):  # type: ignore[no-untyped-def]
    tokens, engine = await sqlite_tokens(tmp_path)
    issued = {
        ADM: (await tokens.create("ops", ADM))[1],
        SUP: (await tokens.create("floor", SUP))[1],
        AGT: (await tokens.create("agent", AGT, seat=OWN))[1],
        INT: (await tokens.create("script", INT))[1],
    }
    app = create_app(ApiServices(tokens=tokens), CollectorRegistry(), "t")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        yield client, issued
    await engine.dispose()


@pytest.mark.parametrize(("method", "path", "body", "allowed"), MATRIX)
async def test_role_matrix(setup, method: str, path: str, body: object, allowed) -> None:  # type: ignore[no-untyped-def]
    client, issued = setup

    async def send(token: str | None) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return await client.request(method, path, json=body, headers=headers)

    if allowed is None:
        assert (await send(None)).status_code not in (401, 403)
        return
    anonymous = await send(None)
    assert anonymous.status_code == 401 and anonymous.headers["www-authenticate"] == "Bearer"
    assert (await send("cc_not-a-token")).status_code == 401
    for role, token in issued.items():
        response = await send(token)
        if role in allowed:
            assert response.status_code not in (401, 403), (role, response.text)
        else:
            assert response.status_code == 403, (role, response.status_code, response.text)
            assert role.value in response.text  # says which role was refused


def test_the_matrix_covers_every_route() -> None:
    """A new endpoint without a row here fails this test."""
    paths = create_app(ApiServices(), CollectorRegistry(), "t").openapi()["paths"]
    documented = {(method.upper(), path) for path, methods in paths.items() for method in methods}
    covered = {
        (method, template)
        for method, template in documented
        for row_method, path, _, _ in MATRIX
        if row_method == method and _matches(template, path)
    }
    assert documented - covered == set()


def _matches(template: str, path: str) -> bool:
    a, b = template.strip("/").split("/"), path.split("?")[0].strip("/").split("/")
    return len(a) == len(b) and all(
        x == y or (x.startswith("{") and y not in {"import", "stats", "active", "export.csv"})
        for x, y in zip(a, b, strict=True)
    )

"""The OpenAPI document is the API's contract: every operation under /api/v1 says what
it returns (a schema, with an example) and how it fails (problem+json), every example
is valid against its own schema, and every operation refuses a query parameter it does
not know (422 naming it) — after the token check, so the door still answers first."""

from __future__ import annotations

import re
from typing import Any

import httpx
import jsonschema_rs
import pytest
from prometheus_client import CollectorRegistry

from api.app import create_app
from api.services import ApiServices
from callcenter.tokens import Principal, Role
from tests.api.static_tokens import StaticTokens

ADMIN_TOKEN = "cc_contract-admin"

#: operations whose success has no JSON body to describe, and why
NO_SCHEMA = {
    ("GET", "/api/v1/calls/export.csv"): "a streamed CSV file",
    ("DELETE", "/api/v1/legacy-numbers/{number}"): "204 No Content",
}
#: api/calls.py's models, being reworked with the call records (not part of this API
#: pass): the lead adds their examples; remove a name from here once it has one
PENDING_EXAMPLES: set[str] = set()
#: a value for each path parameter, and for required query parameters
PATH_VALUES = {
    "seat_id": "1001",
    "number": "057187001234",
    "name": "housing",
    "task_id": "1",
    "delivery_id": "1",
    "call_id": "pbx1:1764141243.2207",
    "code": "U017",
}
REQUIRED_QUERY = {"start": "2026-11-26T00:00:00+08:00", "end": "2026-11-27T00:00:00+08:00"}


def document() -> dict[str, Any]:
    return create_app(ApiServices(), CollectorRegistry(), "t").openapi()


def operations(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, operation)
        for path, methods in doc["paths"].items()
        for method, operation in methods.items()
    ]


def test_every_operation_has_a_response_schema() -> None:
    doc = document()
    missing = []
    for method, path, operation in operations(doc):
        if not path.startswith("/api/v1") or (method, path) in NO_SCHEMA:
            continue
        ok = [
            body.get("schema")
            for code, response in operation["responses"].items()
            if code.startswith("2")
            for body in response.get("content", {}).values()
        ]
        if not any(ok):
            missing.append((method, path))
    assert missing == []
    assert set(NO_SCHEMA) <= {(m, p) for m, p, _ in operations(doc)}, "stale NO_SCHEMA row"


def test_every_schema_has_an_example_that_fits_it() -> None:
    doc = document()
    components = doc["components"]
    schemas = components["schemas"]
    missing = sorted(n for n, s in schemas.items() if "examples" not in s)
    assert set(missing) == PENDING_EXAMPLES, (
        f"without an example: {set(missing) - PENDING_EXAMPLES}; "
        f"no longer pending (remove from PENDING_EXAMPLES): {PENDING_EXAMPLES - set(missing)}"
    )
    for name, schema in schemas.items():
        validator = jsonschema_rs.Draft202012Validator(
            {"$ref": f"#/components/schemas/{name}", "components": components}
        )
        for example in schema.get("examples", []):
            errors = [e.message for e in validator.iter_errors(example)]
            assert errors == [], (name, example, errors)


def test_every_request_body_has_an_example() -> None:
    doc = document()
    schemas = doc["components"]["schemas"]
    for method, path, operation in operations(doc):
        for media, body in operation.get("requestBody", {}).get("content", {}).items():
            schema = body.get("schema", {})
            ref = schema.get("$ref", "").rsplit("/", 1)[-1]
            shown = (
                body.get("examples")
                or schema.get("examples")
                or (ref in schemas and schemas[ref].get("examples"))
            )
            assert shown or ref in PENDING_EXAMPLES, (method, path, media)


def test_errors_are_documented_as_problems() -> None:
    doc = document()
    for method, path, operation in operations(doc):
        responses = operation["responses"]
        assert "422" in responses, (method, path)
        if operation.get("security"):
            assert {"401", "403"} <= set(responses), (method, path)
        for code, response in responses.items():
            if code[0] not in "45" or (path, code) == ("/readyz", "503"):
                continue
            content = response.get("content", {})
            assert list(content) == ["application/problem+json"], (method, path, code)
            schema = content["application/problem+json"]["schema"]
            assert schema == {"$ref": "#/components/schemas/Problem"}, (method, path, code)
    assert "HTTPValidationError" not in doc["components"]["schemas"]


def _url(path: str, operation: dict[str, Any], extra: dict[str, str]) -> tuple[str, dict[str, str]]:
    def value(table: dict[str, str], name: str) -> str:
        assert name in table, f"{path}: give parameter {name!r} a value in this test's tables"
        return table[name]

    url = re.sub(r"\{(\w+)\}", lambda m: value(PATH_VALUES, m.group(1)), path)
    query = {
        p["name"]: value(REQUIRED_QUERY, p["name"])
        for p in operation.get("parameters", [])
        if p["in"] == "query" and p.get("required")
    }
    return url, query | extra


@pytest.mark.parametrize(
    ("method", "path"), [(m, p) for m, p, _ in operations(document())], ids=lambda v: str(v)
)
async def test_an_unknown_query_parameter_is_a_422_naming_it(method: str, path: str) -> None:
    tokens = StaticTokens({ADMIN_TOKEN: Principal(1, "ops", Role.ADMIN, None)})
    app = create_app(ApiServices(tokens=tokens), CollectorRegistry(), "t")  # type: ignore[arg-type]
    operation = app.openapi()["paths"][path][method.lower()]
    url, query = _url(path, operation, {"stauts": "open"})
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://t"
    ) as client:
        if operation.get("security"):
            anonymous = await client.request(method, url, params=query)
            assert anonymous.status_code == 401, anonymous.text  # the door first
        r = await client.request(
            method, url, params=query, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
        )
    assert r.status_code == 422, (method, path, r.status_code, r.text)
    assert r.headers["content-type"].startswith("application/problem+json")
    assert "query parameter 'stauts': unknown query parameter" in r.json()["detail"], r.text

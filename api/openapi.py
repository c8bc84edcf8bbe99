"""The OpenAPI document (/openapi.json, drawn at /docs), finished once generated.

FastAPI documents what the routes declare; three things it cannot know are added here:
- errors: every operation lists the problem+json bodies it can answer with (api/errors.py):
  401/403 where a token is needed, 404 where the path names something, 413 where a body
  is taken (api/request_limits.py), 422 for bad or unknown parameters, 503 when a part
  is not configured in this instance. FastAPI's own 422 schema (`HTTPValidationError`)
  is replaced: our 422s do not look like that.
- examples of response types defined outside api/ (the `EXAMPLES` of the resource
  modules that answer with them: api/queues.py, api/seats.py), and of each page
  (`Page_X_`): one item's example and a next cursor.
- the examples of our own models once more: FastAPI serialises the document with
  `exclude_none`, which drops every `null` from an example and leaves it invalid
  against its own schema (a required nullable field gone missing).
Doing it once, here, keeps the routes to what is particular about them.
"""

from __future__ import annotations

import copy
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel

from api.errors import PROBLEM, Problem

_REF = "#/components/schemas/{model}"
_REPLACED = ("HTTPValidationError", "ValidationError")
_ERRORS = {
    "401": "no bearer token, or one that is unknown or revoked",
    "403": "the token's role (or seat) may not do this; the body names the role",
    "404": "nothing by that name or id",
    "413": "the body is larger than its cap (JSON: 64 KiB; the CSV import: 20 MiB by default)",
    "422": "a bad or unknown parameter or body field; `detail` names each one and where",
    "503": "that part is not configured in this instance, or the PBX is out of reach",
}


def install(app: FastAPI, examples: dict[str, dict[str, Any]]) -> None:
    """`examples`: schema name -> one example, for response types defined outside api/."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = finish(generate(), examples)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented hook


def finish(document: dict[str, Any], examples: dict[str, dict[str, Any]]) -> dict[str, Any]:
    schemas: dict[str, Any] = document.setdefault("components", {}).setdefault("schemas", {})
    problem = Problem.model_json_schema(ref_template=_REF)
    schemas.update(problem.pop("$defs", {}))
    schemas["Problem"] = problem
    for name in _REPLACED:
        schemas.pop(name, None)
    for path, operations in document.get("paths", {}).items():
        for operation in operations.values():
            _errors(path, operation)
    for name, written in _model_examples().items():
        if name in schemas:
            schemas[name]["examples"] = written
    for name, schema in schemas.items():
        if "examples" not in schema and name in examples:
            schema["examples"] = [examples[name]]
    for schema in schemas.values():
        if "examples" not in schema and _is_page(schema):
            item = schema["properties"]["items"]["items"]["$ref"].rsplit("/", 1)[-1]
            shown = schemas.get(item, {}).get("examples", [])
            schema["examples"] = [{"items": shown[:1], "next_cursor": "WyIxMDA0Il0"}]
    return document


def _model_examples() -> dict[str, list[Any]]:
    """Schema name -> examples, as written in the models of api/ (nulls kept)."""
    found: dict[str, list[Any]] = {}
    pending: list[type[BaseModel]] = [BaseModel]
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        extra = cls.model_config.get("json_schema_extra")
        if cls.__module__.startswith("api.") and isinstance(extra, dict):
            examples = extra.get("examples")
            if isinstance(examples, list):
                found[cls.__name__] = copy.deepcopy(examples)
    return found


def _is_page(schema: dict[str, Any]) -> bool:
    properties = schema.get("properties", {})
    return set(properties) == {"items", "next_cursor"} and "$ref" in properties["items"].get(
        "items", {}
    )


def _errors(path: str, operation: dict[str, Any]) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    codes = {"422"}
    if operation.get("security"):
        codes |= {"401", "403"}
    if "requestBody" in operation:
        codes.add("413")
    if path.startswith("/api/"):
        codes.add("503")
        if "{" in path:
            codes.add("404")
    for code in sorted(codes):
        responses.setdefault(code, {"description": _ERRORS[code]})
    for code, response in responses.items():
        if code[0] not in "45":
            continue
        refs = [
            body.get("schema", {}).get("$ref", "") for body in response.get("content", {}).values()
        ]
        if any(ref and not ref.endswith(_REPLACED) for ref in refs):
            continue  # a body of its own (readyz's 503 is a Readiness)
        if code == "422" and response.get("description") == "Validation Error":
            response["description"] = _ERRORS["422"]
        response["content"] = {PROBLEM: {"schema": {"$ref": _REF.format(model="Problem")}}}

"""Issue 15, low item: `PUT /api/v1/ivr` accepted a flow naming a queue that does not
exist (its callers would fall through the dialplan) and a 20 MB comment. Both are a 422
now that says which field and why, and the 422 itself stays short."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client import CollectorRegistry

from agi.ivr.catalog import load_catalog
from agi.ivr.model import MAX_COMMENT, FlowError, load_flow_file, validate_flow
from agi.ivr.store import FlowStore
from api.app import create_app
from api.ivr import _EXAMPLE as SHIPPED
from api.services import ApiServices
from callcenter.db import session_factory
from callcenter.legacy.queues import QueueCatalog
from callcenter.tokens import Role
from tests.api.server import sqlite_tokens


@pytest.fixture
async def put(tmp_path: Path) -> AsyncIterator[Any]:
    tokens, engine = await sqlite_tokens(tmp_path)
    flows = FlowStore(
        load_catalog(),
        session_factory(engine),
        lambda: datetime.now(UTC),
        queues=QueueCatalog.default,
    )
    _, admin = await tokens.create("ops", Role.ADMIN)
    app = create_app(ApiServices(tokens=tokens, ivr=flows), CollectorRegistry(), "t")
    auth = {"Authorization": f"Bearer {admin}"}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:

        async def send(flow: dict[str, Any]) -> httpx.Response:
            return await c.put("/api/v1/ivr", json=flow, headers=auth)

        send.flows = flows  # type: ignore[attr-defined]
        yield send
    await engine.dispose()


def flow(**changes: Any) -> dict[str, Any]:
    out = copy.deepcopy(SHIPPED)
    out["version"] = SHIPPED["version"] + 1
    out.update(changes)
    return out


async def test_a_menu_sending_callers_to_an_unknown_queue_is_refused(put) -> None:  # type: ignore[no-untyped-def]
    bad = flow()
    bad["menus"]["desks"]["options"]["1"]["queue"] = "hotline-nowhere"
    r = await put(bad)
    assert r.status_code == 422
    detail = r.json()["detail"]
    assert "queue 'hotline-nowhere' is not in the queue catalog" in detail
    assert "hotline-housing" in detail  # the known ones are listed
    assert put.flows.source == "file"  # nothing changed


async def test_an_unknown_general_queue_is_refused(put) -> None:  # type: ignore[no-untyped-def]
    r = await put(flow(general_queue="hotline-typo"))
    assert r.status_code == 422 and "'hotline-typo'" in r.json()["detail"]


async def test_a_20_mb_comment_is_refused_saying_which_field(put) -> None:  # type: ignore[no-untyped-def]
    # 20 MB is over the JSON body cap: refused before it is read (api/request_limits.py)
    r = await put(flow(comment="x" * 20_000_000))
    assert r.status_code == 413
    # a body under the cap with a comment over the flow's own limit: 422 naming it
    r = await put(flow(comment="x" * 20_000))
    assert r.status_code == 422
    detail = r.json()["detail"]
    assert detail.startswith("uploaded flow: comment: ") and str(MAX_COMMENT) in detail
    assert len(r.content) < 2_000  # the answer does not echo the comment


async def test_a_comment_within_the_cap_is_fine(put) -> None:  # type: ignore[no-untyped-def]
    r = await put(flow(comment="说明" * (MAX_COMMENT // 2)))
    assert r.status_code == 200, r.text


async def test_entry_and_menu_counts_and_keys_are_bounded(put) -> None:  # type: ignore[no-untyped-def]
    default = SHIPPED["entries"]["default"]
    many = {str(10_000 + n): default for n in range(600)} | {"default": default}
    r = await put(flow(entries=many))
    assert r.status_code == 422 and r.json()["detail"].startswith("uploaded flow: entries: ")
    r = await put(flow(entries={"1" * 5000: default, "default": default}))
    assert r.status_code == 422 and "entries" in r.json()["detail"]
    assert len(r.content) < 2_000


async def test_a_flood_of_problems_is_listed_short(put) -> None:  # type: ignore[no-untyped-def]
    bad = flow()
    options = {str(k): {"action": "queue", "queue": f"hotline-q{k}"} for k in range(1, 9)}
    bad["menus"] = {f"m{n}": {"prompt": "welcome", "options": options} for n in range(60)}
    r = await put(bad)
    assert r.status_code == 422
    detail = r.json()["detail"]
    assert detail.endswith(" more") and len(detail) < 8_000


def test_the_shipped_flow_names_catalog_queues_only() -> None:
    catalog = load_catalog()
    load_flow_file(catalog, queues=QueueCatalog.default())
    with pytest.raises(FlowError, match="hotline-x"):
        validate_flow(flow(general_queue="hotline-x"), catalog, queues=QueueCatalog.default())

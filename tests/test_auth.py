"""Bearer tokens and roles, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import httpx
import pytest
from fastapi import Depends
from prometheus_client import CollectorRegistry
from typer.testing import CliRunner

from api.app import create_app
from api.auth import require_roles
from api.services import ApiServices
from callcenter import migrate
from callcenter.db import create_engine, session_factory
from callcenter.process.cli import app as cli
from callcenter.tokens import Principal, Role, TokenError, TokenStore

pytestmark = pytest.mark.db


async def store_for(url: str) -> tuple[TokenStore, object]:
    engine = create_engine(url)
    await migrate.upgrade(engine)
    return TokenStore(session_factory(engine), lambda: datetime.now(UTC)), engine


async def test_roles_401_403_and_revocation(database_url: str) -> None:
    store, engine = await store_for(database_url)
    app = create_app(ApiServices(tokens=store), CollectorRegistry(), "t")

    @app.get("/probe")
    async def probe(
        who: Annotated[Principal, Depends(require_roles(Role.INTEGRATION))],
    ) -> dict[str, str]:
        return {"name": who.name, "role": who.role.value}

    _, admin = await store.create("ops lead", Role.ADMIN)
    integ_id, integ = await store.create("remap script", Role.INTEGRATION)
    _, sup = await store.create("floor supervisor", Role.SUPERVISOR)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        r = await c.get("/probe")
        assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
        r = await c.get("/probe", headers={"Authorization": "Bearer cc_nope"})
        assert r.status_code == 401 and "unknown" in r.json()["detail"]
        r = await c.get("/probe", headers={"Authorization": f"Bearer {sup}"})
        assert r.status_code == 403 and "supervisor" in r.json()["detail"]
        r = await c.get("/probe", headers={"Authorization": f"Bearer {integ}"})
        assert r.json() == {"name": "remap script", "role": "integration"}
        r = await c.get("/probe", headers={"Authorization": f"Bearer {admin}"})
        assert r.status_code == 200  # admin may do everything
        assert await store.revoke(integ_id)
        assert not await store.revoke(integ_id)
        r = await c.get("/probe", headers={"Authorization": f"Bearer {integ}"})
        assert r.status_code == 401
    rows = await store.list()
    assert all(len(r.token_hash) == 64 and r.token_hash not in (admin, integ) for r in rows)
    await engine.dispose()  # type: ignore[attr-defined]


async def test_token_rules(database_url: str) -> None:
    store, engine = await store_for(database_url)
    with pytest.raises(TokenError, match="bound to a seat"):
        await store.create("a", Role.AGENT)
    with pytest.raises(TokenError, match="only agent tokens"):
        await store.create("s", Role.SUPERVISOR, seat="1001")
    _, token = await store.create("agent 1001", Role.AGENT, seat="1001")
    principal = await store.verify(token)
    assert principal is not None and principal.seat == "1001"
    await engine.dispose()  # type: ignore[attr-defined]


def test_cli_create_list_revoke(
    database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("CALLCENTER_DATABASE_URL", database_url)
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    assert runner.invoke(cli, ["db", "upgrade"]).exit_code == 0
    r = runner.invoke(cli, ["token", "create", "--name", "wallboard", "--role", "supervisor"])
    assert r.exit_code == 0, r.output
    assert r.output.strip().splitlines()[-1].startswith("cc_")
    listing = runner.invoke(cli, ["token", "list"]).output
    assert "supervisor" in listing and "wallboard" in listing and "cc_" not in listing
    assert runner.invoke(cli, ["token", "revoke", "1"]).exit_code == 0
    assert "revoked" in runner.invoke(cli, ["token", "list"]).output
    bad = runner.invoke(cli, ["token", "create", "--name", "x", "--role", "agent"])
    assert bad.exit_code == 2 and "seat" in bad.output


async def test_verified_tokens_are_remembered_for_the_ttl_only(database_url: str) -> None:
    """A check per request is served from memory for 5 s; a revocation by another
    process (the CLI, another instance) is seen once that runs out, one through this
    store at once; an unknown token is never remembered."""
    engine = create_engine(database_url)
    await migrate.upgrade(engine)
    now = [0.0]
    here = TokenStore(session_factory(engine), lambda: datetime.now(UTC), monotonic=lambda: now[0])
    elsewhere = TokenStore(session_factory(engine), lambda: datetime.now(UTC))
    try:
        token_id, token = await elsewhere.create("wallboard", Role.SUPERVISOR)
        assert await here.verify(token) is not None
        assert await elsewhere.revoke(token_id)
        now[0] += 4.9
        assert await here.verify(token) is not None  # within the TTL: remembered
        now[0] += 0.2
        assert await here.verify(token) is None  # TTL over: the database says revoked
        other_id, other = await here.create("desk", Role.SUPERVISOR)
        assert await here.verify(other) is not None
        assert await here.revoke(other_id)
        assert await here.verify(other) is None  # revoked through this store: at once
        assert await here.verify("cc_unknown") is None
        assert len(here._verified) == 0
    finally:
        await engine.dispose()

"""`callcenter token ...`: API bearer tokens."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Annotated

import typer
from sqlalchemy.ext.asyncio import AsyncEngine

from callcenter import migrate
from callcenter.commands.common import console, load_settings_or_exit
from callcenter.config import Settings
from callcenter.db import create_engine, session_factory
from callcenter.models import ApiToken
from callcenter.tokens import Role, TokenError, TokenStore

app = typer.Typer(help="API bearer tokens.", no_args_is_help=True)


def _token_store(settings: Settings) -> tuple[TokenStore, AsyncEngine]:
    engine = create_engine(settings.database_url)
    return TokenStore(session_factory(engine), lambda: datetime.now(UTC)), engine


@app.command("create")
def token_create(
    name: Annotated[str, typer.Option(help="Who or what uses it (a person, a script).")],
    role: Annotated[Role, typer.Option(help="admin, supervisor, agent or integration.")],
    seat: Annotated[str | None, typer.Option(help="The seat an agent token is bound to.")] = None,
) -> None:
    """Create a token and print it (it is shown only this once)."""
    settings = load_settings_or_exit()

    async def run() -> tuple[int, str]:
        store, engine = _token_store(settings)
        try:
            await migrate.upgrade(engine)
            return await store.create(name, role, seat)
        finally:
            await engine.dispose()

    try:
        token_id, token = asyncio.run(run())
    except TokenError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    console.print(f"token {token_id} ({role.value}) created; it is shown only once:")
    typer.echo(token)


@app.command("list")
def token_list() -> None:
    """List tokens (never their values)."""
    settings = load_settings_or_exit()

    async def run() -> list[ApiToken]:
        store, engine = _token_store(settings)
        try:
            return await store.list()
        finally:
            await engine.dispose()

    for t in asyncio.run(run()):
        state = "revoked" if t.revoked_at else "active"
        typer.echo(f"{t.id}\t{t.role}\t{t.seat or '-'}\t{state}\t{t.name}")


@app.command("revoke")
def token_revoke(token_id: Annotated[int, typer.Argument()]) -> None:
    """Revoke a token at once."""
    settings = load_settings_or_exit()

    async def run() -> bool:
        store, engine = _token_store(settings)
        try:
            return await store.revoke(token_id)
        finally:
            await engine.dispose()

    if not asyncio.run(run()):
        console.print(f"[red]error:[/red] no active token {token_id}")
        raise typer.Exit(1)
    console.print(f"token {token_id} revoked")

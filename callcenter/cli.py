"""The `callcenter` command line."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.console import Console
from sqlalchemy.ext.asyncio import AsyncEngine

from callcenter import migrate
from callcenter.asterisk_conf_cli import app as asterisk_conf_app
from callcenter.config import Settings, load_settings
from callcenter.db import create_engine, session_factory
from callcenter.legacy.cli import app as legacy_app
from callcenter.models import ApiToken
from callcenter.records.cli import app as records_app
from callcenter.tokens import Role, TokenError, TokenStore
from queues.cli import app as seats_app

app = typer.Typer(help="12345 hotline call-center backend.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
app.add_typer(db_app, name="db")
token_app = typer.Typer(help="API bearer tokens.", no_args_is_help=True)
app.add_typer(token_app, name="token")
app.add_typer(legacy_app, name="legacy")
app.add_typer(seats_app, name="seats")
app.add_typer(asterisk_conf_app, name="asterisk-conf")
app.add_typer(records_app, name="records")
console = Console(stderr=True)


def _settings() -> Settings:
    try:
        return load_settings()
    except Exception as exc:
        console.print(f"[red]configuration error:[/red] {exc}")
        raise typer.Exit(2) from exc


@app.command()
def serve(
    demo: Annotated[
        bool,
        typer.Option(
            "--demo", help="Start the bundled simulator as the PBX, with live demo traffic."
        ),
    ] = False,
    host: Annotated[str | None, typer.Option(help="HTTP bind address.")] = None,
    port: Annotated[int | None, typer.Option(help="HTTP port.")] = None,
) -> None:
    """Run the service: migrations, PBX link, FastAGI and the HTTP API."""
    from callcenter.service import Service

    overrides: dict[str, object] = {}
    if host is not None:
        overrides["http_host"] = host
    if port is not None:
        overrides["http_port"] = port
    settings = _settings().model_copy(update=overrides)
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        asyncio.run(Service(settings, demo=demo).run())
    except KeyboardInterrupt:
        pass


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument()] = "head") -> None:
    """Apply migrations up to REVISION (default: the newest)."""
    settings = _settings()

    async def run() -> str | None:
        engine = create_engine(settings.database_url)
        try:
            await migrate.upgrade(engine, revision)
            return await migrate.current_revision(engine)
        finally:
            await engine.dispose()

    current = asyncio.run(run())
    console.print(f"database at revision {current}")


@db_app.command("downgrade")
def db_downgrade(revision: Annotated[str, typer.Argument()]) -> None:
    """Revert migrations down to REVISION (`base` empties the schema)."""
    settings = _settings()

    async def run() -> str | None:
        engine = create_engine(settings.database_url)
        try:
            await migrate.downgrade(engine, revision)
            return await migrate.current_revision(engine)
        finally:
            await engine.dispose()

    console.print(f"database at revision {asyncio.run(run())}")


@db_app.command("current")
def db_current() -> None:
    """Print the schema revision of the configured database."""
    settings = _settings()

    async def run() -> str | None:
        engine = create_engine(settings.database_url)
        try:
            return await migrate.current_revision(engine)
        finally:
            await engine.dispose()

    typer.echo(asyncio.run(run()) or "(empty)")


def _token_store(settings: Settings) -> tuple[TokenStore, AsyncEngine]:
    engine = create_engine(settings.database_url)
    return TokenStore(session_factory(engine), lambda: datetime.now(UTC)), engine


@token_app.command("create")
def token_create(
    name: Annotated[str, typer.Option(help="Who or what uses it (a person, a script).")],
    role: Annotated[Role, typer.Option(help="admin, supervisor, agent or integration.")],
    seat: Annotated[str | None, typer.Option(help="The seat an agent token is bound to.")] = None,
) -> None:
    """Create a token and print it (it is shown only this once)."""
    settings = _settings()

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


@token_app.command("list")
def token_list() -> None:
    """List tokens (never their values)."""
    settings = _settings()

    async def run() -> list[ApiToken]:
        store, engine = _token_store(settings)
        try:
            return await store.list()
        finally:
            await engine.dispose()

    for t in asyncio.run(run()):
        state = "revoked" if t.revoked_at else "active"
        typer.echo(f"{t.id}\t{t.role}\t{t.seat or '-'}\t{state}\t{t.name}")


@token_app.command("revoke")
def token_revoke(token_id: Annotated[int, typer.Argument()]) -> None:
    """Revoke a token at once."""
    settings = _settings()

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


def main() -> None:
    app()

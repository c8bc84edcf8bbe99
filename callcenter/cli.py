"""The `callcenter` command line."""

from __future__ import annotations

import asyncio
import logging
from typing import Annotated

import typer
from rich.console import Console

from callcenter import migrate
from callcenter.config import Settings, load_settings
from callcenter.db import create_engine

app = typer.Typer(help="12345 hotline call-center backend.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
app.add_typer(db_app, name="db")
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


def main() -> None:
    app()

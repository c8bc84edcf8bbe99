"""`callcenter db ...`: the database schema, migrated only when asked."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from callcenter import migrate
from callcenter.commands.common import console, load_settings_or_exit
from callcenter.db import create_engine

app = typer.Typer(help="Database schema.", no_args_is_help=True)


@app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument()] = "head") -> None:
    """Apply migrations up to REVISION (default: the newest)."""
    settings = load_settings_or_exit()

    async def run() -> str | None:
        engine = create_engine(settings.database_url)
        try:
            await migrate.upgrade(engine, revision)
            return await migrate.current_revision(engine)
        finally:
            await engine.dispose()

    current = asyncio.run(run())
    console.print(f"database at revision {current}")


@app.command("downgrade")
def db_downgrade(revision: Annotated[str, typer.Argument()]) -> None:
    """Revert migrations down to REVISION (`base` empties the schema)."""
    settings = load_settings_or_exit()

    async def run() -> str | None:
        engine = create_engine(settings.database_url)
        try:
            await migrate.downgrade(engine, revision)
            return await migrate.current_revision(engine)
        finally:
            await engine.dispose()

    console.print(f"database at revision {asyncio.run(run())}")


@app.command("current")
def db_current() -> None:
    """Print the schema revision of the configured database."""
    settings = load_settings_or_exit()

    async def run() -> str | None:
        engine = create_engine(settings.database_url)
        try:
            return await migrate.current_revision(engine)
        finally:
            await engine.dispose()

    typer.echo(asyncio.run(run()) or "(empty)")

"""`callcenter records ...`: retention of call records."""

from __future__ import annotations

import asyncio
import time
from typing import Annotated

import typer
from rich.console import Console

from callcenter import migrate
from callcenter.commands.common import load_settings_or_exit
from callcenter.db import create_engine, session_factory
from callcenter.records.store import purge as purge_records

app = typer.Typer(help="Call records.", no_args_is_help=True)
console = Console(stderr=True)


@app.command("purge")
def purge(
    days: Annotated[
        int | None,
        typer.Option(
            min=1, help="Keep this many days (default CALLCENTER_RECORDS_RETENTION_DAYS)."
        ),
    ] = None,
) -> None:
    """Delete call records older than the retention period."""
    settings = load_settings_or_exit()
    keep = days if days is not None else settings.records_retention_days
    if keep <= 0:
        console.print("retention is 0 (keep forever): nothing purged")
        return
    before = int(time.time()) - keep * 86400

    async def run() -> int:
        engine = create_engine(settings.database_url)
        try:
            await migrate.upgrade(engine)
            return await purge_records(session_factory(engine), before)
        finally:
            await engine.dispose()

    deleted = asyncio.run(run())
    typer.echo(f"purged {deleted} call records started more than {keep} days ago")

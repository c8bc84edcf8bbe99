"""`callcenter audit purge`: the API audit log's retention, on demand.

`serve` purges hourly by itself (callcenter/audit/repository.py `AuditLog.run`); this
is for an operator who wants it now, or a deployment where the service is stopped.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from callcenter import migrate
from callcenter.audit.repository import AuditLog
from callcenter.clock import utcnow
from callcenter.commands.common import console, load_settings_or_exit
from callcenter.db import create_engine, session_factory

app = typer.Typer(help="The API audit log.", no_args_is_help=True)


@app.command("purge")
def purge(
    days: Annotated[
        int | None,
        typer.Option(min=1, help="Keep this many days (default CALLCENTER_AUDIT_RETENTION_DAYS)."),
    ] = None,
) -> None:
    """Delete audit-log rows older than the retention period."""
    settings = load_settings_or_exit()
    keep = days if days is not None else settings.audit_retention_days
    if keep <= 0:
        console.print("retention is 0 (keep forever): nothing purged")
        return

    async def run() -> int:
        engine = create_engine(settings.database_url)
        try:
            await migrate.upgrade(engine)
            return await AuditLog(session_factory(engine), utcnow, retention_days=keep).purge()
        finally:
            await engine.dispose()

    deleted = asyncio.run(run())
    typer.echo(f"purged {deleted} audit-log rows older than {keep} days")

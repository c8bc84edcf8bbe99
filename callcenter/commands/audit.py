"""`callcenter audit purge`: the API audit log's retention, on demand.

`serve` purges hourly by itself (callcenter/audit/repository.py `AuditLog.run`); this
is for an operator who wants it now, or a deployment where the service is stopped.
"""

from __future__ import annotations

from typing import Annotated

import typer
from sqlalchemy.ext.asyncio import AsyncEngine

from callcenter.audit.repository import AuditLog
from callcenter.clock import utcnow
from callcenter.commands.common import (
    EXIT_CODES_HELP,
    JsonOption,
    console,
    emit_json,
    help_from_doc,
    load_settings_or_exit,
    retention,
    run_on_database,
)
from callcenter.db import session_factory

app = typer.Typer(help="The API audit log.", epilog=EXIT_CODES_HELP, no_args_is_help=True)


@app.command("purge", epilog=EXIT_CODES_HELP)
@help_from_doc
def purge(
    days: Annotated[
        int | None,
        typer.Option(min=1, help="Keep this many days (default CALLCENTER_AUDIT_RETENTION_DAYS)."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Delete audit-log rows older than the retention period.

    --json: {purged, days} (days null and purged 0 when the retention is 0: keep forever).
    """
    settings = load_settings_or_exit()
    keep = retention(days, settings.audit_retention_days)
    if keep is None:
        if as_json:
            emit_json({"purged": 0, "days": None})
        return

    async def run(engine: AsyncEngine) -> int:
        return await AuditLog(session_factory(engine), utcnow, retention_days=keep).purge()

    deleted = run_on_database(settings, run)
    if as_json:
        emit_json({"purged": deleted, "days": keep})
        return
    console.print(f"purged {deleted} audit-log rows older than {keep} days")

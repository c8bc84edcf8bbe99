"""`callcenter db ...`: the database schema, migrated only when asked.

These are the commands that open a database at any revision (every other command
needs the head revision, callcenter/commands/common.py)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

import typer
from alembic.util.exc import CommandError
from sqlalchemy.ext.asyncio import AsyncEngine

from callcenter import migrate
from callcenter.commands.common import (
    EXIT_CODES_HELP,
    EXIT_USAGE,
    JsonOption,
    console,
    emit_json,
    fail,
    help_from_doc,
    load_settings_or_exit,
    run_on_database,
)

app = typer.Typer(help="Database schema.", epilog=EXIT_CODES_HELP, no_args_is_help=True)


def _on_any_schema(work: Callable[[AsyncEngine], Awaitable[str | None]]) -> str | None:
    """Run `work` on the database at whatever revision it is; an unknown REVISION is a
    usage error (exit 2), as is a database that cannot be reached."""
    try:
        return run_on_database(load_settings_or_exit(), work, require_schema=False)
    except CommandError as exc:
        fail(str(exc), EXIT_USAGE)


def _revision(current: str | None) -> dict[str, str | bool | None]:
    head = migrate.head_revision()
    return {"revision": current, "head": head, "up_to_date": current == head}


@app.command("upgrade", epilog=EXIT_CODES_HELP)
@help_from_doc
def db_upgrade(
    revision: Annotated[str, typer.Argument()] = "head", as_json: JsonOption = False
) -> None:
    """Apply migrations up to REVISION (default: the newest).

    --json: {revision, head, up_to_date}.
    """

    async def run(engine: AsyncEngine) -> str | None:
        await migrate.upgrade(engine, revision)
        return await migrate.current_revision(engine)

    current = _on_any_schema(run)
    if as_json:
        emit_json(_revision(current))
    console.print(f"database at revision {current}")


@app.command("downgrade", epilog=EXIT_CODES_HELP)
@help_from_doc
def db_downgrade(revision: Annotated[str, typer.Argument()], as_json: JsonOption = False) -> None:
    """Revert migrations down to REVISION (`base` empties the schema).

    --json: {revision, head, up_to_date}.
    """

    async def run(engine: AsyncEngine) -> str | None:
        await migrate.downgrade(engine, revision)
        return await migrate.current_revision(engine)

    current = _on_any_schema(run)
    if as_json:
        emit_json(_revision(current))
    console.print(f"database at revision {current}")


@app.command("current", epilog=EXIT_CODES_HELP)
@help_from_doc
def db_current(as_json: JsonOption = False) -> None:
    """Print the schema revision of the configured database (`(empty)`: never migrated).

    --json: {revision (null: never migrated), head, up_to_date}.
    """
    current = _on_any_schema(migrate.current_revision)
    if as_json:
        emit_json(_revision(current))
        return
    typer.echo(current or "(empty)")

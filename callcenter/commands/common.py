"""What every command shares: one exit-code convention, `--json` for scripts, errors on
stderr, the settings read once, and the database opened only at the schema this
version needs.

Exit codes, the same for every command (README "Command line"):

- 0: done (for `diff`: no difference);
- 1: the input was rejected and nothing was written (a bad CSV, an unknown seat, a
  refused prune), or, for `diff`, differences found;
- 2: usage or configuration: a wrong flag, bad settings, a database that cannot be
  reached or is not migrated.

Machine output (`--json`) goes to stdout as one JSON document; everything meant for a
person (progress, warnings, errors) goes to stderr, so `cmd --json | jq` always parses.
A command never migrates the database as a side effect: only `callcenter db upgrade`
(and `serve`, which owns the schema it runs on) does.
"""

from __future__ import annotations

import asyncio
import getpass
import inspect
import json
import os
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any, NoReturn, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from callcenter import migrate
from callcenter.config import Settings, load_settings
from callcenter.db import create_engine, redacted_url
from callcenter.legacy.records import RowError

EXIT_OK = 0
EXIT_REJECTED = 1
EXIT_USAGE = 2

EXIT_CODES_HELP = (
    "Exit codes: 0 done; 1 input rejected, nothing written (for diff: differences "
    "found); 2 usage, configuration or database not reachable/migrated."
)

console = Console(stderr=True, soft_wrap=True)  # file paths and counts stay greppable
T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])

JsonOption = Annotated[
    bool, typer.Option("--json", help="Print one JSON document on stdout (for scripts).")
]


def help_from_doc(command: F) -> F:
    """Show a command's docstring as written in prose: Typer's rich help keeps the
    single line breaks that wrap the source, and reads `[before, after]` as a style.
    Paragraphs (blank lines) stay; Typer reads `__doc__` when the CLI is built, so
    this may sit above or below `@app.command`."""
    if command.__doc__:
        paragraphs = inspect.cleandoc(command.__doc__).split("\n\n")
        command.__doc__ = "\n\n".join(escape(" ".join(p.split())) for p in paragraphs)
    return command


class NotMigrated(RuntimeError):
    """The database is not at the schema this version needs."""


def fail(message: str, code: int = EXIT_REJECTED) -> NoReturn:
    """Say what is wrong on stderr and exit with `code`."""
    console.print(f"[red]error:[/red] {escape(message)}")
    raise typer.Exit(code)


#: `--actor` of the commands that change something; see `actor_or_user`
ActorOption = Annotated[
    str | None, typer.Option("--actor", help="Who makes the change (default: $USER).")
]


def actor_or_user(actor: str | None) -> str:
    """Who makes a change: `--actor` when given, else the login user ("unknown" when
    the system cannot tell), as the change's history records it."""
    if actor:
        return actor
    try:
        return os.environ.get("USER") or getpass.getuser()
    except Exception:
        return "unknown"


def print_row_errors(where: str, errors: list[RowError]) -> None:
    """A rejected file's errors for people, one `file:line: column: reason` each."""
    console.print(f"[red]{escape(where)}: {len(errors)} error(s); nothing was written[/red]")
    for error in errors:
        console.print(escape(f"{where}:{error.line or '-'}: {error.column}: {error.reason}"))


def retention(days: int | None, configured: int) -> int | None:
    """The days a `purge` keeps: `--days` when given, else the configured setting;
    None for 0, keep forever (said on stderr: nothing is purged)."""
    keep = days if days is not None else configured
    if keep <= 0:
        console.print("retention is 0 (keep forever): nothing purged")
        return None
    return keep


def write_export(
    output: Path | None, data: bytes, summary: str, as_json: bool, document: dict[str, Any]
) -> None:
    """An export's `data` on stdout, or written to `output`, then with `--json` the
    document `{"file": output} | document`; `summary` (how many of what) for people
    either way. A file that cannot be written exits 2."""
    if output is None:
        typer.echo(data, nl=False)
        console.print(escape(summary))
        return
    try:
        output.write_bytes(data)
    except OSError as exc:
        fail(f"cannot write {output}: {exc.strerror or exc}", EXIT_USAGE)
    if as_json:
        emit_json({"file": str(output)} | document)
    console.print(escape(f"{output}: {summary}"))


def emit_json(document: Any) -> None:
    """The command's result for scripts: one JSON document on stdout."""
    sys.stdout.write(json.dumps(document, ensure_ascii=False, indent=2, default=str) + "\n")
    sys.stdout.flush()


def load_settings_or_exit() -> Settings:
    """The settings, or exit 2 naming the configuration error."""
    try:
        return load_settings()
    except Exception as exc:
        console.print(f"[red]configuration error:[/red] {escape(str(exc))}")
        raise typer.Exit(EXIT_USAGE) from exc


async def require_head(engine: AsyncEngine) -> None:
    """Raise NotMigrated unless the schema is the one this version needs."""
    current = await migrate.current_revision(engine)
    head = migrate.head_revision()
    if current != head:
        where = "an empty database" if current is None else f"revision {current}"
        raise NotMigrated(
            f"the database is at {where}, this version needs {head}: "
            "run `callcenter db upgrade` first"
        )


@asynccontextmanager
async def migrated_engine(
    settings: Settings, *, require_schema: bool = True
) -> AsyncIterator[AsyncEngine]:
    """An engine on the configured database, checked to be at the head revision
    (unless `require_schema` is False: `callcenter db` itself).

    Raises NotMigrated, or SQLAlchemyError/OSError when the database cannot be reached."""
    engine = create_engine(settings.database_url)
    try:
        if require_schema:
            await require_head(engine)
        yield engine
    finally:
        await engine.dispose()


def run_on_database(
    settings: Settings,
    work: Callable[[AsyncEngine], Awaitable[T]],
    *,
    require_schema: bool = True,
) -> T:
    """Run `work` on the migrated database; exit 2 with one clear line (never a
    traceback) when it is not migrated or cannot be reached. `require_schema=False`
    is for `callcenter db`, which reads or changes the schema itself."""

    async def run() -> T:
        async with migrated_engine(settings, require_schema=require_schema) as engine:
            return await work(engine)

    try:
        return asyncio.run(run())
    except NotMigrated as exc:
        fail(str(exc), EXIT_USAGE)
    except (SQLAlchemyError, OSError) as exc:
        fail(
            f"cannot use the database {redacted_url(settings.database_url)}: "
            f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}",
            EXIT_USAGE,
        )

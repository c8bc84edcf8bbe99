"""`callcenter legacy ...`: the operators' remapping tools.

Exit codes: 0 done; 1 the file (or request) was rejected and nothing was written, or
for `diff`, differences found; 2 usage or configuration errors.
"""

from __future__ import annotations

import asyncio
import getpass
import json
import os
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn

from callcenter import migrate
from callcenter.commands.common import load_settings_or_exit
from callcenter.db import create_engine, session_factory
from callcenter.legacy import csvfile
from callcenter.legacy.catalog_store import CatalogStore
from callcenter.legacy.normalize import NumberError, normalize_number
from callcenter.legacy.plan import changed_fields
from callcenter.legacy.queues import QueueCatalog
from callcenter.legacy.records import RowError
from callcenter.legacy.repository import (
    LegacyError,
    LegacyRepository,
    NotFound,
    WriteResult,
)
from callcenter.legacy.repository import (
    Progress as ProgressFn,
)
from callcenter.spreadsheet import DEFAULT_ENCODING, encoding_named

app = typer.Typer(
    help="The legacy-number directory (old unit numbers → 12345).", no_args_is_help=True
)
console = Console(stderr=True, soft_wrap=True)  # file paths and counts stay greppable
T = TypeVar("T")
SHOWN_PER_KIND = 50  # changes listed per kind on a terminal; --json has them all

ActorOption = Annotated[
    str | None, typer.Option("--actor", help="Who makes the change (default: $USER).")
]
EncodingOption = Annotated[
    str | None,
    typer.Option("--encoding", help="File encoding (default: detect UTF-8 / UTF-8 BOM / GB18030)."),
]


def _actor(actor: str | None) -> str:
    if actor:
        return actor
    try:
        return os.environ.get("USER") or getpass.getuser()
    except Exception:
        return "unknown"


def _run(work: Callable[[LegacyRepository], Awaitable[T]]) -> T:
    """Run `work` against the configured database (migrated to head first)."""
    settings = load_settings_or_exit()

    async def run() -> T:
        engine = create_engine(settings.database_url)
        try:
            await migrate.upgrade(engine)
            repo = LegacyRepository(session_factory(engine), lambda: datetime.now(UTC))
            return await work(repo)
        finally:
            await engine.dispose()

    return asyncio.run(run())


def _number(raw: str) -> str:
    try:
        return normalize_number(raw)
    except NumberError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc


def _parse_time(raw: str | None) -> datetime | None:
    """ISO 8601; without a UTC offset it is the local time of this machine."""
    if raw is None:
        return None
    try:
        value = datetime.fromisoformat(raw)
    except ValueError as exc:
        console.print(f"[red]error:[/red] --effective-from {raw!r} is not an ISO 8601 time")
        raise typer.Exit(2) from exc
    return (value if value.tzinfo else value.astimezone()).astimezone(UTC)


def _queues() -> QueueCatalog:
    """The queue catalogue in force: what each row's queue must be one of."""
    settings = load_settings_or_exit()

    async def run() -> QueueCatalog:
        engine = create_engine(settings.database_url)
        try:
            await migrate.upgrade(engine)
            return await CatalogStore(session_factory(engine), lambda: datetime.now(UTC)).load()
        finally:
            await engine.dispose()

    return asyncio.run(run())


def _read(path: Path, encoding: str | None) -> csvfile.ParsedFile:
    try:
        data = path.read_bytes()
    except OSError as exc:
        console.print(f"[red]error:[/red] cannot read {path}: {exc.strerror}")
        raise typer.Exit(2) from exc
    return csvfile.read(data, encoding, queues=_queues())


def _print_errors(path: Path, errors: list[RowError]) -> None:
    console.print(f"[red]{path}: {len(errors)} error(s); nothing was written[/red]")
    for error in errors:
        typer.echo(f"{path}:{error.line or '-'}: {error.column}: {error.reason}")


def _print_plan(result: WriteResult) -> None:
    plan = result.plan
    kinds: list[tuple[str, list[str]]] = [
        ("add", [f"+ {r.number}\t{r.unit_code} {r.unit}\t{r.mode}\t{r.queue}" for r in plan.adds]),
        (
            "change",
            [
                f"~ {new.number}\t"
                + ", ".join(f"{f}: {a or '-'} → {b or '-'}" for f, a, b in changed_fields(old, new))
                for old, new in plan.changes
            ],
        ),
        ("removal", [f"- {r.number}\t{r.unit_code} {r.unit}" for r in plan.removals]),
    ]
    for _kind, lines in kinds:
        for line in lines[:SHOWN_PER_KIND]:
            typer.echo(line)
        if len(lines) > SHOWN_PER_KIND:
            typer.echo(f"  ... and {len(lines) - SHOWN_PER_KIND} more (--json lists all)")
    for old_unit, unit in plan.units:
        verb = "new unit" if old_unit is None else "unit"
        typer.echo(
            f"* {verb} {unit.code} {unit.name} ({unit.district}) line {unit.transfer_line or '-'}"
        )
    for unit in plan.unit_removals:
        typer.echo(f"- unit {unit.code} {unit.name}")


def _progress_bar() -> tuple[Progress | None, ProgressFn | None]:
    if not console.is_terminal:
        return None, None
    bar = Progress(TextColumn("writing"), BarColumn(), TaskProgressColumn(), console=console)
    task = bar.add_task("write", total=None)

    def update(done: int, total: int) -> None:
        bar.update(task, completed=done, total=total)

    return bar, update


@app.command("import")
def import_(
    file: Annotated[
        Path, typer.Argument(help="CSV: number,unit_code,unit,district,mode,queue,transfer_to,note")
    ],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Validate and show changes only.")
    ] = False,
    prune: Annotated[
        bool,
        typer.Option("--prune", help="The file is the whole directory: remove numbers not in it."),
    ] = False,
    effective_from: Annotated[
        str | None,
        typer.Option(
            "--effective-from", help="ISO 8601 time the changes start routing (default: now)."
        ),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print a JSON summary on stdout.")
    ] = False,
    encoding: EncodingOption = None,
    actor: ActorOption = None,
) -> None:
    """Validate the whole file, then apply it in one transaction (or nothing)."""
    parsed = _read(file, encoding)
    when = _parse_time(effective_from)
    if not parsed.ok:
        if as_json:
            typer.echo(
                json.dumps(
                    {"applied": False, "errors": [e.as_dict() for e in parsed.errors]},
                    ensure_ascii=False,
                )
            )
        else:
            _print_errors(file, parsed.errors)
        raise typer.Exit(1)
    bar, progress = (None, None) if as_json or dry_run else _progress_bar()

    async def work(repo: LegacyRepository) -> WriteResult:
        return await repo.import_records(
            parsed.records,
            actor=_actor(actor),
            reason=f"import {file.name}",
            prune=prune,
            dry_run=dry_run,
            effective_from=when,
            progress=progress,
        )

    if bar is not None:
        with bar:
            result = _run(work)
    else:
        result = _run(work)
    summary = {"file": str(file), "encoding": parsed.encoding, "rows": len(parsed.records)}
    summary |= result.summary()
    if as_json:
        typer.echo(json.dumps(summary, ensure_ascii=False, indent=2))
    elif result.plan.errors:
        _print_errors(file, result.plan.errors)
    else:
        _print_plan(result)
    if result.plan.errors:
        raise typer.Exit(1)
    if not as_json:
        p = result.plan
        state = "would apply" if dry_run else ("applied" if result.applied else "no change")
        console.print(
            f"{file}: {len(parsed.records)} rows ({parsed.encoding}); {len(p.adds)} added, "
            f"{len(p.changes)} changed, {len(p.removals)} removed, {len(p.units)} unit(s) "
            f"updated: {state}"
        )


@app.command("diff")
def diff(
    file: Annotated[Path, typer.Argument()],
    prune: Annotated[
        bool, typer.Option("--prune", help="Also list numbers missing from FILE.")
    ] = True,
    as_json: Annotated[bool, typer.Option("--json")] = False,
    encoding: EncodingOption = None,
) -> None:
    """What importing FILE would change (exit 1 when it would change something)."""
    parsed = _read(file, encoding)
    if not parsed.ok:
        _print_errors(file, parsed.errors)
        raise typer.Exit(2)

    async def work(repo: LegacyRepository) -> WriteResult:
        return await repo.import_records(
            parsed.records, actor="diff", reason="diff", prune=prune, dry_run=True
        )

    result = _run(work)
    if result.plan.errors:
        _print_errors(file, result.plan.errors)
        raise typer.Exit(2)
    if as_json:
        typer.echo(json.dumps(result.summary(), ensure_ascii=False, indent=2))
    else:
        _print_plan(result)
    if not result.plan.empty:
        raise typer.Exit(1)


@app.command("export")
def export(
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="File (default: stdout).")
    ] = None,
    encoding: Annotated[
        str,
        typer.Option(
            "--encoding",
            help="utf-8-sig: UTF-8 with a BOM, what Excel opens right; gb18030; "
            "utf-8: no BOM, for programs.",
        ),
    ] = DEFAULT_ENCODING,
) -> None:
    """Write the directory as CSV, in the columns import reads (import reads it back)."""
    try:
        chosen = encoding_named(encoding)
    except ValueError as exc:
        console.print(f"[red]error:[/red] --encoding: {exc}")
        raise typer.Exit(2) from exc
    records = _run(lambda repo: repo.records())
    data = csvfile.write(records, chosen)
    if output is None:
        typer.echo(data, nl=False)
        return
    try:
        output.write_bytes(data)
    except OSError as exc:
        console.print(f"[red]error:[/red] cannot write {output}: {exc.strerror}")
        raise typer.Exit(2) from exc
    console.print(f"{output}: {len(records)} numbers ({chosen})")


@app.command("show")
def show(number: Annotated[str, typer.Argument()]) -> None:
    """One number's current configuration."""
    key = _number(number)
    view = _run(lambda repo: repo.get(key))
    if view is None:
        console.print(f"[red]{key} is not in the directory[/red]")
        raise typer.Exit(1)
    for name, value in view.as_dict().items():
        typer.echo(f"{name:15} {value if value not in (None, '') else '-'}")


@app.command("history")
def history(number: Annotated[str, typer.Argument()]) -> None:
    """Every version of a number: who, when, old → new."""
    key = _number(number)
    versions = _run(lambda repo: repo.history(key))
    if not versions:
        console.print(f"[red]{key} has no history[/red]")
        raise typer.Exit(1)
    for v in versions:
        changes = ", ".join(f"{f}: {a or '-'} → {b or '-'}" for f, a, b in v.fields)
        typer.echo(
            f"v{v.version}\t{v.changed_at:%Y-%m-%d %H:%M:%S}Z\t{v.actor}\t{v.action}\t"
            f"from {v.effective_from:%Y-%m-%d %H:%M:%S}Z\t{v.reason}\t{changes}"
        )


@app.command("rollback")
def rollback(
    number: Annotated[str, typer.Argument()],
    to: Annotated[int, typer.Option("--to", help="The version to restore.")],
    actor: ActorOption = None,
) -> None:
    """Restore a number to an earlier version (as a new version; history is kept)."""
    key = _number(number)

    async def work(repo: LegacyRepository) -> WriteResult:
        return await repo.rollback(key, to, actor=_actor(actor))

    try:
        result = _run(work)
    except NotFound as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from exc
    except LegacyError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from exc
    if not result.applied:
        console.print(f"{key} already matches version {to}; nothing changed")
        return
    _print_plan(result)
    console.print(f"{key} rolled back to the content of v{to}")

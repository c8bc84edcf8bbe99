"""`callcenter legacy ...`: the operators' remapping tools.

`import` and `diff` take the same flags with the same meaning, so "diff, then import"
settles: after `import F [--prune]`, `diff F [--prune]` finds nothing. Without
`--prune` a number the file does not list is kept (diff reports it as information,
not as a difference); with it, it is removed, and a prune removing more than
CALLCENTER_LEGACY_PRUNE_MAX_SHARE of the directory is refused unless `--force`
(the rule is the domain's, `callcenter.legacy.plan.guard_prune`, the API's too).

Exit codes and `--json` follow callcenter/commands/common.py.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, NoReturn, TypeVar

import typer
from rich.markup import escape
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn
from sqlalchemy.ext.asyncio import AsyncEngine

from callcenter.commands.common import (
    EXIT_CODES_HELP,
    EXIT_REJECTED,
    EXIT_USAGE,
    ActorOption,
    JsonOption,
    actor_or_user,
    console,
    emit_json,
    fail,
    help_from_doc,
    load_settings_or_exit,
    print_row_errors,
    run_on_database,
    write_export,
)
from callcenter.db import session_factory
from callcenter.legacy import csvfile
from callcenter.legacy.catalog_store import CatalogStore
from callcenter.legacy.normalize import NumberError, normalize_number
from callcenter.legacy.plan import Plan, changed_fields
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
    help="The legacy-number directory (old unit numbers → 12345).",
    epilog=EXIT_CODES_HELP,
    no_args_is_help=True,
)
T = TypeVar("T")
SHOWN_PER_KIND = 50  # changes listed per kind on a terminal; --json has them all


EncodingOption = Annotated[
    str | None,
    typer.Option("--encoding", help="File encoding (default: detect UTF-8 / UTF-8 BOM / GB18030)."),
]
FileArgument = Annotated[
    Path, typer.Argument(help="CSV: number,unit_code,unit,district,mode,queue,transfer_to,note")
]
PruneOption = Annotated[
    bool,
    typer.Option(
        "--prune/--no-prune",
        help="The file is the whole directory: numbers not in it are removed. Without it "
        "they are kept as they are.",
    ),
]
ForceOption = Annotated[
    bool,
    typer.Option(
        "--force",
        help="Allow a prune that removes more than CALLCENTER_LEGACY_PRUNE_MAX_SHARE "
        "(default 0.10) of the directory; without it such a prune is refused (exit 1).",
    ),
]


def _run(work: Callable[[LegacyRepository], Awaitable[T]]) -> T:
    """Run `work` against the configured database (which must be migrated)."""
    settings = load_settings_or_exit()

    async def on(engine: AsyncEngine) -> T:
        repo = LegacyRepository(
            session_factory(engine),
            lambda: datetime.now(UTC),
            prune_max_share=settings.legacy_prune_max_share,
        )
        return await work(repo)

    return run_on_database(settings, on)


def _number(raw: str) -> str:
    try:
        return normalize_number(raw)
    except NumberError as exc:
        fail(str(exc), EXIT_USAGE)


def _parse_time(raw: str | None) -> datetime | None:
    """ISO 8601; without a UTC offset it is the local time of this machine."""
    if raw is None:
        return None
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        fail(f"--effective-from {raw!r} is not an ISO 8601 time", EXIT_USAGE)
    return (value if value.tzinfo else value.astimezone()).astimezone(UTC)


def _queues() -> QueueCatalog:
    """The queue catalogue in force: what each row's queue must be one of."""

    async def load(engine: AsyncEngine) -> QueueCatalog:
        return await CatalogStore(session_factory(engine), lambda: datetime.now(UTC)).load()

    return run_on_database(load_settings_or_exit(), load)


def _read(path: Path, encoding: str | None) -> csvfile.ParsedFile:
    try:
        data = path.read_bytes()
    except OSError as exc:
        fail(f"cannot read {path}: {exc.strerror or exc}", EXIT_USAGE)
    return csvfile.read(data, encoding, queues=_queues)


def _rejected(errors: list[RowError], dry_run: bool, when: datetime | None) -> dict[str, Any]:
    """The --json document of a change refused before the database was read."""
    result = WriteResult(Plan(errors=errors), False, dry_run, when or datetime.now(UTC), 0)
    return result.summary() | {"directory_version": None}


def _shown(lines: list[str]) -> None:
    for line in lines[:SHOWN_PER_KIND]:
        typer.echo(line)
    if len(lines) > SHOWN_PER_KIND:
        typer.echo(f"  ... and {len(lines) - SHOWN_PER_KIND} more (--json lists all)")


def _print_plan(plan: Plan) -> None:
    """The changes on stdout: `+` added, `~` changed, `-` removed, `*`/`- unit` units."""
    _shown([f"+ {r.number}\t{r.unit_code} {r.unit}\t{r.mode}\t{r.queue}" for r in plan.adds])
    _shown(
        [
            f"~ {new.number}\t"
            + ", ".join(f"{f}: {a or '-'} → {b or '-'}" for f, a, b in changed_fields(old, new))
            for old, new in plan.changes
        ]
    )
    _removals(plan)
    for old_unit, unit in plan.units:
        verb = "new unit" if old_unit is None else "unit"
        typer.echo(
            f"* {verb} {unit.code} {unit.name} ({unit.district}) line {unit.transfer_line or '-'}"
        )
    for unit in plan.unit_removals:
        typer.echo(f"- unit {unit.code} {unit.name}")


def _removals(plan: Plan) -> None:
    _shown([f"- {r.number}\t{r.unit_code} {r.unit}" for r in plan.removals])


def _print_kept(file: Path, plan: Plan) -> None:
    """Numbers the file does not list, left as they are: information, not a change."""
    if not plan.kept:
        return
    shown = ", ".join(r.number for r in plan.kept[:SHOWN_PER_KIND])
    more = len(plan.kept) - SHOWN_PER_KIND
    console.print(
        escape(
            f"{file}: {len(plan.kept)} number(s) of the directory not in the file are kept "
            f"(not in file): {shown}{f' ... and {more} more' if more > 0 else ''} "
            "(--prune would remove them)"
        )
    )


def _print_refusal(file: Path, result: WriteResult) -> None:
    """A rejected plan: what a refused prune would remove (stdout), then every error."""
    if result.plan.prune_refusal is not None:
        _removals(result.plan)
    print_row_errors(str(file), result.plan.errors)


def _progress_bar() -> tuple[Progress | None, ProgressFn | None]:
    if not console.is_terminal:
        return None, None
    bar = Progress(TextColumn("writing"), BarColumn(), TaskProgressColumn(), console=console)
    task = bar.add_task("write", total=None)

    def update(done: int, total: int) -> None:
        bar.update(task, completed=done, total=total)

    return bar, update


@app.command("import", epilog=EXIT_CODES_HELP)
@help_from_doc
def import_(
    file: FileArgument,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Validate and show changes only.")
    ] = False,
    prune: PruneOption = False,
    force: ForceOption = False,
    effective_from: Annotated[
        str | None,
        typer.Option(
            "--effective-from", help="ISO 8601 time the changes start routing (default: now)."
        ),
    ] = None,
    as_json: JsonOption = False,
    encoding: EncodingOption = None,
    actor: ActorOption = None,
) -> None:
    """Validate the whole file, then apply it in one transaction (or nothing).

    Every bad row is reported (line, column, reason) and nothing is written (exit 1);
    so is a refused prune, which lists the numbers it would remove.

    --json (also when rejected): one object with file, encoding, rows, prune, applied,
    dry_run, effective_from, directory_version (null if the database was not read),
    adds, changes, removals, unit_changes, unit_removals (counts), added, removed, kept
    (numbers), changed ([{number, fields: {field: [before, after]}}]), errors
    ([{line, column, reason}]) and prune_refusal (null or {removals, directory, share,
    max_share}).
    """
    parsed = _read(file, encoding)
    when = _parse_time(effective_from)
    head = {"file": str(file), "encoding": parsed.encoding, "rows": len(parsed.records)}
    head["prune"] = prune
    if not parsed.ok:
        if as_json:
            emit_json(head | _rejected(parsed.errors, dry_run, when))
        print_row_errors(str(file), parsed.errors)
        raise typer.Exit(EXIT_REJECTED)
    bar, progress = (None, None) if as_json or dry_run else _progress_bar()

    async def work(repo: LegacyRepository) -> WriteResult:
        return await repo.import_records(
            parsed.records,
            actor=actor_or_user(actor),
            reason=f"import {file.name}",
            prune=prune,
            force=force,
            dry_run=dry_run,
            effective_from=when,
            progress=progress,
        )

    if bar is not None:
        with bar:
            result = _run(work)
    else:
        result = _run(work)
    if as_json:
        emit_json(head | result.summary())
    if result.plan.errors:
        if not as_json:
            _print_refusal(file, result)
        else:
            print_row_errors(str(file), result.plan.errors)
        raise typer.Exit(EXIT_REJECTED)
    if as_json:
        return
    _print_plan(result.plan)
    _print_kept(file, result.plan)
    p = result.plan
    state = "would apply" if dry_run else ("applied" if result.applied else "no change")
    console.print(
        escape(
            f"{file}: {len(parsed.records)} rows ({parsed.encoding}); {len(p.adds)} added, "
            f"{len(p.changes)} changed, {len(p.removals)} removed, {len(p.kept)} kept "
            f"(not in file), {len(p.units)} unit(s) updated: {state}"
        )
    )


@app.command("diff", epilog=EXIT_CODES_HELP)
@help_from_doc
def diff(
    file: FileArgument,
    prune: PruneOption = False,
    force: ForceOption = False,
    as_json: JsonOption = False,
    encoding: EncodingOption = None,
) -> None:
    """What `import FILE` with the same flags would change: exit 0 nothing, 1 something
    (or the file, or the prune, would be refused).

    Numbers the file does not list are kept without --prune: reported (stderr, and
    `kept` in --json) but not a difference. --json: import's document plus
    `differences` (true/false).
    """
    parsed = _read(file, encoding)
    head: dict[str, Any] = {"file": str(file), "encoding": parsed.encoding}
    head |= {"rows": len(parsed.records), "prune": prune}
    if not parsed.ok:
        if as_json:
            emit_json(head | {"differences": True} | _rejected(parsed.errors, True, None))
        print_row_errors(str(file), parsed.errors)
        raise typer.Exit(EXIT_REJECTED)

    async def work(repo: LegacyRepository) -> WriteResult:
        return await repo.import_records(
            parsed.records, actor="diff", reason="diff", prune=prune, force=force, dry_run=True
        )

    result = _run(work)
    differs = bool(result.plan.errors) or not result.plan.empty
    if as_json:
        emit_json(head | {"differences": differs} | result.summary())
    else:
        _print_plan(result.plan)
        _print_kept(file, result.plan)
    if result.plan.errors:
        print_row_errors(str(file), result.plan.errors)
    if differs:
        raise typer.Exit(EXIT_REJECTED)


@app.command("export", epilog=EXIT_CODES_HELP)
@help_from_doc
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
    as_json: Annotated[
        bool,
        typer.Option(
            "--json",
            help="With -o FILE only (else stdout is the CSV): print {file, numbers, "
            "encoding} on stdout.",
        ),
    ] = False,
) -> None:
    """Write the directory as CSV, in the columns import reads (import reads it back).

    Without -o the CSV is stdout and the summary line goes to stderr, so CSV and JSON
    never share a stream: --json needs -o FILE (exit 2 without).
    """
    try:
        chosen = encoding_named(encoding)
    except ValueError as exc:
        fail(f"--encoding: {exc}", EXIT_USAGE)
    if as_json and output is None:
        fail("--json needs -o FILE: without it stdout is the CSV itself", EXIT_USAGE)
    records = _run(lambda repo: repo.records())
    data = csvfile.write(records, chosen)
    summary = f"{len(records)} numbers ({chosen})"
    write_export(output, data, summary, as_json, {"numbers": len(records), "encoding": chosen})


@app.command("show", epilog=EXIT_CODES_HELP)
@help_from_doc
def show(number: Annotated[str, typer.Argument()], as_json: JsonOption = False) -> None:
    """One number's current configuration (exit 1 if it is not in the directory).

    --json: {number, unit_code, unit, district, mode, queue, transfer_to, note, version,
    effective_from, updated_at, updated_by}.
    """
    key = _number(number)
    view = _run(lambda repo: repo.get(key))
    if view is None:
        fail(f"{key} is not in the directory", EXIT_REJECTED)
    if as_json:
        emit_json(view.as_dict())
        return
    for name, value in view.as_dict().items():
        typer.echo(f"{name:15} {value if value not in (None, '') else '-'}")


@app.command("history", epilog=EXIT_CODES_HELP)
@help_from_doc
def history(number: Annotated[str, typer.Argument()], as_json: JsonOption = False) -> None:
    """Every version of a number: who, when, old → new (exit 1 if it has none).

    --json: {number, versions: [{version, action (add|change|delete), actor,
    changed_at, effective_from, reason, changes: {field: [before, after]}}]}.
    """
    key = _number(number)
    versions = _run(lambda repo: repo.history(key))
    if not versions:
        fail(f"{key} has no history", EXIT_REJECTED)
    if as_json:
        emit_json({"number": key, "versions": [v.as_dict() for v in versions]})
        return
    for v in versions:
        changes = ", ".join(f"{f}: {a or '-'} → {b or '-'}" for f, a, b in v.fields)
        typer.echo(
            f"v{v.version}\t{v.changed_at:%Y-%m-%d %H:%M:%S}Z\t{v.actor}\t{v.action}\t"
            f"from {v.effective_from:%Y-%m-%d %H:%M:%S}Z\t{v.reason}\t{changes}"
        )


@app.command("rollback", epilog=EXIT_CODES_HELP)
@help_from_doc
def rollback(
    number: Annotated[str, typer.Argument()],
    to: Annotated[int, typer.Option("--to", help="The version to restore.")],
    actor: ActorOption = None,
    as_json: JsonOption = False,
) -> None:
    """Restore a number to an earlier version (as a new version; history is kept).

    Exit 1 when the version does not exist or cannot be restored (its unit is gone).
    --json: import's document plus number and to.
    """
    key = _number(number)

    async def work(repo: LegacyRepository) -> WriteResult:
        return await repo.rollback(key, to, actor=actor_or_user(actor))

    head = {"number": key, "to": to}
    try:
        result = _run(work)
    except NotFound as exc:
        _refuse_rollback(head, [RowError(None, "to", str(exc).strip("'\""))], as_json)
    except LegacyError as exc:
        _refuse_rollback(head, exc.errors, as_json)
    if result.plan.errors:
        _refuse_rollback(head, result.plan.errors, as_json)
    if as_json:
        emit_json(head | result.summary())
        return
    if not result.applied:
        console.print(f"{key} already matches version {to}; nothing changed")
        return
    _print_plan(result.plan)
    console.print(f"{key} rolled back to the content of v{to}")


def _refuse_rollback(head: dict[str, Any], errors: list[RowError], as_json: bool) -> NoReturn:
    if as_json:
        emit_json(head | _rejected(errors, False, None))
    fail("; ".join(str(e) for e in errors), EXIT_REJECTED)

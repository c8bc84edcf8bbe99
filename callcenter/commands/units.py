"""`callcenter units ...`: load the units' cards in bulk, and write them out.

The file formats are callcenter/legacy/card_files.py's; the rules of a card
callcenter/legacy/cards.py's, the same the API holds an edit to. Exit codes and
`--json` follow callcenter/commands/common.py.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.markup import escape
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
from callcenter.legacy import card_files
from callcenter.legacy.card_store import ImportResult, UnitCards
from callcenter.spreadsheet import DEFAULT_ENCODING, encoding_named

app = typer.Typer(
    help="The units' cards (responsibilities, hours, transfer numbers, knowledge-base "
    "links) the agents see in the screen pop.",
    epilog=EXIT_CODES_HELP,
    no_args_is_help=True,
)

T = TypeVar("T")
FormatOption = Annotated[
    str | None,
    typer.Option("--format", help="json or csv (default: from the file name's extension)."),
]


def _format(path: Path | None, given: str | None) -> card_files.Format:
    chosen = (given or (path.suffix.lstrip(".") if path is not None else "json")).lower()
    if chosen == "json":
        return "json"
    if chosen == "csv":
        return "csv"
    fail(
        f"cannot tell the format of {path}: give --format json or --format csv"
        if given is None
        else f"--format {given!r}: json or csv",
        EXIT_USAGE,
    )


def _on_cards(work: Callable[[UnitCards], Awaitable[T]]) -> T:
    """Run `work` on the cards of the configured (migrated) database."""
    settings = load_settings_or_exit()

    async def on(engine: AsyncEngine) -> T:
        return await work(UnitCards(session_factory(engine), lambda: datetime.now(UTC)))

    return run_on_database(settings, on)


@app.command("import", epilog=EXIT_CODES_HELP)
@help_from_doc
def import_(
    file: Annotated[Path, typer.Argument(help="A JSON array of cards, or a CSV.")],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Check and show what would change only.")
    ] = False,
    form: FormatOption = None,
    encoding: Annotated[
        str | None,
        typer.Option("--encoding", help="File encoding (default: detect UTF-8 / GB18030)."),
    ] = None,
    actor: ActorOption = None,
    as_json: JsonOption = False,
) -> None:
    """Check the whole file, then write every card in one transaction (or none).

    Every bad card is reported (line, field, reason) and nothing is written (exit 1); so
    is a unit code the legacy directory does not have. Cards equal to the stored ones
    are left as they are. --json (also when rejected): {file, format, encoding, cards,
    applied, dry_run, adds, changes, unchanged (counts), added, changed (unit codes),
    errors ([{line, column, reason}])}.
    """
    chosen = _format(file, form)
    try:
        data = file.read_bytes()
    except OSError as exc:
        fail(f"cannot read {file}: {exc.strerror or exc}", EXIT_USAGE)
    parsed = card_files.read(data, chosen, encoding)
    head: dict[str, Any] = {"file": str(file), "format": chosen, "encoding": parsed.encoding}
    head["cards"] = len(parsed.cards)
    if not parsed.ok:
        result = ImportResult(False, dry_run, errors=parsed.errors)
    else:
        result = _on_cards(
            lambda cards: cards.import_cards(
                parsed.cards, actor=actor_or_user(actor), dry_run=dry_run
            )
        )
    if as_json:
        emit_json(head | result.summary())
    if result.errors:
        print_row_errors(str(file), result.errors)
        raise typer.Exit(EXIT_REJECTED)
    state = "would apply" if dry_run else ("applied" if result.applied else "no change")
    console.print(
        escape(
            f"{file}: {len(parsed.cards)} cards; {len(result.added)} added, "
            f"{len(result.changed)} changed, {len(result.unchanged)} unchanged: {state}"
        )
    )


@app.command("export", epilog=EXIT_CODES_HELP)
@help_from_doc
def export(
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="File (default: stdout).")
    ] = None,
    form: FormatOption = None,
    encoding: Annotated[
        str,
        typer.Option(
            "--encoding", help="CSV only: utf-8-sig (what Excel opens right), gb18030, utf-8."
        ),
    ] = DEFAULT_ENCODING,
    as_json: Annotated[
        bool,
        typer.Option(
            "--json",
            help="With -o FILE only (else stdout is the file): print {file, cards, "
            "format} on stdout.",
        ),
    ] = False,
) -> None:
    """Write every stored card in the format import reads (import reads it back).

    Cards of units the directory no longer has are written too. Without -o the file is
    stdout and the summary goes to stderr: --json needs -o FILE (exit 2 without).
    """
    chosen = _format(output, form) if output is not None or form else "json"
    try:
        csv_encoding = encoding_named(encoding)
    except ValueError as exc:
        fail(f"--encoding: {exc}", EXIT_USAGE)
    if as_json and output is None:
        fail("--json needs -o FILE: without it stdout is the file itself", EXIT_USAGE)
    stored = _on_cards(lambda cards: cards.stored())
    data = card_files.write(stored, chosen, csv_encoding)
    summary = f"{len(stored)} cards ({chosen})"
    write_export(output, data, summary, as_json, {"cards": len(stored), "format": chosen})

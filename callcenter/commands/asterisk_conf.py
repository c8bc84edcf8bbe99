"""`callcenter asterisk-conf ...`: render the Asterisk configuration to a directory."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from callcenter.asterisk_conf import RenderError, gather, parse_seats, render, write
from callcenter.commands.common import load_settings_or_exit

app = typer.Typer(help="Asterisk configuration (dialplan, queues, AMI, PJSIP, CDR/CEL, ledger).",
                  no_args_is_help=True)  # fmt: skip
console = Console(stderr=True)


@app.command("render")
def render_command(
    out: Annotated[Path, typer.Option("--out", help="Directory to write the files into.")],
    seats: Annotated[
        str | None,
        typer.Option(
            help="Seat extensions, e.g. 1001-1060,2001 (default: the demo's "
            "CALLCENTER_DEMO_SEATS seats from 1001, until seats live in the database)."
        ),
    ] = None,
    trunk_host: Annotated[str, typer.Option(help="The carrier's SIP address.")] = "127.0.0.2",
    agi_url: Annotated[
        str | None, typer.Option(help="agi://HOST:PORT Asterisk connects to (default: settings).")
    ] = None,
    ami_permit: Annotated[
        list[str] | None, typer.Option(help="Address the service logs in to AMI from.")
    ] = None,
    ledger_db: Annotated[
        str | None,
        typer.Option(
            help="postgresql://USER[:PASSWORD]@HOST[:PORT]/DB Asterisk writes its ledger "
            "into (default: the service's database; none when that is SQLite)."
        ),
    ] = None,
) -> None:
    """Render extensions, queues, manager, pjsip, cdr and cel configuration into OUT,
    and, on PostgreSQL, the ledger Asterisk writes itself (cdr_pgsql, cel_pgsql,
    res_pgsql, extconfig, logger)."""
    settings = load_settings_or_exit()
    try:
        spec = seats if seats is not None else f"1001-{1000 + settings.demo_seats}"
        inputs = asyncio.run(
            gather(
                settings,
                seats=parse_seats(spec),
                trunk_host=trunk_host,
                agi_url=agi_url,
                ami_permits=tuple(ami_permit or ["127.0.0.1"]),
                ledger_url=ledger_db,
            )
        )
        files = render(inputs)
    except RenderError as exc:
        console.print(f"[red]cannot render:[/red] {exc}")
        raise typer.Exit(2) from exc
    for path in write(out, files):
        console.print(f"wrote {path}")
    console.print(
        f"{len(inputs.queues)} queues, {len(inputs.seats)} seats, "
        f"{len(inputs.transfer_targets)} transfer targets"
    )
    if inputs.ledger is None:
        console.print(
            "no ledger files: the service's database is SQLite, which Asterisk cannot "
            "write into (give --ledger-db postgresql://...)"
        )
    else:
        db = inputs.ledger
        console.print(f"ledger: {db.user}@{db.host}:{db.port}/{db.dbname}, schema asterisk")

"""`callcenter asterisk-conf ...`: render the Asterisk configuration, one directory per
AMI node, from the provisioned seats and the settings."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from sqlalchemy.ext.asyncio import AsyncEngine

from callcenter.asterisk_conf import (
    DatabaseContent,
    RenderError,
    RenderOptions,
    RenderPlan,
    RenderProblems,
    plan,
    read_database,
    render_plan,
    write_nodes,
)
from callcenter.commands.common import (
    EXIT_CODES_HELP,
    EXIT_REJECTED,
    EXIT_USAGE,
    JsonOption,
    console,
    emit_json,
    fail,
    load_settings_or_exit,
    run_on_database,
)

app = typer.Typer(help="Asterisk configuration (dialplan, queues, AMI, PJSIP, CDR/CEL, ledger).",
                  no_args_is_help=True)  # fmt: skip


@app.command("render", epilog=EXIT_CODES_HELP)
def render_command(
    out: Annotated[
        Path, typer.Option("--out", help="Directory to write into: one OUT/<node>/ per node.")
    ],
    trunk_host: Annotated[str, typer.Option(help="The carrier's SIP address.")] = "127.0.0.2",
    agi_url: Annotated[
        str | None,
        typer.Option(help="agi://HOST:PORT Asterisk connects to (default: CALLCENTER_AGI_*)."),
    ] = None,
    ami_bind: Annotated[
        str | None,
        typer.Option(
            help="manager.conf bindaddr of every node (default: the node's bindaddr, "
            "CALLCENTER_AMI_BINDADDR, else the node's host: the address the service "
            "connects to)."
        ),
    ] = None,
    ami_permit: Annotated[
        list[str] | None,
        typer.Option(
            help="Address or network the service logs in to AMI from; repeatable "
            "(default: the node's permit, CALLCENTER_AMI_PERMIT, else CALLCENTER_AGI_HOST, "
            "or 127.0.0.1 for a node on this host)."
        ),
    ] = None,
    ledger_db: Annotated[
        str | None,
        typer.Option(
            help="postgresql://USER[:PASSWORD]@HOST[:PORT]/DB Asterisk writes its ledger "
            "into (default: the service's database; none when that is SQLite)."
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Render, for every node of CALLCENTER_AMI_NODES, into OUT/<node>/: extensions,
    queues, manager (that node's AMI user, bind and permits), pjsip (the trunk and one
    endpoint per PJSIP seat of that node), cdr and cel configuration, and, on
    PostgreSQL, the ledger Asterisk writes itself (cdr_pgsql, cel_pgsql, res_pgsql,
    extconfig, logger).

    Seats come from the seats table only (`callcenter seats provision`): an endpoint
    for an extension the service does not know could register but never be logged in
    to a queue. A `Local/...` seat gets a dialplan extension but no endpoint. Calls an
    agent answers are recorded (CALLCENTER_RECORDING_*), deleted with their records by
    `callcenter records purge`.

    The database is read, never migrated. Every problem with the settings and the
    seats is reported at once."""
    settings = load_settings_or_exit()
    options = RenderOptions(
        trunk_host=trunk_host,
        agi_url=agi_url,
        ami_bind=ami_bind,
        ami_permits=tuple(ami_permit or ()),
        ledger_url=ledger_db,
    )

    async def work(engine: AsyncEngine) -> DatabaseContent:
        return await read_database(engine, settings)

    content = run_on_database(settings, work)
    try:
        rendering = plan(settings, options, content)
        files = render_plan(rendering)
    except RenderProblems as exc:
        console.print(f"[red]cannot render[/red] ({len(exc.problems)} problems):")
        for problem in exc.problems:
            console.print(f"  - {escape(problem.message)}")
        raise typer.Exit(EXIT_USAGE if exc.configuration else EXIT_REJECTED) from exc
    except RenderError as exc:
        fail(f"cannot render: {exc}", EXIT_REJECTED)
    try:
        written = write_nodes(out, files)
    except OSError as exc:
        fail(f"cannot write into {out}: {exc.strerror or exc}", EXIT_USAGE)
    for warning in rendering.warnings:
        console.print(f"[yellow]warning:[/yellow] {escape(warning)}")
    for paths in written.values():
        for path in paths:
            console.print(f"wrote {path}")
    _tell(rendering)
    if as_json:
        emit_json(_document(out, rendering, written))


def _tell(rendering: RenderPlan) -> None:
    """What the operator must make true outside these files."""
    first = rendering.nodes[0].inputs
    console.print(
        f"{len(first.queues)} queues, {len(first.transfer_targets)} transfer targets; "
        + ", ".join(
            f"{n.name}: {len(n.inputs.seats)} seats "
            f"({sum(1 for s in n.inputs.seats if s.endpoint)} PJSIP endpoints)"
            for n in rendering.nodes
        )
    )
    for node in rendering.nodes:
        console.print(escape(node.access.needs()))
    console.print(f"Asterisk connects to FastAGI at {rendering.agi_url}")
    if rendering.recording is None:
        console.print("calls are not recorded (CALLCENTER_RECORDING_ENABLED=false)")
    else:
        rec = rendering.recording
        console.print(
            f"calls an agent answers are recorded to {rec.pbx_dir}/Y/m/d/<Linkedid>.{rec.format}"
        )
    if rendering.ledger is None:
        console.print(
            "no ledger files: the service's database is SQLite, which Asterisk cannot "
            "write into (give --ledger-db postgresql://...)"
        )
    else:
        db = rendering.ledger
        console.print(f"ledger: {db.user}@{db.host}:{db.port}/{db.dbname}, schema asterisk")


def _document(out: Path, rendering: RenderPlan, written: dict[str, list[Path]]) -> Any:
    first = rendering.nodes[0].inputs
    ledger = rendering.ledger
    recording = rendering.recording
    return {
        "out": str(out),
        "queues": len(first.queues),
        "transfer_targets": len(first.transfer_targets),
        "agi_url": rendering.agi_url,
        "nodes": [
            {
                "node": node.name,
                "directory": str(out / node.name),
                "files": [p.name for p in written[node.name]],
                "seats": len(node.inputs.seats),
                "pjsip_endpoints": sum(1 for s in node.inputs.seats if s.endpoint),
                "ami": {
                    "host": node.access.host,
                    "port": node.access.port,
                    "username": node.inputs.ami_user,
                    "bindaddr": node.access.bindaddr,
                    "permit": list(node.access.permits),
                    "service_address": node.access.service_address,
                },
                "needs": node.access.needs(),
            }
            for node in rendering.nodes
        ],
        "recording": None
        if recording is None
        else {"format": recording.format, "directory": recording.pbx_dir},
        "ledger": None
        if ledger is None
        else {
            "host": ledger.host,
            "port": ledger.port,
            "dbname": ledger.dbname,
            "user": ledger.user,
        },
        "warnings": list(rendering.warnings),
    }

"""`callcenter records ...`: retention of call records, reconciliation with the ledger."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Annotated

import typer
from sqlalchemy.ext.asyncio import AsyncEngine

from callcenter.clock import utcnow
from callcenter.commands.common import (
    EXIT_CODES_HELP,
    EXIT_REJECTED,
    JsonOption,
    console,
    emit_json,
    help_from_doc,
    load_settings_or_exit,
    retention,
    run_on_database,
)
from callcenter.config import Settings
from callcenter.db import session_factory
from callcenter.from110 import From110
from callcenter.legacy.directory import Directory
from callcenter.legacy.repository import LegacyRepository
from callcenter.records.reconcile import Reconciler, ReconcileReport
from callcenter.records.recordings import RecordingCleanup, RecordingFiles
from callcenter.records.store import RecordStore
from callcenter.records.store import purge as purge_records
from callcenter.records.wiring import directory_routes

app = typer.Typer(help="Call records.", epilog=EXIT_CODES_HELP, no_args_is_help=True)


@app.command("purge", epilog=EXIT_CODES_HELP)
@help_from_doc
def purge(
    days: Annotated[
        int | None,
        typer.Option(
            min=1, help="Keep this many days (default CALLCENTER_RECORDS_RETENTION_DAYS)."
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Delete call records older than the retention period, and their recordings.

    A recording is deleted once its record is: the file Asterisk named (under
    CALLCENTER_RECORDING_PBX_DIR) as the service reaches it (CALLCENTER_RECORDINGS_DIR);
    nothing outside that directory is ever deleted. Recordings it could not reach are
    counted and left in place.

    --json: {purged, days (null: keep forever), recordings: {directory, deleted, missing,
    unreachable, examples}}.
    """
    settings = load_settings_or_exit()
    keep = retention(days, settings.records_retention_days)
    files = RecordingFiles(settings.recording_pbx_dir, settings.recordings_dir)
    cleanup = RecordingCleanup()
    if keep is None:
        deleted = 0
    else:
        before = int(time.time()) - keep * 86400

        async def work(engine: AsyncEngine) -> int:
            return await purge_records(
                session_factory(engine),
                before,
                on_batch=lambda names: files.delete(names, cleanup),
            )

        deleted = run_on_database(settings, work)
    local = str(files.local_dir) if files.local_dir is not None else None
    if as_json:
        emit_json(
            {
                "purged": deleted,
                "days": keep,
                "recordings": {
                    "directory": local,
                    "deleted": cleanup.deleted,
                    "missing": cleanup.missing,
                    "unreachable": cleanup.unreachable,
                    "examples": cleanup.examples,
                },
            }
        )
    if keep is not None:
        console.print(
            f"purged {deleted} call records started more than {keep} days ago; "
            f"recordings: {cleanup.deleted} deleted, {cleanup.missing} already gone, "
            f"{cleanup.unreachable} not reachable"
        )
    for example in cleanup.examples:
        console.print(f"  not deleted: {example}")


def _instant(value: str, option: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise typer.BadParameter(f"not an ISO 8601 time: {value!r}", param_hint=option) from exc
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed


@app.command("reconcile", epilog=EXIT_CODES_HELP)
@help_from_doc
def reconcile(
    window_from: Annotated[
        str, typer.Option("--from", help="Window start, ISO 8601 (no zone: UTC).")
    ],
    window_to: Annotated[str, typer.Option("--to", help="Window end (excluded), ISO 8601.")],
    node: Annotated[
        str | None,
        typer.Option(help="The PBX node whose ledger this is (default: the only node)."),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Report what would change; write no record.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Reconcile the call records with Asterisk's own ledger (cdr, cel, queue_log) for
    the calls that started in [--from, --to): rebuild the inbound calls that have no
    record, correct the fields a record gets wrong. The ledger has no node: it is the
    ledger of one PBX, named by --node. Every run is stored (see GET
    /api/v1/records/reconciliation), dry runs too.

    Exit status: 0 reconciled; 1 the run failed, or records the ledger does not know
    remain (unexplained); 2 usage or configuration error, or a database that cannot be
    reached or is not migrated. --json: the report (`GET
    /api/v1/records/reconciliation`'s run).
    """
    settings = load_settings_or_exit()
    start, end = _instant(window_from, "--from"), _instant(window_to, "--to")
    if end <= start:
        raise typer.BadParameter("must be after --from", param_hint="--to")
    name = _node_name(settings, node)
    report = run_on_database(
        settings,
        lambda engine: _reconcile(engine, name, start, end, dry_run, settings.from_110()),
    )
    if as_json:
        emit_json(report.to_json())
    else:
        typer.echo(_summary(report))
    if report.error or report.unexplained:
        raise typer.Exit(EXIT_REJECTED)


def _node_name(settings: Settings, node: str | None) -> str:
    names = [n.name for n in settings.ami_nodes]
    if node is None and len(names) == 1:
        return names[0]
    if node in names:
        return node
    raise typer.BadParameter(f"one of {', '.join(names)}", param_hint="--node")


async def _reconcile(
    engine: AsyncEngine,
    node: str,
    start: datetime,
    end: datetime,
    dry_run: bool,
    from_110: From110,
) -> ReconcileReport:
    sessions = session_factory(engine)
    directory = Directory(LegacyRepository(sessions, utcnow), utcnow)
    await directory.reload()
    store = RecordStore(sessions, directory_routes(directory))
    return await Reconciler(sessions, store, node, utcnow, from_110=from_110).run(
        start, end, dry_run
    )


def _summary(report: ReconcileReport) -> str:
    verb = "would be " if report.dry_run else ""
    lines = [
        f"ledger of {report.node} from {report.window_from.isoformat()}"
        f" to {report.window_to.isoformat()}: {report.ledger_calls} inbound calls,"
        f" {report.records} with a record",
        f"{len(report.rebuilt)} records {verb}rebuilt, {report.corrected} {verb}corrected"
        f" ({len(report.corrections)} fields), {len(report.unexplained)} unexplained,"
        f" {len(report.in_progress)} in progress, {len(report.outbound)} outbound legs",
    ]
    lines += [f"  {c.linkedid} {c.field}: {c.record!r} -> {c.ledger!r}" for c in report.corrections]
    lines += [f"  {linkedid} unexplained: not in the ledger" for linkedid in report.unexplained]
    if report.error:
        lines.append(f"failed: {report.error}")
    return "\n".join(lines)

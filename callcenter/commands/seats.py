"""`callcenter seats ...`: provision, list and update seats.

The database is used as it is (`run_on_database`: a database never migrated is one
line and exit 2, never a traceback). `seats update` changes a logged-out seat only: a
logged-in seat's change must reach Asterisk too, and only the running service holds the
PBX link and the live view of its memberships (`PATCH /api/v1/seats/{id}` applies it
there).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from sqlalchemy.ext.asyncio import AsyncEngine

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
from callcenter.config import Settings
from callcenter.db import session_factory
from callcenter.legacy.catalog_store import CatalogStore
from callcenter.legacy.queues import QueueCatalog
from queues.catalog import parse_skills
from queues.models import Seat
from queues.repository import ProvisionResult, SeatRepository
from queues.seat_config import SeatUpdate, checked_update

app = typer.Typer(help=f"Seats (agents' positions). {EXIT_CODES_HELP}", no_args_is_help=True)


def _repo(engine: AsyncEngine) -> SeatRepository:
    return SeatRepository(session_factory(engine), lambda: datetime.now(UTC))


async def _catalog(engine: AsyncEngine) -> QueueCatalog:
    """The queue catalogue in force: a seat's skills must name its queues."""
    return await CatalogStore(session_factory(engine), lambda: datetime.now(UTC)).load()


def _nodes(settings: Settings) -> list[str]:
    return [n.name for n in settings.ami_nodes]


def seat_json(seat: Seat) -> dict[str, Any]:
    return {
        "id": seat.id,
        "extension": seat.extension,
        "interface": seat.interface,
        "node": seat.node,
        "skills": dict(sorted(seat.skills.items())),
        "logged_in": seat.logged_in,
        "pause_reason": seat.pause_reason,
        "changed_at": seat.changed_at.isoformat(),
    }


def _skills_text(skills: dict[str, int]) -> str:
    return ",".join(f"{k}:{v}" for k, v in sorted(skills.items()))


@app.command("provision")
def provision(
    count: Annotated[int, typer.Option(min=1, max=100_000, help="How many seats.")],
    start: Annotated[int, typer.Option(help="First extension.")] = 1001,
    skills: Annotated[
        str, typer.Option(help="queue:level (1-5, 5 = expert) list, e.g. general:3,housing:5")
    ] = "general:3",
    interface: Annotated[
        str | None,
        typer.Option(help="Dial interface template (default CALLCENTER_SEAT_INTERFACE_TEMPLATE)."),
    ] = None,
    node: Annotated[str | None, typer.Option(help="PBX node (default: the first).")] = None,
    as_json: JsonOption = False,
) -> None:
    """Create seats START .. START+COUNT-1; existing seats are left unchanged (change
    them with `seats update`)."""
    settings = load_settings_or_exit()
    nodes = _nodes(settings)
    node = node or nodes[0]
    if node not in nodes:
        fail(f"--node {node!r}: configured nodes are {nodes}", EXIT_USAGE)
    template = interface or settings.seat_interface_template
    if "{extension}" not in template:
        fail(f"--interface {template!r} lacks {{extension}}", EXIT_USAGE)

    async def work(engine: AsyncEngine) -> tuple[ProvisionResult, dict[str, int]]:
        try:  # the skills name queues of the catalogue in force
            parsed = parse_skills(skills, await _catalog(engine))
        except ValueError as exc:
            raise _BadOption(f"--skills: {exc}") from exc
        result = await _repo(engine).provision(
            count, start, lambda _i: dict(parsed), template, node
        )
        return result, parsed

    try:
        result, parsed = run_on_database(settings, work)
    except _BadOption as exc:
        fail(str(exc), EXIT_USAGE)
    if result.other_skills:
        shown = ", ".join(result.other_skills[:10])
        more = f" and {len(result.other_skills) - 10} more" if len(result.other_skills) > 10 else ""
        console.print(
            f"[yellow]note:[/yellow] {len(result.other_skills)} existing seats have other "
            f"skills than {_skills_text(parsed)} and keep them ({shown}{more}); change them "
            "with `callcenter seats update SEAT --skills ...`"
        )
    console.print(
        f"{len(result.added)} seats added, {len(result.existing)} already provisioned "
        f"(extensions {start}..{start + count - 1})"
    )
    if as_json:
        emit_json(
            {
                "added": result.added,
                "existing": result.existing,
                "existing_with_other_skills": result.other_skills,
            }
        )


@app.command("list")
def list_seats(as_json: JsonOption = False) -> None:
    """Seats as the database has them (tab-separated, or --json)."""
    settings = load_settings_or_exit()

    async def work(engine: AsyncEngine) -> list[Seat]:
        return await _repo(engine).seats()

    seats = run_on_database(settings, work)
    if as_json:
        emit_json([seat_json(seat) for seat in seats])
        return
    for seat in seats:
        state = "logged_in" if seat.logged_in else "logged_out"
        if seat.pause_reason:
            state += f"/paused:{seat.pause_reason}"
        typer.echo(
            f"{seat.id}\t{seat.interface}\t{seat.node}\t{state}\t{_skills_text(seat.skills)}"
        )


class _Refused(Exception):
    """The seat cannot be changed here; nothing was written."""


class _BadOption(Exception):
    """An option's value is not valid (a skill of no queue, an unknown node)."""


@app.command("update")
def update(
    seat_id: Annotated[str, typer.Argument(metavar="SEAT", help="The seat's id.")],
    skills: Annotated[
        str | None,
        typer.Option(help="All its skills, queue:level (1-5), e.g. general:3,housing:5."),
    ] = None,
    interface: Annotated[
        str | None, typer.Option(help="Its dial interface, e.g. PJSIP/1001.")
    ] = None,
    node: Annotated[str | None, typer.Option(help="Its PBX node (a configured one).")] = None,
    as_json: JsonOption = False,
) -> None:
    """Change a logged-out seat's skills, interface or node (a logged-in seat: use
    PATCH /api/v1/seats/SEAT, which the running service applies to Asterisk)."""
    settings = load_settings_or_exit()

    async def work(engine: AsyncEngine) -> Seat:
        queues = await _catalog(engine)
        try:
            parsed = parse_skills(skills, queues) if skills is not None else None
            change = checked_update(SeatUpdate(parsed, interface, node), _nodes(settings), queues)
        except ValueError as exc:
            raise _BadOption(str(exc)) from exc
        repo = _repo(engine)
        seat = await repo.seat(seat_id)
        if seat is None:
            raise _Refused(f"no seat {seat_id!r} (provision it: callcenter seats provision)")
        if seat.logged_in:
            raise _Refused(
                f"seat {seat_id} is logged in: its change must reach Asterisk too; use "
                f"PATCH /api/v1/seats/{seat_id} (the running service applies it) or log "
                "the seat out first"
            )
        new_interface = change.interface or seat.interface
        owner = await repo.interface_owner(new_interface)
        if owner not in (None, seat.id):
            raise _Refused(f"interface {new_interface} belongs to seat {owner}")
        return await repo.update(
            seat.id,
            change.skills if change.skills is not None else dict(seat.skills),
            new_interface,
            change.node or seat.node,
        )

    try:
        seat = run_on_database(settings, work)
    except _BadOption as exc:
        fail(str(exc), EXIT_USAGE)
    except _Refused as exc:
        fail(str(exc), EXIT_REJECTED)
    console.print(
        f"seat {seat.id}: {seat.interface} on {seat.node}, skills {_skills_text(seat.skills)}"
    )
    if as_json:
        emit_json(seat_json(seat))

"""`callcenter seats ...`: provision and list seats."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Annotated

import typer

from callcenter import migrate
from callcenter.commands.common import console, load_settings_or_exit
from callcenter.db import create_engine, session_factory
from callcenter.legacy.catalog_store import CatalogStore
from queues.catalog import parse_skills
from queues.models import Seat
from queues.repository import ProvisionResult, SeatRepository

app = typer.Typer(help="Seats (agents' positions).", no_args_is_help=True)


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
) -> None:
    """Create seats START .. START+COUNT-1; existing seats are left unchanged."""
    settings = load_settings_or_exit()
    nodes = [n.name for n in settings.ami_nodes]
    node = node or nodes[0]
    if node not in nodes:
        console.print(f"[red]error:[/red] --node {node!r}: configured nodes are {nodes}")
        raise typer.Exit(2)
    template = interface or settings.seat_interface_template

    async def run() -> ProvisionResult:
        engine = create_engine(settings.database_url)
        try:
            await migrate.upgrade(engine)
            sessions = session_factory(engine)
            queues = await CatalogStore(sessions, lambda: datetime.now(UTC)).load()
            try:  # the skills name queues of the catalogue in force
                parsed = parse_skills(skills, queues)
            except ValueError as exc:
                raise ValueError(f"--skills: {exc}") from exc
            repo = SeatRepository(sessions, lambda: datetime.now(UTC))
            return await repo.provision(count, start, lambda _i: dict(parsed), template, node)
        finally:
            await engine.dispose()

    try:
        result = asyncio.run(run())
    except ValueError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    console.print(
        f"{len(result.added)} seats added, {len(result.existing)} already provisioned "
        f"(extensions {start}..{start + count - 1})"
    )


@app.command("list")
def list_seats() -> None:
    """Seats as the database has them (tab-separated)."""
    settings = load_settings_or_exit()

    async def run() -> list[Seat]:
        engine = create_engine(settings.database_url)
        try:
            repo = SeatRepository(session_factory(engine), lambda: datetime.now(UTC))
            return await repo.seats()
        finally:
            await engine.dispose()

    for seat in asyncio.run(run()):
        skills = ",".join(f"{k}:{v}" for k, v in sorted(seat.skills.items()))
        state = "logged_in" if seat.logged_in else "logged_out"
        if seat.pause_reason:
            state += f"/paused:{seat.pause_reason}"
        typer.echo(f"{seat.id}\t{seat.interface}\t{seat.node}\t{state}\t{skills}")

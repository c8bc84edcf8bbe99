"""What `serve --demo` adds to a plain start: the city's demo directory, the simulator's
softphones as seats, and a fresh wallboard token."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from ami.node import PbxNode
from callcenter.config import Settings
from callcenter.legacy import csvfile
from callcenter.legacy.queues import QueueCatalog
from callcenter.legacy.repository import LegacyRepository
from callcenter.tokens import Role, TokenStore
from queues.catalog import demo_skills
from queues.wiring import SeatsSystem

log = logging.getLogger(__name__)

DEMO_LEGACY_CSV = Path(__file__).parent.parent / "demo_data" / "legacy_numbers.csv"
DEMO_TOKEN_NAME = "demo wallboard (serve --demo)"
DEMO_AGENT_TOKEN_NAME = "demo agent desk (serve --demo)"
#: the seat whose desk `serve --demo` prints an address for (the first softphone)
DEMO_AGENT_SEAT = "1001"


async def seed_demo_directory(
    repository: LegacyRepository, csv_path: Path, queues: QueueCatalog
) -> None:
    """`serve --demo` on an empty directory imports the city's demo numbers, so calls to
    old numbers route to their units from the first minute (a real deployment imports
    its own file with `callcenter legacy import`)."""
    if await repository.records():
        return
    parsed = csvfile.read(await asyncio.to_thread(csv_path.read_bytes), queues=queues)
    if not parsed.ok:
        raise SystemExit(f"{csv_path}: demo directory invalid: {parsed.errors[0]}")
    result = await repository.import_records(
        [(line, record) for line, record in parsed.records],
        actor="demo",
        reason=f"serve --demo seeded from {csv_path.name}",
    )
    summary = result.summary()
    log.info(
        "demo: legacy directory seeded from %s: %d numbers, %d units",
        csv_path.name,
        summary["adds"],
        summary["unit_changes"],
    )


async def seed_demo_seats(seats: SeatsSystem, settings: Settings) -> None:
    """`serve --demo` provisions the simulator's softphones as seats (general plus two
    specialist queues each) and logs the new ones in once the PBX is synced; after that
    the restart repair keeps them in, as for a real floor."""
    node = settings.ami_nodes[0].name
    result = await seats.repo.provision(
        settings.demo_seats,
        1001,
        lambda i: demo_skills(i, queues=seats.catalog.current),
        settings.seat_interface_template,
        node,
    )
    if not result.added:
        return
    log.info(
        "demo: %d seats provisioned; logging them in after the first resync", len(result.added)
    )
    pending = list(result.added)

    async def login_once(_node: PbxNode) -> None:
        if pending:
            batch = pending[:]
            pending.clear()
            failed = await seats.service.login_many(batch)
            log.info("demo: %d seats logged in, %d failed", len(batch) - len(failed), len(failed))

    seats.service.live.connect_hooks.append(login_once)


async def demo_wallboard_token(tokens: TokenStore) -> str:
    """`serve --demo` makes a supervisor token for the wallboard at every start, so the
    printed URL opens it at once; the previous run's demo tokens are revoked."""
    return await _fresh_token(tokens, DEMO_TOKEN_NAME, Role.SUPERVISOR)


async def demo_agent_token(tokens: TokenStore) -> str:
    """The same for the agent's desk of seat `DEMO_AGENT_SEAT` (its pops follow the
    simulated traffic)."""
    return await _fresh_token(tokens, DEMO_AGENT_TOKEN_NAME, Role.AGENT, DEMO_AGENT_SEAT)


async def _fresh_token(tokens: TokenStore, name: str, role: Role, seat: str | None = None) -> str:
    for row in await tokens.list():
        if row.name == name and row.revoked_at is None:
            await tokens.revoke(row.id)
    _, token = await tokens.create(name, role, seat)
    return token

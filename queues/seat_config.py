"""What may be changed of a provisioned seat, checked the way provisioning checks it.

A seat's skills, dial interface and PBX node are its configuration; `seats update` (CLI)
and `PATCH /api/v1/seats/{id}` (API) change them. Both check a change here, so the CLI
and the API refuse the same things with the same words.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass

from callcenter.legacy.queues import QueueCatalog
from queues.catalog import parse_skills

#: `TECH/resource`: what app_queue dials (`PJSIP/1001`, `Local/1001@agents/n`, ...); no
#: comma (it separates Queue()/QueueAdd arguments), no blank, as long as the column
INTERFACE = re.compile(r"[A-Za-z][A-Za-z0-9_-]*/[^\s,;|]+")
INTERFACE_MAX = 120


@dataclass(frozen=True)
class SeatUpdate:
    """The fields to change; None leaves a field as it is."""

    skills: dict[str, int] | None = None
    interface: str | None = None
    node: str | None = None

    @property
    def empty(self) -> bool:
        return self.skills is None and self.interface is None and self.node is None


def checked_skills(skills: Mapping[str, int], queues: QueueCatalog) -> dict[str, int]:
    """Skills given as a mapping, checked by the one rule of `parse_skills` (a queue of
    the catalogue, level 1..5, at least one). Raises ValueError naming the bad item."""
    for name in skills:
        if "," in name or ":" in name:  # would read as two items, or as a level
            raise ValueError(f"skill {name!r}: not a queue name")
    return parse_skills(",".join(f"{name}:{level}" for name, level in skills.items()), queues)


def checked_interface(interface: str) -> str:
    if len(interface) > INTERFACE_MAX or not INTERFACE.fullmatch(interface):
        raise ValueError(
            f"interface {interface!r} is not a dial interface like PJSIP/1001 or "
            f"Local/1001@agents/n (TECH/resource, no blanks or commas, at most "
            f"{INTERFACE_MAX} characters)"
        )
    return interface


def checked_update(change: SeatUpdate, nodes: Collection[str], queues: QueueCatalog) -> SeatUpdate:
    """`change` with its skills normalised; ValueError for the first bad field.

    `nodes`: the configured PBX nodes; empty when none is configured (then any name);
    `queues`: the queue catalogue the skills must name."""
    if change.empty:
        raise ValueError("nothing to change: give skills, interface or node")
    skills = checked_skills(change.skills, queues) if change.skills is not None else None
    if change.interface is not None:
        checked_interface(change.interface)
    if change.node is not None and nodes and change.node not in nodes:
        raise ValueError(f"node {change.node!r}: configured nodes are {sorted(nodes)}")
    if change.node is not None and not change.node:
        raise ValueError("node must not be empty")
    return SeatUpdate(skills, change.interface, change.node)

"""What a write would change, computed in memory before anything is written.

Import, the API's PUT/DELETE and rollback all go through `make_plan`, so "dry run",
"print adds / changes / removals" and "write" describe exactly the same change, and
the derived unit transfer line is computed by one rule. `guard_prune` is the one rule
that refuses a prune removing too much of the directory, whichever way it arrives
(`callcenter legacy import/diff`, `POST /api/v1/legacy-numbers/import`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from callcenter.legacy.records import NumberRecord, RowError

#: the per-number fields whose change makes a new version (unit name and district
#: belong to the unit and are versioned there)
NUMBER_FIELDS = ("unit_code", "mode", "queue", "transfer_to", "note")


@dataclass(frozen=True, slots=True)
class UnitState:
    code: str
    name: str
    district: str
    transfer_line: str | None


@dataclass
class Plan:
    adds: list[NumberRecord] = field(default_factory=list)
    changes: list[tuple[NumberRecord, NumberRecord]] = field(default_factory=list)
    removals: list[NumberRecord] = field(default_factory=list)
    #: units to insert or update (new state); and units left empty by a prune
    units: list[tuple[UnitState | None, UnitState]] = field(default_factory=list)
    unit_removals: list[UnitState] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    #: numbers of the directory a file without prune does not list: they stay as they
    #: are (information, not a change); empty with prune, where they are removals
    kept: list[NumberRecord] = field(default_factory=list)
    #: set when `guard_prune` refused the removals (then `errors` says so too)
    prune_refusal: PruneRefusal | None = None

    @property
    def empty(self) -> bool:
        return not (self.adds or self.changes or self.removals or self.units or self.unit_removals)


@dataclass(frozen=True, slots=True)
class PruneRefusal:
    """A prune that would remove more than `max_share` of the directory's numbers."""

    removals: int
    directory: int
    max_share: float

    @property
    def share(self) -> float:
        return self.removals / self.directory if self.directory else 0.0

    def as_dict(self) -> dict[str, int | float]:
        return {
            "removals": self.removals,
            "directory": self.directory,
            "share": round(self.share, 4),
            "max_share": self.max_share,
        }


#: the numbers a refusal's reason names; the full list is the plan's `removals`
REFUSAL_NAMES = 10


def guard_prune(plan: Plan, directory: int, max_share: float) -> None:
    """Refuse (as an error of `plan`) removing more than `max_share` of the `directory`
    numbers in one write unless forced: a file that is not the whole directory (a
    header-only export, one district's sheet) would otherwise delete every number it
    lacks, and calls to those numbers would stop routing at once."""
    if not plan.removals or len(plan.removals) <= max_share * directory:
        return
    refusal = PruneRefusal(len(plan.removals), directory, max_share)
    names = ", ".join(r.number for r in plan.removals[:REFUSAL_NAMES])
    more = len(plan.removals) - REFUSAL_NAMES
    plan.prune_refusal = refusal
    plan.errors.append(
        RowError(
            None,
            "prune",
            f"would remove {refusal.removals} of {directory} numbers ({refusal.share:.1%}), "
            f"more than the {max_share:.0%} allowed (CALLCENTER_LEGACY_PRUNE_MAX_SHARE): "
            f"{names}{f' and {more} more' if more > 0 else ''}; check that the file is the "
            "whole directory, or force the prune",
        )
    )


def changed_fields(old: NumberRecord, new: NumberRecord) -> list[tuple[str, object, object]]:
    """(field, old, new) for every field that differs, unit name and district included."""
    out: list[tuple[str, object, object]] = []
    for name in ("unit_code", "unit", "district", "mode", "queue", "transfer_to", "note"):
        before, after = getattr(old, name), getattr(new, name)
        if before != after:
            out.append((name, before, after))
    return out


def number_differs(old: NumberRecord, new: NumberRecord) -> bool:
    return any(getattr(old, f) != getattr(new, f) for f in NUMBER_FIELDS)


def transfer_line(numbers: Iterable[NumberRecord]) -> str | None:
    """A unit's line for two-way transfers: its retained national code if it has one
    (that line stays in service by definition), else its lowest docked line."""
    retain = sorted(r.number for r in numbers if r.mode == "retain" and r.transfer_to)
    dock = sorted((r.number, r.transfer_to) for r in numbers if r.mode == "dock" and r.transfer_to)
    by_number = {r.number: r for r in numbers}
    if retain:
        return by_number[retain[0]].transfer_to
    return dock[0][1] if dock else None


def make_plan(
    current: Mapping[str, NumberRecord],
    units: Mapping[str, UnitState],
    desired: Iterable[tuple[int | None, NumberRecord]],
    removals: Iterable[str] = (),
    *,
    prune: bool = False,
    allow_moves: bool = False,
    drop_empty_units: bool = False,
    report_kept: bool = False,
) -> Plan:
    """Plan the move from `current` to `desired` (+ explicit `removals`); with
    `report_kept` (a file), list the numbers of `current` it leaves as they are.

    A number already held by another unit is an error unless `allow_moves` (a full
    file with --prune, or an explicit API PUT): in a partial hand-typed file it is far
    more often a typo than a deliberate move.
    """
    plan = Plan()
    wanted: dict[str, NumberRecord] = {}
    unit_names: dict[str, tuple[str, str]] = {}
    desired_list = list(desired)
    for line, record in desired_list:
        old = current.get(record.number)
        if old is not None and old.unit_code != record.unit_code and not allow_moves:
            plan.errors.append(
                RowError(
                    line,
                    "number",
                    f"{record.number} already belongs to unit {old.unit_code} ({old.unit}); "
                    "import a full file with --prune, or change it over the API, to move it",
                )
            )
            continue
        wanted[record.number] = record
        unit_names[record.unit_code] = (record.unit, record.district)
        if old is None:
            plan.adds.append(record)
        elif number_differs(old, record):
            plan.changes.append((old, record))
    gone = set(removals)
    if prune:
        gone |= {n for n in current if n not in wanted}
    plan.removals = [current[n] for n in sorted(gone) if n in current]
    if report_kept:
        listed = {record.number for _, record in desired_list}
        plan.kept = [current[n] for n in sorted(current) if n not in gone and n not in listed]
    if plan.errors:
        return plan
    result = dict(current)
    for number in gone:
        result.pop(number, None)
    result.update(wanted)
    by_unit: dict[str, list[NumberRecord]] = {}
    for record in result.values():
        by_unit.setdefault(record.unit_code, []).append(record)
    touched = set(unit_names) | {r.unit_code for r in plan.removals}
    touched |= {old.unit_code for old, _ in plan.changes}
    for code in sorted(touched):
        old_unit = units.get(code)
        if code in unit_names:
            name, district = unit_names[code]
        elif old_unit is not None:
            name, district = old_unit.name, old_unit.district
        else:
            continue
        if code not in by_unit and drop_empty_units:
            if old_unit is not None:
                plan.unit_removals.append(old_unit)
            continue
        new_unit = UnitState(code, name, district, transfer_line(by_unit.get(code, [])))
        if new_unit != old_unit:
            plan.units.append((old_unit, new_unit))
    return plan

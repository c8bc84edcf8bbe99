"""The prune guard: one rule for the CLI and the API (callcenter/legacy/plan.py)."""

from __future__ import annotations

from callcenter.legacy.plan import PruneRefusal, UnitState, guard_prune, make_plan
from callcenter.legacy.records import NumberRecord


def _directory(n: int) -> dict[str, NumberRecord]:
    return {
        f"04326200{i:04d}": NumberRecord(
            f"04326200{i:04d}", "U1", "单位", "市本级", "merge", "general", None, ""
        )
        for i in range(n)
    }


UNITS = {"U1": UnitState("U1", "单位", "市本级", None)}


def _pruned_to(
    current: dict[str, NumberRecord], keep: int
) -> list[tuple[int | None, NumberRecord]]:
    return [(line, record) for line, record in enumerate(list(current.values())[:keep], start=2)]


def test_the_guard_allows_the_share_and_refuses_one_more() -> None:
    current = _directory(280)
    at_limit = make_plan(current, UNITS, _pruned_to(current, 252), prune=True)
    guard_prune(at_limit, len(current), 0.10)
    assert len(at_limit.removals) == 28 and not at_limit.errors
    assert at_limit.prune_refusal is None

    over = make_plan(current, UNITS, _pruned_to(current, 251), prune=True)
    guard_prune(over, len(current), 0.10)
    assert over.prune_refusal == PruneRefusal(29, 280, 0.10)
    assert [e.column for e in over.errors] == ["prune"]
    reason = over.errors[0].reason
    assert reason.startswith("would remove 29 of 280 numbers (10.4%), more than the 10%")
    assert "043262000251, 043262000252" in reason and "043262000260" in reason
    assert "043262000261" not in reason  # ten named; the plan has them all
    assert "and 19 more" in reason
    assert len(over.removals) == 29  # the refused plan still says what it would remove


def test_no_prune_keeps_and_lists_what_the_file_lacks() -> None:
    current = _directory(10)
    plan = make_plan(current, UNITS, _pruned_to(current, 7), report_kept=True)
    assert plan.empty and not plan.removals
    assert [r.number for r in plan.kept] == sorted(current)[7:]
    guard_prune(plan, len(current), 0.0)  # nothing removed: nothing to refuse
    assert not plan.errors
    pruned = make_plan(current, UNITS, _pruned_to(current, 7), prune=True, report_kept=True)
    assert len(pruned.removals) == 3 and pruned.kept == []


def test_an_empty_directory_has_nothing_to_guard() -> None:
    plan = make_plan({}, {}, [], prune=True)
    guard_prune(plan, 0, 0.10)
    assert plan.empty and not plan.errors

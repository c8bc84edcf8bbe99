"""Caller priority rules: what `HOTLINE_PRIORITY` (-> app_queue's `QUEUE_PRIO`) should be.

A caller's priority is the highest of the rules that apply, never a sum: a repeat
caller on the elderly list is not placed above a caller reporting an urgent unit
issue just because two rules fired. Rules are configuration (settings), so a city can
add its list of elderly/disabled residents' numbers or flag a unit urgent during a
flood without a release.

Repeat callers are recognised from the callers the live model saw join a queue (kept
24 h in memory, bounded): a caller who rang and was cut off or gave up an hour ago is
the one who most needs to not start at the back again.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field


@dataclass(frozen=True)
class PriorityRules:
    repeat_within_s: float = 24 * 3600.0
    repeat_priority: int = 2
    #: caller number -> priority (elderly / disabled / registered priority list)
    numbers: dict[str, int] = field(default_factory=dict)
    #: unit code -> priority (a unit flagged urgent: flood, outage)
    units: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class PriorityDecision:
    priority: int
    reasons: tuple[str, ...]


class CallerPriority:
    def __init__(self, rules: PriorityRules, max_callers: int = 200_000) -> None:
        self.rules = rules
        self._last_seen: OrderedDict[str, float] = OrderedDict()
        self._max = max_callers

    def seen(self, caller: str, at: float) -> None:
        """A caller joined a queue at `at` (fed by the seat watcher)."""
        if not caller:
            return
        self._last_seen.pop(caller, None)
        self._last_seen[caller] = at
        while len(self._last_seen) > self._max:
            self._last_seen.popitem(last=False)

    def decide(self, caller: str, unit: str, now: float, base: int = 0) -> PriorityDecision:
        rules = self.rules
        best, reasons = base, []
        last = self._last_seen.get(caller) if caller else None
        if last is not None and now - last <= rules.repeat_within_s:
            best = max(best, rules.repeat_priority)
            reasons.append("repeat caller")
        if caller in rules.numbers:
            best = max(best, rules.numbers[caller])
            reasons.append("priority list")
        if unit and unit in rules.units:
            best = max(best, rules.units[unit])
            reasons.append(f"unit {unit} urgent")
        return PriorityDecision(best, tuple(reasons))

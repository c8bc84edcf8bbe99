"""Caller priority rules: what `HOTLINE_PRIORITY` (-> app_queue's `QUEUE_PRIO`) should be.

A caller's priority is the highest of the rules that apply, never a sum: a repeat
caller on the elderly list is not placed above a caller reporting an urgent unit
issue just because two rules fired. Rules are configuration (settings), so a city can
add its list of elderly/disabled residents' numbers or flag a unit urgent during a
flood without a release.

A repeat caller is one whose earlier call reached a queue within the window: a caller
who rang and was cut off or gave up an hour ago is the one who most needs to not start
at the back again. Finished calls are the call records' (callcenter/records/history.py,
shared by every instance and kept across restarts); a call still in progress is the
live model's (this PBX's calls now: waiting in a queue, talking to a seat, or answered
and on to the survey). Nothing about callers is kept in this process, so every
instance, and the same one after a restart, decides alike. A withheld or malformed
number (`anonymous`, empty) identifies nobody and is never a repeat caller.

A call the 110 platform hands over (callcenter/from110.py: the dialplan tags it
`HOTLINE_SOURCE=110`) queues with `from_110`, above every other rule by default: 110
has already screened the caller and keeps the matter open until 12345 takes it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from callcenter.from110 import DEFAULT_PRIORITY, SOURCE_110
from callcenter.live.live_state import LiveState
from callcenter.records.history import CallerHistory, PastCall
from queues.callbacks import callable_number

log = logging.getLogger(__name__)

#: a caller in the IVR does not wait longer than this for the records' answer; without
#: it the call is decided on the live model and the other rules alone
LOOKUP_TIMEOUT_S = 1.0


@dataclass(frozen=True)
class PriorityRules:
    repeat_within_s: float = 24 * 3600.0
    repeat_priority: int = 2
    #: caller number -> priority (elderly / disabled / registered priority list)
    numbers: dict[str, int] = field(default_factory=dict)
    #: unit code -> priority (a unit flagged urgent: flood, outage)
    units: dict[str, int] = field(default_factory=dict)
    #: a hand-over from the 110 platform (CALLCENTER_FROM_110_PRIORITY)
    from_110: int = DEFAULT_PRIORITY


@dataclass(frozen=True)
class PriorityDecision:
    priority: int
    reasons: tuple[str, ...]


#: a reason as screens show it, by language (the agent's screen pop)
_REASON_WORDS = {
    "repeat caller": ("重复来电", "repeat caller"),
    "priority list": ("优先名单", "priority list"),
    "from 110": ("110 转来", "from 110"),
}


def reason_words(reason: str) -> dict[str, str]:
    """`{"zh", "en"}` for one of the reasons `rule_decision` gives."""
    known = _REASON_WORDS.get(reason)
    if known is not None:
        return {"zh": known[0], "en": known[1]}
    if reason.startswith("unit ") and reason.endswith(" urgent"):
        unit = reason[len("unit ") : -len(" urgent")]
        return {"zh": f"单位 {unit} 紧急", "en": reason}
    return {"zh": reason, "en": reason}


def rule_decision(
    rules: PriorityRules, caller: str, unit: str, repeat: bool, base: int = 0, source: str = ""
) -> PriorityDecision:
    """The priority the rules give and which of them gave it (the reasons a screen pop
    shows), once it is known whether the caller is a repeat caller; `source` is the
    call's HOTLINE_SOURCE ("110" for a hand-over from the 110 platform)."""
    best, reasons = base, []
    if source == SOURCE_110:
        best = max(best, rules.from_110)
        reasons.append("from 110")
    if repeat:
        best = max(best, rules.repeat_priority)
        reasons.append("repeat caller")
    if caller in rules.numbers:
        best = max(best, rules.numbers[caller])
        reasons.append("priority list")
    if unit and unit in rules.units:
        best = max(best, rules.units[unit])
        reasons.append(f"unit {unit} urgent")
    return PriorityDecision(best, tuple(reasons))


def queued_now(live: LiveState, caller: str, excluding: str = "") -> bool:
    """Whether a call of `caller` on the PBX has reached a queue and is still going: it
    waits in one, talks to a seat, or was answered and runs on (the survey). The call
    being decided is in the IVR, not yet queued, so it never counts itself; a call
    explained later (a screen pop) names its own linkedid in `excluding`. Callbacks the
    service places are not the caller's calls."""
    for state in live.nodes.values():
        for call in state.calls.values():
            if call.caller_id_num != caller or call.callback_of or call.linkedid == excluding:
                continue
            if call.where in ("queue", "talking") or call.seat:
                return True
    return False


class CallerPriority:
    def __init__(
        self,
        rules: PriorityRules,
        history: CallerHistory,
        live: LiveState,
        lookup_timeout_s: float = LOOKUP_TIMEOUT_S,
    ) -> None:
        self.rules = rules
        self.history = history
        self.live = live
        self.lookup_timeout_s = lookup_timeout_s

    async def decide(
        self, caller: str, unit: str, now: float, base: int = 0, source: str = ""
    ) -> PriorityDecision:
        """`now`: PBX time (the records' and the live model's clock)."""
        repeat = callable_number(caller) and await self._repeat(caller, now)
        return rule_decision(self.rules, caller, unit, repeat, base, source)

    def explain(
        self,
        caller: str,
        unit: str,
        linkedid: str,
        earlier: Sequence[PastCall],
        now: float,
        source: str = "",
    ) -> PriorityDecision:
        """Why the call `linkedid` in progress is where it is: the rules as they stand
        now, the repeat rule read off `earlier` (the caller's calls the screen pop has
        already fetched, newest first) and the live model without the call itself, so
        explaining costs no query of its own. A caller with more calls in the window
        than `earlier` holds, none of them queued, is not seen as a repeat caller."""
        since = now - self.rules.repeat_within_s
        repeat = callable_number(caller) and (
            queued_now(self.live, caller, excluding=linkedid)
            or any(
                c.queued and not c.callback and c.started_at.timestamp() >= since for c in earlier
            )
        )
        return rule_decision(self.rules, caller, unit, repeat, source=source)

    async def queue_priority(self, caller: str, unit: str, base: int, source: str = "") -> int:
        """The IVR's hook (agi.ivr.flows.PriorityHook), decided now."""
        return (await self.decide(caller, unit, self.live.clock(), base, source)).priority

    async def _repeat(self, caller: str, now: float) -> bool:
        if queued_now(self.live, caller):
            return True
        try:
            async with asyncio.timeout(self.lookup_timeout_s):
                last = await self.history.last_queued(caller, now - self.rules.repeat_within_s)
        except Exception:  # the database away or slow: the caller is not kept waiting
            log.warning("priority: no call history for a caller; not a repeat", exc_info=True)
            return False
        return last is not None

"""The numbers a call may be transferred or conferenced to: the emergency services and
the units' own lines (the legacy directory's dock/retain `transfer_to`), plus the
numbers the IVR flow transfers to. One definition: the dialplan's
`[hotline-transfer-targets]` is rendered from it (callcenter/asterisk_conf.py) and the
transfer service refuses anything else, so the API and Asterisk never disagree about
what an agent may dial.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

from callcenter.legacy.repository import LegacyRepository

#: the emergency services the national rules name for one-key transfer (12345 <-> 110)
EMERGENCY = {"110": "police", "119": "fire", "120": "ambulance", "122": "traffic accident"}

TargetKind = Literal["emergency", "unit"]


@dataclass(frozen=True, slots=True)
class TransferTarget:
    number: str
    name: str
    kind: TargetKind


def transfer_whitelist(
    legacy: Iterable[tuple[str, str | None, str]], flow_numbers: Iterable[str] = ()
) -> dict[str, TransferTarget]:
    """number -> target. `legacy`: (legacy number, its transfer_to, the unit's label);
    `flow_numbers`: the IVR flow's transfer numbers. Only digit strings qualify: the
    dialplan gives each one an explicit extension (AMI Atxfer keys the target in as
    digits, and a pattern would stop the digit collection early)."""
    targets = {
        number: TransferTarget(number, name, "emergency") for number, name in EMERGENCY.items()
    }
    for number in flow_numbers:
        if number.isdigit():
            targets.setdefault(number, TransferTarget(number, "IVR transfer", "unit"))
    for _number, transfer_to, unit in legacy:
        if transfer_to and transfer_to.isdigit():
            targets.setdefault(transfer_to, TransferTarget(transfer_to, unit, "unit"))
    return targets


class WhitelistSource:
    """The whitelist as the service checks it: read from the same rows the dialplan is
    rendered from (the legacy directory as configured, the IVR flow in force), kept
    for `ttl_s` so a desk opening its transfer menu does not read the directory."""

    def __init__(
        self,
        repository: LegacyRepository,
        flow_numbers: Callable[[], Iterable[str]],
        clock: Callable[[], float],
        ttl_s: float = 30.0,
    ) -> None:
        self.repository = repository
        self.flow_numbers = flow_numbers
        self.clock = clock
        self.ttl_s = ttl_s
        self._cached: tuple[float, dict[str, TransferTarget]] | None = None

    async def __call__(self) -> Mapping[str, TransferTarget]:
        now = self.clock()
        if self._cached is not None and now - self._cached[0] < self.ttl_s:
            return self._cached[1]
        records = await self.repository.records()
        legacy = ((r.number, r.transfer_to, f"{r.unit_code} {r.unit}") for r in records)
        targets = transfer_whitelist(legacy, self.flow_numbers())
        self._cached = (now, targets)
        return targets

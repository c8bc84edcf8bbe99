"""How often a token may search call records by the caller's number: a token bucket per
token, in this process (api/caller_search.py says why; with several service instances
behind a balancer a token gets each instance's allowance)."""

from __future__ import annotations

import logging
import math
import time
from collections import OrderedDict
from collections.abc import Callable

from fastapi import HTTPException

from callcenter.tokens import Principal

log = logging.getLogger(__name__)

BURST = 30
PER_S = 0.5  # 30 a minute: a CRM looking up every caller of a busy line stays below
MAX_BUCKETS = 20_000  # one per token seen; the least recently used is forgotten first


class CallerSearches:
    """Per-token token buckets for searches by number (per service instance)."""

    def __init__(
        self,
        burst: int = BURST,
        per_s: float = PER_S,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.burst = burst
        self.per_s = per_s
        self._monotonic = monotonic
        #: token id -> (searches left, when counted, refused since the last allowed one)
        self._buckets: OrderedDict[int, tuple[float, float, bool]] = OrderedDict()

    def take(self, token_id: int) -> float | None:
        """None if the token may search now (one search is spent), else the seconds
        until it may."""
        now = self._monotonic()
        left, at, refused = self._buckets.pop(token_id, (float(self.burst), now, False))
        left = min(float(self.burst), left + (now - at) * self.per_s)
        if left >= 1.0:
            self._buckets[token_id] = (left - 1.0, now, False)
            allowed = True
        else:
            self._buckets[token_id] = (left, now, True)
            allowed = False
            if not refused:
                log.warning("caller searches: token %d is over its rate; refusing", token_id)
        while len(self._buckets) > MAX_BUCKETS:
            self._buckets.popitem(last=False)
        return None if allowed else (1.0 - left) / self.per_s

    def admit(self, principal: Principal) -> None:
        """Spend one search of the principal's, or refuse with 429 and Retry-After."""
        wait = self.take(principal.token_id)
        if wait is not None:
            raise HTTPException(
                429,
                f"too many searches by caller number; retry in {math.ceil(wait)} s",
                headers={"Retry-After": str(max(1, math.ceil(wait)))},
            )

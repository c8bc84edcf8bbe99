"""Channel identities exactly as Asterisk 22 mints them.

* Uniqueid is ``"%li.%d"``: the creation time in whole seconds, a dot, and one global
  counter shared by every channel of the process (main/channel_internal_api.c). The
  counter never restarts, so ``.0`` is the first channel since boot.
* Local channels are named ``Local/<exten>@<context>-%08x;1`` / ``;2`` from a counter
  private to chan_local (core_local.c); it only advances per Local pair.
* PJSIP channels are ``PJSIP/<endpoint>-%08x`` from chan_pjsip's own counter.

Keeping the three counters apart is what makes names in a replay line up with the
transcripts (``Local/1001@sim-agent-00000001`` next to ``Uniqueid: ....2``).
"""

from __future__ import annotations

import itertools

from pbxsim.clock import Scheduler


class IdAllocator:
    def __init__(self, scheduler: Scheduler) -> None:
        self._scheduler = scheduler
        self._uniqueid = itertools.count()
        self._local = itertools.count()
        self._tech: dict[str, itertools.count[int]] = {}

    def uniqueid(self) -> str:
        return f"{int(self._scheduler.now())}.{next(self._uniqueid)}"

    def local_pair_names(self, exten: str, context: str) -> tuple[str, str]:
        base = f"Local/{exten}@{context}-{next(self._local):08x}"
        return f"{base};1", f"{base};2"

    def tech_name(self, tech: str, endpoint: str) -> str:
        counter = self._tech.setdefault(tech.upper(), itertools.count())
        return f"{tech}/{endpoint}-{next(counter):08x}"

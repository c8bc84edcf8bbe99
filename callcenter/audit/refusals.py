"""Refused requests, counted instead of written one by one.

An unauthenticated client can send a few hundred POSTs a second; a committed row each
would let it fill the table and load the database at will, and during a database outage
would make the refusal itself depend on the database. So refusals (no token, a token
that may not do this) are counted in memory per client address, token and status, and
written as one row per key when the audit log flushes (every minute). The number of
keys is capped: beyond it, every further refusal of that status is counted in one row
for all clients (`client` "*"), so a spread of addresses cannot grow the tally either.
"""

from __future__ import annotations

from dataclasses import replace

from callcenter.audit.events import AuditEvent

#: distinct (client, token, status) keys counted per flush; beyond: one row for all
MAX_KEYS = 1_000
OVERFLOW_CLIENT = "*"

_Key = tuple[str, int | None, int]


class RefusalTally:
    def __init__(self, max_keys: int = MAX_KEYS) -> None:
        self.max_keys = max_keys
        self._first: dict[_Key, AuditEvent] = {}
        self._counts: dict[_Key, int] = {}

    def __len__(self) -> int:
        return len(self._counts)

    def add(self, event: AuditEvent, count: int = 1) -> None:
        key: _Key = (event.client, event.token_id, event.status)
        if key not in self._counts and len(self._counts) >= self.max_keys:
            key = (OVERFLOW_CLIENT, None, event.status)
            event = replace(
                event,
                client=OVERFLOW_CLIENT,
                forwarded_for="",
                token_id=None,
                token_name=None,
                role=None,
                seat=None,
            )
        self._first.setdefault(key, event)
        self._counts[key] = self._counts.get(key, 0) + count

    def take(self) -> list[AuditEvent]:
        """One event per key with its count, the tally emptied. The path and query are
        the first refused request's (the note says so)."""
        events = [
            replace(
                self._first[key],
                count=count,
                note=f"{count} refused request(s) counted; path and query are the first's",
            )
            for key, count in self._counts.items()
        ]
        self._first.clear()
        self._counts.clear()
        return events

"""What the audit log stores about one request (or a count of refused ones)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AuditEvent:
    """One request (or a count of refused ones), as the middleware saw it."""

    token_id: int | None
    token_name: str | None
    role: str | None
    seat: str | None
    method: str
    path: str
    query: str
    status: int
    client: str
    forwarded_for: str
    note: str = ""
    count: int = 1

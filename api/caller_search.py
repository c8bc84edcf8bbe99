"""Searching call records by the caller's number (`caller=` on `GET /api/v1/calls` and
`/calls/export.csv`): throttled per token, and every search audited.

A search by number is how a known number is traced through the records, and also how
one would probe candidate numbers; callcenter/privacy.py keeps confidential calls out
of the answers of whoever sees them masked, and this module bounds and traces the rest:
- each token has a bucket of searches (api/search_limits.py); an empty bucket answers
  429 with `Retry-After`. The buckets live in this process: with several service
  instances behind a balancer a token gets each instance's allowance;
- each search that runs is written to the audit log (`GET /api/v1/audit`): the token,
  when, the path, and in its query the number masked as privacy.py masks it and how
  many rows were returned (`caller=139****1111&rows=3`). Never the number in clear:
  the audit log must not become the list of numbers people searched for. Refused searches are not
  written one by one (a flood of them would flood the table); the first refusal of a
  run is logged.
"""

from __future__ import annotations

import logging
from dataclasses import replace

from fastapi import Request

from api.audit_log import event_of
from callcenter.audit.repository import AuditLog
from callcenter.privacy import mask

log = logging.getLogger(__name__)


async def audit_search(
    audit: AuditLog | None, request: Request, number: str, rows: int, status: int = 200
) -> None:
    """Record one search by `number` (masked) that returned `rows` rows. Without an audit
    log in this instance, or when writing fails, the same line goes to the log."""
    masked = mask(number)
    event = replace(event_of(request, status), query=f"caller={masked}&rows={rows}")
    if audit is not None:
        try:
            await audit.record(event)
            return
        except Exception:
            log.exception("audit log: could not record a search by caller number")
    log.warning(
        "caller search by token %s (%s): %s caller=%s rows=%d",
        event.token_id,
        event.role,
        event.path,
        masked,
        rows,
    )

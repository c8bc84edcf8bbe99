"""Issue 15, low item: phone numbers (and a mistaken `?token=`) went to the access log
with every `GET /api/v1/calls?caller=...`. Their values are replaced there now."""

from __future__ import annotations

import asyncio
import logging

from prometheus_client import CollectorRegistry

from api.app import create_app
from api.http_server import ConnectionLimits
from api.log_filters import redact_query
from api.services import ApiServices
from tests.security.real_server import get_status, guarded, port_of

NUMBER = "13912341111"


def test_sensitive_query_values_are_replaced() -> None:
    assert redact_query("/api/v1/calls") == "/api/v1/calls"
    assert (
        redact_query(f"/api/v1/calls?caller={NUMBER}&limit=5&Token=cc_x")
        == "/api/v1/calls?caller=***&limit=5&Token=***"
    )
    assert redact_query(f"/x?%63aller={NUMBER}&number={NUMBER}&access_token=a") == (
        "/x?%63aller=***&number=***&access_token=***"
    )
    assert redact_query("/x?since=2026-12-01&flag&caller") == "/x?since=2026-12-01&flag&caller"


async def test_the_access_log_of_the_real_server_carries_no_number_or_token() -> None:
    lines: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(record.getMessage())

    access = logging.getLogger("uvicorn.access")
    keep = Keep()
    app = create_app(ApiServices(), CollectorRegistry(), "t")
    async with guarded(app, ConnectionLimits(max_connections=10), log_level="info") as server:
        access.addHandler(keep)
        try:
            port = port_of(server)
            await get_status(port, f"/api/v1/calls?caller={NUMBER}&limit=5")
            await get_status(port, "/healthz?token=cc_oops-a-real-token")
            await asyncio.sleep(0.05)
        finally:
            access.removeHandler(keep)
    assert len(lines) == 2, lines
    assert "/api/v1/calls?caller=***&limit=5" in lines[0]
    assert "/healthz?token=***" in lines[1]
    assert not any(NUMBER in line or "cc_oops" in line for line in lines)

"""Schemathesis against an app with parts behind it (the legacy directory with the demo
numbers, the units' cards, the callback worklist, the audit log, the call records with
a call in progress whose intake the generated bodies write, all on SQLite), so generated
requests reach the handlers, pagination and the database rather than stopping at a 503:
no 5xx, and every error a problem body."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime
from pathlib import Path

import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from prometheus_client import CollectorRegistry
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import NullPool

from api.app import create_app
from api.services import ApiServices
from callcenter import migrate
from callcenter.audit.repository import AuditLog
from callcenter.db import create_engine, session_factory
from callcenter.legacy import csvfile
from callcenter.legacy.card_store import UnitCards
from callcenter.legacy.directory import Directory
from callcenter.legacy.queues import QueueCatalog
from callcenter.legacy.repository import LegacyRepository
from callcenter.live.live_state import LiveState
from callcenter.live.node_state import Call
from callcenter.records.callback_tasks import SqlCallbackTasks
from callcenter.records.wiring import build_records, directory_units
from callcenter.tokens import Principal, Role
from queues.callbacks import CallbackPolicy, CallbackWorklist
from queues.repository import SeatRepository
from tests.api.static_tokens import StaticTokens
from tests.conftest import LEGACY_CSV

ADMIN_TOKEN = "cc_schemathesis-admin"


def _clock() -> datetime:
    return datetime.now(UTC)


#: the call in progress the intake operations are sent to
CALL_ID = "pbx1:fuzz.1"


def _app_with_parts(db: Path) -> tuple[FastAPI, AsyncEngine]:
    # NullPool: each request opens its connection in the loop that serves it
    engine = create_engine(f"sqlite+aiosqlite:///{db}", poolclass=NullPool)
    sessions = session_factory(engine)
    repository = LegacyRepository(sessions, _clock)
    directory = Directory(repository, _clock)

    async def prepare() -> None:
        await migrate.upgrade(engine)
        parsed = csvfile.read(LEGACY_CSV.read_bytes(), None, queues=QueueCatalog.default())
        await repository.import_records(parsed.records, actor="fuzz", reason="fixture")
        await directory.reload()

    asyncio.run(prepare())
    live = LiveState(lambda: _clock().timestamp())
    state = live.node_state("pbx1")
    state.stale = False
    state.calls["fuzz.1"] = Call("fuzz.1", _clock().timestamp(), "13900001111", seat="1001")
    records = build_records(sessions, live, db.parent / "spool")
    records.intake.units = directory_units(directory)
    tokens = StaticTokens({ADMIN_TOKEN: Principal(1, "fuzz", Role.ADMIN, None)})
    services = ApiServices(
        tokens=tokens,  # type: ignore[arg-type]
        live=live,
        legacy=directory,
        unit_cards=UnitCards(sessions, _clock),
        callbacks=CallbackWorklist(
            SqlCallbackTasks(sessions), live, CallbackPolicy(), lambda _i: None, {}
        ),
        seat_repository=SeatRepository(sessions, _clock),
        audit=AuditLog(sessions, _clock),
        call_records=records.store,
        record_writer=records.writer,
        intake=records.intake,
    )
    app = create_app(services, CollectorRegistry(), "t")
    return app, engine


PARTS = re.compile(
    r"^/api/v1/(legacy-numbers|units|unit-cards|callbacks|audit|intake-kinds"
    r"|calls/\{call_id\}/intake)"
)


def test_no_server_errors_with_parts(tmp_path: Path) -> None:
    app, engine = _app_with_parts(tmp_path / "fuzz.db")
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    checked = []
    try:
        for result in schema.get_all_operations():
            operation = result.ok()
            if not PARTS.match(operation.path):
                continue
            checked.append(f"{operation.method.upper()} {operation.path}")

            @given(case=operation.as_strategy())
            @settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
            def no_5xx(case: schemathesis.Case) -> None:
                if "call_id" in (case.path_parameters or {}):
                    case.path_parameters = {"call_id": CALL_ID}
                response = case.call(headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
                where = (case.method, case.formatted_path, case.query, response.text)
                assert response.status_code < 500, where
                if response.status_code >= 400:
                    assert "application/problem+json" in str(response.headers["content-type"])
                    assert response.json()["status"] == response.status_code

            no_5xx()
    finally:
        asyncio.run(engine.dispose())
    assert len(checked) == 17, checked  # every operation of those parts was fuzzed

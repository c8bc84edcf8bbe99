"""Issue 15, low items and item 5's "validate unit codes": directory fields took NUL and
CR/LF, unit codes took formulas (`=HYPERLINK(...)`, `=cmd|' /C calc'!A0`, `+SUM`,
`@SUM`), and one `;` or line break in a dock/retain unit's name made `asterisk-conf
render` fail for everyone. Import refuses them now, naming line, column and reason;
the CSV import and `PUT /api/v1/legacy-numbers/{n}` share the rule (records.py)."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest
from prometheus_client import CollectorRegistry

from api.app import create_app
from api.services import ApiServices
from callcenter import migrate
from callcenter.asterisk_conf import ConfInputs, render, transfer_targets
from callcenter.db import create_engine, session_factory
from callcenter.legacy import csvfile
from callcenter.legacy.directory import Directory
from callcenter.legacy.queues import QueueCatalog
from callcenter.legacy.repository import LegacyRepository
from callcenter.tokens import Role, TokenStore
from tests.conftest import LEGACY_CSV

HEADER = ["number", "unit_code", "unit", "district", "mode", "queue", "transfer_to", "note"]
GOOD = ["043262000101", "U201", "市水务集团", "市本级", "dock", "utilities", "043299990000", ""]


def _file(*rows: list[str]) -> bytes:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(HEADER)
    writer.writerows(rows)
    return buffer.getvalue().encode()


def _with(column: str, value: str, number: str = "043262000101") -> list[str]:
    row = list(GOOD)
    row[0] = number
    row[HEADER.index(column)] = value
    return row


@pytest.mark.parametrize(
    ("column", "value", "said"),
    [
        ("unit", "市水务集团;办公室", "';' at character 6"),
        ("unit", "市水务集团\n办公室", "control character LF at character 6"),
        ("unit", "市水务集团\r办公室", "control character CR"),
        ("unit", "市水务\x00集团", "control character NUL at character 4"),
        ("district", "市本\r\n级", "control character CR at character 3"),
        ("district", "市\x00本级", "control character NUL"),
        ("note", "第一行\n第二行", "control character LF"),
        ("note", "a\tb", "control character tab"),
        ("note", "a\u2028b", "control character LS"),
    ],
)
def test_control_characters_and_semicolons_are_refused_at_import(
    column: str, value: str, said: str
) -> None:
    parsed = csvfile.read(
        _file([*GOOD[:1], "U200", *GOOD[2:]], _with(column, value)), queues=QueueCatalog.default()
    )
    assert not parsed.records or len(parsed.records) == 1
    [error] = [e for e in parsed.errors if e.line == 3]
    assert (error.line, error.column) == (3, column)
    assert said in error.reason


@pytest.mark.parametrize(
    "code",
    [
        '=HYPERLINK("http://e.x","x")',
        "=cmd|' /C calc'!A0",
        "+SUM(1+1)",
        "@SUM(1+1)",
        "-1+1",
        "U\t1",
        "U 1",
        "Ｕ017",  # full-width
        "U1;x",
        "单位1",
        "_U1",
    ],
)
def test_a_unit_code_is_a_short_code(code: str) -> None:
    parsed = csvfile.read(_file(_with("unit_code", code)), queues=QueueCatalog.default())
    assert not parsed.records
    [error] = parsed.errors
    assert (error.line, error.column) == (2, "unit_code")
    assert "is not a unit code" in error.reason


@pytest.mark.parametrize("code", ["U017", "u017", "GOV-12", "A_1", "12345", "X" * 32])
def test_unit_codes_as_the_city_writes_them_pass(code: str) -> None:
    assert csvfile.read(_file(_with("unit_code", code)), queues=QueueCatalog.default()).ok


def test_the_city_file_passes_as_it_is() -> None:
    parsed = csvfile.read(LEGACY_CSV.read_bytes(), queues=QueueCatalog.default())
    assert parsed.ok and len(parsed.records) == 280


def test_render_survives_a_row_stored_before_the_rule() -> None:
    """A name imported before this rule must not stop the configuration of every unit:
    in the rendered comment its line break is flattened."""
    targets = transfer_targets([("043262000101", "043299990000", "U201 市水务\n集团;x")], None)
    inputs = ConfInputs(
        queues=("hotline-general",),
        default_queue="hotline-general",
        seats=(),
        sip_secret=None,
        ami_user="callcenter",
        ami_secret="s3cret",
        transfer_targets=targets,
        agi_url="agi://127.0.0.1:4573",
        trunk_host="10.0.0.1",
    )
    extensions = render(inputs)["extensions.conf"]
    [line] = [x for x in extensions.splitlines() if x.startswith("exten => 043299990000,")]
    assert line.endswith("; U201 市水务 集团;x")


@pytest.fixture
async def client(database_url: str) -> AsyncIterator[tuple[httpx.AsyncClient, dict[str, str]]]:
    engine = create_engine(database_url)
    await migrate.upgrade(engine)
    sessions = session_factory(engine)
    tokens = TokenStore(sessions, lambda: datetime.now(UTC))
    _, token = await tokens.create("script", Role.INTEGRATION)
    clock = lambda: datetime.now(UTC)  # noqa: E731
    directory = Directory(LegacyRepository(sessions, clock), clock)
    await directory.reload()
    app = create_app(ApiServices(tokens=tokens, legacy=directory), CollectorRegistry(), "t")
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            yield c, {"Authorization": f"Bearer {token}"}
    finally:
        await engine.dispose()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("unit_code", "=cmd|' /C calc'!A0"),
        ("unit", "市水务集团;x"),
        ("unit", "市水务集团\r\nx"),
        ("district", "市\x00本级"),
        ("note", "a\nb"),
    ],
)
async def test_the_api_applies_the_same_rule(client, field: str, value: str) -> None:  # type: ignore[no-untyped-def]
    c, auth = client
    body = {
        "unit_code": "U201",
        "unit": "市水务集团",
        "district": "市本级",
        "mode": "dock",
        "queue": "utilities",
        "transfer_to": "043299990000",
        "note": "",
    } | {field: value}
    r = await c.put("/api/v1/legacy-numbers/043262000101", json=body, headers=auth)
    assert r.status_code == 422, r.text
    assert [e["column"] for e in r.json()["detail"]] == [field]

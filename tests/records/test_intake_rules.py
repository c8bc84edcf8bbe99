"""The intake's rules without HTTP: who writes when (the call's agent during the call
and its wrap-up, a correction afterwards or by anyone else), what an integration token
may change, the fields' checks, and versions stored one after the other when two
writes race (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from callcenter import migrate
from callcenter.db import create_engine, session_factory
from callcenter.live.live_state import LiveState
from callcenter.records.intake import (
    Author,
    CallAtSeat,
    IntakeError,
    IntakeFields,
    IntakeRefused,
    NotTheirCall,
    correction_of,
    may_change,
    writing_window_open,
)
from callcenter.records.wiring import build_records
from callcenter.tokens import Role

AGENT = Author("agent-1001", Role.AGENT, "1001")
ENDED = CallAtSeat("1001", in_progress=False, ended_at=1000.0, wrapup_s=30.0)


def test_the_agents_window_is_the_call_and_the_longer_wrapup() -> None:
    running = CallAtSeat("1001", in_progress=True)
    assert writing_window_open(running, 10**9, 0.0)
    assert writing_window_open(ENDED, 1029.9, 0.0)  # the seat's own wrap-up
    assert not writing_window_open(ENDED, 1030.0, 0.0)
    assert writing_window_open(ENDED, 1100.0, 120.0)  # the configured one is longer
    assert not writing_window_open(ENDED, 1120.0, 120.0)
    never = CallAtSeat("1001", in_progress=False)
    assert not writing_window_open(never, 0.0, 120.0)


def test_who_writes_a_correction() -> None:
    assert correction_of(AGENT, ENDED, 1010.0, 0.0) is False
    assert correction_of(AGENT, ENDED, 2000.0, 0.0) is True
    for role in (Role.SUPERVISOR, Role.ADMIN, Role.INTEGRATION):
        assert correction_of(Author("x", role), ENDED, 1010.0, 0.0) is True
    for stranger in (Author("b", Role.AGENT, "1002"), Author("c", Role.AGENT, None)):
        with pytest.raises(NotTheirCall):
            correction_of(stranger, ENDED, 1010.0, 0.0)
    with pytest.raises(NotTheirCall):  # nobody's call (abandoned): not an agent's
        correction_of(AGENT, CallAtSeat("", in_progress=False, ended_at=1000.0), 1010.0, 0.0)


def test_an_integration_token_links_the_ticket_only() -> None:
    script = Author("province", Role.INTEGRATION)
    may_change(script, frozenset({"ticket"}))
    with pytest.raises(IntakeRefused, match="kind"):
        may_change(script, frozenset({"ticket", "kind"}))
    may_change(Author("floor", Role.SUPERVISOR), frozenset({"kind", "summary"}))


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        (IntakeFields("praise", "U"), "kind"),
        (IntakeFields("help", ""), "unit"),
        (IntakeFields("help", "U" * 33), "unit"),
        (IntakeFields("help", "U", "\x00"), "summary"),
        (IntakeFields("help", "U", "\x85"), "summary"),  # a C1 control (NEL)
        (IntakeFields("help", "U", "\ud800"), "summary"),  # half a surrogate pair
        (IntakeFields("help", "U", "", "\ud800"), "ticket"),
        (IntakeFields("help", "\ud800"), "unit"),
        (IntakeFields("help", "U", "é" * 2001), "summary"),
        (IntakeFields("help", "U", "", "\tT"), "ticket"),
        (IntakeFields("help", "U", "", "票\n"), "ticket"),
    ],
)
def test_bad_fields_are_named(fields: IntakeFields, named: str) -> None:
    with pytest.raises(IntakeError) as caught:
        fields.checked()
    assert caught.value.field == named and str(caught.value).startswith(f"{named}: ")


def test_good_fields_pass() -> None:
    text = "第一行\n\t第二行：地址、电话 123 — ok ✓"
    assert IntakeFields("report", "HOUSING", text, "ZJ-1/2026 #7").checked().summary == text


async def test_racing_writes_make_successive_versions(database_url: str, tmp_path: Path) -> None:
    engine = create_engine(database_url)
    await migrate.upgrade(engine)
    try:
        records = build_records(session_factory(engine), LiveState(lambda: 0.0), tmp_path / "s")

        async def named(code: str) -> str | None:
            return {"HOUSING": "住建局"}.get(code)

        records.intake.units = named
        call = CallAtSeat("1001", in_progress=True)
        kinds = ["help", "complaint", "opinion", "suggestion"]
        await asyncio.gather(
            *(
                records.intake.write("pbx1", "race.1", IntakeFields(k, "HOUSING"), AGENT, call)
                for k in kinds
            )
        )
        versions = await records.intake.versions("pbx1", "race.1")
        assert [v.version for v in versions] == [1, 2, 3, 4]
        assert sorted(v.kind for v in versions) == sorted(kinds)
        current = await records.intake.current("pbx1", "race.1")
        assert current == versions[-1] and current.unit_name == "住建局"
    finally:
        await engine.dispose()

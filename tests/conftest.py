"""Shared fixtures. Paths to the real-Asterisk reference material live here, once."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from callcenter.heap import freeze_startup_heap

REPO = Path(__file__).resolve().parent.parent
#: the shared reference material, copied into the repository (tests/fixtures/README.md)
SHARED = Path(os.environ.get("CALLCENTER_SHARED_DIR", REPO / "tests" / "fixtures" / "shared"))
TRANSCRIPTS = SHARED / "asterisk-transcripts" / "asterisk-22.10.1"
LEGACY_CSV = SHARED / "data" / "legacy_numbers.csv"


# --- the garbage collector off the tests' event loops ----------------------------------


@pytest.fixture(scope="module", autouse=True)
def _heap_frozen_for_the_module() -> None:
    """Before a module's own fixtures (a golden replay runs in one): see below."""
    freeze_startup_heap()


@pytest.fixture(autouse=True)
def _heap_frozen_for_the_test() -> None:
    """What earlier tests left alive is collected once and frozen before each test, as
    the service freezes its start-up heap (callcenter/heap.py). A full collection
    walking a whole session's objects stalled a test's event loop for a second, which a
    simulated clock running 10 to 300 times real time turns into a call's worth of
    simulated time: a golden replay's hangups landed in the next scenario. Each
    collection here walks only what the last test left; the rest is frozen already."""
    freeze_startup_heap()


@pytest.fixture(scope="session")
def transcripts_dir() -> Path:
    if not TRANSCRIPTS.is_dir():
        pytest.fail(f"real Asterisk transcripts not found at {TRANSCRIPTS}")
    return TRANSCRIPTS


# --- databases: every `db` test runs on SQLite and on PostgreSQL -------------------------

POSTGRES_ADMIN_URL = os.environ.get(
    "CALLCENTER_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)
#: CI sets CI=true: there a missing PostgreSQL fails the run instead of skipping
REQUIRE_POSTGRES = os.environ.get("CI", "").lower() in {"1", "true", "yes"} or bool(
    os.environ.get("CALLCENTER_REQUIRE_POSTGRES")
)


def _asyncpg_dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


@pytest.fixture(params=["sqlite", "postgresql"])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path):  # type: ignore[no-untyped-def]
    """A fresh, empty database URL per test: a SQLite file, or a new PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'test.db'}"
        return
    import uuid

    import asyncpg

    try:
        admin = await asyncpg.connect(_asyncpg_dsn(POSTGRES_ADMIN_URL), timeout=5)
    except (OSError, asyncpg.PostgresError) as exc:
        message = f"PostgreSQL not reachable at {POSTGRES_ADMIN_URL}: {exc}"
        if REQUIRE_POSTGRES:
            pytest.fail(message)
        pytest.skip(message)
    name = f"cc_test_{uuid.uuid4().hex[:12]}"
    await admin.execute(f'CREATE DATABASE "{name}"')
    base, _, _ = POSTGRES_ADMIN_URL.rpartition("/")
    try:
        yield f"{base}/{name}"
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()

"""Shared fixtures. Paths to the real-Asterisk reference material live here, once."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("CALLCENTER_SHARED_DIR", REPO.parent / "shared"))
TRANSCRIPTS = SHARED / "asterisk-transcripts" / "asterisk-22.10.1"
LEGACY_CSV = SHARED / "data" / "legacy_numbers.csv"


@pytest.fixture(scope="session")
def transcripts_dir() -> Path:
    if not TRANSCRIPTS.is_dir():
        pytest.fail(f"real Asterisk transcripts not found at {TRANSCRIPTS}")
    return TRANSCRIPTS

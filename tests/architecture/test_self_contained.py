"""The tests read nothing outside the repository: a fresh clone on a machine without
the sibling `shared/` folder runs them all. Fixtures copied from there live in
tests/fixtures/ with their provenance (tests/fixtures/README.md)."""

from __future__ import annotations

import re
from pathlib import Path

from tests.conftest import REPO

#: a path leaving the repository: the sibling folder, or an absolute path of this machine
_OUTSIDE = re.compile(r"""["'](?:\.\./|/work/|/tmp/shared)""")


def test_the_fixtures_the_tests_read_by_default_are_in_the_repository() -> None:
    copied = REPO / "tests" / "fixtures" / "shared"
    for needed in ("asterisk-transcripts", "data", "reference"):
        assert (copied / needed).is_dir(), needed
    assert (REPO / "tests" / "fixtures" / "ledger").is_dir()


def test_no_test_names_a_path_outside_the_repository() -> None:
    offenders = [
        f"{path.relative_to(REPO)}:{number}: {line.strip()}"
        for path in sorted((REPO / "tests").rglob("*.py"))
        if "fixtures" not in path.parts
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if _OUTSIDE.search(line) and Path(__file__).name not in str(path)
    ]
    assert offenders == []

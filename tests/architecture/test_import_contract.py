"""The import contract of `make lint` (.importlinter) holds on the tree, and fails when a
layer is crossed, a cycle is made or pbxsim is reached into: a contract that cannot
fail checks nothing."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("callcenter", "agi", "ami", "queues", "api", "bench", "pbxsim")
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _copy_tree(dest: Path) -> Path:
    for package in PACKAGES:
        shutil.copytree(
            ROOT / package, dest / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    shutil.copy(ROOT / ".importlinter", dest / ".importlinter")
    return dest


def _lint(tree: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _copy_tree(tmp_path_factory.mktemp("tree"))


def _with(pristine: Path, tmp_path: Path, module: str, line: str) -> Path:
    tree = tmp_path / "tree"
    shutil.copytree(pristine, tree)
    path = tree / module
    path.write_text(path.read_text("utf-8") + f"\n{line}\n", "utf-8")
    return tree


def test_the_tree_keeps_the_contract(pristine: Path) -> None:
    result = _lint(pristine)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("module", "line", "named"),
    [
        # the foundation reaching up into an interface
        ("callcenter/clock.py", "import api.app  # noqa", "callcenter.clock is not allowed"),
        # a domain importing the composition root
        ("queues/seats.py", "import callcenter.process.service  # noqa", "queues"),
        # the records domain reaching up into the seats domain
        ("callcenter/records/kpi.py", "import queues.seats  # noqa", "callcenter.records"),
        # a cycle between two sub-packages of agi
        ("agi/protocol/env.py", "import agi.protocol.server  # noqa", "No cycles"),
        # the product importing the simulator
        ("ami/frames.py", "import pbxsim.wire  # noqa", "pbxsim"),
        # the simulator importing the product
        ("pbxsim/wire.py", "import ami.frames  # noqa", "pbxsim"),
        # the callback worklist reaching past records' interface into its tables
        ("queues/callbacks.py", "import callcenter.records.models  # noqa", "Call facts"),
        # an API route taking the records' per-call locks itself
        ("api/calls.py", "import callcenter.records.locks  # noqa", "per-call locks"),
    ],
)
def test_a_violation_breaks_the_contract(
    pristine: Path, tmp_path: Path, module: str, line: str, named: str
) -> None:
    result = _lint(_with(pristine, tmp_path, module, line))
    assert result.returncode != 0, result.stdout
    assert "BROKEN" in result.stdout and named in result.stdout, result.stdout

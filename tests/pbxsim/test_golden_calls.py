"""Golden replay of the call scenarios: pbxsim against real Asterisk 22.10.1 output.

Each AMI transcript is replayed once per module (replay.py) against pbxsim configured
with the transcript's own config; each test compares one scenario's frames stream by
stream. Known gaps are listed in GAPS with the reason for each; a listed gap that no
longer occurs fails the test, so the list only ever shrinks.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.pbxsim.replay import (
    Gap,
    Recording,
    ReplaySpec,
    agi_frames,
    compare_frames,
    replay_log,
    scenario_frames,
)
from tests.pbxsim.transcript import Scenario, find_scenario, load_agi_log

ReplayResult = tuple[list[Scenario], Recording, ReplaySpec]


def _run(spec: ReplaySpec) -> ReplayResult:
    scenarios, recording = asyncio.run(replay_log(spec))
    return scenarios, recording, spec


@pytest.fixture(scope="module")
def ami_log_replay(transcripts_dir: Path) -> ReplayResult:
    spec = ReplaySpec(
        ami_log=transcripts_dir / "ami.log",
        agi_logs=[transcripts_dir / f"agi-{n}.log" for n in (1, 2, 3, 4)],
        config_dir=transcripts_dir / "config",
        agi_down_from="AGI server down",
    )
    return _run(spec)


#: reviewed known gaps, per scenario title fragment
GAPS: dict[str, list[Gap]] = {}


def check(result: ReplayResult, needle: str) -> None:
    scenarios, recording, _spec = result
    scenario = find_scenario(scenarios, needle)
    expected, actual = scenario_frames(scenarios, recording, scenario.title)
    gaps = GAPS.get(needle, [])
    comparison = compare_frames(expected, actual, gaps)
    assert not comparison.differences, (
        f"{len(comparison.differences)} of {comparison.streams} streams differ "
        f"in '{scenario.title}':\n{comparison.report()}"
    )
    unused = [g for g in gaps if g not in comparison.used_gaps]
    assert not unused, f"listed gaps no longer occur, remove them: {unused}"


AMI_LOG_CALLS = [
    "caller dials a legacy number",
    "pause, then a caller who abandons",
    "ring no answer",
    "caller hangs up inside the IVR",
    "AGI server down",
]


@pytest.mark.parametrize("needle", AMI_LOG_CALLS)
def test_ami_log_call_scenario(ami_log_replay: ReplayResult, needle: str) -> None:
    check(ami_log_replay, needle)


def test_ami_log_agi_sessions(ami_log_replay: ReplayResult) -> None:
    _scenarios, recording, spec = ami_log_replay
    sessions = [load_agi_log(p) for p in spec.agi_logs]
    expected, actual = agi_frames(sessions, recording.agi)
    comparison = compare_frames(expected, actual)
    assert not comparison.differences, comparison.report()

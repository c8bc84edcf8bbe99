"""`python -m pbxsim erlang`: the queue engine under M/M/n(+M) traffic vs. theory.

Quick runs use fewer calls and judge the engine by its own batch-means standard error
(waits are strongly autocorrelated, so a binomial error bar would be far too narrow);
the `slow` run is the full-size check against DOMAIN.md's table at +-1.5 points.
"""

from __future__ import annotations

import importlib.util
import json
import math
from types import ModuleType

import pytest

from pbxsim import erlang
from tests.conftest import SHARED

DOMAIN_ERLANG_A = {"p_wait": 0.192, "abandon_rate": 0.022, "sl15": 0.916}  # 810/h, patience 120
DOMAIN_ERLANG_C = {"p_wait": 0.0634, "abandon_rate": 0.0, "sl15": 0.970}  # 720/h, no abandon
ERLANG_A_ARGS = ["--agents", "60", "--calls-per-hour", "810", "--aht", "240", "--patience", "120"]
ERLANG_C_ARGS = ["--agents", "60", "--calls-per-hour", "720", "--aht", "240", "--patience", "inf"]


def _run(capsys: pytest.CaptureFixture[str], args: list[str]) -> dict[str, object]:
    assert erlang.main([*args, "--json"]) == 0
    out = capsys.readouterr().out
    result = json.loads(out)
    assert isinstance(result, dict)
    return result


def _shared_reference() -> ModuleType:
    path = SHARED / "reference" / "erlang.py"
    spec = importlib.util.spec_from_file_location("shared_erlang_reference", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_erlang_c_closed_form_matches_domain_table() -> None:
    ref = erlang.erlang_c_reference(60, 810 / 3600, 240, 15)
    assert (round(ref.p_wait, 4), round(ref.sl, 3)) == (0.3246, 0.777)
    ref = erlang.erlang_c_reference(60, 720 / 3600, 240, 15)
    assert (round(ref.p_wait, 4), round(ref.sl, 3)) == (0.0634, 0.970)


def test_erlang_a_pure_python_matches_the_numpy_reference() -> None:
    shared = _shared_reference()
    for calls_per_hour in (810, 900):
        expected = shared.erlang_a(calls_per_hour / 3600, 240, 60, 120, 15)
        ours = erlang.erlang_a_reference(60, calls_per_hour / 3600, 240, 120, 15)
        assert ours.p_wait == pytest.approx(float(expected["Pw"]), abs=1e-6)
        assert ours.abandon_rate == pytest.approx(float(expected["Pab"]), abs=1e-6)
        assert ours.sl == pytest.approx(float(expected["SL"]), abs=1e-5)


def _assert_within_error(result: dict[str, object], sl_key: str = "sl15") -> None:
    stderr = result["stderr"]
    reference = result["reference"]
    assert isinstance(stderr, dict) and isinstance(reference, dict)
    for key in ("p_wait", "abandon_rate", sl_key):
        value, ref, se = result[key], reference[key], stderr[key]
        assert isinstance(value, float | int) and isinstance(ref, float | int)
        assert isinstance(se, float | int)
        assert se < 0.02, f"{key}: run too short to judge (se {se})"
        # 4 standard errors plus rounding: a wrong engine (e.g. no abandonment, FIFO
        # broken, agents double-booked) is off by far more than that
        assert abs(value - ref) <= 4 * se + 0.002, (key, value, ref, se)


def test_engine_matches_erlang_a_quick(capsys: pytest.CaptureFixture[str]) -> None:
    result = _run(capsys, [*ERLANG_A_ARGS, "--calls", "60000", "--seed", "3"])
    reference = result["reference"]
    assert isinstance(reference, dict)
    assert reference["model"] == "Erlang A"
    for key, value in DOMAIN_ERLANG_A.items():
        assert reference[key] == pytest.approx(value, abs=0.001)
    _assert_within_error(result)


def test_engine_matches_erlang_c_quick(capsys: pytest.CaptureFixture[str]) -> None:
    result = _run(capsys, [*ERLANG_C_ARGS, "--calls", "60000", "--seed", "3"])
    reference = result["reference"]
    assert isinstance(reference, dict)
    assert reference["model"] == "Erlang C"
    assert result["abandon_rate"] == 0.0
    _assert_within_error(result)


def test_runs_are_seeded(capsys: pytest.CaptureFixture[str]) -> None:
    args = [*ERLANG_A_ARGS, "--calls", "3000"]
    first = _run(capsys, [*args, "--seed", "5"])
    assert _run(capsys, [*args, "--seed", "5"]) == first
    assert _run(capsys, [*args, "--seed", "6"]) != first


def test_abandonment_is_really_modelled(capsys: pytest.CaptureFixture[str]) -> None:
    """Impatient callers at an overloaded queue: most of them must give up."""
    result = _run(
        capsys,
        ["--agents", "2", "--calls-per-hour", "120", "--aht", "240", "--patience", "10",
         "--calls", "2000"],
    )  # fmt: skip
    reference = result["reference"]
    assert isinstance(reference, dict)
    assert reference["abandon_rate"] > 0.3
    _assert_within_error(result)


def test_rejects_nonsense_arguments(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        erlang.main(["--agents", "0", "--calls-per-hour", "10", "--aht", "1"])
    assert "must be positive" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.parametrize(
    ("args", "expected"), [(ERLANG_A_ARGS, DOMAIN_ERLANG_A), (ERLANG_C_ARGS, DOMAIN_ERLANG_C)]
)
def test_full_size_within_one_and_a_half_points(
    capsys: pytest.CaptureFixture[str], args: list[str], expected: dict[str, float]
) -> None:
    result = _run(capsys, list(args))  # default: 300,000 calls
    for key, value in expected.items():
        got = result[key]
        assert isinstance(got, float | int)
        assert math.isclose(got, value, abs_tol=0.015), (key, got, value)


def test_module_entry_point_prints_one_json_object() -> None:
    import subprocess
    import sys

    from tests.conftest import REPO

    out = subprocess.run(
        [sys.executable, "-m", "pbxsim.erlang", *ERLANG_A_ARGS, "--calls", "2000", "--json"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    result = json.loads(out)
    assert {"p_wait", "abandon_rate", "sl15"} <= set(result)
    assert 0.0 < result["p_wait"] < 1.0 and 0.0 < result["sl15"] <= 1.0

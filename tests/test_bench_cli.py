"""`python -m bench FILTER`: a filter that names no benchmark is an error that lists the
names, and nothing runs or is written (an empty report would replace latest.json)."""

from __future__ import annotations

import pytest

import bench.__main__ as cli


def test_an_unknown_filter_is_refused_before_anything_runs(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    ran: list[object] = []
    monkeypatch.setattr(cli, "run", lambda *args: ran.append(args))
    assert cli.main(["records", "nosuch"]) == 2
    err = capsys.readouterr().err
    assert "'nosuch'" in err and "records" in err and "webhooks" in err
    assert ran == []


def test_help_lists_the_benchmarks(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(cli, "run", lambda *args: pytest.fail("--help ran benchmarks"))
    assert cli.main(["--help"]) == 0
    assert "ami_read_path" in capsys.readouterr().out


def test_known_filters_run(monkeypatch: pytest.MonkeyPatch) -> None:
    ran: list[object] = []
    monkeypatch.setattr(cli, "run", lambda *args: ran.append(args[2]))
    assert cli.main(["records", "api"]) == 0
    assert ran == [["records", "api"]]

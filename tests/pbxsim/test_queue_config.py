"""queues.conf parsing: the transcripts' own files, templates, members, and errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from pbxsim.app_queue.config import (
    DEFAULT_RETRY,
    MemberConfig,
    QueueConfigError,
    load_queues_conf,
    parse_queues_conf,
)


def test_transcript_config(transcripts_dir: Path) -> None:
    conf = load_queues_conf(transcripts_dir / "config" / "queues.conf")
    assert [q.name for q in conf.queues] == [
        "hotline-general",
        "q-ringall",
        "q-penalty",
        "q-strict",
    ]
    assert conf.general.persistentmembers is False
    assert conf.general.shared_lastcall is True
    hotline = conf.queue("HOTLINE-GENERAL")
    assert hotline is not None
    assert (hotline.strategy, hotline.timeout, hotline.retry, hotline.wrapuptime) == (
        "rrmemory",
        4,
        1,
        2,
    )
    assert (hotline.servicelevel, hotline.ringinuse, hotline.musicclass) == (15, False, "default")
    assert hotline.joinempty == frozenset() and hotline.leavewhenempty == frozenset()
    strict = conf.queue("q-strict")
    assert strict is not None
    assert strict.joinempty == {"paused", "unavailable", "invalid", "unknown"}
    assert strict.leavewhenempty == strict.joinempty
    assert strict.retry == DEFAULT_RETRY  # not set: app_queue's default


def test_sip_config_static_members(transcripts_dir: Path) -> None:
    conf = load_queues_conf(transcripts_dir / "sip" / "queues.conf")
    queue = conf.queue("hotline-general")
    assert queue is not None
    assert queue.members == (
        MemberConfig("PJSIP/1001", 0, "seat-1001"),
        MemberConfig("PJSIP/1002", 0, "seat-1002"),
        MemberConfig("PJSIP/1003", 0, "seat-1003"),
    )


def test_templates_and_inheritance() -> None:
    conf = parse_queues_conf(
        """
[general]
autofill = no
[cc-tpl](!)
strategy = leastrecent   ; comment
timeout = 15
wrapuptime = 10
member => PJSIP/9,2,Nine,Custom:9,yes,5,yes
[extra](!)
weight = 3
[sales](cc-tpl,extra)
timeout = 20
member = PJSIP/1001
"""
    )
    assert [q.name for q in conf.queues] == ["sales"]
    sales = conf.queues[0]
    assert (sales.strategy, sales.timeout, sales.wrapuptime, sales.weight) == (
        "leastrecent",
        20,
        10,
        3,
    )
    assert sales.autofill is False
    assert sales.members == (
        MemberConfig("PJSIP/9", 2, "Nine", "Custom:9", True, 5, True),
        MemberConfig("PJSIP/1001"),
    )


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("joinempty", "yes", frozenset()),
        ("joinempty", "no", {"penalty", "invalid", "paused"}),
        ("leavewhenempty", "yes", {"penalty", "invalid", "paused"}),
        ("leavewhenempty", "no", frozenset()),
        ("joinempty", "strict", {"penalty", "invalid", "paused", "unavailable"}),
        ("joinempty", "loose", {"penalty", "invalid"}),
        ("joinempty", "inuse,ringing,wrapup", {"inuse", "ringing", "wrapup"}),
    ],
)
def test_empty_conditions(key: str, value: str, expected: frozenset[str]) -> None:
    queue = parse_queues_conf(f"[q]\n{key} = {value}\n").queues[0]
    assert getattr(queue, key) == expected


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        ("[q]\ntimeout = soon\n", 2, "timeout: 'soon' is not an integer"),
        ("[q]\n\nstrategy = fastest\n", 3, "unknown strategy"),
        ("[q](missing)\nretry=1\n", 1, "unknown template 'missing'"),
        ("[q\n", 1, "missing ']'"),
        ("timeout = 3\n", 1, "outside of any section"),
        ("[q]\njust words\n", 2, "expected 'key = value'"),
        ("[q]\njoinempty = sometimes\n", 2, "unknown condition 'sometimes'"),
        ("[q]\nmember => ,1\n", 2, "missing interface"),
        ("[q]\nmember => PJSIP/1,high\n", 2, "member penalty"),
    ],
)
def test_errors_name_file_and_line(text: str, line: int, fragment: str) -> None:
    with pytest.raises(QueueConfigError) as info:
        parse_queues_conf(text, source="queues.conf")
    assert str(info.value).startswith(f"queues.conf:{line}: ")
    assert fragment in str(info.value)
    assert info.value.line == line


def test_load_names_the_path(tmp_path: Path) -> None:
    path = tmp_path / "queues.conf"
    path.write_text("[q]\nwrapuptime = -1\n")
    with pytest.raises(QueueConfigError, match=r"queues\.conf:2: wrapuptime: -1 is below 0"):
        load_queues_conf(path)


def test_autopause_options() -> None:
    conf = parse_queues_conf(
        "[a]\nautopause = yes\nautopausedelay = 20\nautopausebusy = yes\n"
        "[b]\nautopause = all\n[c]\nautopause = no\n[d]\n[e]\nautopause = 1\n"
    )
    modes = {q.name: q.autopause for q in conf.queues}
    assert modes == {"a": "yes", "b": "all", "c": "no", "d": "no", "e": "yes"}
    a = conf.queue("a")
    assert a is not None and (a.autopausedelay, a.autopausebusy, a.autopauseunavail) == (
        20,
        True,
        False,
    )
    with pytest.raises(QueueConfigError, match=r"autopause: 'sometimes' is not no\|yes\|all"):
        parse_queues_conf("[q]\nautopause = sometimes\n")

"""Pattern matching and ordering rules from main/pbx.c."""

from __future__ import annotations

import functools

import pytest

from pbxsim.dialplan import MatchMode, compare_extensions, extension_match


@pytest.mark.parametrize(
    ("pattern", "data", "expected"),
    [
        ("_X.", "043262345678", 1),
        ("_X.", "0", 0),  # '.' needs at least one more character
        ("_X!", "0", 2),
        ("_NXXXXXX", "2345678", 1),
        ("_NXXXXXX", "1345678", 0),
        ("_NXXXXXX", "23456789", 0),
        ("_ZXX", "100", 1),
        ("_ZXX", "010", 0),
        ("_[1-5]X", "59", 1),
        ("_[1-5]X", "69", 0),
        ("_[13-5]X", "29", 0),
        ("_[13-5]X", "49", 1),
        ("_x.", "12", 1),  # wildcards are case-insensitive
        ("_1-2-3", "123", 1),  # '-' in patterns is decoration
        ("12345", "12-345", 1),  # and in dialed digits
        ("12345", "1234", 0),
        ("press1", "press1", 1),
        ("_9X.", "9001", 1),
    ],
)
def test_match(pattern: str, data: str, expected: int) -> None:
    assert extension_match(pattern, data) == expected


def test_canmatch_and_matchmore() -> None:
    assert extension_match("_NXXXXXX", "234", MatchMode.CANMATCH) == 1
    assert extension_match("_NXXXXXX", "234", MatchMode.MATCH) == 0
    assert extension_match("_NXXXXXX", "2345678", MatchMode.MATCHMORE) == 0
    assert extension_match("12345", "123", MatchMode.MATCHMORE) == 1
    assert extension_match("12345", "12345", MatchMode.MATCHMORE) == 0


def test_sort_order() -> None:
    names = ["_X.", "_X!", "_9X.", "_3XXX", "_NXX", "_ZXX", "_XXX", "12345", "_[1-2]XX", "2"]
    ordered = sorted(names, key=functools.cmp_to_key(compare_extensions))
    assert ordered == [
        "12345",  # literals first, by characters
        "2",
        "_3XXX",  # one literal character beats any class
        "_9X.",
        "_[1-2]XX",  # two-character set
        "_NXX",  # 8 characters
        "_ZXX",  # 9
        "_XXX",  # 10
        "_X.",  # '.' before '!'
        "_X!",
    ]
    assert compare_extensions("_X.", "_X.") == 0
    # same size sets: lower characters first
    assert compare_extensions("_[12]", "_[34]") < 0

"""extensions.conf parsing and lookups, on the transcripts' own configs and edge cases."""

from __future__ import annotations

from pathlib import Path

import pytest

from pbxsim.dialplan import ConfigError, load_dialplan, parse_dialplan


def test_transcript_dialplan_loads(transcripts_dir: Path) -> None:
    plan = load_dialplan(transcripts_dir / "config" / "extensions.conf")
    assert plan.general == {"static": "yes", "writeprotect": "yes"}
    assert list(plan.contexts) == [
        "from-trunk",
        "sim-caller",
        "sim-agent",
        "from-trunk-slow",
        "direct-queue",
        "transfer-out",
    ]
    prios = plan.find("from-trunk", "043262345678")
    assert [p.app for p in prios] == [
        "NoOp", "Answer", "AGI", "NoOp", "GotoIf", "Queue", "NoOp", "Hangup", "Queue", "Hangup",
    ]  # fmt: skip
    assert prios[0].data == "inbound ${EXTEN} from ${CALLERID(num)}"
    assert prios[2].data == "agi://127.0.0.1:4573/incoming,arg one,arg2"
    assert prios[1].data == ""
    assert plan.find_label("from-trunk", "12345", "fallback") == 9
    assert plan.find_label("direct-queue", "100", "survey") == 7
    assert prios[2].file == "extensions.conf" and prios[2].line == 8
    assert plan.warnings == []


def test_sip_dialplan_loads(transcripts_dir: Path) -> None:
    plan = load_dialplan(transcripts_dir / "sip" / "extensions.conf")
    assert plan.find_label("from-trunk", "043262345678", "survey") == 11
    assert plan.find("from-seats", "1001")[0].app == "Hangup"


def test_pattern_order_and_priority_fallthrough(transcripts_dir: Path) -> None:
    plan = load_dialplan(transcripts_dir / "config" / "extensions.conf")
    agent = plan.contexts["sim-agent"]
    assert [e.name for e in agent.extensions] == ["_3XXX", "_9X.", "_X."]
    # the slow agent's own pattern wins over _X.
    hit = plan.find_priority("sim-agent", "3001", 1)
    assert hit is not None and hit[0].name == "_3XXX" and hit[1].data == "3"
    # _9X. has only priority 1: priority 2 comes from the next matching pattern (pbx.c)
    hit = plan.find_priority("sim-agent", "9001", 2)
    assert hit is not None and hit[0].name == "_X." and hit[1].app == "Answer"
    assert plan.find_priority("sim-agent", "9001", 1)[1].data == "60"  # type: ignore[index]
    assert not plan.exists("sim-caller", "nobody")


def test_priorities_labels_same_and_plus() -> None:
    plan = parse_dialplan(
        """
[general]
autofallthrough=yes
[globals]
TRUNK=PJSIP/trunk
[ctx]
exten => 100,1(start),NoOp(a)   ; comment
 same => n,Set(X=1\\;2)
 same => n(mid),Goto(start)
 same => start+5,NoOp(five after start)
exten => 100,2,NoOp(duplicate)
exten => 200/1390001,1,NoOp(vip)
exten => 200,1,NoOp(everyone)
exten => _[1-5]X!,1,NoOp(early)
include => other
;-- a block
comment --;
[other]
exten => _NXXXXXX,1,NoOp(seven ${TRUNK})
"""
    )
    assert plan.globals == {"TRUNK": "PJSIP/trunk"}
    ext = plan.find("ctx", "100")
    assert [(p.number, p.label, p.data) for p in ext] == [
        (1, "start", "a"),
        (2, None, "X=1;2"),
        (3, "mid", "start"),
        (6, None, "five after start"),
    ]
    assert any("already in use" in w for w in plan.warnings)
    assert plan.find("ctx", "200", callerid="1390001")[0].data == "vip"
    assert plan.find("ctx", "200", callerid="1390002")[0].data == "everyone"
    assert plan.find("ctx", "200")[0].data == "everyone"
    assert plan.find("ctx", "6345678")[0].data == "seven ${TRUNK}"  # through include
    assert plan.find("ctx", "2345678")[0].data == "early"  # own context before includes
    assert plan.find("ctx", "35")[0].data == "early"
    assert plan.find("ctx", "3") == []  # X still needs its digit before the '!'
    assert plan.can_match("ctx", "3")
    assert plan.find("ctx", "65") == []
    assert plan.match_more("ctx", "634") is True
    assert plan.match_more("ctx", "35") is False  # early match ends collection
    assert plan.resolve_priority("ctx", "100", "mid") == 3
    assert plan.resolve_priority("ctx", "100", "4") is None


def test_include_relative_file(tmp_path: Path) -> None:
    (tmp_path / "did_map.conf").write_text("exten => 043262345678,1,Goto(to-queue,s,1)\n")
    (tmp_path / "extensions.conf").write_text("[from-trunk]\n#include did_map.conf\n")
    plan = load_dialplan(tmp_path / "extensions.conf")
    assert plan.find("from-trunk", "043262345678")[0].data == "to-queue,s,1"


@pytest.mark.parametrize(
    ("text", "message", "line"),
    [
        ("[c]\nexten => 1,n,NoOp()\n", "Can't use 'next' priority", 2),
        ("[c]\n same => 1,NoOp()\n", "No previous extension", 2),
        ("[c]\nexten => 1,nolabel,NoOp()\n", "Invalid priority/label 'nolabel'", 2),
        ("[c]\n\nexten => 1\n", "missing priority", 3),
        ("[c]\nwhat is this\n", "No '=' (equal sign)", 2),
        ("exten => 1,1,NoOp()\n", "outside of any [section]", 1),
        ("[c\n", "no closing ']'", 1),
        ("[c]\n#include missing.conf\n", "not found", 2),
    ],
)
def test_errors_carry_file_and_line(text: str, message: str, line: int) -> None:
    with pytest.raises(ConfigError) as info:
        parse_dialplan(text, name="x.conf")
    assert message in str(info.value)
    assert info.value.line == line and info.value.file == "x.conf"
    assert str(info.value).startswith(f"x.conf:{line}: ")


def test_generated_did_map_lookups() -> None:
    """A `#include did_map.conf` of thousands of literal DIDs plus a catch-all pattern."""
    lines = ["[did]", "exten => _X.,1,NoOp(default)", "exten => 0432-6234-5678,1,NoOp(dashed)"]
    lines += [f"exten => 0431{n:08d},1,Goto(q{n % 7},s,1)" for n in range(3000)]
    plan = parse_dialplan("\n".join(lines))
    assert plan.contexts["did"].extensions[-1].name == "_X."  # literals sort first
    assert plan.find("did", "043100002999")[0].data == "q3,s,1"
    assert plan.find("did", "043262345678")[0].data == "dashed"  # '-' is decoration
    assert plan.find("did", "99")[0].data == "default"
    # a literal without the wanted priority falls through to the pattern (pbx.c)
    hit = plan.find_priority("did", "043100000001", 1)
    assert hit is not None and hit[0].name == "043100000001"
    assert plan.find_priority("did", "043100000001", 2) is None

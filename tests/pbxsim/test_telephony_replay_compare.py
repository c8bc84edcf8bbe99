"""The golden comparison itself (replay.compare_frames): what it normalises, what it
reports, and how gaps are applied and found stale. If this were wrong, the golden tests
could pass without comparing anything."""

from __future__ import annotations

from tests.pbxsim.replay import Gap, compare_frames

Fields = tuple[tuple[str, str], ...]


def newchannel(name: str, uid: str, linkedid: str | None = None) -> Fields:
    return (
        ("Event", "Newchannel"),
        ("Channel", name),
        ("Context", "sim-caller"),
        ("Uniqueid", uid),
        ("Linkedid", linkedid or uid),
    )


def varset(name: str, uid: str, variable: str, value: str) -> Fields:
    return (
        ("Event", "VarSet"),
        ("Channel", name),
        ("Uniqueid", uid),
        ("Variable", variable),
        ("Value", value),
    )


def test_ids_counters_and_times_are_normalised() -> None:
    asterisk = [
        newchannel("Local/a@ctx-00000005;1", "1795691893.7"),
        varset("Local/a@ctx-00000005;1", "1795691893.7", "QUEUEWAIT", "3"),
        (
            ("Event", "Cdr"),
            ("Channel", "Local/a@ctx-00000005;1"),
            ("Duration", "6"),
            ("UniqueID", "1795691893.7"),
        ),
    ]
    pbxsim = [
        newchannel("Local/a@ctx-0000000c;1", "1800000000.31"),
        varset("Local/a@ctx-0000000c;1", "1800000000.31", "QUEUEWAIT", "2"),
        (
            ("Event", "Cdr"),
            ("Channel", "Local/a@ctx-0000000c;1"),
            ("Duration", "5"),
            ("UniqueID", "1800000000.31"),
        ),
    ]
    result = compare_frames(asterisk, pbxsim)
    assert result.differences == {}
    assert result.streams == 2  # the channel's events, its CDRs


def test_a_changed_value_and_a_missing_event_are_reported_by_name() -> None:
    asterisk = [
        newchannel("Local/a@ctx-00000000;1", "1.0"),
        varset("Local/a@ctx-00000000;1", "1.0", "HOTLINE_QUEUE", "hotline-general"),
        varset("Local/a@ctx-00000000;1", "1.0", "AGISTATUS", "SUCCESS"),
    ]
    pbxsim = [
        newchannel("Local/a@ctx-00000000;1", "1.0"),
        varset("Local/a@ctx-00000000;1", "1.0", "HOTLINE_QUEUE", "other"),
    ]
    result = compare_frames(asterisk, pbxsim)
    lines = result.differences["chan:Local/a@ctx-#0;1"]
    assert any(
        line.startswith("~ #1 VarSet: Value: 'hotline-general' != 'other'") for line in lines
    )
    assert any(line.startswith("- #2 asterisk: Event: VarSet") for line in lines)


def test_field_order_is_compared() -> None:
    asterisk: list[Fields] = [
        (("Event", "Hangup"), ("Channel", "X/1"), ("Cause", "16"), ("Cause-txt", "N"))
    ]
    pbxsim: list[Fields] = [
        (("Event", "Hangup"), ("Channel", "X/1"), ("Cause-txt", "N"), ("Cause", "16"))
    ]
    lines = compare_frames(asterisk, pbxsim).differences["chan:X/1"]
    assert "field names differ" in lines[0]


def test_gaps_mask_reviewed_differences_and_go_stale() -> None:
    asterisk = [newchannel("X/1", "1.0"), varset("X/1", "1.0", "RTPAUDIOQOS", "ssrc=1")]
    pbxsim = [newchannel("X/1", "1.0")]
    media = Gap(r"^chan:X/", "VarSet", "", "no RTP", variable=r"RTPAUDIOQOS\w*")
    unrelated = Gap(r"^chan:X/", "VarSet", "", "unused", variable="OTHER")
    result = compare_frames(asterisk, pbxsim, [media, unrelated])
    assert result.differences == {}
    assert result.used_gaps == {media}  # `unrelated` changed nothing: stale
    same = compare_frames(pbxsim, pbxsim, [media])
    assert same.used_gaps == set()


def test_replies_are_keyed_by_action_id() -> None:
    asterisk: list[Fields] = [
        (("Response", "Success"), ("ActionID", "a1"), ("Message", "Originate successfully queued"))
    ]
    pbxsim: list[Fields] = [
        (("Response", "Success"), ("ActionID", "a1"), ("Message", "Originate queued"))
    ]
    result = compare_frames(asterisk, pbxsim)
    assert list(result.differences) == ["reply:a1"]

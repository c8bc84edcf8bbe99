"""The AMI reader follows Asterisk's get_input/do_message, including its limits."""

from __future__ import annotations

import pytest

from pbxsim.wire import (
    BANNER,
    LINE_TOO_LONG,
    MAX_HEADERS,
    MAX_LINE_BYTES,
    TOO_MANY_LINES,
    ClientMessage,
    MessageReader,
    encode_message,
)


def read_all(*chunks: bytes) -> list[ClientMessage]:
    reader = MessageReader()
    out: list[ClientMessage] = []
    for chunk in chunks:
        out += reader.feed(chunk)
    return out


def test_banner_is_asterisk_22() -> None:
    assert BANNER == b"Asterisk Call Manager/11.0.0\r\n"


def test_crlf_and_bare_lf_both_end_lines() -> None:
    (crlf,) = read_all(b"Action: Ping\r\nActionID: 1\r\n\r\n")
    (lf,) = read_all(b"Action: Ping\nActionID: 1\n\n")
    (mixed,) = read_all(b"Action: Ping\r\nActionID: 1\n\r\n")
    assert crlf.lines == lf.lines == mixed.lines == ("Action: Ping", "ActionID: 1")
    assert crlf.error is None


def test_lone_cr_is_part_of_the_line() -> None:
    (message,) = read_all(b"Action: Ping\rX\r\n\r\n")
    assert message.lines == ("Action: Ping\rX",)
    assert message.get("Action") == "Ping\rX"


def test_byte_by_byte_gives_the_same_messages() -> None:
    data = (
        b"Action: Login\r\nUsername: u\r\nSecret: s\r\n\r\n"
        b"Action: Ping\nActionID: \xe4\xb8\xad\xe6\x96\x87\n\n"
    )
    whole = read_all(data)
    split = read_all(*(data[i : i + 1] for i in range(len(data))))
    assert whole == split
    assert [m.get("Action") for m in split] == ["Login", "Ping"]


def test_utf8_split_mid_character_is_not_lost() -> None:
    data = "Action: Ping\r\nActionID: 工单-1\r\n\r\n".encode()
    cut = data.index("工".encode()) + 1  # inside the 3-byte character
    (message,) = read_all(data[:cut], data[cut:])
    assert message.get("ActionID") == "工单-1"


def test_invalid_utf8_is_echoed_byte_for_byte() -> None:
    (message,) = read_all(b"Action: Ping\r\nActionID: a\xff\xfeb\r\n\r\n")
    request = message.to_request()
    assert request.action_id is not None
    assert encode_message([("ActionID", request.action_id)]) == b"ActionID: a\xff\xfeb\r\n\r\n"


def test_every_empty_line_ends_a_message_even_without_headers() -> None:
    messages = read_all(b"\r\n\r\nAction: Ping\r\n\r\n")
    assert [m.lines for m in messages] == [(), (), ("Action: Ping",)]
    assert messages[0].get("Action", skip_empty=True) == ""


def test_nul_ends_the_line_and_a_leading_nul_ends_the_message() -> None:
    messages = read_all(b"Action: Ping\x00ignored\r\nActionID: 7\r\n\x00junk\r\n")
    assert [m.lines for m in messages] == [("Action: Ping", "ActionID: 7")]


def test_header_lookup_follows_astman_get_header() -> None:
    (message,) = read_all(
        b"action:   \t Ping\r\nActionID : no\r\nActionID:first\r\nActionID: second\r\n"
        b"no colon line\r\n\r\n"
    )
    assert message.get("Action") == "Ping"  # case-insensitive, leading blanks skipped
    assert message.get("ActionID") == "first"  # first match; "ActionID :" never matches
    assert message.get("Missing") == ""
    assert message.headers == (
        ("action", "Ping"),
        ("ActionID ", "no"),
        ("ActionID", "first"),
        ("ActionID", "second"),
    )


def test_action_lookup_skips_empty_values() -> None:
    (message,) = read_all(b"Action:\r\nAction: Ping\r\n\r\n")
    assert message.get("Action") == ""
    assert message.get("Action", skip_empty=True) == "Ping"


def test_empty_first_actionid_is_never_echoed() -> None:
    (message,) = read_all(b"Action: Ping\r\nActionID:\r\nActionID: later\r\n\r\n")
    assert message.to_request().action_id is None
    (message,) = read_all(b"Action: Ping\r\nActionID: 5\r\n\r\n")
    request = message.to_request(session_id=3)
    assert request.action_id == "5" and request.session_id == 3 and request.action == "Ping"


@pytest.mark.parametrize(
    ("content", "ending", "too_long"),
    [
        (MAX_LINE_BYTES - 1, b"\n", False),  # 1023 + LF = 1024 bytes: fits
        (MAX_LINE_BYTES - 2, b"\r\n", False),  # 1022 + CRLF = 1024 bytes: fits
        (MAX_LINE_BYTES - 1, b"\r\n", True),  # the LF is byte 1025: too long
        (MAX_LINE_BYTES, b"\n", True),
    ],
)
def test_the_1024_byte_line_limit_is_exact(content: int, ending: bytes, too_long: bool) -> None:
    line = b"Variable: " + b"x" * (content - len(b"Variable: "))
    messages = read_all(b"Action: Ping\r\n" + line + ending + b"\r\n")
    if not too_long:
        (message,) = messages
        assert message.error is None
        assert len(message.lines[1].encode()) == content
    else:
        assert messages[0].error == LINE_TOO_LONG


def test_crlf_straddling_the_limit_becomes_an_empty_line() -> None:
    # 1023 bytes + CR fill the buffer; Asterisk keeps the CR, then reads CR LF as an
    # empty line, which ends the message right there.
    line = b"A" * (MAX_LINE_BYTES - 1)
    messages = read_all(b"Action: Ping\r\n" + line + b"\r\nActionID: 1\r\n\r\n")
    assert [(m.lines, m.error) for m in messages] == [
        (("Action: Ping",), LINE_TOO_LONG),
        (("ActionID: 1",), None),
    ]


def test_long_line_tail_is_read_as_a_line_and_the_flag_is_cleared() -> None:
    long_value = b"y" * 3000
    messages = read_all(
        b"Action: Ping\r\nActionID: 9\r\nVariable: " + long_value + b"\r\n\r\n",
        b"Action: Ping\r\n\r\n",
    )
    first, second = messages
    assert first.error == LINE_TOO_LONG
    assert first.get("ActionID") == "9"  # the reply still carries the ActionID
    # the discarded window keeps its last byte; the tail becomes one more line
    assert first.lines[-1] == "y" * (len(b"Variable: " + long_value) - 2 * (MAX_LINE_BYTES - 1))
    assert second.error is None and second.lines == ("Action: Ping",)


def test_128_headers_are_kept_129_fail() -> None:
    ok = b"Action: Ping\r\n" + b"".join(b"H%d: v\r\n" % i for i in range(MAX_HEADERS - 1))
    (message,) = read_all(ok + b"\r\n")
    assert message.error is None and len(message.lines) == MAX_HEADERS
    (message,) = read_all(ok + b"Extra: 1\r\n\r\n")
    assert message.error == TOO_MANY_LINES
    assert len(message.lines) == MAX_HEADERS


def test_too_many_lines_leaves_the_too_long_flag_for_the_next_message() -> None:
    # Asterisk reports the header overflow first and forgets to clear the line-too-long
    # flag, so the *next* message fails with "line too long".
    many = b"".join(b"H%d: v\r\n" % i for i in range(MAX_HEADERS + 1))
    long_line = b"L" * (MAX_LINE_BYTES + 10) + b"\r\n"
    messages = read_all(b"Action: Ping\r\n" + long_line + many + b"\r\nAction: Ping\r\n\r\n")
    assert [m.error for m in messages] == [TOO_MANY_LINES, LINE_TOO_LONG]
    reader = MessageReader()
    assert reader.feed(b"Action: Ping\r\n\r\n")[0].error is None


def test_buffered_bytes_wait_for_the_line_end() -> None:
    reader = MessageReader()
    assert reader.feed(b"Action: Pi") == []
    assert reader.buffered == len(b"Action: Pi")
    assert reader.feed(b"ng\r\n") == []
    (message,) = reader.feed(b"\r\n")
    assert message.get("Action") == "Ping"
    assert reader.buffered == 0


def test_encode_message_keeps_order_and_empty_values() -> None:
    assert encode_message([("Response", "Success"), ("PausedReason", "")]) == (
        b"Response: Success\r\nPausedReason: \r\n\r\n"
    )

"""The transcript reader reads every frame of every real-Asterisk transcript, and no more.

Exact round-trip (parse, render, compare with the file) proves that no line was dropped
or misplaced; the counts are computed independently from the raw text so a parser that
merged or split frames would fail them.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.pbxsim.transcript import (
    PROLOGUE,
    ClientAction,
    Scenario,
    ServerFrame,
    TranscriptError,
    agi_log_paths,
    ami_log_paths,
    find_scenario,
    iter_frames,
    load_agi_log,
    load_ami_log,
    parse_agi_log,
    parse_ami_log,
    render_agi_log,
    render_ami_log,
)


def _ami_paths() -> list[Path]:
    from tests.conftest import TRANSCRIPTS

    return ami_log_paths(TRANSCRIPTS)


def _agi_paths() -> list[Path]:
    from tests.conftest import TRANSCRIPTS

    return agi_log_paths(TRANSCRIPTS)


def test_all_transcript_files_are_found(transcripts_dir: Path) -> None:
    assert [p.name for p in ami_log_paths(transcripts_dir)] == [
        "ami-2.log",
        "ami.log",
        "ami-sip.log",
    ]
    assert [p.name for p in agi_log_paths(transcripts_dir)] == [
        "agi-1.log",
        "agi-2-1.log",
        "agi-2.log",
        "agi-3.log",
        "agi-4.log",
        "agi-sip-1.log",
        "agi-sip-2.log",
    ]


@pytest.mark.parametrize("path", _ami_paths(), ids=lambda p: p.name)
def test_ami_log_round_trips_exactly(path: Path) -> None:
    assert render_ami_log(load_ami_log(path)) == path.read_text(encoding="utf-8")


@pytest.mark.parametrize("path", _agi_paths(), ids=lambda p: p.name)
def test_agi_log_round_trips_exactly(path: Path) -> None:
    assert render_agi_log(load_agi_log(path)) == path.read_text(encoding="utf-8")


@pytest.mark.parametrize("path", _ami_paths(), ids=lambda p: p.name)
def test_ami_frame_counts_match_the_raw_text(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    scenarios = load_ami_log(path)
    frames = [f for _, f in iter_frames(scenarios)]
    actions = [a for s in scenarios for a in s.actions]

    n_actions = len(re.findall(r"(?m)^ *\d+\.\d{3} >>> Action: ", text))
    n_events = len(re.findall(r"(?m)^Event: ", text))
    n_banners = len(re.findall(r"(?m)^Asterisk Call Manager/", text))
    n_eof = len(re.findall(r"(?m)^ *\d+\.\d{3} <<< EOF$", text))
    n_blank = len(re.findall(r"(?m)^$", text.removesuffix("\n")))
    # every message (client or server) except record3.py's actions ends in a blank line
    n_messages = n_blank + sum(1 for a in actions if not a.blank_line_after)

    assert len(actions) == n_actions
    assert sum(f.kind == "event" for f in frames) == n_events
    assert sum(f.kind == "banner" for f in frames) == n_banners
    assert sum(f.kind == "eof" for f in frames) == n_eof
    assert len(actions) + sum(f.kind in ("event", "response") for f in frames) == n_messages
    # sanity floor: the files are big; a parser that gave up early would show here
    assert len(frames) > 200


@pytest.mark.parametrize("path", _ami_paths(), ids=lambda p: p.name)
def test_every_ami_frame_is_well_formed(path: Path) -> None:
    for _, frame in iter_frames(load_ami_log(path)):
        if frame.kind == "banner":
            assert frame.text == "Asterisk Call Manager/11.0.0"
            assert frame.fields == ()
        elif frame.kind == "eof":
            assert frame.time is not None
        elif frame.kind == "response":
            assert frame.keys[0] == "Response"
            assert frame.name in ("Success", "Error", "Goodbye")
            assert "Privilege" not in frame.keys
            if frame.action_id is not None:
                assert frame.keys[1] == "ActionID"
        else:
            assert frame.kind == "event"
            assert frame.keys[0] == "Event"
            assert frame.name
            if "Privilege" in frame.keys:
                # broadcast event: Privilege second, "<class>,all"
                assert frame.keys[1] == "Privilege"
                assert (frame.get("Privilege") or "").endswith(",all")
            else:
                # list item or list Complete: no Privilege but the ActionID
                assert frame.action_id is not None
        for key, value in frame.fields:
            assert key and key == key.strip()
            assert "\r" not in value


@pytest.mark.parametrize("path", _ami_paths(), ids=lambda p: p.name)
def test_every_client_action_has_exactly_one_response(path: Path) -> None:
    scenarios = load_ami_log(path)
    responses: dict[str, list[ServerFrame]] = {}
    for _, frame in iter_frames(scenarios):
        if frame.kind == "response" and frame.action_id is not None:
            responses.setdefault(frame.action_id, []).append(frame)
    actions = [a for s in scenarios for a in s.actions]
    assert actions
    for action in actions:
        assert action.action
        assert action.action_id is not None
        assert action.headers[0] == ("Action", action.action)
        assert len(responses.get(action.action_id, [])) == 1, action
    assert len(responses) == len(actions)


def test_ami_log_scenarios_and_connections(transcripts_dir: Path) -> None:
    scenarios = load_ami_log(transcripts_dir / "ami.log")
    assert [s.title for s in scenarios][:2] == ["login", "reconnect after the refused login"]
    assert len(scenarios) == 9
    assert [s.connection for s in scenarios] == [0] + [1] * 8

    first, second = scenarios[0], scenarios[1]
    kinds = [s.kind if isinstance(s, ServerFrame) else "action" for s in first.steps]
    assert kinds == ["action", "banner", "response", "eof"]
    assert first.frames[1].fields == (
        ("Response", "Error"),
        ("ActionID", "rec-1"),
        ("Message", "Authentication failed"),
    )
    login = second.actions[0]
    assert login.get("Secret") == "rec-secret"
    booted = second.events("FullyBooted")[0]
    assert booted.keys == ("Event", "Privilege", "Uptime", "LastReload", "Status")

    last = find_scenario(scenarios, "bad action")
    assert last.frames[-1].kind == "eof"
    command = next(a for a in last.actions if a.action == "Command")
    reply = last.response_to(command)
    assert reply is not None
    assert reply.keys[:3] == ("Response", "ActionID", "Message")
    assert reply.get("Message") == "Command output follows"
    outputs = reply.get_all("Output")
    assert len(outputs) == 6 and outputs[-1] == ""


def test_ami2_and_sip_logs_start_with_a_prologue(transcripts_dir: Path) -> None:
    for path in (transcripts_dir / "ami-2.log", transcripts_dir / "sip" / "ami-sip.log"):
        scenarios = load_ami_log(path)
        prologue = scenarios[0]
        assert prologue.title == PROLOGUE
        assert [a.action for a in prologue.actions] == ["Login"]
        assert prologue.frames[0].kind == "banner"
        assert all(s.connection == 0 for s in scenarios)


def test_sip_actions_have_no_blank_line_yet_end_where_output_starts(
    transcripts_dir: Path,
) -> None:
    scenarios = load_ami_log(transcripts_dir / "sip" / "ami-sip.log")
    actions = [a for s in scenarios for a in s.actions]
    assert [a.action for a in actions] == ["Login", "QueueStatus", "QueueStatus", "Logoff"]
    assert not any(a.blank_line_after for a in actions)
    assert actions[0].headers == (
        ("Action", "Login"),
        ("ActionID", "s1"),
        ("Username", "callcenter"),
        ("Secret", "rec-secret"),
    )


def test_replies_to_collects_list_items_and_originate_response(transcripts_dir: Path) -> None:
    scenarios = load_ami_log(transcripts_dir / "ami-2.log")
    astdb = find_scenario(scenarios, "AstDB")
    by_id = {a.action_id: a for a in astdb.actions}
    found = astdb.replies_to(by_id["rec2-26"])
    assert [f.name for f in found] == ["Success", "DBGetResponse", "DBGetComplete"]
    assert found[1].keys == ("Event", "Family", "Key", "Val", "ActionID")
    assert found[2].keys == ("Event", "ActionID", "EventList", "ListItems")
    originate = astdb.replies_to(by_id["rec2-24"])
    assert [f.name for f in originate] == ["Success", "OriginateResponse"]
    assert originate[1].keys[:4] == ("Event", "Privilege", "ActionID", "Response")
    missing = astdb.response_to(by_id["rec2-27"])
    assert missing is not None and missing.get("Message") == "Database entry not found"


def test_client_action_wire_bytes() -> None:
    action = ClientAction(1.0, (("Action", "Ping"), ("ActionID", "x")), 1)
    assert action.to_bytes() == b"Action: Ping\r\nActionID: x\r\n\r\n"
    frame = ServerFrame("response", (("Response", "Success"), ("Ping", "Pong")), 1)
    assert frame.to_bytes() == b"Response: Success\r\nPing: Pong\r\n\r\n"
    assert ServerFrame("banner", (), 1, text="Asterisk Call Manager/11.0.0").to_bytes() == (
        b"Asterisk Call Manager/11.0.0\r\n"
    )


def test_empty_values_keep_their_space(transcripts_dir: Path) -> None:
    scenarios = load_ami_log(transcripts_dir / "ami.log")
    added = find_scenario(scenarios, "QueueAdd").events("QueueMemberAdded")[0]
    assert added.get("PausedReason") == ""
    assert b"PausedReason: \r\n" in added.to_bytes()


@pytest.mark.parametrize(
    "text",
    [
        "Response: Success\nMessage: x\n",  # no blank line at the end
        "Response: Success\nbroken line\n\n",  # not Key: value
        "Channel: x\n\n",  # neither Response nor Event
        "\n",  # stray blank line
        "Event: X\n   1.000 >>> Action: Ping\n\n",  # action inside a message
        "   1.000 <<< something\n",  # unknown stamped line
    ],
)
def test_ami_parser_rejects_what_it_cannot_place(text: str) -> None:
    with pytest.raises(TranscriptError):
        parse_ami_log(text)


def test_ami_parser_reports_line_numbers() -> None:
    with pytest.raises(TranscriptError) as info:
        parse_ami_log("##### scenario: x\nEvent: A\nbad\n\n", "f.log")
    assert info.value.line_no == 3
    assert str(info.value).startswith("f.log:3:")


# --------------------------------------------------------------------------- AGI


@pytest.mark.parametrize("path", _agi_paths(), ids=lambda p: p.name)
def test_every_agi_session_is_well_formed(path: Path) -> None:
    session = load_agi_log(path)
    keys = [k for k, _ in session.env]
    assert keys[:3] == ["agi_network", "agi_network_script", "agi_request"]
    fixed_tail = ["agi_enhanced", "agi_accountcode", "agi_threadid"]
    args = keys[keys.index("agi_threadid") + 1 :]
    assert keys[len(keys) - len(args) - 3 : len(keys) - len(args)] == fixed_tail
    assert args == [f"agi_arg_{n}" for n in range(1, len(args) + 1)]
    assert session.env_value("agi_accountcode") == ""
    # the bytes Asterisk sent are the file's first block minus the recorder's stamp
    raw_env = path.read_text(encoding="utf-8").split("\n\n", 1)[0] + "\n\n"
    assert session.env_bytes() == re.sub(r"^ *\d+\.\d{3} <<< ", "", raw_env).encode()
    assert session.exchanges
    for exchange in session.exchanges:
        status = exchange.status
        assert status is not None, exchange
        assert exchange.replies[-1] == status  # nothing after the line that ends a reply
        before = [r.text for r in exchange.replies[:-1]]
        if exchange.code == 520:
            assert before[0] == "520-Invalid command syntax.  Proper usage follows:"
            assert status.text == "520 End of proper usage."
        else:
            assert before in ([], ["HANGUP"])
    assert session.end in ("closed", "none")


def test_agi_special_replies(transcripts_dir: Path) -> None:
    first = load_agi_log(transcripts_dir / "agi-1.log")
    by_command = {e.command: e for e in first.exchanges}
    assert by_command["NOOPX"].replies[0].text == "510 Invalid or unknown command"
    usage = by_command["STREAM FILE"]
    assert len(usage.replies) == 7
    assert usage.reply_bytes().startswith(b"520-Invalid command syntax.")
    assert usage.reply_bytes().endswith(b"\n520 End of proper usage.\n")
    assert by_command["GET VARIABLE CALLERID(num)"].replies[0].text == "200 result=1 (13900001111)"
    assert by_command["CHANNEL STATUS"].replies[0].text == "200 result=6"

    dead = load_agi_log(transcripts_dir / "agi-4.log")
    hung = [e for e in dead.exchanges if e.hangup]
    assert len(hung) == 1
    assert [r.text for r in hung[0].replies] == [
        "HANGUP",
        "511 Command Not Permitted on a dead channel or intercept routine",
    ]
    assert dead.exchanges[-1].replies[0].text == "200 result=1"  # SET VARIABLE still works

    sip = load_agi_log(transcripts_dir / "sip" / "agi-sip-1.log")
    assert sip.end == "none"
    assert sip.env_value("agi_type") == "PJSIP"
    assert sip.env_value("agi_dnid") == "043262345678"


@pytest.mark.parametrize(
    "text",
    [
        "agi_network: yes\n\n",  # environment not stamped
        "   1.000 <<< agi_network: yes\n",  # no blank line after the environment
        "   1.000 <<< agi_network: yes\n\n   1.001 <<< 200 result=0\n",  # reply w/o command
        "   1.000 <<< agi_network: yes\n\n   1.001 >>> ANSWER\nloose\n",
        "   1.000 <<< network: yes\n\n",  # not an agi_ key
    ],
)
def test_agi_parser_rejects_what_it_cannot_place(text: str) -> None:
    with pytest.raises(TranscriptError):
        parse_agi_log(text)


def test_scenario_helpers_on_a_small_log() -> None:
    text = (
        "   0.001 >>> Action: Ping\nActionID: a\n\n"
        "Asterisk Call Manager/11.0.0\n"
        "Response: Success\nActionID: a\nPing: Pong\nTimestamp: 1.000000\n\n"
        "##### scenario: second\n"
        "Event: X\nPrivilege: call,all\nA: \n\n"
    )
    prologue, second = parse_ami_log(text)
    assert isinstance(prologue, Scenario) and prologue.title == PROLOGUE
    assert [f.kind for f in prologue.frames] == ["banner", "response"]
    assert prologue.response_to(prologue.actions[0]) is prologue.frames[1]
    assert second.title == "second" and second.marker == "scenario: second"
    assert second.events("X")[0].fields[-1] == ("A", "")
    assert render_ami_log([prologue, second]) == text

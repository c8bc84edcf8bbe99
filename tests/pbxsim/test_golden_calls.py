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

from pbxsim.telephony.softphone import fixed_policy
from tests.pbxsim.replay import (
    Gap,
    InboundCall,
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


def queues_subset(source: Path, target: Path, keep: set[str]) -> Path:
    """queues.conf with only `[general]` and the `keep` queues."""
    out: list[str] = []
    section = ""
    for line in source.read_text(encoding="utf-8").splitlines():
        stripped = line.strip()
        if stripped.startswith("[") and "]" in stripped:
            section = stripped[1 : stripped.index("]")]
        if section == "general" or section in keep:
            out.append(line)
    target.write_text("\n".join(out) + "\n", encoding="utf-8")
    return target


@pytest.fixture(scope="module")
def ami_log_replay(transcripts_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> ReplayResult:
    # ami.log was recorded before record2.py's queues (q-ringall, q-penalty, q-strict)
    # were added to config/queues.conf: its QueueStatus lists hotline-general only
    queues = queues_subset(
        transcripts_dir / "config" / "queues.conf",
        tmp_path_factory.mktemp("ami-log") / "queues.conf",
        {"hotline-general"},
    )
    spec = ReplaySpec(
        ami_log=transcripts_dir / "ami.log",
        agi_logs=[transcripts_dir / f"agi-{n}.log" for n in (1, 2, 3, 4)],
        config_dir=transcripts_dir / "config",
        agi_down_from="AGI server down",
        queues_conf=queues,
    )
    return _run(spec)


#: Local device state is computed by Asterisk's devicestate thread some time after the
#: change that triggers it: when two calls of one Local device overlap, or a call ends
#: right after answering, the real values race (ami-2.log posts NOT_INUSE then INUSE for
#: one answer). pbxsim computes the state at the trigger. Event count and order are
#: still compared; only these State values are not.
LOCAL_DEVICE_RACE = Gap(
    r"^device:Local/patient@sim-caller$",
    "DeviceStateChange",
    "State",
    "Asterisk computes Local device state asynchronously; the transcript's values race",
)

REDIRECTED = r"^chan:Local/patient@sim-caller-#0;1$"

#: reviewed known gaps, per scenario title fragment
GAPS: dict[str, list[Gap]] = {
    "Redirect a waiting caller": [
        *(
            Gap(
                REDIRECTED,
                event,
                "Context,Exten,Priority",
                "Asterisk publishes the redirected caller's new location in the middle of "
                "app_queue's exit (between ANSWEREDTIME_MS and ABANDONED); pbxsim moves "
                "it when Queue() has cleaned up, so these events show the old location",
            )
            for event in ("VarSet", "QueueCallerAbandon", "QueueCallerLeave")
        ),
        Gap(
            REDIRECTED,
            "Newexten",
            "",
            "the same Newexten (new location, still naming Queue) comes four events "
            "later; test_telephony_core checks the Newexten sequence of a Redirect",
        ),
    ],
    "queue timeout": [LOCAL_DEVICE_RACE],
    "joinempty": [LOCAL_DEVICE_RACE],
}


def check(result: ReplayResult, needle: str) -> None:
    scenarios, recording, _spec = result
    scenario = find_scenario(scenarios, needle)
    expected, actual = scenario_frames(scenarios, recording, scenario.title)
    gaps = GAPS.get(needle, [])
    assert expected and actual, f"nothing to compare: {len(expected)} vs {len(actual)} frames"
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


#: the scenarios without calls, replayed as part of the whole log (the state they leave
#: behind -- members, paused flags, counters -- is what the call scenarios start from)
AMI_LOG_OTHERS = [
    "members join (QueueAdd)",
    "CoreShowChannels, Getvar, Command",
]


@pytest.mark.parametrize("needle", AMI_LOG_OTHERS)
def test_ami_log_other_scenario(ami_log_replay: ReplayResult, needle: str) -> None:
    check(ami_log_replay, needle)


@pytest.fixture(scope="module")
def ami2_log_replay(transcripts_dir: Path) -> ReplayResult:
    spec = ReplaySpec(
        ami_log=transcripts_dir / "ami-2.log",
        agi_logs=[transcripts_dir / "agi-2-1.log"],
        config_dir=transcripts_dir / "config",
    )
    return _run(spec)


AMI2_LOG_SCENARIOS = [
    "ringall",
    "penalty tiers",
    "QueuePenalty, device state",
    "caller priority",
    "Redirect a waiting caller",
    "queue timeout",
    "joinempty",
    "post-call survey",
    "Originate failures and AstDB",
]


@pytest.mark.parametrize("needle", AMI2_LOG_SCENARIOS)
def test_ami2_log_scenario(ami2_log_replay: ReplayResult, needle: str) -> None:
    check(ami2_log_replay, needle)


def test_ami2_log_agi_session(ami2_log_replay: ReplayResult) -> None:
    _scenarios, recording, spec = ami2_log_replay
    sessions = [load_agi_log(p) for p in spec.agi_logs]
    expected, actual = agi_frames(sessions, recording.agi)
    comparison = compare_frames(expected, actual)
    assert not comparison.differences, comparison.report()


def test_ami_log_agi_sessions(ami_log_replay: ReplayResult) -> None:
    _scenarios, recording, spec = ami_log_replay
    sessions = [load_agi_log(p) for p in spec.agi_logs]
    expected, actual = agi_frames(sessions, recording.agi)
    comparison = compare_frames(expected, actual)
    assert not comparison.differences, comparison.report()


# ----------------------------------------------------------------------------- sip/


def _sip_caller(n: int, start: float, digit_end: float) -> InboundCall:
    """sip/uac-caller.xml: INVITE to 043262345678, press 1 (a 280 ms RFC 4733 event
    that ends when the AGI's GET DATA returns), BYE 20 s after the digit."""
    digit_start = digit_end - 0.28
    return InboundCall(
        time=start,
        endpoint="trunk",
        exten="043262345678",
        caller_num=f"139000{n}",
        caller_name="caller",
        call_id=f"{n}-3952@127.0.0.2",
        digits=((digit_start, "1", 280),),
        hangup=digit_start + 20.0,
    )


@pytest.fixture(scope="module")
def sip_log_replay(transcripts_dir: Path) -> ReplayResult:
    sip = transcripts_dir / "sip"
    spec = ReplaySpec(
        ami_log=sip / "ami-sip.log",
        agi_logs=[sip / "agi-sip-1.log", sip / "agi-sip-2.log"],
        config_dir=transcripts_dir / "config",
        extensions_conf=sip / "extensions.conf",
        queues_conf=sip / "queues.conf",
        pjsip_conf=sip / "pjsip.conf",
        # times from agi-sip-1/2.log: the AGI starts when the call arrives, GET DATA
        # returns when the digit ends
        inbound=[_sip_caller(1, 2.515, 3.665), _sip_caller(2, 3.515, 4.661)],
        # sip/uas-seat.xml answers 1 s after its 180 (plus the 200 OK's trip). Caller 1
        # reaches its seat at ~3.67 and caller 2 joins the queue at ~4.67: a photo
        # finish that the recording shows caller 2 winning (Position 2, Count 2; caller
        # 1 leaves with Count 1). 1.1 s keeps that order whatever the replay's jitter.
        ring_policy=lambda _endpoint: fixed_policy(answer_delay=1.1),
        # each FastAGI command is a real round trip; at 10x a loaded machine's few
        # milliseconds become a tenth of a simulated second, enough to reorder the two
        # calls above, so this log is replayed at 5x
        speed=5.0,
    )
    return _run(spec)


#: not simulated on purpose: RTP statistics. RTCPSent reports and the RTPAUDIOQOS*
#: variables chan_pjsip sets at hangup describe the media stream, which pbxsim does
#: not carry.
SIP_MEDIA = [
    Gap(r"^chan:PJSIP/", "RTCPSent", "", "pbxsim carries no RTP, so no RTCP reports"),
    Gap(
        r"^chan:PJSIP/",
        "VarSet",
        "",
        "RTP quality statistics of a stream pbxsim does not carry",
        variable=r"RTPAUDIOQOS\w*",
    ),
]

#: a caller that hangs up while bridged (SIP BYE): Asterisk posts AgentComplete, then
#: the caller's BridgeLeave, then Queue()'s exit variables including
#: QUEUESTATUS=CONTINUE (option c). Pbx.remote_hangup offers that order (interrupt hook,
#: BridgeLeave, then the caller's on_exit callbacks), but app_queue finishes Queue()
#: inside the interrupt hook -- so its exit variables and the SoftHangupRequest come
#: before the BridgeLeave -- and sets QUEUESTATUS only after an agent hangup.
SIP_CALLER_HANGUP = [
    Gap(
        r"^chan:PJSIP/trunk-#\d+$",
        "BridgeLeave",
        "",
        "app_queue returns from Queue() in its interrupt hook, before the BridgeLeave",
    ),
    Gap(
        r"^chan:PJSIP/trunk-#\d+$",
        "VarSet",
        "",
        "app_queue sets no QUEUESTATUS=CONTINUE when the caller hung up in the bridge",
        variable="QUEUESTATUS",
    ),
]

SIP_CALLER_HANGUP.append(
    Gap(
        r"^chan:PJSIP/trunk-#1$",
        "AgentComplete",
        "",
        "app_queue's AgentComplete races with the bridge clearing BRIDGEPEER: this log's "
        "first call posts it after BRIDGEPEER is cleared (as pbxsim does), the second "
        "before",
    )
)

#: the seat's device change (INUSE on the 200 OK) reaches app_queue before or after it
#: marks the member in call; Asterisk posted the status with InCall 0 for seat 1002
SEAT_INCALL_RACE = Gap(
    r"^member:hotline-general:PJSIP/1002$",
    "QueueMemberStatus",
    "InCall",
    "device state thread vs app_queue marking the member in call: a race in Asterisk",
)

GAPS["two SIP callers"] = [*SIP_MEDIA, *SIP_CALLER_HANGUP, SEAT_INCALL_RACE]


def test_sip_log_scenario(sip_log_replay: ReplayResult) -> None:
    check(sip_log_replay, "two SIP callers")


def test_sip_log_agi_sessions(sip_log_replay: ReplayResult) -> None:
    _scenarios, recording, spec = sip_log_replay
    sessions = [load_agi_log(p) for p in spec.agi_logs]
    expected, actual = agi_frames(sessions, recording.agi)
    comparison = compare_frames(expected, actual)
    assert not comparison.differences, comparison.report()

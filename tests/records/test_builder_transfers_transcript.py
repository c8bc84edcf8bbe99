"""Transfer legs built from real Asterisk 22's events (transfers/ami-xfer.log), with the
transcript's context named as the rendered dialplan names it (`xfer-targets` there,
`hotline-transfer-targets` here): the blind transfer to a unit and the attended
transfer to 110 each leave one leg, completed, and make the call `transferred`."""

from __future__ import annotations

from pathlib import Path

from ami import events as ev
from tests.records.feed import build, transcript_events


def renamed_log(transcripts_dir: Path, tmp_path: Path) -> Path:
    text = (transcripts_dir / "transfers" / "ami-xfer.log").read_text(encoding="utf-8")
    path = tmp_path / "ami-xfer.log"
    path.write_text(text.replace("xfer-targets", "hotline-transfer-targets"), encoding="utf-8")
    return path


def test_blind_and_attended_transfers_of_real_asterisk(
    transcripts_dir: Path, tmp_path: Path
) -> None:
    records, scenario_of, _ = build(renamed_log(transcripts_dir, tmp_path))
    by_title = {scenario_of[k].split(" ")[0]: r for k, r in records.items()}
    blind, attended = by_title["blind"], by_title["attended"]

    (leg,) = blind.transfers
    assert (leg["kind"], leg["to"], leg["state"], leg["status"]) == (
        "blind",
        "043263110058",
        "completed",
        "ANSWER",
    )
    assert leg["started"] <= leg["answered"] <= leg["ended"]
    assert (blind.disposition, blind.hangup_by, blind.seat) == (
        "transferred",
        "transfer",
        "seat-1001",
    )

    (leg,) = attended.transfers
    assert (leg["kind"], leg["to"], leg["state"], leg["status"]) == (
        "consult",
        "110",
        "completed",
        "ANSWER",
    )
    assert leg["answered"] is not None and leg["ended"] is not None
    assert (attended.disposition, attended.hangup_by) == ("transferred", "transfer")


def test_transfer_and_conference_events_parse(transcripts_dir: Path) -> None:
    events = [e for _, _, e in transcript_events(transcripts_dir / "transfers" / "ami-xfer.log")]
    (blind,) = [e for e in events if isinstance(e, ev.BlindTransfer)]
    assert blind.channel is not None and blind.dest is not None
    assert (blind.channel.channel, blind.dest.channel) == (
        "PJSIP/trunk-00000000",
        "PJSIP/1001-00000001",
    )
    assert (blind.result, blind.context, blind.extension) == (
        "Success",
        "xfer-targets",
        "043263110058",
    )
    (attended,) = [e for e in events if isinstance(e, ev.AttendedTransfer)]
    assert attended.channel is not None and attended.channel.linkedid == "1796170332.3"
    assert attended.dest is not None and attended.dest.channel == "PJSIP/1002-00000004"
    assert (attended.result, attended.dest_type) == ("Success", "Bridge")
    assert attended.transfer_target_channel == "Local/110@xfer-targets-00000000;1"
    joins = [e for e in events if isinstance(e, ev.ConfbridgeJoin)]
    leaves = [e for e in events if isinstance(e, ev.ConfbridgeLeave)]
    assert [e.conference for e in joins] == ["900"] * 3
    assert [e.channel.channel for e in leaves if e.channel] == [
        "PJSIP/1003-00000007",
        "PJSIP/trunk-00000006",
        "PJSIP/trunk-00000008",
    ]

"""Call records built from real Asterisk's event streams: one record per Linkedid, and
queue exits classified the way the city reports them (a redirect or a timeout also
emits QueueCallerAbandon; only a caller hanging up is an abandon)."""

from __future__ import annotations

from pathlib import Path

from tests.records.feed import build, transcript_events


def by_scenario(path: Path) -> dict[str, list]:  # type: ignore[type-arg]
    records, scenario_of, builder = build(path)
    assert not builder.open, "every call of the transcript ended"
    out: dict[str, list] = {}  # type: ignore[type-arg]
    for linkedid, record in records.items():
        out.setdefault(scenario_of[linkedid].split(":")[0], []).append(record)
    return out


def test_one_record_per_linkedid(transcripts_dir: Path) -> None:
    path = transcripts_dir / "ami-2.log"
    linkedids = {
        e.channel.linkedid
        for _, _, e in transcript_events(path)
        if getattr(e, "channel", None) is not None and e.channel.linkedid  # type: ignore[attr-defined]
    }
    records, _, _ = build(path)
    assert set(records) == linkedids


def test_queue_exits_of_ami2(transcripts_dir: Path) -> None:
    s = by_scenario(transcripts_dir / "ami-2.log")
    (ringall,) = s["ringall"]
    assert ringall.disposition == "answered" and ringall.hangup_by == "agent"
    assert [r["outcome"] for r in ringall.rings] == ["answered", "cancelled", "cancelled"]
    assert ringall.seat and ringall.talk_s > 0

    hung_up, redirected = sorted(
        s["Redirect a waiting caller out of the queue (transfer), Hangup another (AMI Hangup)"],
        key=lambda r: r.caller,
    )
    assert redirected.caller == "13800000004"
    assert redirected.disposition == "transferred" and redirected.queue_exit == "redirected"
    assert redirected.transfers[0]["to"] == "transfer-out,043262345678"
    assert hung_up.disposition == "abandoned" and hung_up.queue_exit == "abandoned"

    (timeout,) = s["queue timeout"]
    assert timeout.queue_exit == "timeout" and timeout.disposition == "fallback_routed"
    assert timeout.wait_s == 4

    (refused,) = s["joinempty"]
    assert refused.queues == [] and refused.queue_exit == "refused"  # never offered

    (surveyed,) = s["post-call survey"]
    assert surveyed.disposition == "answered" and surveyed.ivr_keys == "2"


def test_abandon_ring_no_answer_and_fallback_of_ami1(transcripts_dir: Path) -> None:
    s = by_scenario(transcripts_dir / "ami.log")
    (abandoned,) = s["pause, then a caller who abandons"]
    assert abandoned.disposition == "abandoned" and abandoned.wait_s == 5
    (rna,) = s["ring no answer, then unpause, member removed"]
    assert [r["outcome"] for r in rna.rings] == ["no_answer"] * 3 + ["answered"]
    assert all(r["ring_s"] == 4.0 for r in rna.rings[:3])
    (ivr_hangup,) = s["caller hangs up inside the IVR (AGI HANGUP)"]
    assert ivr_hangup.disposition == "ivr_only" and ivr_hangup.wait_s is None
    (legacy,) = s["caller dials a legacy number, IVR over FastAGI, queue, agent answers"]
    assert legacy.dialed == "043262345678" and legacy.ivr_keys == "1"
    (fallback,) = s["AGI server down -> fallback path"]
    assert fallback.fallback and fallback.disposition == "answered"


def test_sip_calls_keep_the_recording(transcripts_dir: Path) -> None:
    records, _, _ = build(transcripts_dir / "sip" / "ami-sip.log")
    assert len(records) == 2
    for record in records.values():
        assert record.recording.endswith(f"{record.linkedid}.wav")
        assert record.dialed == "043262345678" and record.disposition == "answered"


def test_replayed_events_make_no_second_record(transcripts_dir: Path) -> None:
    from callcenter.records.builder import FinishedCall, RecordBuilder

    finished: list[FinishedCall] = []
    builder = RecordBuilder(lambda: 1.0, finished.append)
    events = [e for _, _, e in transcript_events(transcripts_dir / "ami.log")]
    for event in events:
        builder.apply("pbx1", event)
    first = len(finished)
    for event in events:  # the whole stream again (a replay after a resync)
        builder.apply("pbx1", event)
    assert len(finished) == first and not builder.open

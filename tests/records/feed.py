"""Feeds real Asterisk transcripts (or any event list) through the record builder."""

from __future__ import annotations

from pathlib import Path

from ami.events import AmiEvent, parse_event
from ami.frames import parse_frame
from callcenter.records.builder import FinishedCall, RecordBuilder
from tests.pbxsim.transcript import ClientAction, load_ami_log


class StepClock:
    def __init__(self) -> None:
        self.t = 1_795_000_000.0

    def __call__(self) -> float:
        return self.t


def transcript_events(path: Path) -> list[tuple[str, float, AmiEvent]]:
    """(scenario title, recorder time, event) for every unsolicited event of a log."""
    out: list[tuple[str, float, AmiEvent]] = []
    for scenario in load_ami_log(path):
        t = 0.0
        for step in scenario.steps:
            if isinstance(step, ClientAction):
                t = step.time
                continue
            if step.kind != "event" or step.action_id is not None:
                continue
            frame = parse_frame(step.to_bytes().removesuffix(b"\r\n\r\n"))
            out.append((scenario.title, t, parse_event(frame)))
    return out


def build(path: Path) -> tuple[dict[str, FinishedCall], dict[str, str], RecordBuilder]:
    """Records by linkedid, the scenario each one finished in, and the builder."""
    clock = StepClock()
    finished: list[FinishedCall] = []
    builder = RecordBuilder(clock, finished.append)
    scenario_of: dict[str, str] = {}
    for title, t, event in transcript_events(path):
        clock.t = 1_795_000_000.0 + t
        before = len(finished)
        builder.apply("pbx1", event)
        for record in finished[before:]:
            scenario_of[record.linkedid] = title
    return {r.linkedid: r for r in finished}, scenario_of, builder

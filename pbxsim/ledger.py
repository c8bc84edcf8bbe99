"""What the simulated people did, call by call: the ground truth a test compares the
product's call records and KPIs with.

`DemoTraffic` writes one `CallOutcome` per call it placed, from its own knowledge: the
caller model (arrival, keys it pressed, when its patience ran out, the survey key it
gave), the seats' softphones (which one rang, answered, hung up) and the caller's
channel (the queue entry app_queue made for it, when it was destroyed). Nothing here is
read back from the AMI stream the product sees, so a bug in pbxsim's events or in the
product's reading of them cannot hide behind the ledger.

Times are simulated Unix seconds of the PBX clock (app_queue's own `HoldTime` is whole
seconds of that clock: `int(t1) - int(t0)`). Under `AsyncioScheduler` the clock also
moves while one synchronous step runs (real time x speed), so durations whose end the
caller or a seat caused are kept as [min, max] intervals bracketing that step.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any

#: what became of a call that joined a queue
QUEUE_EXITS = ("answered", "gave_up", "timeout", "left", "")


@dataclass
class Ring:
    """A seat's phone rang for this call."""

    seat: str  # the softphone's endpoint, e.g. "1001"
    at: float
    #: ringing -> answered | not_answered (the PBX stopped ringing the phone: it rang
    #: out, or the caller left; which of the two app_queue decided is its business)
    outcome: str = "ringing"
    ended_at: float | None = None  # when the phone stopped ringing or the call ended


@dataclass
class CallOutcome:
    """One call the traffic placed on the trunk, and everything that became of it."""

    index: int
    linkedid: str  # the caller's channel Uniqueid (a trunk call starts its own link)
    caller_number: str
    dialed_number: str
    legacy: bool
    arrival: float
    ivr_keys: str = ""  # digits actually sent, in order
    queue: str = ""  # the first queue joined ("" never queued)
    joined_at: float | None = None
    rings: list[Ring] = field(default_factory=list)
    answered_at: float | None = None
    seat: str = ""  # the endpoint whose phone answered
    #: answered | gave_up (the caller hung up waiting) | timeout (Queue()'s own limit) |
    #: left_with_key (a key of the queue's context took it out, and it never came back:
    #: its wait ends there) | left (out of the queue some other way) | "" (never queued)
    queue_exit: str = ""
    #: seconds from joining the queue to leaving it (answer, giving up, timeout), as
    #: an interval: the PBX clock runs on while one step is processed, so an exit the
    #: caller or a seat caused is known to lie between its cause and the step's end
    #: (an answer's time is app_queue's own: exact, waited == waited_max)
    waited: float | None = None
    waited_max: float | None = None
    #: seconds from the seat's answer to the bridge's end (interval, as `waited`)
    talk_time: float | None = None
    talk_time_max: float | None = None
    #: who ended it: caller | agent | pbx (the dialplan, e.g. after a queue timeout)
    hangup_by: str = ""
    #: the keys delivered during the satisfaction survey: one rating, keyed again
    #: until the survey ends the call ("" none)
    survey_key: str = ""
    ended_at: float | None = None

    @property
    def ended(self) -> bool:
        return self.ended_at is not None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class Ledger:
    """Every call's outcome, in the order the calls arrived; optionally also written as
    JSON lines (one per call, when the call has ended) to `sink`."""

    def __init__(self, sink: IO[str] | None = None) -> None:
        self.calls: list[CallOutcome] = []
        self.finished = 0
        self._sink = sink

    @classmethod
    def to_file(cls, path: str | Path) -> Ledger:
        """A ledger that also appends each finished call to `path` (JSONL)."""
        return cls(Path(path).open("a", encoding="utf-8"))

    def __iter__(self) -> Iterator[CallOutcome]:
        return iter(self.calls)

    def __len__(self) -> int:
        return len(self.calls)

    def open(self, outcome: CallOutcome) -> CallOutcome:
        self.calls.append(outcome)
        return outcome

    def close_call(self, outcome: CallOutcome) -> None:
        """The call has ended: its line goes to the sink."""
        self.finished += 1
        if self._sink is not None:
            self._sink.write(json.dumps(outcome.to_json(), ensure_ascii=False) + "\n")
            self._sink.flush()

    @property
    def in_progress(self) -> int:
        return len(self.calls) - self.finished

    def close(self) -> None:
        if self._sink is not None:
            self._sink.close()
            self._sink = None

"""Golden replay: play a real-Asterisk AMI transcript against pbxsim and compare.

`replay_log()` starts pbxsim (a `build_pbx` core behind an `AmiServer`, on an
`AsyncioScheduler` running `speed` times faster than the recording) configured with the
transcript's own `config/`, sends every client action at its recorded time (scaled),
serves FastAGI by playing the `>>>` side of the agi-*.log sessions, and records every
frame pbxsim sends with the simulated time it arrived. Frames are assigned to scenarios
by time: a scenario runs from its first action to the next scenario's first action,
which is how the recorder wrote its markers.

`compare_scenario()` then checks what pbxsim/README.md "Golden fidelity" asks for:

1. per channel (names normalised), the ordered list of its events with their field
   names in order and their values, except ids and times;
2. the relative order of the queue/dial events of one call -- they carry the caller in
   `Channel`, so they are part of the caller's channel stream;
3. every reply to an action (by ActionID): field names, order and texts.

Streams: a channel's events (`chan:<name>`), its CDRs (`cdr:<name>`: cdr_manager posts
from its own thread, so their position among the channel's events is not
reproducible), a device's state changes (`device:<name>`), a queue member's events
(`member:<queue>:<interface>`), bridges (`bridge:<n>`), replies (`reply:<ActionID>`)
and FastAGI sessions (`agi:<n>`). Asterisk runs each channel in its own thread, so
the interleaving *between* streams is not compared.

Normalisation: Local/PJSIP name counters become per-base sequence numbers in order of
first appearance; Uniqueid/Linkedid values become the name of the channel they
identify; times and durations become `<time>`; the bridge UUID becomes a sequence
number. Everything else is compared verbatim.

Known gaps are declared in `Gap` lists next to the tests, each with its reason; a gap
that no longer shows up fails the test (it must be removed), so nothing is loosened
silently.
"""

from __future__ import annotations

import asyncio
import difflib
import random
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from pbxsim.ami_server import AmiServer
from pbxsim.clock import AsyncioScheduler
from pbxsim.events import EventBus
from pbxsim.telephony.dial import FarEndPolicy
from pbxsim.telephony.pbx import PbxSystem, build_pbx
from pbxsim.telephony.softphone import RingPolicy
from tests.pbxsim.transcript import (
    AgiSession,
    ClientAction,
    Scenario,
    ServerFrame,
    load_agi_log,
    load_ami_log,
)

Fields = tuple[tuple[str, str], ...]

# ----------------------------------------------------------------------------- recording


@dataclass(frozen=True)
class Frame:
    """One message pbxsim (or Asterisk) sent, with the simulated time it arrived."""

    time: float
    fields: Fields
    kind: str = "frame"  # "frame" | "banner" | "eof"

    @property
    def name(self) -> str:
        return self.get("Event") or self.get("Response") or ""

    def get(self, key: str) -> str | None:
        for k, v in self.fields:
            if k == key:
                return v
        return None


@dataclass
class AgiRecord:
    """One FastAGI session as the replay's server saw it."""

    script: str
    env: Fields
    exchanges: list[tuple[str, list[str]]] = field(default_factory=list)


@dataclass
class Recording:
    frames: list[Frame] = field(default_factory=list)
    agi: list[AgiRecord] = field(default_factory=list)
    #: simulated time each scenario started (its first action), by title
    starts: dict[str, float] = field(default_factory=dict)


class _FrameReader:
    """Splits the AMI byte stream into the banner and `Key: value` messages."""

    def __init__(self) -> None:
        self.banner_seen = False

    async def read(self, reader: asyncio.StreamReader) -> tuple[str, Fields] | None:
        if not self.banner_seen:
            line = await reader.readline()
            if not line:
                return None
            self.banner_seen = True
            return "banner", (("Banner", line.decode().rstrip("\r\n")),)
        fields: list[tuple[str, str]] = []
        while True:
            line = await reader.readline()
            if not line:
                return None
            text = line.decode().rstrip("\r\n")
            if text == "":
                if fields:
                    return "frame", tuple(fields)
                continue
            key, _, value = text.partition(": ")
            fields.append((key, value))


@dataclass(frozen=True)
class InboundCall:
    """A call the network places on a PJSIP endpoint (SIPp in the transcripts).

    Times are seconds since the recording started."""

    time: float
    endpoint: str
    exten: str
    caller_num: str
    caller_name: str
    call_id: str
    #: (time, digit, duration in ms) of RFC 4733 digits
    digits: tuple[tuple[float, str, int], ...] = ()
    #: when the caller sends BYE
    hangup: float | None = None


@dataclass
class ReplaySpec:
    """What to replay: an AMI log, its FastAGI sessions, and the configs."""

    ami_log: Path
    agi_logs: list[Path]
    config_dir: Path
    #: title fragment of the scenario from which the FastAGI server is down
    agi_down_from: str | None = None
    speed: float = 10.0
    #: simulated seconds to keep recording after the last action
    tail: float = 2.0
    #: overrides of the config files (the sip/ rig has its own)
    extensions_conf: Path | None = None
    queues_conf: Path | None = None
    pjsip_conf: Path | None = None
    inbound: list[InboundCall] = field(default_factory=list)
    #: how the PJSIP seats answer (None: build_pbx's default)
    ring_policy: Callable[[str], RingPolicy] | None = None
    #: how the carrier's parties behind a trunk answer (None: build_pbx's default)
    far_end: FarEndPolicy | None = None


class FastAgiPlayer:
    """Serves FastAGI by playing the `>>>` side of the recorded sessions, per script
    name in recording order, reading replies the way the recorders did."""

    def __init__(self, sessions: list[AgiSession], recording: Recording) -> None:
        self._queues: dict[str, list[AgiSession]] = {}
        for session in sessions:
            script = session.env_value("agi_network_script") or ""
            self._queues.setdefault(script, []).append(session)
        self._recording = recording
        self.server: asyncio.Server | None = None

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return int(self.server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()
            self.server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        env: list[tuple[str, str]] = []
        try:
            while True:
                line = await reader.readline()
                if not line or line in (b"\n", b"\r\n"):
                    break
                key, _, value = line.decode().rstrip("\n").partition(": ")
                env.append((key, value))
            script = dict(env).get("agi_network_script", "")
            record = AgiRecord(script, tuple(env))
            self._recording.agi.append(record)
            queue = self._queues.get(script) or []
            if not queue:
                return
            session = queue.pop(0)
            for exchange in session.exchanges:
                writer.write(exchange.command.encode() + b"\n")
                await writer.drain()
                replies: list[str] = []
                record.exchanges.append((exchange.command, replies))
                while True:
                    raw = await reader.readline()
                    if not raw:
                        return
                    text = raw.decode().rstrip("\n")
                    replies.append(text)
                    if text.startswith("520-") or text == "HANGUP":
                        continue
                    if text[:3].isdigit():
                        break
        finally:
            writer.close()


async def replay_log(spec: ReplaySpec) -> tuple[list[Scenario], Recording]:
    """Play a whole AMI log against a fresh pbxsim; returns the transcript and recording."""
    scenarios = load_ami_log(spec.ami_log)
    sessions = [load_agi_log(p) for p in spec.agi_logs]
    recording = Recording()
    loop = asyncio.get_running_loop()
    scheduler = AsyncioScheduler(loop, speed=spec.speed)
    bus = EventBus()
    system: PbxSystem = build_pbx(
        scheduler,
        bus,
        random.Random(12345),
        extensions_conf=spec.extensions_conf or spec.config_dir / "extensions.conf",
        queues_conf=spec.queues_conf or spec.config_dir / "queues.conf",
        manager_conf=spec.config_dir / "manager.conf",
        pjsip_conf=spec.pjsip_conf,
        ring_policy=spec.ring_policy,
        far_end=spec.far_end,
    )
    player = FastAgiPlayer(sessions, recording)
    agi_port = await player.start()
    system.pbx.agi_connect_to = ("127.0.0.1", agi_port)
    server = AmiServer(
        scheduler, bus, system.actions, system.users, system.cli, port=0, authtimeout=3600
    )
    await server.start()
    t0 = scheduler.now()
    for call in spec.inbound:
        scheduler.call_at(t0 + call.time, _place_call, system, scheduler, t0, call)

    connection: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
    pumps: list[asyncio.Task[None]] = []

    async def pump(reader: asyncio.StreamReader) -> None:
        frames = _FrameReader()
        while True:
            item = await frames.read(reader)
            now = scheduler.now() - t0
            if item is None:
                recording.frames.append(Frame(now, (), "eof"))
                return
            kind, fields = item
            recording.frames.append(Frame(now, fields, kind))

    writers: list[asyncio.StreamWriter] = []  # kept: a dropped writer closes its socket

    async def connect() -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        pumps.append(asyncio.create_task(pump(reader)))
        writers.append(writer)
        return reader, writer

    try:
        last = 0.0
        for scenario in scenarios:
            first = True
            if scenario.steps and isinstance(scenario.steps[0], ServerFrame):
                # output before the scenario's first action (calls from the network):
                # the recorder wrote the marker about when its previous action settled
                recording.starts[scenario.title] = last + 0.5
                first = False
            agi_down = bool(spec.agi_down_from and spec.agi_down_from in scenario.title)
            player_stopped = False
            for step in scenario.steps:
                if isinstance(step, ServerFrame):
                    if step.kind == "eof":
                        connection = None  # the server closed; the next action reconnects
                    continue
                assert isinstance(step, ClientAction)
                delay = t0 + step.time - scheduler.now()
                if delay > 0:
                    await scheduler.sleep(delay)
                if first:
                    recording.starts[scenario.title] = scheduler.now() - t0
                first = False
                if agi_down and not player_stopped:
                    player_stopped = True
                    await player.stop()  # connections to agi_port are now refused
                if connection is None or connection[1].is_closing():
                    connection = await connect()
                    await asyncio.sleep(0.01)
                connection[1].write(step.to_bytes())
                await connection[1].drain()
                last = step.time
            if first:
                recording.starts.setdefault(scenario.title, scheduler.now() - t0)
        await scheduler.sleep(max(0.0, t0 + last + spec.tail - scheduler.now()))
    finally:
        for writer in writers:
            writer.close()
        await server.stop()
        await player.stop()
        for task in pumps:
            task.cancel()
    return scenarios, recording


def _place_call(
    system: PbxSystem, scheduler: AsyncioScheduler, t0: float, call: InboundCall
) -> None:
    phone = system.endpoints[call.endpoint]
    channel = phone.incoming(call.exten, call.caller_num, call.caller_name, call_id=call.call_id)
    for when, digit, duration in call.digits:
        scheduler.call_at(t0 + when, phone.press, channel, digit, duration)
    if call.hangup is not None:
        scheduler.call_at(t0 + call.hangup, phone.bye, channel)


# ----------------------------------------------------------------------------- compare

#: clocks: compared as empty / zero ("never") / some time
TIME_FIELDS = {
    "Timestamp",
    "Uptime",
    "LastReload",
    "StartTime",
    "AnswerTime",
    "EndTime",
    "LoginTime",
    "LastCall",
    "LastPause",
    "agi_threadid",
}
#: durations: whole seconds of wall-clock arithmetic in Asterisk (`time(NULL)`
#: differences), so 0 and 1 are both legitimate for the same wait; compared as
#: empty / some duration
DURATION_FIELDS = {
    "Duration",
    "BillableSeconds",
    "HoldTime",
    "TalkTime",
    "RingTime",
    "Wait",
    "Holdtime",
    "LongestHoldTime",
}
#: channel variables whose values are clocks
TIME_VARIABLES = {
    "QUEUEWAIT",
    "QUEUEWAIT_MS",
    "ANSWEREDTIME",
    "ANSWEREDTIME_MS",
    "DIALEDTIME",
    "DIALEDTIME_MS",
}
ID_FIELD = re.compile(r"(Uniqueid|Linkedid|UniqueID|agi_uniqueid)$")
NAME_FIELD = re.compile(r"(Channel|BRIDGEPEER)$")
_UNIQUEID = re.compile(r"\b\d{9,}\.\d+\b")
_COUNTED = re.compile(r"((?:Local|PJSIP)/[^\s;,]*?)-([0-9a-f]{8})(?=;[12]|\b)")


class Normaliser:
    """Per-side normalisation of names, ids and times (see module docstring)."""

    def __init__(self, frames: Iterable[Fields]) -> None:
        self._suffix: dict[tuple[str, str], int] = {}
        self._counts: dict[str, int] = {}
        self._uid: dict[str, str] = {}
        self._bridges: dict[str, str] = {}
        for fields in frames:
            for _key, value in fields:
                for m in _COUNTED.finditer(value):
                    self._number(m.group(1), m.group(2))
            d = dict(fields)
            for prefix in ("", "Dest", "LocalOne", "LocalTwo"):
                uid = d.get(f"{prefix}Uniqueid")
                chan = d.get(f"{prefix}Channel")
                if uid and chan and uid not in self._uid:
                    self._uid[uid] = self.name(chan)

    def _number(self, base: str, suffix: str) -> int:
        key = (base, suffix)
        if key not in self._suffix:
            self._suffix[key] = self._counts.get(base, 0)
            self._counts[base] = self._suffix[key] + 1
        return self._suffix[key]

    def name(self, text: str) -> str:
        return _COUNTED.sub(lambda m: f"{m.group(1)}-#{self._number(m.group(1), m.group(2))}", text)

    def uid(self, value: str) -> str:
        if value in ("", "<unknown>", "none"):
            return value
        if value in self._uid:
            return f"<id of {self._uid[value]}>"
        return "<id>"

    def ids_in(self, text: str) -> str:
        """Uniqueids inside other values (MixMonitor's `${UNIQUEID}.wav`)."""
        return _UNIQUEID.sub(lambda m: self.uid(m.group(0)), text)

    def bridge(self, value: str) -> str:
        if value not in self._bridges:
            self._bridges[value] = f"<bridge {len(self._bridges)}>"
        return self._bridges[value]

    def fields(self, fields: Fields) -> Fields:
        out: list[tuple[str, str]] = []
        variable = dict(fields).get("Variable")
        for key, value in fields:
            if key in TIME_FIELDS:
                value = "<time>" if value not in ("", "0") else value
            elif key in DURATION_FIELDS:
                value = "<time>" if value else value
            elif ID_FIELD.search(key):
                value = self.uid(value)
            elif key == "BridgeUniqueid" or key == "BridgeId":
                value = self.bridge(value) if value else value
            elif key == "Value" and variable == "EPOCH":
                value = "<time>" if value else value
            elif key == "Value" and variable in TIME_VARIABLES:
                value = "<time>" if value else value
            elif key == "Value" and variable == "BRIDGEPVTCALLID":
                value = "<sip call-id>" if value else value
            elif key == "Value" and variable == "MIXMONITOR_FILENAME":
                value = self.ids_in(re.sub(r"^.*/monitor/", "<spool>/monitor/", value))
            elif key == "Output":
                # CLI text with wall-clock ages ("last was 7 secs ago")
                value = re.sub(r"\b\d+ secs ago", "<time> secs ago", self.name(value))
                value = re.sub(
                    r"\(\d+s holdtime, \d+s talktime\)", "(<time> holdtime, <time> talktime)", value
                )
            else:
                value = self.ids_in(self.name(value))
            out.append((key, value))
        return tuple(out)


def stream_key(fields: Fields, norm: Normaliser) -> str:
    d = dict(fields)
    event = d.get("Event", "")
    if "Response" in d or (event and "ActionID" in d):
        return f"reply:{d.get('ActionID', '')}"
    if event == "Cdr":
        return f"cdr:{norm.name(d.get('Channel', ''))}"
    if event == "DeviceStateChange":
        return f"device:{norm.name(d.get('Device', ''))}"
    if event.startswith("QueueMember"):
        return f"member:{d.get('Queue', '')}:{norm.name(d.get('Interface', ''))}"
    if event in ("BridgeCreate", "BridgeDestroy"):
        return f"bridge:{norm.bridge(d.get('BridgeUniqueid', ''))}"
    for key in ("Channel", "LocalOneChannel", "DestChannel"):
        if d.get(key):
            return f"chan:{norm.name(d[key])}"
    return f"other:{event}"


@dataclass(frozen=True)
class Gap:
    """A known difference, reviewed: why pbxsim cannot (yet) match Asterisk here.

    `stream` is a regex on the stream key; `event` an event name (or "*"); `field` the
    comma-separated names of fields whose values are not compared, or "" to take those
    events out of the comparison on both sides.
    """

    stream: str
    event: str
    field: str
    reason: str
    #: only events whose `Variable` matches this regex (VarSet), when given
    variable: str = ""

    def matches(self, key: str, event: str, variable: str | None = None) -> bool:
        if re.search(self.stream, key) is None or self.event not in ("*", event):
            return False
        return not self.variable or re.fullmatch(self.variable, variable or "") is not None


@dataclass
class Comparison:
    differences: dict[str, list[str]] = field(default_factory=dict)
    used_gaps: set[Gap] = field(default_factory=set)
    streams: int = 0

    def report(self) -> str:
        out: list[str] = []
        for key, lines in sorted(self.differences.items()):
            out.append(f"=== {key}")
            out.extend(lines)
        return "\n".join(out)


def _render(fields: Fields) -> str:
    return " | ".join(f"{k}: {v}" for k, v in fields)


def _apply_gaps(key: str, items: list[Fields], gaps: Iterable[Gap]) -> list[Fields]:
    """The stream with the gaps applied: events taken out, fields masked."""
    out: list[Fields] = []
    for fields in items:
        d = dict(fields)
        event = d.get("Event", d.get("Response", ""))
        keep: Fields | None = fields
        for gap in gaps:
            if not gap.matches(key, event, d.get("Variable")):
                continue
            if not gap.field:
                keep = None
                break
            names = set(gap.field.split(","))
            if any(k in names for k, _ in fields):
                keep = tuple((k, "<not compared>" if k in names else v) for k, v in keep or ())
        if keep is not None:
            out.append(keep)
    return out


def _streams(frames: list[Fields]) -> dict[str, list[Fields]]:
    norm = Normaliser(frames)
    streams: dict[str, list[Fields]] = {}
    for fields in frames:
        key = stream_key(fields, norm)
        normalised = norm.fields(fields)
        if key.startswith("reply:"):
            # the ActionID is the key; OriginateResponse carries Privilege like any event
            normalised = tuple((k, v) for k, v in normalised if k != "Privilege")
        streams.setdefault(key, []).append(normalised)
    return streams


def compare_frames(
    expected: list[Fields], actual: list[Fields], gaps: Iterable[Gap] = ()
) -> Comparison:
    gaps = list(gaps)
    want = _streams(expected)
    got = _streams(actual)
    result = Comparison()
    for key in sorted(set(want) | set(got)):
        result.streams += 1
        raw_w, raw_g = want.get(key, []), got.get(key, [])
        w = _apply_gaps(key, raw_w, gaps)
        g = _apply_gaps(key, raw_g, gaps)
        base_w = [_render(f) for f in raw_w]
        base_g = [_render(f) for f in raw_g]
        lines_w = [_render(f) for f in w]
        lines_g = [_render(f) for f in g]
        if base_w != base_g:
            # a gap is in use where the stream differs and the gap changes it; one that
            # no longer is flags itself stale (the test then asks to remove it)
            for gap in gaps:
                if (
                    _apply_gaps(key, raw_w, [gap]) != raw_w
                    or _apply_gaps(key, raw_g, [gap]) != raw_g
                ):
                    result.used_gaps.add(gap)
        if lines_w != lines_g:
            result.differences[key] = _readable_diff(w, g)
    return result


def _event_name(fields: Fields) -> str:
    d = dict(fields)
    return d.get("Event") or f"Response: {d.get('Response', '')}"


def _readable_diff(want: list[Fields], got: list[Fields]) -> list[str]:
    """Events only on one side as `- asterisk` / `+ pbxsim` lines; events on both sides
    whose fields differ as `~` lines naming each differing field."""
    out: list[str] = []
    matcher = difflib.SequenceMatcher(
        a=[_event_name(f) for f in want], b=[_event_name(f) for f in got], autojunk=False
    )
    for op, a0, a1, b0, b1 in matcher.get_opcodes():
        if op == "equal":
            for i, j in zip(range(a0, a1), range(b0, b1), strict=True):
                if want[i] != got[j]:
                    out.append(f"~ #{i} {_event_name(want[i])}: {_field_diff(want[i], got[j])}")
            continue
        out.extend(f"- #{i} asterisk: {_render(want[i])}" for i in range(a0, a1))
        out.extend(f"+ #{j} pbxsim:   {_render(got[j])}" for j in range(b0, b1))
    return out


def _field_diff(want: Fields, got: Fields) -> str:
    if [k for k, _ in want] != [k for k, _ in got]:
        names_w, names_g = [k for k, _ in want], [k for k, _ in got]
        return f"field names differ:\n    asterisk {names_w}\n    pbxsim   {names_g}"
    parts = [f"{k}: {v!r} != {g!r}" for (k, v), (_, g) in zip(want, got, strict=True) if v != g]
    return "; ".join(parts)


def scenario_frames(
    scenarios: list[Scenario], recording: Recording, title: str
) -> tuple[list[Fields], list[Fields]]:
    """The transcript's frames of one scenario, and pbxsim's in the same time window."""
    index = next(i for i, s in enumerate(scenarios) if s.title == title)
    scenario = scenarios[index]
    start = recording.starts[title]
    end = float("inf")
    for later in scenarios[index + 1 :]:
        if later.title in recording.starts and later.actions:
            end = recording.starts[later.title]
            break
    expected = [f.fields for f in scenario.frames if f.kind in ("event", "response")]
    actual = [f.fields for f in recording.frames if f.kind == "frame" and start <= f.time < end]
    return expected, actual


def agi_frames(sessions: list[AgiSession], records: list[AgiRecord]) -> tuple[
    list[Fields], list[Fields]
]:  # fmt: skip
    """FastAGI sessions as comparable pseudo-frames: the environment, then each reply."""

    def env_frame(i: int, env: Fields) -> Fields:
        return (("Event", "AgiEnvironment"), ("Channel", f"agi:{i}"), *env)

    expected: list[Fields] = []
    for i, session in enumerate(sessions):
        expected.append(env_frame(i, session.env))
        for ex in session.exchanges:
            said = tuple(("Reply", r.text) for r in ex.replies)
            expected.append((("Event", "AgiReply"), ("Channel", f"agi:{i}"),
                             ("Command", ex.command), *said))  # fmt: skip
    actual: list[Fields] = []
    for i, record in enumerate(records):
        actual.append(env_frame(i, record.env))
        for command, replies in record.exchanges:
            actual.append((("Event", "AgiReply"), ("Channel", f"agi:{i}"),
                           ("Command", command), *(("Reply", r) for r in replies)))  # fmt: skip
    return expected, actual

"""Typed AMI events.

Each event the transcripts show gets a frozen dataclass; anything else arrives as a
`GenericEvent` with its headers, so a newer Asterisk never breaks the reader. Field
names follow the AMI header names in snake case (`CallerIDNum` -> `caller_id_num`);
the channel snapshot block is parsed once into `ChannelSnapshot` (and `dest` for the
other party's block).

Parsing is table-driven and done once per frame: the mapping of headers to fields and
converters is computed per class at import.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

from ami.frames import Frame


class EventParseError(ValueError):
    """An event whose required field is missing or not of its type."""


@dataclass(frozen=True, slots=True)
class ChannelSnapshot:
    channel: str
    state: int
    state_desc: str
    caller_id_num: str
    caller_id_name: str
    connected_line_num: str
    connected_line_name: str
    language: str
    account_code: str
    context: str
    exten: str
    priority: int
    uniqueid: str
    linkedid: str


_SNAPSHOT_KEYS = (
    ("channel", "channel", str),
    ("state", "channelstate", int),
    ("state_desc", "channelstatedesc", str),
    ("caller_id_num", "calleridnum", str),
    ("caller_id_name", "calleridname", str),
    ("connected_line_num", "connectedlinenum", str),
    ("connected_line_name", "connectedlinename", str),
    ("language", "language", str),
    ("account_code", "accountcode", str),
    ("context", "context", str),
    ("exten", "exten", str),
    ("priority", "priority", int),
    ("uniqueid", "uniqueid", str),
    ("linkedid", "linkedid", str),
)


def _snapshot(h: dict[str, str], prefix: str) -> ChannelSnapshot | None:
    if prefix + "channel" not in h:
        return None
    values: dict[str, Any] = {}
    for attr, key, conv in _SNAPSHOT_KEYS:
        raw = h.get(prefix + key, "")
        try:
            values[attr] = conv(raw) if conv is not str else raw
        except ValueError:
            raise EventParseError(f"{prefix}{key}: not a number: {raw!r}") from None
    return ChannelSnapshot(**values)


@dataclass(frozen=True, slots=True)
class AmiEvent:
    """Base of every event: its name and the raw headers (for logs and unknown fields)."""

    name: str
    headers: dict[str, str]  # lower-cased names -> value (last one wins)

    NAME: ClassVar[str] = ""


@dataclass(frozen=True, slots=True)
class GenericEvent(AmiEvent):
    pass


def _int(value: str) -> int:
    return int(value) if value else 0


def _float(value: str) -> float:
    return float(value) if value else 0.0


def _bool01(value: str) -> bool:
    return value.strip().lower() in ("1", "true", "yes")


_CONVERTERS: dict[Any, Callable[[str], Any]] = {
    int: _int,
    "int": _int,
    float: _float,
    "float": _float,
    bool: _bool01,
    "bool": _bool01,
}

E = TypeVar("E", bound=AmiEvent)
_REGISTRY: dict[str, tuple[type[AmiEvent], list[tuple[str, str, Callable[[str], Any] | None]]]] = {}


def _header_name(attr: str) -> str:
    return attr.replace("_", "").lower()


def event(name: str, **header_overrides: str) -> Callable[[type[E]], type[E]]:
    """Register an event class; `header_overrides` maps attrs whose header name is not
    the attr without underscores (e.g. cause_txt='cause-txt')."""

    def register(cls: type[E]) -> type[E]:
        cls.NAME = name
        plan: list[tuple[str, str, Callable[[str], Any] | None]] = []
        for f in dataclasses.fields(cls):
            if f.name in ("name", "headers", "channel", "dest"):
                continue
            header = header_overrides.get(f.name, _header_name(f.name))
            plan.append((f.name, header, _CONVERTERS.get(f.type)))
        _REGISTRY[name.lower()] = (cls, plan)
        return cls

    return register


@dataclass(frozen=True, slots=True)
class ChannelEvent(AmiEvent):
    channel: ChannelSnapshot | None = None


@dataclass(frozen=True, slots=True)
class TwoPartyEvent(AmiEvent):
    channel: ChannelSnapshot | None = None
    dest: ChannelSnapshot | None = None


# --- system --------------------------------------------------------------------------
@event("FullyBooted")
@dataclass(frozen=True, slots=True)
class FullyBooted(AmiEvent):
    status: str = ""
    uptime: int = 0
    last_reload: int = 0


@event("Shutdown")
@dataclass(frozen=True, slots=True)
class Shutdown(AmiEvent):
    shutdown: str = ""
    restart: str = ""


# --- channels ------------------------------------------------------------------------
@event("Newchannel")
@dataclass(frozen=True, slots=True)
class Newchannel(ChannelEvent):
    pass


@event("Newstate")
@dataclass(frozen=True, slots=True)
class Newstate(ChannelEvent):
    pass


@event("NewCallerid")
@dataclass(frozen=True, slots=True)
class NewCallerid(ChannelEvent):
    pass


@event("NewConnectedLine")
@dataclass(frozen=True, slots=True)
class NewConnectedLine(ChannelEvent):
    pass


@event("Newexten")
@dataclass(frozen=True, slots=True)
class Newexten(ChannelEvent):
    extension: str = ""
    application: str = ""
    app_data: str = ""


@event("VarSet")
@dataclass(frozen=True, slots=True)
class VarSet(ChannelEvent):
    variable: str = ""
    value: str = ""


@event("Hangup", cause_txt="cause-txt")
@dataclass(frozen=True, slots=True)
class Hangup(ChannelEvent):
    cause: int = 0
    cause_txt: str = ""


@event("HangupRequest")
@dataclass(frozen=True, slots=True)
class HangupRequest(ChannelEvent):
    cause: int = 0


@event("SoftHangupRequest")
@dataclass(frozen=True, slots=True)
class SoftHangupRequest(ChannelEvent):
    cause: int = 0


@event("DialBegin")
@dataclass(frozen=True, slots=True)
class DialBegin(TwoPartyEvent):
    dial_string: str = ""


@event("DialState")
@dataclass(frozen=True, slots=True)
class DialState(TwoPartyEvent):
    dial_status: str = ""


@event("DialEnd")
@dataclass(frozen=True, slots=True)
class DialEnd(TwoPartyEvent):
    dial_status: str = ""


@event("DTMFBegin")
@dataclass(frozen=True, slots=True)
class DTMFBegin(ChannelEvent):
    digit: str = ""
    direction: str = ""


@event("DTMFEnd")
@dataclass(frozen=True, slots=True)
class DTMFEnd(ChannelEvent):
    digit: str = ""
    duration_ms: int = 0
    direction: str = ""


@event("MusicOnHoldStart", klass="class")
@dataclass(frozen=True, slots=True)
class MusicOnHoldStart(ChannelEvent):
    klass: str = ""


@event("MusicOnHoldStop")
@dataclass(frozen=True, slots=True)
class MusicOnHoldStop(ChannelEvent):
    pass


@event("MixMonitorStart")
@dataclass(frozen=True, slots=True)
class MixMonitorStart(ChannelEvent):
    pass


@event("LocalBridge")
@dataclass(frozen=True, slots=True)
class LocalBridge(AmiEvent):
    local_one_channel: str = ""
    local_two_channel: str = ""
    local_optimization: str = ""


@event("DeviceStateChange")
@dataclass(frozen=True, slots=True)
class DeviceStateChange(AmiEvent):
    device: str = ""
    state: str = ""


@event("AGIExecStart")
@dataclass(frozen=True, slots=True)
class AGIExecStart(ChannelEvent):
    """A FastAGI command starts on the channel (read class `agi`): `Command` is the
    line as the AGI server sent it, e.g. `STREAM FILE hotline/welcome "0"`. The
    transcripts' manager user did not read `agi`; the fields are res_agi.c's
    (`agi_handle_command`: CommandId, then Command, after the channel block)."""

    command_id: int = 0
    command: str = ""


@event("AGIExecEnd")
@dataclass(frozen=True, slots=True)
class AGIExecEnd(ChannelEvent):
    command_id: int = 0
    command: str = ""
    result_code: int = 0
    result: str = ""


# --- bridges -------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class BridgeEvent(ChannelEvent):
    bridge_uniqueid: str = ""
    bridge_type: str = ""
    bridge_technology: str = ""
    bridge_num_channels: int = 0


@event("BridgeCreate")
@dataclass(frozen=True, slots=True)
class BridgeCreate(BridgeEvent):
    pass


@event("BridgeEnter")
@dataclass(frozen=True, slots=True)
class BridgeEnter(BridgeEvent):
    pass


@event("BridgeLeave")
@dataclass(frozen=True, slots=True)
class BridgeLeave(BridgeEvent):
    pass


@event("BridgeDestroy")
@dataclass(frozen=True, slots=True)
class BridgeDestroy(BridgeEvent):
    pass


# --- transfers and conferences -------------------------------------------------------
@event("BlindTransfer")
@dataclass(frozen=True, slots=True)
class BlindTransfer(TwoPartyEvent):
    """stasis_bridges.c `blind_transfer_to_ami`: `channel` is the transferee's block
    (the caller: its Linkedid names the call), `dest` the transferer's (the seat);
    Context/Extension are where the transferee is sent."""

    SNAPSHOTS: ClassVar[tuple[str, str]] = ("transferee", "transferer")
    result: str = ""
    is_external: str = ""
    context: str = ""
    extension: str = ""
    bridge_uniqueid: str = ""


@event("AttendedTransfer")
@dataclass(frozen=True, slots=True)
class AttendedTransfer(TwoPartyEvent):
    """stasis_bridges.c `attended_transfer_to_ami`: `channel` is the transferee's block,
    `dest` the original transferer's; the target is the channel that took its place."""

    SNAPSHOTS: ClassVar[tuple[str, str]] = ("transferee", "origtransferer")
    result: str = ""
    dest_type: str = ""
    transfer_target_channel: str = ""
    transfer_target_uniqueid: str = ""
    dest_bridge_uniqueid: str = ""


@event("ConfbridgeJoin")
@dataclass(frozen=True, slots=True)
class ConfbridgeJoin(ChannelEvent):
    conference: str = ""
    bridge_uniqueid: str = ""
    admin: str = ""


@event("ConfbridgeLeave")
@dataclass(frozen=True, slots=True)
class ConfbridgeLeave(ChannelEvent):
    conference: str = ""
    bridge_uniqueid: str = ""
    admin: str = ""


# --- queue callers and agents --------------------------------------------------------
@event("QueueCallerJoin")
@dataclass(frozen=True, slots=True)
class QueueCallerJoin(ChannelEvent):
    queue: str = ""
    position: int = 0
    count: int = 0


@event("QueueCallerLeave")
@dataclass(frozen=True, slots=True)
class QueueCallerLeave(ChannelEvent):
    queue: str = ""
    position: int = 0
    count: int = 0


@event("QueueCallerAbandon")
@dataclass(frozen=True, slots=True)
class QueueCallerAbandon(ChannelEvent):
    queue: str = ""
    position: int = 0
    original_position: int = 0
    hold_time: int = 0


@dataclass(frozen=True, slots=True)
class AgentEvent(TwoPartyEvent):
    queue: str = ""
    interface: str = ""
    member_name: str = ""


@event("AgentCalled")
@dataclass(frozen=True, slots=True)
class AgentCalled(AgentEvent):
    pass


@event("AgentRingNoAnswer")
@dataclass(frozen=True, slots=True)
class AgentRingNoAnswer(AgentEvent):
    ring_time: int = 0  # milliseconds


@event("AgentConnect")
@dataclass(frozen=True, slots=True)
class AgentConnect(AgentEvent):
    hold_time: int = 0  # seconds
    ring_time: int = 0  # seconds (unlike AgentRingNoAnswer)


@event("AgentComplete")
@dataclass(frozen=True, slots=True)
class AgentComplete(AgentEvent):
    hold_time: int = 0
    talk_time: int = 0
    reason: str = ""


@event("AgentDump")
@dataclass(frozen=True, slots=True)
class AgentDump(AgentEvent):
    pass


# --- queue members (events and QueueStatus items) ------------------------------------
@dataclass(frozen=True, slots=True)
class MemberEvent(AmiEvent):
    queue: str = ""
    member_name: str = ""
    interface: str = ""
    state_interface: str = ""
    membership: str = ""
    penalty: int = 0
    calls_taken: int = 0
    last_call: int = 0
    last_pause: int = 0
    login_time: int = 0
    in_call: bool = False
    status: int = 0
    paused: bool = False
    paused_reason: str = ""
    ringinuse: bool = False
    wrapuptime: int = 0


@event("QueueMemberAdded")
@dataclass(frozen=True, slots=True)
class QueueMemberAdded(MemberEvent):
    pass


@event("QueueMemberRemoved")
@dataclass(frozen=True, slots=True)
class QueueMemberRemoved(MemberEvent):
    pass


@event("QueueMemberPause")
@dataclass(frozen=True, slots=True)
class QueueMemberPause(MemberEvent):
    pass


@event("QueueMemberPenalty")
@dataclass(frozen=True, slots=True)
class QueueMemberPenalty(MemberEvent):
    pass


@event("QueueMemberStatus")
@dataclass(frozen=True, slots=True)
class QueueMemberStatus(MemberEvent):
    pass


@event("QueueMemberRinginuse")
@dataclass(frozen=True, slots=True)
class QueueMemberRinginuse(MemberEvent):
    pass


@event("QueueMember", member_name="name", interface="location")
@dataclass(frozen=True, slots=True)
class QueueMember(MemberEvent):
    """A QueueStatus list item: `Name`/`Location` where events say MemberName/Interface."""


@event("QueueParams")
@dataclass(frozen=True, slots=True)
class QueueParams(AmiEvent):
    queue: str = ""
    max: int = 0
    strategy: str = ""
    calls: int = 0
    holdtime: int = 0
    talk_time: int = 0
    completed: int = 0
    abandoned: int = 0
    service_level: int = 0
    servicelevel_perf: float = 0.0
    servicelevel_perf2: float = 0.0
    weight: int = 0


@event("QueueEntry")
@dataclass(frozen=True, slots=True)
class QueueEntry(AmiEvent):
    """A waiting caller in a QueueStatus reply (`Priority` is the caller's queue priority)."""

    queue: str = ""
    position: int = 0
    channel_name: str = ""
    uniqueid: str = ""
    caller_id_num: str = ""
    caller_id_name: str = ""
    wait: int = 0
    priority: int = 0


@event("QueueSummary")
@dataclass(frozen=True, slots=True)
class QueueSummary(AmiEvent):
    queue: str = ""
    logged_in: int = 0
    available: int = 0
    callers: int = 0
    hold_time: int = 0
    talk_time: int = 0
    longest_hold_time: int = 0


@event("CoreShowChannel", duration="duration", bridge_id="bridgeid")
@dataclass(frozen=True, slots=True)
class CoreShowChannel(ChannelEvent):
    application: str = ""
    application_data: str = ""
    duration: str = ""
    bridge_id: str = ""


@event("OriginateResponse")
@dataclass(frozen=True, slots=True)
class OriginateResponse(AmiEvent):
    action_id: str = ""
    response: str = ""
    channel_name: str = ""
    reason: int = 0
    uniqueid: str = ""


@event("Cdr")
@dataclass(frozen=True, slots=True)
class Cdr(AmiEvent):
    account_code: str = ""
    source: str = ""
    destination: str = ""
    destination_context: str = ""
    caller_id: str = ""
    channel_name: str = ""
    destination_channel: str = ""
    last_application: str = ""
    last_data: str = ""
    start_time: str = ""
    answer_time: str = ""
    end_time: str = ""
    duration: int = 0
    billable_seconds: int = 0
    disposition: str = ""
    ama_flags: str = ""
    unique_id: str = ""
    user_field: str = ""


# fields whose header is the plain `Channel` but which are not a snapshot block
_PLAIN_CHANNEL_FIELD = {"queueentry", "originateresponse", "cdr"}


def _fix_plain_channel_headers() -> None:
    for name in _PLAIN_CHANNEL_FIELD:
        cls, plan = _REGISTRY[name]
        _REGISTRY[name] = (
            cls,
            [
                (attr, "channel" if attr == "channel_name" else header, conv)
                for attr, header, conv in plan
            ],
        )


_fix_plain_channel_headers()


def event_class(name: str) -> type[AmiEvent] | None:
    entry = _REGISTRY.get(name.lower())
    return entry[0] if entry else None


def parse_event(frame: Frame) -> AmiEvent:
    """A typed event for a frame whose first header is `Event:`."""
    h = {key.lower(): value for key, value in frame.headers}
    name = h.get("event", "")
    entry = _REGISTRY.get(name.lower())
    if entry is None:
        return GenericEvent(name, h)
    cls, plan = entry
    kwargs: dict[str, Any] = {"name": name, "headers": h}
    for attr, header, conv in plan:
        raw = h.get(header)
        if raw is None:
            continue
        if conv is None:
            kwargs[attr] = raw
        else:
            try:
                kwargs[attr] = conv(raw)
            except ValueError:
                raise EventParseError(f"{name}: {header}: not a number: {raw!r}") from None
    if issubclass(cls, (ChannelEvent, TwoPartyEvent)) and name.lower() not in _PLAIN_CHANNEL_FIELD:
        first, second = getattr(cls, "SNAPSHOTS", ("", "dest"))
        kwargs["channel"] = _snapshot(h, first)
        if issubclass(cls, TwoPartyEvent):
            kwargs["dest"] = _snapshot(h, second)
    return cls(**kwargs)

"""Per-channel runtime state that the snapshot (`pbxsim.channel.Channel`) does not hold.

`Channel` is the wire-visible snapshot; a `Leg` is everything the PBX needs to drive it:
the Local partner, the running dialplan, the callbacks parties registered, the bridge it
sits in and its CDR. Keeping this apart means `channel.py` stays a pure data block.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pbxsim.channel import Channel

if TYPE_CHECKING:
    from pbxsim.telephony.bridge import Bridge
    from pbxsim.telephony.cdr import CdrRecord

ChannelCallback = Callable[[Channel], None]


@dataclass(eq=False)
class Leg:
    channel: Channel
    #: the other half of a Local pair (`;1` <-> `;2`)
    partner: Channel | None = None
    #: `Local/<exten>@<context>` for Local halves, `PJSIP/<endpoint>` for PJSIP, else ""
    device: str = ""
    answer_callbacks: list[ChannelCallback] = field(default_factory=list)
    hangup_callbacks: list[ChannelCallback] = field(default_factory=list)
    #: run when the channel is destroyed (after `Hangup`): sessions tied to it close
    destroy_callbacks: list[Callable[[], None]] = field(default_factory=list)
    #: called with each DTMF digit the channel receives (AGI GET DATA listens here)
    dtmf_listeners: list[Callable[[str], None]] = field(default_factory=list)
    #: cancels whatever the running application waits for; set by the executor
    interrupt: Callable[[], None] | None = None
    bridge: Bridge | None = None
    cdr: CdrRecord | None = None
    #: the application and data the channel ran last (CDR LastApplication/LastData)
    last_app: str = ""
    last_data: str = ""
    #: context/exten/priority of the last `Newexten` (see `Pbx.newexten`)
    published_cep: tuple[str, str, int] | None = None
    #: whether the channel runs dialplan (a pbx thread in Asterisk terms)
    in_dialplan: bool = False
    #: a hangup was asked for (AMI Hangup, Hangup app, the Local partner went away)
    soft_hangup: bool = False
    #: `SoftHangupRequest` already posted for it (posted once, by whoever noticed first)
    soft_hangup_posted: bool = False
    #: set while an AMI Redirect interrupts the running application: the application
    #: must leave the channel up, the dialplan continues at the new location
    async_goto: bool = False
    moh: bool = False
    hangup_cause: int = 16
    #: for an outbound channel: the channel that requested it (queue caller, Dial caller)
    requester: Channel | None = None
    #: the dialing application shown in `Newexten` of the outbound `;1` (AppQueue...)
    dial_app: str = ""
    #: Channel attributes already changed but not yet published in a snapshot: the
    #: dialer's copies of exten and connected line appear with the next state change
    pending: dict[str, str] = field(default_factory=dict)
    #: the SIP Call-ID of a PJSIP channel (its bridge peer's BRIDGEPVTCALLID)
    sip_call_id: str = ""
    #: the bridge a hung-up channel left; it dissolves when the channel is gone
    left_bridge: Bridge | None = None
    #: the channel handed its call on (BlindTransfer, a completed Atxfer): app_queue
    #: reports the end of the member's call as Reason transfer
    transferred: bool = False
    #: moved by a dual Redirect together with its bridge peer: app_queue keeps
    #: watching the member and reports the call when the member hangs up
    moved_with_peer: bool = False


class ChannelRegistry:
    """Live channels by name and by Uniqueid, in creation order."""

    def __init__(self) -> None:
        self._legs: dict[str, Leg] = {}
        self._by_uniqueid: dict[str, Leg] = {}

    def add(self, leg: Leg) -> None:
        self._legs[leg.channel.name] = leg
        self._by_uniqueid[leg.channel.uniqueid] = leg

    def remove(self, channel: Channel) -> None:
        self._legs.pop(channel.name, None)
        self._by_uniqueid.pop(channel.uniqueid, None)

    def leg(self, channel: Channel) -> Leg:
        return self._legs[channel.name]

    def find(self, name_or_uniqueid: str) -> Leg | None:
        leg = self._legs.get(name_or_uniqueid)
        if leg is None:
            leg = self._by_uniqueid.get(name_or_uniqueid)
        if leg is None:
            # Asterisk matches channel names case-insensitively
            lowered = name_or_uniqueid.lower()
            for name, candidate in self._legs.items():
                if name.lower() == lowered:
                    return candidate
        return leg

    def __iter__(self) -> Iterator[Leg]:
        return iter(list(self._legs.values()))

    def __len__(self) -> int:
        return len(self._legs)

    def channels(self) -> list[Channel]:
        return [leg.channel for leg in self._legs.values()]

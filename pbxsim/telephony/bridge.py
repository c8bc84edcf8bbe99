"""Basic two-party bridges (`BridgeCreate/Enter/Leave/Destroy`, `BRIDGEPEER`).

Asterisk's basic bridge dissolves when one party hangs up: the party that hung up leaves
first (BRIDGEPEER is cleared on both sides before its `BridgeLeave`), then, once its
hangup is complete, the survivor is ejected and the bridge destroyed. The survivor's
owner learns about it through `on_exit`, which is how `Queue(...,c)` continues the
caller's dialplan after the agent hangs up.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from pbxsim.channel import Channel
from pbxsim.events import Fields

if TYPE_CHECKING:
    from pbxsim.telephony.pbx import Pbx


class Bridge:
    def __init__(self, pbx: Pbx, uniqueid: str) -> None:
        self._pbx = pbx
        self.uniqueid = uniqueid
        self.members: list[Channel] = []
        self._exit_callbacks: dict[str, list[Callable[[Channel], None]]] = {}
        self.destroyed = False

    def block(self) -> Fields:
        return [
            ("BridgeUniqueid", self.uniqueid),
            ("BridgeType", "basic"),
            ("BridgeTechnology", "simple_bridge"),
            ("BridgeCreator", "<unknown>"),
            ("BridgeName", "<unknown>"),
            ("BridgeNumChannels", str(len(self.members))),
            ("BridgeVideoSourceMode", "none"),
        ]

    def on_exit(self, channel: Channel, fn: Callable[[Channel], None]) -> None:
        """`fn(channel)` runs when `channel` is ejected alive because the bridge ended."""
        self._exit_callbacks.setdefault(channel.uniqueid, []).append(fn)

    def enter(self, channel: Channel) -> None:
        self.members.append(channel)
        self._pbx.legs.leg(channel).bridge = self
        self._pbx.bus.emit("BridgeEnter", "call", [*self.block(), *channel.block()])

    def set_peers(self) -> None:
        """BRIDGEPEER on each member (the one that entered first first); a member whose
        peer is a PJSIP channel also gets the peer's SIP Call-ID as BRIDGEPVTCALLID."""
        if len(self.members) != 2:
            return
        a, b = self.members
        for member, peer in ((a, b), (b, a)):
            self._pbx.set_var(member, "BRIDGEPEER", peer.name)
            call_id = self._pbx.leg(peer).sip_call_id
            if call_id:
                self._pbx.set_var(member, "BRIDGEPVTCALLID", call_id)

    def clear_peers(self) -> None:
        """BRIDGEPEER (and BRIDGEPVTCALLID) emptied on every member, once."""
        for member in list(self.members):
            if member.variables.get("BRIDGEPEER"):
                self._pbx.set_var(member, "BRIDGEPEER", "")
            if member.variables.get("BRIDGEPVTCALLID"):
                self._pbx.set_var(member, "BRIDGEPVTCALLID", "")

    def leave(self, channel: Channel) -> None:
        """A member leaves because its far end hung up: `BridgeLeave`, then its own
        `on_exit` callbacks (its application finishes there, e.g. Queue() setting its
        exit variables). The bridge dissolves when that channel is gone."""
        if channel not in self.members:
            return
        self._leave(channel)
        for fn in self._exit_callbacks.pop(channel.uniqueid, []):
            fn(channel)

    def _leave(self, channel: Channel) -> None:
        self.members.remove(channel)
        leg = self._pbx.legs.find(channel.name)
        if leg is not None:
            leg.bridge = None
        self._pbx.bus.emit("BridgeLeave", "call", [*self.block(), *channel.block()])

    def hangup_leave(self, channel: Channel) -> None:
        """A member is hanging up: clear BRIDGEPEER everywhere, then it leaves."""
        if channel not in self.members:
            return
        self.clear_peers()
        self._leave(channel)

    def dissolve(self) -> None:
        """Eject the survivors (after the hangup that ended the bridge) and destroy."""
        pbx = self._pbx
        for member in list(self.members):
            self._leave(member)
            callbacks = self._exit_callbacks.pop(member.uniqueid, [])
            if not callbacks:
                pbx.hangup(member)  # nobody takes it back: the dialed side hangs up
                continue
            # party A carries on: its answered-dial CDR ends, a new one begins
            pbx.cdr.bridge_ended(member, pbx.scheduler.now(), pbx.last_app(member))
            for fn in callbacks:
                fn(member)
        self.destroy()

    def kick(self, channel: Channel) -> None:
        """Move a live member out (Redirect): the bridge ends for everyone."""
        if channel not in self.members:
            return
        self.clear_peers()
        self._leave(channel)
        self._exit_callbacks.pop(channel.uniqueid, None)
        self.dissolve()

    def destroy(self) -> None:
        if not self.destroyed:
            self.destroyed = True
            self._pbx.bus.emit("BridgeDestroy", "call", self.block())

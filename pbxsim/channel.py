"""Channels and the snapshot blocks every channel event carries.

The block layout is main/manager_channels.c `ast_manager_build_channel_state_string_prefix`
(reference/asterisk-protocol.md §1.4).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pbxsim.events import Fields

STATE_DESC = {
    0: "Down",
    1: "Rsrvd",
    2: "OffHook",
    3: "Dialing",
    4: "Ring",
    5: "Ringing",
    6: "Up",
    7: "Busy",
    8: "Dialing Offhook",
    9: "Pre-ring",
}
DOWN, RING, RINGING, UP = 0, 4, 5, 6


def _or_unknown(value: str) -> str:
    return value if value else "<unknown>"


@dataclass(eq=False)
class Channel:
    name: str
    uniqueid: str
    linkedid: str
    context: str
    exten: str
    priority: int = 1
    state: int = DOWN
    caller_num: str = ""
    caller_name: str = ""
    connected_num: str = ""
    connected_name: str = ""
    language: str = "en"
    accountcode: str = ""
    dnid: str = ""
    variables: dict[str, str] = field(default_factory=dict)
    created_at: float = 0.0
    answered_at: float | None = None
    hungup: bool = False
    #: the headers of the INVITE that created an inbound PJSIP channel, in order
    #: (res_pjsip_header_funcs keeps them for PJSIP_HEADER(read,...))
    sip_headers: list[tuple[str, str]] = field(default_factory=list)

    @property
    def tech(self) -> str:
        return self.name.split("/", 1)[0]

    def block(self, prefix: str = "") -> Fields:
        """The channel snapshot block; `prefix="Dest"` gives the other party's block."""
        p = prefix
        return [
            (f"{p}Channel", self.name),
            (f"{p}ChannelState", str(self.state)),
            (f"{p}ChannelStateDesc", STATE_DESC[self.state]),
            (f"{p}CallerIDNum", _or_unknown(self.caller_num)),
            (f"{p}CallerIDName", _or_unknown(self.caller_name)),
            (f"{p}ConnectedLineNum", _or_unknown(self.connected_num)),
            (f"{p}ConnectedLineName", _or_unknown(self.connected_name)),
            (f"{p}Language", self.language),
            (f"{p}AccountCode", self.accountcode),
            (f"{p}Context", self.context),
            (f"{p}Exten", self.exten),
            (f"{p}Priority", str(self.priority)),
            (f"{p}Uniqueid", self.uniqueid),
            (f"{p}Linkedid", self.linkedid),
        ]

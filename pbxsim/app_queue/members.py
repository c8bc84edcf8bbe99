"""Queue members: what app_queue knows about one interface in one queue.

A member's `status` is the *device state* of its state interface (0–8), never derived
from the queue's own bookkeeping: real Asterisk rings a Local-channel member whose
`Custom:` state interface still says UNKNOWN even while it is on a call, and the model
must do the same to be honest. `in_call`, `calls` and `lastcall` are the queue's own
bookkeeping, updated when a bridged call ends.
"""

from __future__ import annotations

from pbxsim.events import Fields

#: ast_device_state values, as QueueMember* `Status:` numbers
UNKNOWN, NOT_INUSE, INUSE, BUSY, INVALID, UNAVAILABLE, RINGING, RINGINUSE, ONHOLD = range(9)
DEVICE_STATE_CODES = {
    "UNKNOWN": UNKNOWN,
    "NOT_INUSE": NOT_INUSE,
    "INUSE": INUSE,
    "BUSY": BUSY,
    "INVALID": INVALID,
    "UNAVAILABLE": UNAVAILABLE,
    "RINGING": RINGING,
    "RINGINUSE": RINGINUSE,
    "ONHOLD": ONHOLD,
}
DEVICE_STATE_NAMES = {code: name for name, code in DEVICE_STATE_CODES.items()}
#: ast_devstate2str, as printed by `queue show`
DEVICE_STATE_TEXT = (
    "Unknown",
    "Not in use",
    "In use",
    "Busy",
    "Invalid",
    "Unavailable",
    "Ringing",
    "Ring+Inuse",
    "On Hold",
)


def device_name(state_interface: str) -> str:
    """The device a state interface reports through (device_state_cb): for
    `Local/1001@ctx/n` that is `Local/1001@ctx`, the options after the second slash
    are dropped."""
    if state_interface.lower().startswith("local/"):
        slash = state_interface.find("/", 6)
        if slash >= 0:
            return state_interface[:slash]
    return state_interface


def device_key(state_interface: str) -> str:
    """`device_name`, case-folded: device names match case-insensitively."""
    return device_name(state_interface).lower()


def _compress_char(c: int) -> int:
    c &= 0x7F
    if c < 32:
        return 0
    return c - 64 if c > 96 else c - 32


def member_hash(interface: str) -> int:
    """app_queue.c member_hash_fn: the bucket (of 37) decides listing order for most
    strategies, which is visible in QueueStatus and in ringall's ring order."""
    slash = interface.find("/")
    name = interface if slash < 0 else interface[slash:]
    value = 0
    for i, ch in enumerate(name[:5]):
        value += _compress_char(ord(ch)) << (i * 6)
    return value


def member_status_available(status: int) -> bool:
    return status == NOT_INUSE or status == UNKNOWN


class Member:
    __slots__ = (
        "callcompletedinsl",
        "calls",
        "device",
        "dynamic",
        "in_call",
        "interface",
        "lastcall",
        "lastpause",
        "lastqueue",
        "logintime",
        "membername",
        "paused",
        "penalty",
        "pending",
        "queuepos",
        "reason_paused",
        "ringinuse",
        "starttime",
        "state_interface",
        "status",
        "wrapuptime",
    )

    def __init__(
        self,
        interface: str,
        *,
        membername: str = "",
        state_interface: str = "",
        penalty: int = 0,
        paused: bool = False,
        reason_paused: str = "",
        ringinuse: bool = True,
        wrapuptime: int = 0,
        dynamic: bool = True,
        now: float = 0.0,
        status: int = UNKNOWN,
    ) -> None:
        self.interface = interface
        self.membername = membername or interface
        self.state_interface = state_interface or interface
        self.device = device_key(self.state_interface)
        self.penalty = penalty
        self.paused = paused
        self.reason_paused = reason_paused if paused else ""
        self.ringinuse = ringinuse
        self.wrapuptime = wrapuptime
        self.dynamic = dynamic
        self.calls = 0
        self.lastcall = 0.0
        self.lastpause = now if paused else 0.0
        self.logintime = now
        self.in_call = False
        self.status = status
        self.starttime = 0.0
        self.callcompletedinsl = False
        self.lastqueue: object | None = None
        self.pending = False
        self.queuepos = 0

    def blob(self, queue: str) -> Fields:
        """queue_member_blob_create: the body of every QueueMember* event."""
        return [
            ("Queue", queue),
            ("MemberName", self.membername),
            ("Interface", self.interface),
            ("StateInterface", self.state_interface),
            ("Membership", "dynamic" if self.dynamic else "static"),
            ("Penalty", str(self.penalty)),
            ("CallsTaken", str(self.calls)),
            ("LastCall", str(int(self.lastcall))),
            ("LastPause", str(int(self.lastpause))),
            ("LoginTime", str(int(self.logintime))),
            ("InCall", "1" if self.in_call else "0"),
            ("Status", str(self.status)),
            ("Paused", "1" if self.paused else "0"),
            ("PausedReason", self.reason_paused),
            ("Ringinuse", "1" if self.ringinuse else "0"),
            ("Wrapuptime", str(self.wrapuptime)),
        ]

    def status_item(self, queue: str) -> Fields:
        """The QueueStatus `QueueMember` list item: the event body with Name/Location
        where events say MemberName/Interface, and no Ringinuse."""
        renamed = {"MemberName": "Name", "Interface": "Location"}
        return [(renamed.get(k, k), v) for k, v in self.blob(queue) if k != "Ringinuse"]

"""Local channels (core_local.c): a `;1`/`;2` pair joined back to back.

`;1` is what the dialer holds; `;2` runs `<exten>@<context>` in the dialplan. With the
`/n` option (every interface in the transcripts) the pair is never optimised away, so
both halves live for the whole call, and `LocalBridge` says `LocalOptimization: No`.

What `ast_call` on a Local channel does, in the order the transcripts show it: copy the
`;1` variables to `;2` (one `VarSet` each), give `;2` the caller id of `;1` and make
`;1`'s caller its connected line (`NewCallerid`, `NewConnectedLine`), post
`LocalBridge`, then start `;2`'s dialplan.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from pbxsim.channel import DOWN, RING, Channel

if TYPE_CHECKING:
    from pbxsim.telephony.pbx import Pbx


@dataclass(frozen=True)
class LocalTarget:
    exten: str
    context: str
    options: str

    @property
    def device(self) -> str:
        return f"Local/{self.exten}@{self.context}"

    @property
    def dialstring(self) -> str:
        tail = f"/{self.options}" if self.options else ""
        return f"{self.exten}@{self.context}{tail}"


def parse_local(resource: str) -> LocalTarget:
    """`1001@sim-agent/n` (the part after `Local/`) -> exten, context, options."""
    where, _, options = resource.partition("/")
    exten, _, context = where.partition("@")
    return LocalTarget(exten, context or "default", options)


def create_pair(
    pbx: Pbx, target: LocalTarget, *, linkedid: str | None = None, party_a: bool = True
) -> tuple[Channel, Channel]:
    """Newchannel for `;1` (Down) and `;2` (Ring). Both share `;1`'s Linkedid unless the
    pair is dialed on behalf of another call. `;1` is party A only when originated."""
    name1, name2 = pbx.ids.local_pair_names(target.exten, target.context)
    device = target.device
    one = pbx.new_channel(
        name1, target.context, target.exten, state=DOWN, linkedid=linkedid, device=device,
        party_a=party_a,
    )  # fmt: skip
    two = pbx.new_channel(
        name2, target.context, target.exten, state=RING, linkedid=one.linkedid, device=device
    )
    pbx.leg(one).partner = two
    pbx.leg(two).partner = one
    return one, two


def target_exists(pbx: Pbx, target: LocalTarget, callerid: str = "") -> bool:
    return pbx.exten_exists(target.context, target.exten, 1, callerid)


def local_call(pbx: Pbx, one: Channel) -> bool:
    """`ast_call` on `;1`: hand variables and caller id to `;2`, LocalBridge, run `;2`.

    If `<exten>@<context>` does not exist the call fails the way the transcripts show
    (ami-2.log, Originate to `Local/x@no-such-context`): `;2` is hung up with cause 0
    and nothing else is posted; the caller then disposes of `;1`.
    """
    leg = pbx.leg(one)
    two = leg.partner
    assert two is not None
    target = parse_local(one.name.removeprefix("Local/").rsplit("-", 1)[0])
    if not target_exists(pbx, target, one.caller_num):
        pbx.hangup(two, 0, notify_partner=False)
        return False
    # the copy walks `;1`'s variable list from its head and appends, keeping the order
    for name, value in list(one.variables.items()):
        pbx.set_var(two, name, value)
    two.variables = dict(one.variables)
    two.caller_num, two.caller_name = one.caller_num, one.caller_name
    two.connected_num, two.connected_name = one.caller_num, one.caller_name
    pbx.set_callerid(two, two.caller_num, two.caller_name)
    pbx.set_connected(two, two.connected_num, two.connected_name)
    pbx.bus.emit(
        "LocalBridge",
        "call",
        [
            *one.block("LocalOne"),
            *two.block("LocalTwo"),
            ("Context", target.context),
            ("Exten", target.exten),
            ("LocalOptimization", "No"),
        ],
    )
    pbx.scheduler.call_soon(_start_two, pbx, two, target)
    return True


def _start_two(pbx: Pbx, two: Channel, target: LocalTarget) -> None:
    if not two.hungup:
        pbx.start_dialplan(two, target.context, target.exten, 1)

"""Transfers driven over AMI: BlindTransfer and Atxfer (main/manager.c
`action_blind_transfer`, `action_atxfer`; main/bridge_basic.c for what follows), and the
dual Redirect (`ExtraChannel`) that moves both parties of a bridge at once.

What each posts follows transfers/ami-xfer.log:

* **BlindTransfer** of the seat's channel: "Transfer succeeded", `Unhold` on the
  transferer, `BlindTransfer` (Result Success, Transferer*/Transferee* blocks, the
  bridge, `IsExternal: Yes`, Context, Extension); the seat leaves the bridge, the
  caller's Queue() ends with `AgentComplete` Reason transfer, the caller runs
  `<exten>@<context>` and the seat's channel hangs up.
* **Atxfer**: refused with "No attended transfer feature code found" unless
  features.conf maps `atxfer`; else "Atxfer successfully queued", `TRANSFER_CONTEXT`
  set on the transferer, `Hold` on it, and the target -- fed as DTMF into a digit
  collector -- dialled through `Local/<exten>@<context>` in a consultation bridge the
  seat moves into. The digit collector stops at the first prefix that names an
  extension with nothing longer possible, so only an *explicit* extension of the
  target is reached (the transcript's `_X.`-only context stopped at "1"): a target
  without one fails and the seat returns to the caller.
  Completion: the transferer hangs up -- `BridgeLeave` of the seat, `BridgeMerge` of
  the consultation bridge into the caller's, the target's `;1` moves over,
  `AttendedTransfer` (Result Success, DestType Bridge). Abort: the target's leg hangs
  up first (the far end hung up, or an AMI Hangup of the `;1`, which is how the
  service cancels) -- the seat goes back to the caller (`Unhold`) and no
  `AttendedTransfer` is posted (bridge_basic.c publishes none for a transfer that
  never completed).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pbxsim.channel import Channel
from pbxsim.dialplan.model import Dialplan
from pbxsim.manager_api import ActionRegistry, Message, Request, error, response
from pbxsim.telephony import local
from pbxsim.telephony.bridge import Bridge
from pbxsim.telephony.pbx import Pbx


def load_featuremap(path: str | Path | None) -> dict[str, str]:
    """`[featuremap]` of features.conf (name -> code); empty without the file."""
    if path is None or not Path(path).exists():
        return {}
    section = ""
    codes: dict[str, str] = {}
    for raw in Path(path).read_text(encoding="utf-8").splitlines():
        line = raw.split(";", 1)[0].strip()
        if line.startswith("[") and "]" in line:
            section = line[1 : line.index("]")].strip()
            continue
        if section == "featuremap" and "=" in line:
            name, _, value = line.partition("=")
            codes[name.strip().lstrip(">").strip()] = value.lstrip(">").strip()
    return codes


def collected_digits(dialplan: Dialplan, context: str, exten: str) -> str:
    """What Atxfer's digit collector ends with when `exten` is keyed into `context`
    (bridge_basic.c `grab_transfer` -> `ast_app_dtget`): it stops at the first prefix
    that is an extension and can match nothing longer."""
    for end in range(1, len(exten) + 1):
        prefix = exten[:end]
        if dialplan.exists(context, prefix) and not dialplan.match_more(context, prefix):
            return prefix
    return exten


@dataclass
class _Consultation:
    transferer: Channel
    transferee: Channel
    home: Bridge
    consult: Bridge
    target: Channel  # the Local `;1` in the consultation bridge
    done: bool = False


class TransferActions:
    def __init__(self, pbx: Pbx, featuremap: dict[str, str]) -> None:
        self.pbx = pbx
        self.featuremap = featuremap

    def register(self, actions: ActionRegistry) -> None:
        actions.register("BlindTransfer", self.blind_transfer, "call")
        actions.register("Atxfer", self.atxfer, "call")

    def _transferer(self, req: Request) -> tuple[Channel, str] | Message:
        """The action's channel and target extension, or the error manager.c's
        action_blind_transfer and action_atxfer both answer, in their order."""
        name, exten = req.get("Channel") or "", req.get("Exten") or ""
        if not name:
            return error(req, "No channel specified")
        if not exten:
            return error(req, "No extension specified")
        channel = self.pbx.find_channel(name)
        if channel is None:
            return error(req, "Channel specified does not exist")
        return channel, exten

    # ------------------------------------------------------------------ blind

    def blind_transfer(self, req: Request) -> list[Message]:
        found = self._transferer(req)
        if isinstance(found, list):  # an AMI error response
            return [found]
        channel, exten = found
        context = req.get("Context") or channel.context
        bridge = self.pbx.leg(channel).bridge
        # ast_bridge_transfer_blind: only a channel in a two-party bridge transfers
        if bridge is None or len(bridge.members) != 2:
            return [error(req, "Transfer invalid")]
        self.pbx.scheduler.call_soon(self._blind, channel, bridge, exten, context)
        return [response(req, "Transfer succeeded")]

    def _blind(self, transferer: Channel, bridge: Bridge, exten: str, context: str) -> None:
        pbx = self.pbx
        if transferer.hungup or pbx.leg(transferer).bridge is not bridge:
            return
        transferee = next(m for m in bridge.members if m is not transferer)
        pbx.emit("Unhold", "call", transferer)
        pbx.bus.emit(
            "BlindTransfer",
            "call",
            [
                ("Result", "Success"),
                *transferer.block("Transferer"),
                *transferee.block("Transferee"),
                *bridge.block(),
                ("IsExternal", "Yes"),
                ("Context", context),
                ("Extension", exten),
            ],
        )
        pbx.leg(transferer).transferred = True
        bridge.clear_peers()
        bridge._leave(transferer)
        bridge._exit_callbacks.pop(transferee.uniqueid, None)
        # the transferee's application (Queue) ends as for a redirect: AgentComplete
        # Reason transfer; the channel then runs the target extension
        pbx.redirect(transferee, context, exten, 1)
        if transferee in bridge.members:
            bridge._leave(transferee)
        bridge.destroy()
        pbx.hangup(transferer, 16)

    # ------------------------------------------------------------------ attended

    def atxfer(self, req: Request) -> list[Message]:
        found = self._transferer(req)
        if isinstance(found, list):  # an AMI error response
            return [found]
        channel, exten = found
        if not self.featuremap.get("atxfer"):
            return [error(req, "No attended transfer feature code found")]
        context = req.get("Context") or ""
        if context:
            self.pbx.set_var(channel, "TRANSFER_CONTEXT", context)
        self.pbx.scheduler.call_soon(self._attended, channel, exten, context or channel.context)
        return [response(req, "Atxfer successfully queued")]

    def collected(self, context: str, exten: str) -> str:
        if self.pbx.dialplan is None:
            return exten[:1]
        return collected_digits(self.pbx.dialplan, context, exten)

    def _attended(self, transferer: Channel, exten: str, context: str) -> None:
        pbx = self.pbx
        home = pbx.leg(transferer).bridge
        if transferer.hungup or home is None or len(home.members) != 2:
            return  # the feature only works in a two-party bridge: digits go nowhere
        transferee = next(m for m in home.members if m is not transferer)
        pbx.emit("Hold", "call", transferer)
        if self.collected(context, exten) != exten or not pbx.exten_exists(context, exten):
            # "Unable to acquire target extension for attended transfer"
            pbx.emit("Unhold", "call", transferer)
            return
        target = local.LocalTarget(exten, context, "")
        one, _two = local.create_pair(pbx, target, linkedid=transferer.linkedid, party_a=False)
        consult = Bridge(pbx, str(pbx.uuid()))
        pbx.bus.emit("BridgeCreate", "call", consult.block())
        local.local_call(pbx, one)
        consult.enter(one)
        home.clear_peers()
        home._leave(transferer)
        consult.enter(transferer)
        state = _Consultation(transferer, transferee, home, consult, one)
        pbx.leg(transferer).hangup_callbacks.insert(0, lambda _c: self._complete(state))
        pbx.leg(one).hangup_callbacks.insert(0, lambda _c: self._abort(state))

    def _complete(self, state: _Consultation) -> None:
        """The transferer hung up: the target joins the caller's bridge."""
        if state.done:
            return
        state.done = True
        pbx = self.pbx
        pbx.leg(state.transferer).transferred = True
        state.consult._leave(state.transferer)
        pbx.bus.emit(
            "BridgeMerge",
            "call",
            [
                *[(f"To{k}", v) for k, v in state.home.block()],
                *[(f"From{k}", v) for k, v in state.consult.block()],
            ],
        )
        state.consult._leave(state.target)
        state.home.enter(state.target)
        state.home.set_peers()
        pbx.bus.emit(
            "AttendedTransfer",
            "call",
            [
                ("Result", "Success"),
                *state.transferer.block("OrigTransferer"),
                *[(f"Orig{k}", v) for k, v in state.home.block()],
                *state.transferer.block("SecondTransferer"),
                *[(f"Second{k}", v) for k, v in state.consult.block()],
                *state.transferee.block("Transferee"),
                *state.target.block("TransferTarget"),
                ("IsExternal", "No"),
                ("DestType", "Bridge"),
                ("DestBridgeUniqueid", state.home.uniqueid),
            ],
        )
        state.consult.destroy()

    def _abort(self, state: _Consultation) -> None:
        """The target's leg went first: the transferer is back with the caller."""
        if state.done:
            return
        state.done = True
        pbx = self.pbx
        if state.target in state.consult.members:
            state.consult._leave(state.target)
        if not state.transferer.hungup and state.transferer in state.consult.members:
            state.consult._leave(state.transferer)
            state.home.enter(state.transferer)
            state.home.set_peers()
            pbx.emit("Unhold", "call", state.transferer)
        state.consult.destroy()


def dual_redirect(
    pbx: Pbx, first: Channel, second: Channel, where: tuple[str, str, int],
    extra_where: tuple[str, str, int],
) -> None:  # fmt: skip
    """AMI Redirect with ExtraChannel of two parties of one bridge (ast_async_goto of
    both, manager.c `action_redirect`): both leave the bridge -- the extra channel
    first, as the transcript shows -- without ending each other, then each runs its
    target; a channel without a dialplan run (a dialed seat) gets one. A caller in
    Queue() returns from it, but app_queue's subscription still follows the member
    (`Leg.moved_with_peer`): AgentComplete comes at the member's hangup."""
    moves = ((second, extra_where), (first, where))
    for channel, _where in moves:
        bridge = pbx.leg(channel).bridge
        if bridge is not None:
            bridge.clear_peers()
            bridge._exit_callbacks.pop(channel.uniqueid, None)
            bridge._leave(channel)
            if not bridge.members:
                bridge.destroy()
    for channel, (context, exten, priority) in ((first, where), (second, extra_where)):
        if channel.hungup:
            continue
        if pbx.run_of(channel) is not None:
            pbx.leg(channel).moved_with_peer = True
            pbx.redirect(channel, context, exten, priority)
        else:
            pbx.leg(channel).requester = None
            pbx.start_dialplan(channel, context, exten, priority)

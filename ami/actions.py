"""The AMI actions the service sends, typed, with panoramisk 1.4's traps handled once.

* `QueueAdd`'s reply ("Added interface to queue") looks like the start of a list to
  panoramisk 1.4, whose future then never resolves: it is sent with `as_list=False`.
* An `Originate` without an `Async` header kills panoramisk's connection (KeyError in
  `data_received`): `Async` is always explicit; the async form's result is the
  `OriginateResponse`, awaited with the action's timeout.
* "Already there" answers (a member added twice, removed twice) are results, not errors.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ami import events as ev
from ami.errors import ActionFailed
from ami.node import PbxNode


@dataclass(frozen=True)
class OriginateResult:
    success: bool
    reason: int  # 0 failed, 1 hangup, 3 ring timeout, 4 answered, 5 busy, 8 congestion
    uniqueid: str
    channel: str


def _frames(reply: Any) -> list[Any]:
    return reply if isinstance(reply, list) else [reply]


async def queue_add(
    node: PbxNode,
    queue: str,
    interface: str,
    *,
    member_name: str = "",
    state_interface: str = "",
    penalty: int = 0,
    paused: bool = False,
    reason: str = "",
) -> bool:
    """True if added, False if it was already a member."""
    action = {
        "Action": "QueueAdd",
        "Queue": queue,
        "Interface": interface,
        "Penalty": str(penalty),
        "Paused": "true" if paused else "false",
    }
    if member_name:
        action["MemberName"] = member_name
    if state_interface:
        action["StateInterface"] = state_interface
    if reason:
        action["Reason"] = reason
    reply = await node.send(action, as_list=False, check=False)
    if reply.get("Response") == "Success":
        return True
    message = str(reply.get("Message", ""))
    if "Already there" in message:
        return False
    raise ActionFailed(node.name, "QueueAdd", message)


async def queue_remove(node: PbxNode, queue: str, interface: str) -> bool:
    """True if removed, False if it was not a member."""
    reply = await node.send(
        {"Action": "QueueRemove", "Queue": queue, "Interface": interface},
        as_list=False,
        check=False,
    )
    if reply.get("Response") == "Success":
        return True
    message = str(reply.get("Message", ""))
    if "Not there" in message:
        return False
    raise ActionFailed(node.name, "QueueRemove", message)


async def queue_pause(
    node: PbxNode, interface: str, paused: bool, *, queue: str = "", reason: str = ""
) -> None:
    action = {
        "Action": "QueuePause",
        "Interface": interface,
        "Paused": "true" if paused else "false",
    }
    if queue:
        action["Queue"] = queue
    if reason:
        action["Reason"] = reason
    await node.send(action, as_list=False)


async def queue_penalty(node: PbxNode, interface: str, penalty: int, queue: str = "") -> None:
    action = {"Action": "QueuePenalty", "Interface": interface, "Penalty": str(penalty)}
    if queue:
        action["Queue"] = queue
    await node.send(action, as_list=False)


async def originate(
    node: PbxNode,
    channel: str,
    *,
    context: str = "",
    exten: str = "",
    priority: int = 1,
    application: str = "",
    data: str = "",
    caller_id: str = "",
    variables: dict[str, str] | None = None,
    ring_timeout_s: float = 30.0,
    account: str = "",
) -> OriginateResult:
    """Place a call and wait for its outcome (OriginateResponse). Never re-sent.
    `account`: the new channel's AccountCode (in every event of it, and in CDR/CEL)."""
    action: dict[str, Any] = {
        "Action": "Originate",
        "Channel": channel,
        "Async": "true",
        "Timeout": str(int(ring_timeout_s * 1000)),
    }
    if application:
        action.update(Application=application, Data=data)
    else:
        action.update(Context=context, Exten=exten, Priority=str(priority))
    if caller_id:
        action["CallerID"] = caller_id
    if account:
        action["Account"] = account
    if variables:
        action["Variable"] = [f"{k}={v}" for k, v in variables.items()]
    reply = await node.send(
        action, as_list=True, timeout=ring_timeout_s + node.config.action_timeout
    )
    frames = _frames(reply)
    for frame in frames:
        if frame.get("Event") == "OriginateResponse":
            return OriginateResult(
                frame.get("Response") == "Success",
                int(frame.get("Reason") or 0),
                str(frame.get("Uniqueid", "")),
                str(frame.get("Channel", "")),
            )
    return OriginateResult(False, 0, "", channel)


async def redirect(
    node: PbxNode, channel: str, context: str, exten: str, priority: int = 1
) -> None:
    await node.send(
        {
            "Action": "Redirect",
            "Channel": channel,
            "Context": context,
            "Exten": exten,
            "Priority": str(priority),
        },
        as_list=False,
    )


async def redirect_both(
    node: PbxNode, channel: str, extra_channel: str, context: str, exten: str, priority: int = 1
) -> None:
    """A dual Redirect: both channels leave their bridge together, for the same place
    (Asterisk: "Dual Redirect successful")."""
    await node.send(
        {
            "Action": "Redirect",
            "Channel": channel,
            "ExtraChannel": extra_channel,
            "Context": context,
            "Exten": exten,
            "Priority": str(priority),
            "ExtraContext": context,
            "ExtraExten": exten,
            "ExtraPriority": str(priority),
        },
        as_list=False,
    )


async def blind_transfer(node: PbxNode, channel: str, exten: str, context: str) -> None:
    """`channel` (a party of a two-party bridge) hands its peer to `exten@context`."""
    await node.send(
        {"Action": "BlindTransfer", "Channel": channel, "Exten": exten, "Context": context},
        as_list=False,
    )


async def atxfer(node: PbxNode, channel: str, exten: str, context: str) -> None:
    """`channel` starts an attended transfer to `exten@context`: Asterisk keys in the
    atxfer feature code and the digits (features.conf must map `atxfer`)."""
    await node.send(
        {"Action": "Atxfer", "Channel": channel, "Exten": exten, "Context": context},
        as_list=False,
    )


async def hangup(node: PbxNode, channel: str, cause: int = 16) -> None:
    await node.send({"Action": "Hangup", "Channel": channel, "Cause": str(cause)}, as_list=False)


async def getvar(
    node: PbxNode, variable: str, channel: str = "", timeout: float | None = None
) -> str | None:
    action = {"Action": "Getvar", "Variable": variable}
    if channel:
        action["Channel"] = channel
    reply = await node.send(action, timeout=timeout, as_list=False)
    value = reply.get("Value")
    return None if value is None else str(value)


async def setvar(node: PbxNode, variable: str, value: str, channel: str = "") -> None:
    action = {"Action": "Setvar", "Variable": variable, "Value": value}
    if channel:
        action["Channel"] = channel
    await node.send(action, as_list=False)


async def db_put(node: PbxNode, family: str, key: str, value: str) -> None:
    await node.send({"Action": "DBPut", "Family": family, "Key": key, "Val": value}, as_list=False)


async def db_del(node: PbxNode, family: str, key: str) -> bool:
    reply = await node.send(
        {"Action": "DBDel", "Family": family, "Key": key}, as_list=False, check=False
    )
    return bool(reply.get("Response") == "Success")


async def db_get(node: PbxNode, family: str, key: str) -> str | None:
    reply = await node.send({"Action": "DBGet", "Family": family, "Key": key}, check=False)
    for frame in _frames(reply):
        if frame.get("Event") == "DBGetResponse":
            return str(frame.get("Val", ""))
    return None


async def command(node: PbxNode, text: str) -> list[str]:
    reply = await node.send({"Action": "Command", "Command": text}, as_list=False)
    output = reply.get("Output", [])
    return output if isinstance(output, list) else [str(output)]


async def queue_status(
    node: PbxNode, queue: str = "", member: str = "", timeout: float = 30.0
) -> list[ev.AmiEvent]:
    action = {"Action": "QueueStatus"}
    if queue:
        action["Queue"] = queue
    if member:
        action["Member"] = member
    reply = await node.send(action, as_list=True, timeout=timeout)
    return [ev.parse_event(f.frame) for f in _frames(reply)[1:] if getattr(f, "frame", None)]

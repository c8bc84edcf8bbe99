"""The legs of a call's transfers and three-party calls, as its record keeps them.

One leg per transfer an agent started (callcenter/transfers), in the record's
`transfers` list beside the older kinds (`agent`: app_queue reported a transfer,
`dial`: the dialplan dialled a unit's line). A leg:

    {"kind": "blind" | "consult" | "conference", "to": number,
     "state": dialing | talking | completed | returned | failed | conference | left,
     "started": s, "answered": s | None, "ended": s | None, "left_by": "" | agent |
     caller | target, "status": DIALSTATUS of the target's leg ("" until known)}

times in seconds from the call's start (as the timeline). What each state means:
blind -- dialing until the caller's Dial of the target ends: completed (answered) or
failed; consult -- dialing, talking once the target answered the seat, then completed
(AttendedTransfer: the caller is with the target) or returned (the target's leg went
first: the seat is back with the caller) or failed (never answered); conference --
dialing until the target joins the room, conference while the three talk, left once
the agent left (the other two stay), failed if the target never joined.

The events, per mode (transfers/ami-xfer.log): blind -- `BlindTransfer` (its
transferee block is the caller: the call's Linkedid), then the caller's `DialEnd`;
consult -- the `Local/<to>@hotline-transfer-targets-…;1` Atxfer creates (the call's
Linkedid), its `;2`'s `DialEnd`, `AttendedTransfer`, the `;1`'s `Hangup`; conference --
`ConfbridgeJoin/Leave` of a room named after the call, and the target's leg: the
`Local/<Linkedid>@hotline-conference-target` pair the service originates (a call of
its own to Asterisk, with its own Linkedid; its `;1` joins the room, its `;2` dials
the target through the whitelist) and the channel it dials.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

#: the dialplan's whitelist context (Atxfer's Local channels are named after it)
TARGETS_CONTEXT = "hotline-transfer-targets"
#: the dialplan's context of the three-party rooms
CONFERENCE_CONTEXT = "hotline-conference"
#: the dialplan's context an originated `Local/<Linkedid>@…` dials a room's target from
CONFERENCE_TARGET_CONTEXT = "hotline-conference-target"
#: the legs an agent's transfer makes (the other kinds are app_queue's and the IVR's)
LEG_KINDS = frozenset({"blind", "consult", "conference"})
#: states after which a leg changes no more (but its `ended`)
FINAL = frozenset({"completed", "returned", "failed"})

Leg = dict[str, Any]


@dataclass(frozen=True, slots=True)
class LiveLegs:
    """A call in progress as its record draft has it: when it started, the member
    interface that answered it (`PJSIP/1001`: its channel is the seat's), and copies of
    its transfer legs so far."""

    started_at: float
    agent: str
    legs: list[Leg]


def new_leg(kind: str, to: str, at: float) -> Leg:
    return {
        "kind": kind,
        "to": to,
        "state": "dialing",
        "started": at,
        "answered": None,
        "ended": None,
        "left_by": "",
        "status": "",
    }


def last_leg(transfers: list[Leg], kind: str) -> Leg | None:
    for leg in reversed(transfers):
        if leg["kind"] == kind:
            return leg
    return None


def consult_target(channel: str) -> tuple[str, str] | None:
    """`Local/<to>@hotline-transfer-targets-<n>;1` -> (<to>, its `;2`'s name)."""
    head, sep, tail = channel.partition("@" + TARGETS_CONTEXT + "-")
    if not sep or not head.startswith("Local/") or not tail.endswith(";1"):
        return None
    return head.removeprefix("Local/"), channel[:-2] + ";2"


def parent_of(channel: str) -> str | None:
    """`Local/<Linkedid>@hotline-conference-target-<n>;1|2` (the channel the service
    originates to bring a target into a call's room) -> that call's Linkedid."""
    head, sep, _ = channel.partition("@" + CONFERENCE_TARGET_CONTEXT + "-")
    if not sep or not head.startswith("Local/"):
        return None
    return head.removeprefix("Local/") or None


def dial_ended(leg: Leg, status: str, at: float) -> None:
    """The target's leg was answered (`ANSWER`) or not."""
    if leg["state"] in FINAL or leg["status"]:
        return
    leg["status"] = status
    if status == "ANSWER":
        leg["answered"] = at
        leg["state"] = {"blind": "completed", "consult": "talking"}.get(leg["kind"], leg["state"])
    else:
        leg["state"], leg["ended"] = "failed", at


def close(transfers: list[Leg], at: float) -> list[Leg]:
    """The legs when the call ended: none without an end, none still dialing."""
    out = []
    for leg in transfers:
        if leg["kind"] in LEG_KINDS:
            leg = dict(leg)
            if leg["ended"] is None:
                leg["ended"] = at
            if leg["state"] == "dialing":
                leg["state"] = "failed"
            elif leg["state"] == "talking":
                leg["state"] = "returned"  # the call ended during the consultation
        out.append(leg)
    return out


def transferred(leg: Leg) -> bool:
    """Whether the leg handed the caller on (the call's disposition `transferred`)."""
    kind = leg["kind"]
    if kind == "dial":
        return bool(leg["status"] == "ANSWER")
    if kind in ("blind", "consult"):
        return bool(leg["state"] == "completed")
    if kind == "conference":
        return bool(leg["state"] == "left")
    return True  # app_queue's own transfer report

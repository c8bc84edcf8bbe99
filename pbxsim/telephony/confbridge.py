"""ConfBridge() and the ConfbridgeList action (apps/app_confbridge.c), as far as a
three-party call needs them: rooms made on first join, `ConfbridgeStart/Join/Leave/End`,
the room's softmix bridge (`BridgeCreator: ConfBridge`, `BridgeName`: the room), and the
room ending when its last user leaves (transfers/ami-xfer.log, scenario 3).

A room's users are plain users of `default_user` (no admin, no marked users): the
transcript's confbridge.conf has nothing else. app_confbridge does not load at all
without a confbridge.conf ("Unable to load config. Not loading module."), so `install`
is only called when the configuration directory has one (`build_pbx`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pbxsim.channel import Channel
from pbxsim.events import Fields
from pbxsim.manager_api import (
    ActionRegistry,
    Message,
    Request,
    error,
    list_complete,
    list_item,
    list_start,
)
from pbxsim.telephony.bridge import Bridge
from pbxsim.telephony.pbx import Done, Pbx

#: the flags every `default_user` shows in ConfbridgeList
_USER_FLAGS = (
    ("Admin", "No"),
    ("MarkedUser", "No"),
    ("WaitMarked", "No"),
    ("EndMarked", "No"),
    ("EndMarkedAny", "No"),
    ("Waiting", "No"),
    ("Muted", "No"),
    ("Talking", "No"),
)


class ConferenceBridge(Bridge):
    """A softmix bridge named after its room."""

    def __init__(self, pbx: Pbx, uniqueid: str, name: str) -> None:
        super().__init__(pbx, uniqueid)
        self.name = name

    def block(self) -> Fields:
        return [
            ("BridgeUniqueid", self.uniqueid),
            ("BridgeType", "base"),
            ("BridgeTechnology", "softmix"),
            ("BridgeCreator", "ConfBridge"),
            ("BridgeName", self.name),
            ("BridgeNumChannels", str(len(self.members))),
            ("BridgeVideoSourceMode", "none"),
        ]


@dataclass
class Room:
    name: str
    bridge: ConferenceBridge
    #: users in the order they joined, with the time each joined
    users: list[tuple[Channel, float]] = field(default_factory=list)


class Conferences:
    """The rooms of one PBX and the ConfBridge() application."""

    def __init__(self, pbx: Pbx) -> None:
        self.pbx = pbx
        self.rooms: dict[str, Room] = {}

    def install(self, actions: ActionRegistry | None = None) -> None:
        self.pbx.register_app("ConfBridge", self.app)
        if actions is not None:
            actions.register("ConfbridgeList", self.list_action, "reporting")

    def _room(self, name: str) -> Room:
        room = self.rooms.get(name)
        if room is None:
            bridge = ConferenceBridge(self.pbx, str(self.pbx.uuid()), name)
            self.pbx.bus.emit("BridgeCreate", "call", bridge.block())
            room = Room(name, bridge)
            self.rooms[name] = room
            # conference_event "ConfbridgeStart" carries the room's bridge snapshot
            self.pbx.bus.emit("ConfbridgeStart", "call", [("Conference", name), *bridge.block()])
        return room

    def app(self, pbx: Pbx, channel: Channel, args: list[str], done: Done) -> None:
        """`ConfBridge(room)`: join (creating the room), stay until hung up or
        redirected; leaving is `ConfbridgeLeave`, then `BridgeLeave`, then -- for the
        last user -- `ConfbridgeEnd` and the bridge's destruction."""
        name = args[0].strip() if args else ""
        if not name:
            done(-1)
            return
        room = self._room(name)
        room.users.append((channel, pbx.scheduler.now()))
        join = [("Conference", name), *room.bridge.block(), *channel.block()]
        pbx.bus.emit("ConfbridgeJoin", "call", [*join, ("Admin", "No"), ("Muted", "No")])
        room.bridge.enter(channel)

        def leave() -> None:
            self._leave(room, channel)
            done(-1)

        pbx.set_app_interrupt(channel, leave)

    def _leave(self, room: Room, channel: Channel) -> None:
        pbx = self.pbx
        room.users = [(c, t) for c, t in room.users if c is not channel]
        fields = [("Conference", room.name), *room.bridge.block(), *channel.block()]
        pbx.bus.emit("ConfbridgeLeave", "call", [*fields, ("Admin", "No")])
        if channel in room.bridge.members:
            room.bridge._leave(channel)
        if not room.users:
            pbx.bus.emit("ConfbridgeEnd", "call", [("Conference", room.name), *room.bridge.block()])
            room.bridge.destroy()
            self.rooms.pop(room.name, None)

    def list_action(self, request: Request) -> list[Message]:
        """action_confbridgelist: one ConfbridgeList per user, in joining order."""
        name = request.get("Conference") or ""
        if not name:
            return [error(request, "No Conference name provided.")]
        if not self.rooms:
            return [error(request, "No active conferences.")]
        room = self.rooms.get(name)
        if room is None:
            return [error(request, "No Conference by that name found.")]
        now = self.pbx.scheduler.now()
        items = []
        for channel, _joined in room.users:
            answered = channel.answered_at if channel.answered_at is not None else now
            fields = [
                ("Conference", name),
                *_USER_FLAGS,
                ("AnsweredTime", str(int(now - answered))),
                *channel.block(),
            ]
            items.append(list_item(request, "ConfbridgeList", fields))
        return [
            list_start(request, "Confbridge user list will follow"),
            *items,
            list_complete(request, "ConfbridgeListComplete", len(items)),
        ]

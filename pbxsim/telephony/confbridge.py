"""ConfBridge() and the ConfbridgeList action (apps/app_confbridge.c), as far as a
three-party call needs them: rooms made on first join, `ConfbridgeStart/Join/Leave/End`,
the room's softmix bridge (`BridgeCreator: ConfBridge`, `BridgeName`: the room), and the
room ending when its last user leaves (transfers/ami-xfer.log, scenario 3).

User profiles (`ConfBridge(room,,profile)`, `type = user` sections of confbridge.conf)
give `marked` and `end_marked`: when the last marked user leaves, the users with
`end_marked` are taken out of the room (`CONFBRIDGE_RESULT=ENDMARKED`, their dialplan
goes on), as app_confbridge's `conf_handle_marked_left` does. The transcript's users
are `default_user` (neither). app_confbridge does not load at all without a
confbridge.conf ("Unable to load config. Not loading module."), so `install` is only
called when the configuration directory has one (`build_pbx`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

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


@dataclass(frozen=True)
class UserProfile:
    marked: bool = False
    end_marked: bool = False


def load_user_profiles(path: str | Path | None) -> dict[str, UserProfile]:
    """The `type = user` sections of confbridge.conf (name -> profile)."""
    profiles: dict[str, UserProfile] = {"default_user": UserProfile()}
    if path is None or not Path(path).exists():
        return profiles
    sections: dict[str, dict[str, str]] = {}
    current: dict[str, str] | None = None
    for raw in Path(path).read_text(encoding="utf-8").splitlines():
        line = raw.split(";", 1)[0].strip()
        if line.startswith("[") and "]" in line:
            current = sections.setdefault(line[1 : line.index("]")].strip(), {})
        elif current is not None and "=" in line:
            key, _, value = line.partition("=")
            current[key.strip().lower()] = value.strip().lower()
    yes = ("yes", "true", "1", "on")
    for name, body in sections.items():
        if body.get("type") == "user":
            profiles[name] = UserProfile(body.get("marked") in yes, body.get("end_marked") in yes)
    return profiles


@dataclass
class User:
    channel: Channel
    joined_at: float
    profile: UserProfile
    done: Done


@dataclass
class Room:
    name: str
    bridge: ConferenceBridge
    #: users in the order they joined
    users: list[User] = field(default_factory=list)


class Conferences:
    """The rooms of one PBX and the ConfBridge() application."""

    def __init__(self, pbx: Pbx, profiles: dict[str, UserProfile] | None = None) -> None:
        self.pbx = pbx
        self.rooms: dict[str, Room] = {}
        self.profiles = profiles if profiles is not None else {"default_user": UserProfile()}

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
        profile_name = args[2].strip() if len(args) > 2 and args[2].strip() else "default_user"
        profile = self.profiles.get(profile_name)
        if profile is None:
            done(-1)  # "Conference user profile %s does not exist"
            return
        room = self._room(name)
        user = User(channel, pbx.scheduler.now(), profile, done)
        room.users.append(user)
        join = [("Conference", name), *room.bridge.block(), *channel.block()]
        pbx.bus.emit("ConfbridgeJoin", "call", [*join, ("Admin", "No"), ("Muted", "No")])
        room.bridge.enter(channel)

        def leave() -> None:
            self._leave(room, user)
            done(-1)

        pbx.set_app_interrupt(channel, leave)

    def _leave(self, room: Room, user: User) -> None:
        pbx = self.pbx
        channel = user.channel
        room.users = [u for u in room.users if u is not user]
        fields = [("Conference", room.name), *room.bridge.block(), *channel.block()]
        pbx.bus.emit("ConfbridgeLeave", "call", [*fields, ("Admin", "No")])
        if channel in room.bridge.members:
            room.bridge._leave(channel)
        if user.profile.marked and not any(u.profile.marked for u in room.users):
            for other in [u for u in room.users if u.profile.end_marked]:
                # conf_handle_marked_left: out of the room, on in the dialplan
                pbx.set_app_interrupt(other.channel, None)
                self._leave(room, other)
                pbx.set_var(other.channel, "CONFBRIDGE_RESULT", "ENDMARKED")
                other.done(0)
        if not room.users and room.name in self.rooms:
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
        for user in room.users:
            channel = user.channel
            answered = channel.answered_at if channel.answered_at is not None else now
            flags = dict(_USER_FLAGS)
            flags["MarkedUser"] = "Yes" if user.profile.marked else "No"
            flags["EndMarked"] = "Yes" if user.profile.end_marked else "No"
            fields = [
                ("Conference", name),
                *flags.items(),
                ("AnsweredTime", str(int(now - answered))),
                *channel.block(),
            ]
            items.append(list_item(request, "ConfbridgeList", fields))
        return [
            list_start(request, "Confbridge user list will follow"),
            *items,
            list_complete(request, "ConfbridgeListComplete", len(items)),
        ]

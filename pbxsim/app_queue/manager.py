"""The queue AMI actions and the `queue show` CLI command, with app_queue's exact texts.

Response texts come from apps/app_queue.c (manager_add_queue_member & co.) and were
checked against the real replies in shared/asterisk-transcripts. List replies follow the
shape of manager_api's helpers: ack, items carrying the ActionID last, `...Complete`.
"""

from __future__ import annotations

from collections.abc import Callable

from pbxsim.app_queue.config import ast_false, ast_true
from pbxsim.app_queue.engine import Queue, QueueEngine
from pbxsim.app_queue.members import DEVICE_STATE_TEXT
from pbxsim.events import Fields
from pbxsim.manager_api import (
    ActionRegistry,
    CliRegistry,
    Message,
    Request,
    error,
    list_complete,
    list_item,
    list_start,
    response,
)

ADD_ERRORS = {
    "exists": "Unable to add interface: Already there",
    "nosuchqueue": "Unable to add interface to queue: No such queue",
}
REMOVE_ERRORS = {
    "notthere": "Unable to remove interface: Not there",
    "nosuchqueue": "Unable to remove interface from queue: No such queue",
    "notdynamic": "Member not dynamic",
}


def c_int(value: str | None) -> int | None:
    """`sscanf(value, "%d")`: optional blanks and sign, then digits; None if no digits."""
    text = (value or "").lstrip(" \t\n\r\f\v")
    sign = ""
    if text[:1] in ("+", "-"):
        sign, text = text[0], text[1:]
    digits = ""
    for ch in text:
        if not ch.isdigit():
            break
        digits += ch
    return int(sign + digits) if digits else None


def _int_or_zero(value: str | None) -> int:
    """`sscanf("%30d") != 1 || value < 0` means 0 in QueueAdd."""
    number = c_int(value)
    return number if number is not None and number >= 0 else 0


def _entry_fields(caller_block: Fields) -> dict[str, str]:
    block = dict(caller_block)
    return {
        key: ("unknown" if block.get(key, "") in ("", "<unknown>") else block[key])
        for key in (
            "Channel",
            "Uniqueid",
            "CallerIDNum",
            "CallerIDName",
            "ConnectedLineNum",
            "ConnectedLineName",
        )
    }


class QueueManager:
    """Holds the engine for the handlers; `register` installs them."""

    def __init__(self, engine: QueueEngine) -> None:
        self.engine = engine

    def register(self, actions: ActionRegistry, cli: CliRegistry) -> None:
        handlers: dict[str, Callable[[Request], list[Message]]] = {
            "QueueAdd": self.queue_add,
            "QueueRemove": self.queue_remove,
            "QueuePause": self.queue_pause,
            "QueuePenalty": self.queue_penalty,
            "QueueStatus": self.queue_status,
            "QueueSummary": self.queue_summary,
            "QueueMemberRingInUse": self.queue_member_ringinuse,
            "QueueReset": self.queue_reset,
        }
        for name, handler in handlers.items():
            # app_queue registers the two reports with no write class, the rest as agent
            reports = name in ("QueueStatus", "QueueSummary", "QueueReset")
            actions.register(name, handler, privilege="" if reports else "agent")
        cli.register("queue show", self.queue_show)

    # ----------------------------------------------------------------- members
    def queue_add(self, request: Request) -> list[Message]:
        queue = request.get("Queue") or ""
        interface = request.get("Interface") or ""
        if not queue:
            return [error(request, "'Queue' not specified.")]
        if not interface:
            return [error(request, "'Interface' not specified.")]
        with self.engine.deferred_events():
            result = self.engine.add_member(
                queue,
                interface,
                penalty=_int_or_zero(request.get("Penalty")),
                paused=ast_true(request.get("Paused") or ""),
                membername=request.get("MemberName") or "",
                state_interface=request.get("StateInterface") or "",
                reason=request.get("Reason") or "",
                wrapuptime=_int_or_zero(request.get("Wrapuptime")),
            )
        if result != "ok":
            return [error(request, ADD_ERRORS[result])]
        return [response(request, "Added interface to queue")]

    def queue_remove(self, request: Request) -> list[Message]:
        queue = request.get("Queue") or ""
        interface = request.get("Interface") or ""
        if not queue or not interface:
            return [error(request, "Need 'Queue' and 'Interface' parameters.")]
        with self.engine.deferred_events():
            result = self.engine.remove_member(queue, interface)
        if result != "ok":
            return [error(request, REMOVE_ERRORS[result])]
        return [response(request, "Removed interface from queue")]

    def queue_pause(self, request: Request) -> list[Message]:
        interface = request.get("Interface") or ""
        paused_s = request.get("Paused") or ""
        if not interface or not paused_s:
            return [error(request, "Need 'Interface' and 'Paused' parameters.")]
        paused = ast_true(paused_s)
        with self.engine.deferred_events():
            found = self.engine.set_paused(
                interface, paused, request.get("Queue") or None, request.get("Reason") or ""
            )
        if not found:
            return [error(request, "Interface not found")]
        word = "paused" if paused else "unpaused"
        return [response(request, f"Interface {word} successfully")]

    def queue_penalty(self, request: Request) -> list[Message]:
        interface = request.get("Interface") or ""
        penalty_s = request.get("Penalty") or ""
        if not interface or not penalty_s:
            return [error(request, "Need 'Interface' and 'Penalty' parameters.")]
        penalty = c_int(penalty_s) or 0  # atoi
        found = False
        if penalty >= 0:  # set_member_value refuses a negative penalty
            with self.engine.deferred_events():
                found = self.engine.set_penalty(interface, penalty, request.get("Queue") or None)
        if not found:
            return [error(request, "Invalid interface, queuename or penalty")]
        return [response(request, "Interface penalty set successfully")]

    def queue_member_ringinuse(self, request: Request) -> list[Message]:
        interface = request.get("Interface") or ""
        value = request.get("RingInUse") or ""
        if not interface or not value:
            return [error(request, "Need 'Interface' and 'RingInUse' parameters.")]
        if ast_true(value):
            ringinuse = True
        elif ast_false(value):
            ringinuse = False
        else:
            return [
                error(
                    request,
                    "'RingInUse' parameter must be a truth value (yes/no, on/off, 0/1, etc)",
                )
            ]
        with self.engine.deferred_events():
            found = self.engine.set_ringinuse(interface, ringinuse, request.get("Queue") or None)
        if not found:
            # app_queue's text really ends in a newline
            return [error(request, "Invalid interface, queuename, or ringinuse value\n")]
        return [response(request, "Interface ringinuse set successfully")]

    def queue_reset(self, request: Request) -> list[Message]:
        self.engine.reset_stats(request.get("Queue") or None)
        return [response(request, "Queue stats reset successfully")]

    # -------------------------------------------------------------- reporting
    def _selected(self, name: str | None) -> list[Queue]:
        queues = self.engine.ordered_queues()
        if name:
            return [q for q in queues if q.name.lower() == name.lower()]
        return queues

    def queue_status(self, request: Request) -> list[Message]:
        member_filter = request.get("Member") or ""
        now = int(self.engine.scheduler.now())
        out: list[Message] = [list_start(request, "Queue status will follow")]
        for queue in self._selected(request.get("Queue")):
            cfg = queue.config
            sl, sl2 = queue.service_level_perf()
            out.append(
                list_item(
                    request,
                    "QueueParams",
                    [
                        ("Queue", queue.name),
                        ("Max", str(cfg.maxlen)),
                        ("Strategy", cfg.strategy),
                        ("Calls", str(len(queue.entries))),
                        ("Holdtime", str(queue.holdtime)),
                        ("TalkTime", str(queue.talktime)),
                        ("Completed", str(queue.completed)),
                        ("Abandoned", str(queue.abandoned)),
                        ("ServiceLevel", str(cfg.servicelevel)),
                        ("ServicelevelPerf", f"{sl:2.1f}"),
                        ("ServicelevelPerf2", f"{sl2:2.1f}"),
                        ("Weight", str(cfg.weight)),
                    ],
                )
            )
            for member in queue.members:
                if member_filter and member_filter not in (member.interface, member.membername):
                    continue
                out.append(list_item(request, "QueueMember", member.status_item(queue.name)))
            for entry in queue.entries:
                info = _entry_fields(entry.host.caller_block())
                out.append(
                    list_item(
                        request,
                        "QueueEntry",
                        [
                            ("Queue", queue.name),
                            ("Position", str(entry.pos)),
                            *info.items(),
                            ("Wait", str(now - int(entry.joined_at))),
                            ("Priority", str(entry.prio)),
                        ],
                    )
                )
        out.append(list_complete(request, "QueueStatusComplete", len(out) - 1))
        return out

    def queue_summary(self, request: Request) -> list[Message]:
        now = int(self.engine.scheduler.now())
        out: list[Message] = [list_start(request, "Queue summary will follow")]
        for queue in self._selected(request.get("Queue")):
            logged_in = available = 0
            for member in queue.members:
                if member.status in (4, 5):  # INVALID, UNAVAILABLE
                    continue
                logged_in += 1
                if member.status in (0, 1) and not member.paused:
                    available += 1
            longest = max((now - int(e.joined_at) for e in queue.entries), default=0)
            out.append(
                list_item(
                    request,
                    "QueueSummary",
                    [
                        ("Queue", queue.name),
                        ("LoggedIn", str(logged_in)),
                        ("Available", str(available)),
                        ("Callers", str(len(queue.entries))),
                        ("HoldTime", str(queue.holdtime)),
                        ("TalkTime", str(queue.talktime)),
                        ("LongestHoldTime", str(longest)),
                    ],
                )
            )
        out.append(list_complete(request, "QueueSummaryComplete", len(out) - 1))
        return out

    # --------------------------------------------------------------------- CLI
    def queue_show(self, args: list[str]) -> list[str]:
        """`queue show [name]` (print_queue). Queues are listed by name."""
        if args:
            queue = self.engine.queue(args[0])
            if queue is None:
                return [f"No such queue: {args[0]}."]
            return self._print_queue(queue)
        queues = sorted(self.engine.queues.values(), key=lambda q: q.name.lower())
        if not queues:
            return ["No queues."]
        lines: list[str] = []
        for queue in queues:
            lines.extend(self._print_queue(queue))
        return lines

    def _print_queue(self, queue: Queue) -> list[str]:
        now = int(self.engine.scheduler.now())
        cfg = queue.config
        sl, sl2 = queue.service_level_perf()
        maxlen = str(cfg.maxlen) if cfg.maxlen else "unlimited"
        lines = [
            f"{queue.name} has {len(queue.entries)} calls (max {maxlen}) in '{cfg.strategy}' "
            f"strategy ({queue.holdtime}s holdtime, {queue.talktime}s talktime), "
            f"W:{cfg.weight}, C:{queue.completed}, A:{queue.abandoned}, "
            f"SL:{sl:2.1f}%, SL2:{sl2:2.1f}% within {cfg.servicelevel}s"
        ]
        if not queue.members:
            lines.append("   No Members")
        else:
            lines.append("   Members: ")
            for m in queue.members:
                text = f"      {m.membername}"
                if m.membername.lower() != m.interface.lower():
                    text += f" ({m.interface}"
                    if m.state_interface and m.state_interface != m.interface:
                        text += f" from {m.state_interface}"
                    text += ")"
                if m.penalty:
                    text += f" with penalty {m.penalty}"
                text += f" (ringinuse {'enabled' if m.ringinuse else 'disabled'})"
                if m.dynamic:
                    text += " (dynamic)"
                if m.in_call:
                    text += " (in call)"
                if m.paused:
                    reason = f":{m.reason_paused}" if m.reason_paused else ""
                    text += f" (paused{reason} was {now - int(m.lastpause)} secs ago)"
                text += f" ({DEVICE_STATE_TEXT[m.status]})"
                if m.calls:
                    text += (
                        f" has taken {m.calls} calls (last was {now - int(m.lastcall)} secs ago)"
                    )
                else:
                    text += " has taken no calls yet"
                text += f" (login was {now - int(m.logintime)} secs ago)"
                lines.append(text)
        if not queue.entries:
            lines.append("   No Callers")
        else:
            lines.append("   Callers: ")
            for entry in queue.entries:
                wait = now - int(entry.joined_at)
                channel = dict(entry.host.caller_block()).get("Channel", "")
                lines.append(
                    f"      {entry.pos}. {channel} (wait: {wait // 60}:{wait % 60:02d}, "
                    f"prio: {entry.prio})"
                )
        lines.append("")
        return lines


def register(engine: QueueEngine, actions: ActionRegistry, cli: CliRegistry) -> QueueManager:
    """Install the queue actions and CLI commands for `engine`."""
    manager = QueueManager(engine)
    manager.register(actions, cli)
    return manager

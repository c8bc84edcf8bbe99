"""The channel AMI actions (Originate, Redirect, Hangup, Getvar, Setvar, CoreShowChannels)
and the `core show channels` CLI command, with Asterisk 22's exact response texts
(main/manager.c; reference/asterisk-protocol.md §1.7)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable

from pbxsim.channel import STATE_DESC, Channel
from pbxsim.dialplan import FunctionError, assign
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
from pbxsim.telephony.originate import (
    OriginateRequest,
    Originator,
    parse_callerid,
    parse_variables,
)
from pbxsim.telephony.pbx import Pbx
from pbxsim.telephony.transfers import dual_redirect


def _ast_true(value: str) -> bool:
    return value.strip().lower() in ("yes", "true", "y", "t", "1", "on")


def _duration(seconds: float) -> str:
    total = max(0, int(seconds))
    return f"{total // 3600:02d}:{total // 60 % 60:02d}:{total % 60:02d}"


class ChannelActions:
    def __init__(self, pbx: Pbx) -> None:
        self.pbx = pbx
        self.originator = Originator(pbx)

    def register(self, actions: ActionRegistry, cli: CliRegistry | None = None) -> None:
        # write classes as main/manager.c registers them (any one of them suffices)
        actions.register("Originate", self.originate, "originate")
        actions.register("Redirect", self.redirect, "call")
        actions.register("Hangup", self.hangup, "system,call")
        actions.register("Getvar", self.getvar, "call,reporting")
        actions.register("Setvar", self.setvar, "call")
        actions.register("CoreShowChannels", self.core_show_channels, "system,reporting")
        if cli is not None:
            cli.register("core show channels", self.cli_core_show_channels)

    # ------------------------------------------------------------------ Originate

    def originate(self, req: Request) -> list[Message] | Awaitable[list[Message]]:
        channel = req.get("Channel") or ""
        if not channel:
            return [error(req, "Channel not specified")]
        if "/" not in channel:
            return [error(req, "Invalid channel")]
        priority_text = req.get("Priority") or ""
        priority = 1
        if priority_text:
            if not priority_text.isdigit() or int(priority_text) < 1:
                return [error(req, "Invalid priority")]
            priority = int(priority_text)
        timeout_text = req.get("Timeout") or ""
        timeout = 30.0
        if timeout_text:
            try:
                timeout = int(timeout_text) / 1000
            except ValueError:
                return [error(req, "Invalid timeout")]
        num, name = parse_callerid(req.get("CallerID") or "")
        request = OriginateRequest(
            channel=channel,
            context=req.get("Context") or "",
            exten=req.get("Exten") or "",
            priority=priority,
            application=req.get("Application") or "",
            data=req.get("Data") or "",
            callerid_num=num,
            callerid_name=name,
            variables=parse_variables(req.get_all("Variable")),
            timeout=timeout,
            action_id=req.action_id,
            asynchronous=_ast_true(req.get("Async") or ""),
            account=req.get("Account") or "",
        )
        if request.asynchronous:
            self.pbx.scheduler.call_soon(self.originator.originate, request)
            return [response(req, "Originate successfully queued")]
        return self._originate_and_wait(req, request)

    async def _originate_and_wait(self, req: Request, request: OriginateRequest) -> list[Message]:
        """Synchronous Originate: the reply waits for the outcome (and the session
        reads nothing meanwhile); no OriginateResponse event is posted."""
        outcome: asyncio.Future[bool] = asyncio.get_running_loop().create_future()

        def decided(ok: bool) -> None:
            if not outcome.done():
                outcome.set_result(ok)

        request.on_result = decided
        self.pbx.scheduler.call_soon(self.originator.originate, request)
        if await outcome:
            return [response(req, "Originate successfully queued")]
        return [error(req, "Originate failed")]

    # ------------------------------------------------------------------ Redirect

    def redirect(self, req: Request) -> list[Message]:
        name = req.get("Channel") or ""
        if not name:
            return [error(req, "Channel not specified")]
        context, exten = req.get("Context") or "", req.get("Exten") or ""
        if not context:
            return [error(req, "Context not specified")]
        if not exten:
            return [error(req, "Exten not specified")]
        priority_text = req.get("Priority") or ""
        if not priority_text:
            return [error(req, "Priority not specified")]
        if not priority_text.isdigit() or int(priority_text) < 1:
            return [error(req, "Priority is invalid")]
        extra_name = req.get("ExtraChannel") or ""
        extra_where: tuple[str, str, int] | None = None
        if extra_name:
            # an ExtraContext/ExtraExten/ExtraPriority left out means the first's
            extra_exten = req.get("ExtraExten") or exten
            extra_priority = req.get("ExtraPriority") or priority_text
            if not extra_priority.isdigit() or int(extra_priority) < 1:
                return [error(req, "ExtraPriority is invalid")]
            extra_where = (req.get("ExtraContext") or context, extra_exten, int(extra_priority))
        channel = self.pbx.find_channel(name)
        if channel is None:
            return [error(req, f"Channel does not exist: {name}")]
        if extra_where is None:
            self.pbx.redirect(channel, context, exten, int(priority_text))
            return [response(req, "Redirect successful")]
        extra = self.pbx.find_channel(extra_name)
        if extra is None:
            return [error(req, f"ExtraChannel does not exist: {extra_name}")]
        where = (context, exten, int(priority_text))
        self.pbx.scheduler.call_soon(dual_redirect, self.pbx, channel, extra, where, extra_where)
        return [response(req, "Dual Redirect successful")]

    # ------------------------------------------------------------------ Hangup

    def hangup(self, req: Request) -> list[Message]:
        name = req.get("Channel") or ""
        if not name:
            return [error(req, "No channel specified")]
        cause_text = req.get("Cause") or ""
        cause = int(cause_text) if cause_text.isdigit() else 16
        if len(name) > 2 and name.startswith("/") and name.endswith("/"):
            try:
                pattern = re.compile(name[1:-1])
            except re.error:
                return [error(req, "Invalid regex")]
            victims = [c for c in self.pbx.legs.channels() if pattern.search(c.name)]
            out = [list_start(req, "Channels hung up will follow")]
            for channel in victims:
                out.append(list_item(req, "ChannelHungup", [("Channel", channel.name)]))
            for channel in victims:
                self.pbx.scheduler.call_soon(self._soft_hangup, channel, cause)
            out.append(list_complete(req, "ChannelsHungupListComplete", len(victims)))
            return out
        target = self.pbx.find_channel(name)
        if target is None:
            return [error(req, "No such channel")]
        self.pbx.scheduler.call_soon(self._soft_hangup, target, cause)
        return [response(req, "Channel Hungup")]

    def _soft_hangup(self, channel: Channel, cause: int) -> None:
        self.pbx.soft_hangup(channel, cause, post=False)

    # ------------------------------------------------------------------ variables

    def _value(self, channel: Channel | None, variable: str) -> str:
        if "(" in variable:
            return self.pbx.substitute(channel, "${" + variable + "}")
        return self.pbx.get_var(channel, variable) or ""

    def getvar(self, req: Request) -> list[Message]:
        variable = req.get("Variable") or ""
        if not variable:
            return [error(req, "No variable specified")]
        name = req.get("Channel") or ""
        channel = None
        if name:
            channel = self.pbx.find_channel(name)
            if channel is None:
                return [error(req, "No such channel")]
        value = self._value(channel, variable)
        return [response(req, None, extra=[("Variable", variable), ("Value", value)])]

    def setvar(self, req: Request) -> list[Message]:
        variable = req.get("Variable") or ""
        if not variable:
            return [error(req, "No variable specified")]
        name = req.get("Channel") or ""
        channel = None
        if name:
            channel = self.pbx.find_channel(name)
            if channel is None:
                return [error(req, "No such channel")]
        value = req.get("Value") or ""
        if variable.endswith(")"):
            # a dialplan function (DEVICE_STATE(Custom:x), CALLERID(num)...): no VarSet
            try:
                assign(self.pbx.scope(channel), variable, value)
            except FunctionError:
                return [error(req, "Variable not set")]
        else:
            self.pbx.set_var(channel, variable, value)
        return [response(req, "Variable Set")]

    # ------------------------------------------------------------------ listing

    def _application(self, channel: Channel) -> tuple[str, str]:
        leg = self.pbx.legs.find(channel.name)
        if leg is None:
            return "", ""
        if not leg.in_dialplan and leg.bridge is not None:
            return "AppDial", "(Outgoing Line)" if leg.dial_app else ""
        return leg.last_app, leg.last_data

    def core_show_channels(self, req: Request) -> list[Message]:
        now = self.pbx.scheduler.now()
        out = [list_start(req, "Channels will follow")]
        channels = self.pbx.legs.channels()
        for channel in channels:
            app, data = self._application(channel)
            leg = self.pbx.legs.find(channel.name)
            bridge = leg.bridge.uniqueid if leg is not None and leg.bridge is not None else ""
            lines: Message = [("Event", "CoreShowChannel")]
            if req.action_id is not None:
                lines.append(("ActionID", req.action_id))
            lines += [
                *channel.block(),
                ("Application", app),
                ("ApplicationData", data),
                ("Duration", _duration(now - channel.created_at)),
                ("BridgeId", bridge),
            ]
            out.append(lines)
        out.append(list_complete(req, "CoreShowChannelsComplete", len(channels)))
        return out

    def cli_core_show_channels(self, words: list[str]) -> list[str]:
        """`core show channels` (main/cli.c `handle_chanlist`, default form): the
        location and application columns are built in 40-byte buffers, then printed
        with `%-20.20s %-20.20s %-7.7s %-30.30s`."""
        channels = self.pbx.legs.channels()
        row = "{:<20.20} {:<20.20} {:<7.7} {:<30.30}"
        lines = [row.format("Channel", "Location", "State", "Application(Data)")]
        for channel in channels:
            app, data = self._application(channel)
            location = "(None)"
            if channel.context and channel.exten:
                location = f"{channel.exten}@{channel.context}:{channel.priority}"[:39]
            appdata = f"{app}({data})"[:39] if app else "(None)"
            lines.append(row.format(channel.name, location, STATE_DESC[channel.state], appdata))
        lines.append(_plural(len(channels), "active channel"))
        # ast_active_calls(): channels running dialplan (pbx.c countcalls)
        running = sum(1 for leg in self.pbx.legs if leg.in_dialplan)
        lines.append(_plural(running, "active call"))
        lines.append(_plural(self.pbx.calls_processed, "call") + " processed")
        return lines


def _plural(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"

"""AMI Originate (main/manager.c `action_originate` + main/pbx.c `ast_pbx_outgoing_*`).

The outbound channel is requested, shows `AppDial2 (Outgoing Line)`, gets the
Originate's variables and caller id, and is called; when it answers (`DialEnd ANSWER`,
`OriginateResponse` with `Reason: 4`) it either runs the given dialplan location or the
given application. Failures answer `OriginateResponse` with `Response: Failure`: an
unknown technology fails before any channel exists (`Reason: 0`, `Uniqueid: <unknown>`),
a Local channel to a missing extension after its pair was created (ami-2.log scenario 9).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from pbxsim.channel import UP, Channel
from pbxsim.telephony import local
from pbxsim.telephony.pbx import Pbx

#: OriginateResponse `Reason` codes (include/asterisk/frame.h AST_CONTROL_*)
REASON_FAILED = 0
REASON_HANGUP = 1
REASON_TIMEOUT = 3
REASON_ANSWERED = 4
REASON_BUSY = 5
REASON_CONGESTION = 8


@dataclass
class OriginateRequest:
    channel: str
    context: str = ""
    exten: str = ""
    priority: int = 1
    application: str = ""
    data: str = ""
    callerid_num: str = ""
    callerid_name: str = ""
    variables: list[tuple[str, str]] = field(default_factory=list)
    timeout: float = 30.0
    action_id: str | None = None
    #: Async: true posts OriginateResponse; a synchronous one is answered by `on_result`
    asynchronous: bool = True
    on_result: Callable[[bool], None] | None = None
    #: `Account`: the new channel's AccountCode (set before the call is placed)
    account: str = ""


def parse_callerid(text: str) -> tuple[str, str]:
    """`"Name" <num>` / `Name <num>` / `num` -> (num, name) like `ast_callerid_parse`."""
    text = text.strip()
    if "<" in text and text.endswith(">"):
        name, _, num = text[:-1].rpartition("<")
        return num.strip(), name.strip().strip('"')
    if text.replace("+", "").isdigit():
        return text, ""
    return "", text.strip('"')


def parse_variables(values: list[str]) -> list[tuple[str, str]]:
    """Each `Variable:` header holds `name=value`; several may be joined with commas."""
    out: list[tuple[str, str]] = []
    for value in values:
        for item in value.split(","):
            name, sep, val = item.partition("=")
            if sep and name.strip():
                out.append((name.strip(), val))
    return out


Responder = Callable[[list[tuple[str, str]]], None]


class Originator:
    def __init__(self, pbx: Pbx) -> None:
        self.pbx = pbx

    def originate(self, req: OriginateRequest) -> None:
        """Start the call; the OriginateResponse event follows on the bus."""
        pbx = self.pbx
        tech, _, resource = req.channel.partition("/")
        if tech.lower() == "local":
            self._originate_local(req, local.parse_local(resource))
            return
        if tech.upper() == "PJSIP" and f"PJSIP/{resource}" in pbx.endpoints:
            endpoint = pbx.endpoints[f"PJSIP/{resource}"]
            channel = endpoint.request(None, "AppDial2")
            if channel is not None:
                self._prepare(channel, req)
                self._dial(channel, req, resource)
                return
        user, at, endpoint_name = resource.partition("@")
        dialer = pbx.find_app("Dial")
        if tech.upper() == "PJSIP" and at and f"PJSIP/{endpoint_name}" in pbx.endpoints:
            from pbxsim.telephony.dial import Dialer

            if isinstance(dialer, Dialer):
                # `PJSIP/<number>@<trunk>`: the carrier's party behind the trunk
                channel = dialer.request_far_end(
                    endpoint_name, user, resource, None, accountcode=req.account
                )
                self._prepare(channel, req)
                self._dial(channel, req, resource)
                return
        self._respond(req, None, REASON_FAILED)

    def _prepare(self, one: Channel, req: OriginateRequest) -> None:
        pbx = self.pbx
        if req.account:
            one.accountcode = req.account
        pbx.leg(one).dial_app = "AppDial2"
        pbx.newexten(one, "AppDial2", "(Outgoing Line)")
        # Asterisk builds the variable list by prepending: the last header is set first
        for name, value in reversed(req.variables):
            pbx.set_var(one, name, value)
        if req.callerid_num or req.callerid_name:
            one.caller_num, one.caller_name = req.callerid_num, req.callerid_name
            pbx.set_callerid(one, req.callerid_num, req.callerid_name)
            pbx.set_connected(one, req.callerid_num, req.callerid_name)

    def _originate_local(self, req: OriginateRequest, target: local.LocalTarget) -> None:
        pbx = self.pbx
        one, _two = local.create_pair(pbx, target)
        if not local.target_exists(pbx, target, req.callerid_num):
            pbx.newexten(one, "AppDial2", "(Outgoing Line)")
            pbx.hangup(_two, 0, notify_partner=False)
            self._respond(req, None, REASON_FAILED)
            pbx.hangup(one, 0)
            return
        self._prepare(one, req)
        local.local_call(pbx, one)
        self._dial(one, req, target.dialstring)

    def _dial(self, one: Channel, req: OriginateRequest, dialstring: str) -> None:
        pbx = self.pbx
        pbx.dial_begin(None, one, dialstring)
        timer = pbx.scheduler.call_later(req.timeout, self._timeout, one, req)

        def answered(channel: Channel) -> None:
            timer.cancel()
            pbx.dial_end(None, channel, "ANSWER")
            if req.application:
                pbx.leg(channel).in_dialplan = False
                app = pbx.find_app(req.application)
                # runs where the channel is: no Newexten (same context/exten/priority)
                pbx.newexten(channel, req.application, req.data)
                pbx.cdr.originated_app(channel)
                if app is not None:
                    from pbxsim.dialplan.appargs import split_args

                    app(pbx, channel, split_args(req.data), lambda _r: pbx.hangup(channel))
            else:
                pbx.start_dialplan(channel, req.context, req.exten, req.priority)
            # the originate thread reports after the pbx thread got going
            pbx.scheduler.call_soon(self._respond, req, channel, REASON_ANSWERED)

        def gone(channel: Channel) -> None:
            if channel.state != UP:
                timer.cancel()
                pbx.dial_end(None, channel, "CANCEL")
                self._respond(req, None, REASON_HANGUP, name=channel.name)

        pbx.on_answer(one, answered)
        pbx.on_hangup(one, gone)

    def _timeout(self, one: Channel, req: OriginateRequest) -> None:
        if one.hungup or one.state == UP:
            return
        pbx = self.pbx
        pbx.leg(one).hangup_callbacks.clear()
        pbx.dial_end(None, one, "NOANSWER")
        self._respond(req, None, REASON_TIMEOUT, name=one.name)
        pbx.hangup(one, 16)

    def _respond(
        self, req: OriginateRequest, channel: Channel | None, reason: int, name: str = ""
    ) -> None:
        ok = channel is not None and reason == REASON_ANSWERED
        if req.on_result is not None:
            req.on_result(ok)
        if not req.asynchronous:
            return
        fields: list[tuple[str, str]] = []
        if req.action_id is not None:
            fields.append(("ActionID", req.action_id))
        fields += [
            ("Response", "Success" if ok else "Failure"),
            ("Channel", channel.name if channel is not None else (name or req.channel)),
        ]
        if req.application:
            fields += [("Application", req.application), ("Data", req.data)]
        else:
            fields += [("Context", req.context), ("Exten", req.exten)]
        fields += [
            ("Reason", str(reason)),
            ("Uniqueid", channel.uniqueid if channel is not None else "<unknown>"),
            ("CallerIDNum", req.callerid_num or "<unknown>"),
            ("CallerIDName", req.callerid_name or "<unknown>"),
        ]
        self.pbx.bus.emit("OriginateResponse", "call", fields)

"""Running a channel through the dialplan (main/pbx.c `__ast_pbx_run`, callback style).

For each priority: look it up, expand its data, post `Newexten` (Extension /
Application / AppData as Asterisk shows them), then call the application with the
split arguments and wait for its `done(result)`. `0` goes on (or wherever a `Goto`
pointed), `-1` or a hangup ends the run: the `h` extension runs if the context has one,
then the channel is hung up. Applications that finish synchronously are trampolined so
long dialplans do not grow the stack.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pbxsim.channel import Channel
from pbxsim.dialplan.appargs import split_args

if TYPE_CHECKING:
    from pbxsim.telephony.pbx import Pbx


@dataclass
class Location:
    context: str
    exten: str
    priority: int


class DialplanRun:
    """One channel's pass through the dialplan. Created by `start_dialplan`."""

    def __init__(self, pbx: Pbx, channel: Channel) -> None:
        self.pbx = pbx
        self.channel = channel
        self._token = 0
        self._pending: int | None = None
        self._jump: Location | None = None
        self._in_h = False
        self._running = False
        self._app_interrupt: Callable[[], None] | None = None
        self.finished = False

    # -------------------------------------------------------------- control

    def goto(self, context: str, exten: str, priority: int) -> None:
        """Continue at this location when the current application returns 0."""
        self._jump = Location(context, exten, priority)

    def set_app_interrupt(self, fn: Callable[[], None] | None) -> None:
        self._app_interrupt = fn

    def redirect(self, context: str, exten: str, priority: int) -> None:
        """AMI Redirect (`ast_async_goto`) of a channel inside an application.

        The application is told to stop (its cleanup events come first), the channel
        moves, and -- as ami-2.log shows -- a `Newexten` is posted for the new location
        still naming the interrupted application. The target priority then runs
        (pbx.c's autoloop), without a Newexten of its own: its location is already
        the published one (see `Pbx.newexten`).
        """
        interrupt, self._app_interrupt = self._app_interrupt, None
        self._token += 1  # the application's own done() is now stale
        leg = self.pbx.leg(self.channel)
        if interrupt is not None:
            leg.async_goto = True
            try:
                interrupt()
            finally:
                leg.async_goto = False
        if self.channel.hungup or self.finished:
            return
        self._set_location(Location(context, exten, priority))
        app, data = self.pbx.last_app(self.channel)
        self.pbx.newexten(self.channel, app, data)
        self._jump = None
        self._pending = None
        if not self._running:
            self._run()

    def interrupt(self) -> None:
        """The channel is hanging up. An application with a cancel hook decides when
        it returns (AGI keeps talking to its server); any other returns -1 now."""
        if self.finished or self._in_h:
            return
        interrupt, self._app_interrupt = self._app_interrupt, None
        if interrupt is not None:
            interrupt()
        else:
            self._complete(self._token, -1)

    # -------------------------------------------------------------- loop

    def start(self, context: str, exten: str, priority: int) -> None:
        leg = self.pbx.leg(self.channel)
        leg.in_dialplan = True
        leg.interrupt = self.interrupt
        self._set_location(Location(context, exten, priority))
        self._run()

    def _set_location(self, loc: Location) -> None:
        ch = self.channel
        ch.context, ch.exten, ch.priority = loc.context, loc.exten, loc.priority

    def _callerid(self) -> str:
        return self.channel.caller_num

    def _run(self) -> None:
        if self._running:
            return
        self._running = True
        try:
            while not self.finished:
                if self._pending is not None:
                    result, self._pending = self._pending, None
                    if not self._advance(result):
                        return
                    continue
                if not self._execute_current():
                    return
        finally:
            self._running = False

    def _execute_current(self) -> bool:
        """Start the application at the current priority. False: wait for `done`."""
        pbx, ch = self.pbx, self.channel
        found = pbx.find_priority(ch.context, ch.exten, ch.priority, self._callerid())
        if found is None:
            # auto-fallthrough: no more priorities; `h` runs, then the channel hangs up
            if self._in_h:
                self._finish()
                return False
            self._run_h_or_finish()
            return not self.finished
        app_name, raw = found
        data = pbx.substitute(ch, raw)
        app = pbx.find_app(app_name)
        pbx.newexten(ch, app_name, data)
        token = self._token = self._token + 1
        if app is None:
            self._complete(token, -1)
            return True

        def done(result: int) -> None:
            self._complete(token, result)

        app(pbx, ch, split_args(data), done)
        # keep looping only if the application already finished (or the channel ended)
        return self._pending is not None or self.finished

    def _complete(self, token: int, result: int) -> None:
        if token != self._token or self.finished:
            return
        self._token += 1
        self._app_interrupt = None
        self._pending = result
        if not self._running:
            self._run()

    def _advance(self, result: int) -> bool:
        leg = self.pbx.legs.find(self.channel.name)
        if leg is None or self.channel.hungup:
            self.finished = True
            return False
        if self._in_h:
            if result != 0:
                self._finish()
                return True
        elif result != 0 or leg.soft_hangup:
            # the run ends: the channel is soft-hung-up on its way out (ami-2.log: a
            # caller whose Queue() returns -1 after the bridge posts it too)
            self.pbx.post_soft_hangup(self.channel)
            leg.soft_hangup = True
            self._run_h_or_finish()
            return True
        if self._jump is not None:
            self._set_location(self._jump)
            self._jump = None
        else:
            self.channel.priority += 1
        return True

    def _run_h_or_finish(self) -> None:
        ch = self.channel
        if not self._in_h and self.pbx.exten_exists(ch.context, "h", 1, self._callerid()):
            self._in_h = True
            self._set_location(Location(ch.context, "h", 1))
            return
        self._finish()

    def _finish(self) -> None:
        if self.finished:
            return
        self.finished = True
        leg = self.pbx.legs.find(self.channel.name)
        if leg is not None:
            leg.in_dialplan = False
            leg.interrupt = None
        self.pbx.hangup(self.channel, leg.hangup_cause if leg is not None else 16)

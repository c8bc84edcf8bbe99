"""The built-in dialplan applications the transcripts' dialplans use.

Each follows the README contract `app(pbx, channel, args, done)`; an application that
waits registers a cancel hook with `pbx.set_app_interrupt` so a hangup or a Redirect
stops its timer (Asterisk's apps notice the hangup frame the same way).
"""

from __future__ import annotations

from collections.abc import Callable

from pbxsim.channel import Channel
from pbxsim.dialplan import FunctionError, assign
from pbxsim.telephony.pbx import Done, Pbx

#: SendDTMF defaults (app_senddtmf.c): 250 ms between digits; chan_local relays each
#: digit with the 100 ms duration the transcripts show in `DTMFEnd`
DTMF_BETWEEN = 0.25
DTMF_DURATION_MS = 100


def _wait_then(
    pbx: Pbx, channel: Channel, seconds: float, fn: Callable[[], None], done: Done
) -> None:
    """Run `fn` after `seconds` unless the channel hangs up or is redirected first, in
    which case the application returns -1 at once (as Asterisk's waits do)."""
    handle = pbx.scheduler.call_later(seconds, fn)

    def cancel() -> None:
        handle.cancel()
        done(-1)

    pbx.set_app_interrupt(channel, cancel)


def answer(pbx: Pbx, channel: Channel, args: list[str], done: Done) -> None:
    pbx.answer(channel)
    done(0)


def noop(pbx: Pbx, channel: Channel, args: list[str], done: Done) -> None:
    done(0)


def wait(pbx: Pbx, channel: Channel, args: list[str], done: Done) -> None:
    try:
        seconds = float(args[0]) if args and args[0] else 0.0
    except ValueError:
        seconds = 0.0
    if seconds <= 0:
        done(0)
        return
    _wait_then(pbx, channel, seconds, lambda: done(0), done)


def hangup(pbx: Pbx, channel: Channel, args: list[str], done: Done) -> None:
    cause = 16
    if args and args[0].strip().isdigit():
        cause = int(args[0]) or 16
    pbx.soft_hangup(channel, cause)
    done(-1)


def set_var(pbx: Pbx, channel: Channel, args: list[str], done: Done) -> None:
    # Set() parses its data itself: `name=value`, the value kept verbatim (quotes and
    # commas included), so it reads the expanded AppData rather than the split args
    text = pbx.last_app(channel)[1]
    name, sep, value = text.partition("=")
    if sep and name.strip():
        try:
            assign(pbx.scope(channel), name.strip(), value)
        except FunctionError:
            pass  # Asterisk logs a warning and carries on
    done(0)


def _truthy(condition: str) -> bool:
    condition = condition.strip()
    if not condition:
        return False
    try:
        return float(condition) != 0
    except ValueError:
        return True


def parse_goto(target: str, channel: Channel) -> tuple[str, str, str]:
    """`[[context,]exten,]priority|label` -> (context, exten, priority-or-label)."""
    parts = [p.strip() for p in target.split(",")]
    if len(parts) == 1:
        return channel.context, channel.exten, parts[0]
    if len(parts) == 2:
        return channel.context, parts[0], parts[1]
    return parts[0], parts[1], parts[2]


def jump(pbx: Pbx, channel: Channel, target: str) -> bool:
    """Point the channel's dialplan run at `target`; False if it does not resolve."""
    run = pbx.run_of(channel)
    if run is None:
        return False
    context, exten, where = parse_goto(target, channel)
    if where.lstrip("+-").isdigit():
        priority: int | None = int(where)
    else:
        priority = pbx.find_label(context, exten, where, channel.caller_num)
    if priority is None:
        return False
    run.goto(context, exten, priority)
    return True


def goto(pbx: Pbx, channel: Channel, args: list[str], done: Done) -> None:
    done(0 if jump(pbx, channel, ",".join(args)) else -1)


def gotoif(pbx: Pbx, channel: Channel, args: list[str], done: Done) -> None:
    text = ",".join(args)
    condition, _, branches = text.partition("?")
    if_true, _, if_false = branches.partition(":")
    target = if_true if _truthy(condition) else if_false
    if not target.strip():
        done(0)
        return
    done(0 if jump(pbx, channel, target) else -1)


def send_dtmf(pbx: Pbx, channel: Channel, args: list[str], done: Done) -> None:
    """Digits go out of this channel: on a Local `;2` they arrive on `;1` (posted there
    as `Received`, nothing on `;2`, as in ami.log) and travel on through its bridge."""
    digits = [d for d in (args[0] if args else "") if d in "0123456789*#ABCDabcdwW"]
    leg = pbx.leg(channel)
    target = leg.partner if leg.partner is not None else channel

    def play(i: int) -> None:
        if i >= len(digits) or target.hungup or channel.hungup:
            done(0)
            return
        digit = digits[i]
        if digit in "wW":  # a half-second pause
            _wait_then(pbx, channel, 0.5, lambda: play(i + 1), done)
            return
        path = pbx.dtmf_begin(target, digit)

        def end() -> None:
            pbx.dtmf_end(path, digit, DTMF_DURATION_MS)
            _wait_then(pbx, channel, DTMF_BETWEEN, lambda: play(i + 1), done)

        _wait_then(pbx, channel, DTMF_DURATION_MS / 1000, end, done)

    play(0)


def playback(pbx: Pbx, channel: Channel, args: list[str], done: Done) -> None:
    files = [f for f in (args[0] if args else "").split("&") if f]
    seconds = sum(pbx.sound_length(f) for f in files)

    def finish() -> None:
        pbx.set_var(channel, "PLAYBACKSTATUS", "SUCCESS")
        done(0)

    _wait_then(pbx, channel, seconds, finish, done)


def mixmonitor(pbx: Pbx, channel: Channel, args: list[str], done: Done) -> None:
    filename = args[0] if args else ""
    if filename and not filename.startswith("/"):
        filename = f"{pbx.spool_dir}/monitor/{filename}"
    pbx.set_var(channel, "MIXMONITOR_FILENAME", filename)
    pbx.emit("MixMonitorStart", "call", channel)
    done(0)


BUILTIN_APPS = {
    "Answer": answer,
    "NoOp": noop,
    "Wait": wait,
    "Hangup": hangup,
    "Set": set_var,
    "Goto": goto,
    "GotoIf": gotoif,
    "SendDTMF": send_dtmf,
    "Playback": playback,
    "MixMonitor": mixmonitor,
}


def register_builtin_apps(pbx: Pbx) -> None:
    """The apps above plus Dial() (its own module: it owns the trunk's far end)."""
    from pbxsim.telephony.dial import install as install_dial

    for name, app in BUILTIN_APPS.items():
        pbx.register_app(name, app)
    install_dial(pbx)

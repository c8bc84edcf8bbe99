"""`Queue(name[,options[,URL[,announceoverride[,timeout[,AGI[,gosub[,rule[,position]]]]]]]])`:
the dialplan application, i.e. the engine's CallerHost on real simulated channels.

The engine decides *what* happens and in which order; this module turns each step into
the telephony calls whose events the transcripts show for the caller and member
channels: the member's Local pair before `AgentCalled`, `DialBegin` after it,
`DialEnd NOANSWER` then `CANCEL` and a cause-0 hangup for a ring that timed out, the
losers of a ringall hung up with cause 26 (answered elsewhere), the bridge after
`AgentConnect`, `AgentComplete` when the first party of the bridge hangs up, and the
caller's exit variables once it is out of the bridge.

Options modelled: `c` (continue in the dialplan when the agent hangs up:
QUEUESTATUS=CONTINUE) and `n` (no retries); the `position` argument (join_queue).
A waiting caller's keys are read the whole time it waits or rings members, during
periodic announcements too: a key sequence that is an extension of the queue's
`context` takes it out of the queue to there (`valid_exit`). The other options (t, T,
h, H, k, K, i, r, R, w, W, x, X, C, ...) only change what DTMF features or ringback a
real caller gets, which the simulator does not produce, so they are accepted and have
no effect.
"""

from __future__ import annotations

from pbxsim.app_queue.engine import QueueEngine, QueueEntry, RingAttempt
from pbxsim.channel import Channel
from pbxsim.events import Fields
from pbxsim.telephony.pbx import Done, Pbx

#: hangup causes app_queue uses for member channels it gives up on
CAUSE_NO_ANSWER = 0
CAUSE_ANSWERED_ELSEWHERE = 26
#: sizeof(qe->digits) - 2 (AST_MAX_EXTENSION): longer key sequences start over
MAX_DIGITS = 78


class ChannelCaller:
    """The CallerHost for one channel inside Queue()."""

    def __init__(self, pbx: Pbx, engine: QueueEngine, channel: Channel, done: Done) -> None:
        self.pbx = pbx
        self.engine = engine
        self.channel = channel
        self._done: Done | None = done
        self.entry: QueueEntry | None = None
        #: member channels given up on, waiting for hangupcalls (see end_ring)
        self._dropped: list[tuple[Channel, int, bool]] = []
        #: qe->digits: keys pressed so far towards an extension of the queue's context
        self.digits = ""

    # ------------------------------------------------------------ CallerHost
    def caller_block(self) -> Fields:
        return self.channel.block()

    def dest_block(self, attempt: RingAttempt) -> Fields:
        # app_queue snapshots the member channel itself (AgentCalled can show changes
        # not yet published in the DialBegin that follows)
        member_channel = attempt.channel
        assert isinstance(member_channel, Channel)
        return self.pbx.fresh_block(member_channel, "Dest")

    def set_var(self, name: str, value: str) -> None:
        self._hang_up_dropped()
        self.pbx.set_var(self.channel, name, value)

    def set_member_var(self, attempt: RingAttempt, name: str, value: str) -> None:
        member_channel = attempt.channel
        assert isinstance(member_channel, Channel)
        self.pbx.set_var(member_channel, name, value)

    def hold_start(self, musicclass: str) -> None:
        self.pbx.moh_start(self.channel, musicclass or "default")

    def hold_stop(self) -> None:
        self._hang_up_dropped()
        self.pbx.moh_stop(self.channel)

    def announce(self, sound: str) -> float:
        self.pbx.moh_stop(self.channel)
        return self.pbx.sound_length(sound)

    def key(self, digit: str) -> None:
        """A key the waiting caller pressed (valid_exit): kept while it can still
        become an extension of the queue's context, forgotten when it cannot; an
        exact match points the channel there (ast_goto_if_exists) and ends the wait."""
        entry = self.entry
        if entry is None or entry.state not in ("waiting", "ringing"):
            return
        if len(self.digits) >= MAX_DIGITS:
            self.digits = ""
            return
        self.digits += digit
        context = entry.queue.config.context
        if not context:
            return
        callerid = self.channel.caller_num
        if not self.pbx.exten_can_match(context, self.digits, callerid):
            self.digits = ""
            return
        if not self.pbx.exten_exists(context, self.digits, 1, callerid):
            return
        run = self.pbx.run_of(self.channel)
        if run is None:
            return
        run.goto(context, self.digits, 1)
        self.engine.exit_with_key(entry)

    def ring(self, attempt: RingAttempt) -> bool:
        member_channel = self.pbx.request_channel(attempt.member.interface, self.channel)
        if member_channel is None:
            return False
        attempt.channel = member_channel
        self.pbx.on_answer(member_channel, lambda _ch: self._member_answered(attempt))
        self.pbx.on_hangup(member_channel, lambda ch: self._member_hangup(attempt, ch))
        return True

    def dial_begin(self, attempt: RingAttempt) -> None:
        member_channel = attempt.channel
        assert isinstance(member_channel, Channel)
        self.pbx.dial_begin(self.channel, member_channel, attempt.member.interface)

    def end_ring(self, attempt: RingAttempt, status: str) -> None:
        """A member channel app_queue gives up on.

        Real Asterisk publishes the member's pending snapshot (the caller's exten and
        connected line) first, posts `DialEnd <status>` for every dropped member, and
        only then (hangupcalls) a second `DialEnd CANCEL` and the hangup of each, the
        `;1` followed by a late `NewConnectedLine`. The second half waits in
        `_dropped` until the engine's next step for this caller (or the end of the
        current instant)."""
        member_channel = attempt.channel
        assert isinstance(member_channel, Channel)
        had_pending = bool(self.pbx.leg(member_channel).pending)
        # Pbx has no public name for "publish the pending snapshot" yet
        self.pbx._publish(member_channel)
        self.pbx.dial_end(self.channel, member_channel, status)
        if member_channel.hungup or self.pbx.leg(member_channel).soft_hangup:
            return  # the member side gave up by itself: one DialEnd with its reason
        answered_elsewhere = status == "CANCEL" and self._answered()
        if not self._dropped:
            self.pbx.scheduler.call_soon(self._hang_up_dropped)
        cause = CAUSE_ANSWERED_ELSEWHERE if answered_elsewhere else CAUSE_NO_ANSWER
        self._dropped.append((member_channel, cause, had_pending))

    def _hang_up_dropped(self) -> None:
        dropped, self._dropped = self._dropped, []
        for member_channel, cause, had_pending in dropped:
            if member_channel.hungup:
                continue
            self.pbx.dial_end(self.channel, member_channel, "CANCEL")
            self.pbx.hangup(member_channel, cause)
            if had_pending:
                self.pbx.emit("NewConnectedLine", "call", member_channel)

    def connect(self, attempt: RingAttempt) -> None:
        self._hang_up_dropped()
        member_channel = attempt.channel
        assert isinstance(member_channel, Channel)
        bridge = self.pbx.bridge(self.channel, member_channel)
        bridge.on_exit(self.channel, lambda _ch: self._left_bridge())

    def finished(self, status: str | None) -> None:
        self._hang_up_dropped()
        leg = self.pbx.leg(self.channel)
        redirected = leg.async_goto  # the channel goes on where the Redirect points
        if status is None and not redirected and not self.channel.hungup and not leg.soft_hangup:
            # Queue() returns -1 with the caller still up (agent hung up, no `c`): the
            # caller is hung up, SoftHangupRequest first; the interrupt ends the app
            self.pbx.soft_hangup(self.channel, 16)
            return
        done, self._done = self._done, None
        self.pbx.set_app_interrupt(self.channel, None)
        self._stop_listening()
        if done is not None:
            done(0 if status is not None else -1)

    def listen(self) -> None:
        """Read the caller's keys from now until Queue() returns."""
        self.pbx.leg(self.channel).dtmf_listeners.append(self.key)

    def _stop_listening(self) -> None:
        leg = self.pbx.legs.find(self.channel.name)
        if leg is not None and self.key in leg.dtmf_listeners:
            leg.dtmf_listeners.remove(self.key)

    # ------------------------------------------------------------ telephony side
    def _answered(self) -> bool:
        return self.entry is not None and self.entry.connected is not None

    def _member_answered(self, attempt: RingAttempt) -> None:
        entry = attempt.entry
        member_channel = attempt.channel
        assert isinstance(member_channel, Channel)
        if entry.state == "ringing" and attempt.stillgoing:
            self.pbx.dial_end(self.channel, member_channel, "ANSWER")
        self.engine.answered(attempt)

    def _member_hangup(self, attempt: RingAttempt, member_channel: Channel) -> None:
        entry = attempt.entry
        if entry.state == "ringing" and attempt.stillgoing:
            # wait_for_answer reads no frame from a channel that hung up: NOANSWER
            # (BUSY/CONGESTION only come as control frames from a real endpoint)
            cause = self.pbx.leg(member_channel).hangup_cause
            status = {17: "BUSY", 34: "CONGESTION"}.get(cause, "NOANSWER")
            self.engine.ring_failed(attempt, status)
        elif entry.state == "connected" and entry.connected is attempt:
            # AgentComplete goes out as the agent's channel starts hanging up; the caller
            # leaves Queue() when the bridge has let it go (_left_bridge)
            transferred = self.pbx.leg(member_channel).transferred
            self.engine.call_ended(entry, "transfer" if transferred else "agent", finish=False)

    def _left_bridge(self) -> None:
        if self.entry is not None:
            self.engine.call_finished(self.entry, caller_alive=not self.channel.hungup)

    def interrupted(self) -> None:
        """The caller hung up or was redirected while inside Queue()."""
        entry = self.entry
        if entry is None:
            return
        leg = self.pbx.leg(self.channel)
        if entry.state == "connected" and leg.async_goto and leg.moved_with_peer:
            # a dual Redirect took caller and member out together (transfers/
            # ami-xfer.log): Queue() returns, app_queue's stasis subscription still
            # follows the member and posts AgentComplete (Reason agent) at its hangup
            pass
        elif entry.state == "connected":
            redirected = leg.async_goto
            self.engine.call_ended(
                entry, "transfer" if redirected else "caller", caller_alive=False
            )
        else:
            self.engine.abandon(entry)
        self._stop_listening()
        done, self._done = self._done, None
        if done is not None:
            done(-1)


def _int_var(pbx: Pbx, channel: Channel, name: str) -> int | None:
    """A numeric channel variable (`sscanf("%30d")`); None when unset or not a number."""
    value = (pbx.get_var(channel, name) or "").strip()
    try:
        return int(value)
    except ValueError:
        return None


def parse_timeout(value: str) -> float | None:
    value = value.strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None
    return seconds if seconds > 0 else None


def queue_app(pbx: Pbx, engine: QueueEngine, channel: Channel, args: list[str], done: Done) -> None:
    """Queue(): join, or return at once with QUEUESTATUS set when refused."""
    name = args[0].strip() if args else ""
    if not name:
        done(-1)  # "Queue requires an argument: queuename[,options...]"
        return
    options = args[1] if len(args) > 1 else ""
    timeout = parse_timeout(args[4]) if len(args) > 4 else None
    position_arg = args[8].strip() if len(args) > 8 else ""
    position = int(position_arg) if position_arg.isdigit() else 0
    prio = _int_var(pbx, channel, "QUEUE_PRIO") or 0
    max_penalty = _int_var(pbx, channel, "QUEUE_MAX_PENALTY")
    min_penalty = _int_var(pbx, channel, "QUEUE_MIN_PENALTY")
    caller = ChannelCaller(pbx, engine, channel, done)
    result = engine.join(
        name,
        caller,
        prio=prio,
        timeout=timeout,
        continue_on_hangup="c" in options,
        no_retry="n" in options,
        position=position,
        min_penalty=min_penalty if min_penalty is not None and min_penalty >= 0 else None,
        max_penalty=max_penalty if max_penalty is not None and max_penalty >= 0 else None,
    )
    if isinstance(result, str):
        caller.finished(result)
        return
    caller.entry = result
    if caller._done is not None:
        pbx.set_app_interrupt(channel, caller.interrupted)
        caller.listen()


def install(pbx: Pbx, engine: QueueEngine) -> None:
    """Register Queue() and connect the engine to the PBX's device states.

    Device states reach the engine asynchronously, as they reach app_queue.
    """
    engine.device_query = pbx.device_state

    def device_changed(device: str, state: str) -> None:
        # app_queue hears of device states on a stasis thread, after the change that
        # caused them (a member's INUSE arrives once the call is connected: InCall 1)
        pbx.scheduler.call_soon(engine.device_state_changed, device, state)

    pbx.on_device_state(device_changed)

    def app(p: Pbx, channel: Channel, args: list[str], done: Done) -> None:
        queue_app(p, engine, channel, args, done)

    pbx.register_app("Queue", app)

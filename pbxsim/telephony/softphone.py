"""PJSIP endpoints: the seats' softphones (outbound) and the carrier trunk (inbound).

No SIP is spoken; what is simulated is what AMI shows of a PJSIP call (sip/ami-sip.log):

* a seat rung by app_queue: `PJSIP/<endpoint>-%08x` created Down in the endpoint's
  context at `s`; on the 180 it goes Ringing, which publishes the copies app_queue made
  (exten, connected line: `Newexten AppQueue` + `NewConnectedLine` follow the Newstate),
  the caller gets the seat's caller id as its connected line and a `DialState RINGING`;
  device `PJSIP/<endpoint>` goes RINGING, then INUSE on the 200 OK, NOT_INUSE after;
* a caller on the trunk: `PJSIP/trunk-%08x` created Ring with its caller id, `SIPDOMAIN`
  set, the dialplan run from the endpoint's context; RFC 4733 digits arrive as
  `DTMFBegin`/`DTMFEnd` (`Received`); a BYE is a `HangupRequest` without a cause.

How a seat behaves on each ring (answers or not, after how long, for how long it talks)
comes from an injected `RingPolicy`: `pbxsim.traffic.seat_response` fits it, and
`fixed_policy` gives the SIPp seat of the transcripts (rings 1 s, talks until the caller
hangs up). A seat without a registered contact is UNAVAILABLE and cannot be rung
(app_queue sees CHANUNAVAIL).

Channel names use chan_pjsip's one counter for all endpoints, shared through `IdAllocator`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from pbxsim.channel import DOWN, RING, RINGING, UP, Channel
from pbxsim.telephony.pbx import Pbx


class RingResponse(Protocol):
    """One ring's outcome (pbxsim.traffic.SeatResponse has this shape)."""

    @property
    def answers(self) -> bool: ...

    @property
    def answer_delay(self) -> float: ...

    @property
    def talk_time(self) -> float: ...


RingPolicy = Callable[[], RingResponse]


@dataclass(frozen=True, slots=True)
class FixedResponse:
    answers: bool = True
    answer_delay: float = 1.0
    #: seconds the agent talks before hanging up; infinity: until the caller hangs up
    talk_time: float = float("inf")


def fixed_policy(answer_delay: float = 1.0, talk_time: float = float("inf")) -> RingPolicy:
    response = FixedResponse(True, answer_delay, talk_time)
    return lambda: response


class Softphone:
    """One PJSIP endpoint. `registered` is whether its AOR has a contact."""

    def __init__(
        self,
        pbx: Pbx,
        endpoint: str,
        context: str,
        *,
        registered: bool = True,
        policy: RingPolicy | None = None,
        ring_delay: float = 0.0,
    ) -> None:
        self.pbx = pbx
        self.endpoint = endpoint
        self.context = context
        self.registered = registered
        self.policy = policy if policy is not None else fixed_policy()
        #: seconds from INVITE to 180 Ringing
        self.ring_delay = ring_delay
        self.channels: list[Channel] = []
        self._call_ids = 0
        self._posted = self.state()
        pbx.endpoints[self.device] = self

    @property
    def device(self) -> str:
        return f"PJSIP/{self.endpoint}"

    def state(self) -> str:
        """chan_pjsip's device state: INUSE while a call is up, RINGING while one of
        ours rings, else NOT_INUSE (UNAVAILABLE without a contact)."""
        if any(c.state == UP for c in self.channels):
            return "INUSE"
        if any(c.state == RINGING for c in self.channels):
            return "RINGING"
        return "NOT_INUSE" if self.registered else "UNAVAILABLE"

    def set_registered(self, registered: bool) -> None:
        """The phone registers or its contact expires: UNAVAILABLE while unregistered
        (app_queue then skips the member), NOT_INUSE again once registered."""
        self.registered = registered
        self.update_state()

    def update_state(self) -> None:
        """Post the device state if it changed: PJSIP devices are cached, so a second
        call on a busy trunk posts nothing (sip/ami-sip.log)."""
        state = self.state()
        if state != self._posted:
            self._posted = state
            self.pbx.device_state_changed(self.device, state)

    def _new_channel(self, exten: str, state: int, linkedid: str | None, party_a: bool) -> Channel:
        pbx = self.pbx
        name = pbx.ids.tech_name("PJSIP", self.endpoint)
        channel = pbx.new_channel(
            name, self.context, exten, state=state, linkedid=linkedid, device=self.device,
            party_a=party_a,
        )  # fmt: skip
        self.channels.append(channel)
        return channel

    # ------------------------------------------------------------------ outbound

    def request(self, requester: Channel | None, app: str) -> Channel | None:
        """`ast_request` + `ast_call` for a seat; None if it has no contact."""
        if not self.registered:
            return None
        pbx = self.pbx
        linkedid = requester.linkedid if requester is not None else None
        channel = self._new_channel("s", DOWN, linkedid, party_a=requester is None)
        leg = pbx.leg(channel)
        leg.sip_call_id = str(pbx.uuid())
        pbx.prepare_outbound(channel, requester, app, self.endpoint)
        response = self.policy()
        pbx.scheduler.call_later(self.ring_delay, self._ringing, channel, response)
        return channel

    def _ringing(self, channel: Channel, response: RingResponse) -> None:
        if channel.hungup:
            return
        pbx = self.pbx
        pbx.ringing(channel)
        self.update_state()
        if response.answers:
            pbx.scheduler.call_later(response.answer_delay, self._answer, channel, response)

    def _answer(self, channel: Channel, response: RingResponse) -> None:
        if channel.hungup or channel.state == UP:
            return
        self.pbx.answer(channel)
        if response.talk_time != float("inf"):
            self.pbx.scheduler.call_later(response.talk_time, self.bye, channel)

    # ------------------------------------------------------------------ inbound

    def incoming(
        self,
        exten: str,
        caller_num: str,
        caller_name: str,
        *,
        call_id: str = "",
        headers: Sequence[tuple[str, str]] = (),
    ) -> Channel:
        """An INVITE from this endpoint (the trunk) to `exten`, with `headers` (beyond
        the ones SIP itself needs): the channel runs the endpoint's context."""
        pbx = self.pbx
        name = pbx.ids.tech_name("PJSIP", self.endpoint)
        channel = pbx.new_channel(
            name, self.context, exten, state=RING, device=self.device,
            caller=(caller_num, caller_name),
        )  # fmt: skip
        self.channels.append(channel)
        channel.dnid = exten
        channel.sip_headers = list(headers)
        self._call_ids += 1
        pbx.leg(channel).sip_call_id = call_id or f"{self._call_ids}-{pbx.rng.randrange(1 << 16)}"
        pbx.set_var(channel, "SIPDOMAIN", pbx.sip_domain)
        pbx.start_dialplan(channel, self.context, exten, 1)
        return channel

    def press(self, channel: Channel, digit: str, duration_ms: int = 280) -> None:
        """An RFC 4733 digit from the far end."""
        if channel.hungup:
            return
        path = self.pbx.dtmf_begin(channel, digit)
        self.pbx.scheduler.call_later(
            duration_ms / 1000, self.pbx.dtmf_end, path, digit, duration_ms
        )

    def bye(self, channel: Channel) -> None:
        """The far end hangs up."""
        if not channel.hungup:
            self.pbx.remote_hangup(channel)

    def channel_gone(self, channel: Channel) -> None:
        if channel in self.channels:
            self.channels.remove(channel)
        self.update_state()

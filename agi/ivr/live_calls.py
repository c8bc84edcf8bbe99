"""Whether an AGI session speaks for a real call, at the step it claims to be in.

FastAGI has no authentication: the allow-list keeps strangers off the port, but a
session's environment (its channel, its uniqueid) is whatever the peer wrote. Before the
IVR writes anything on a call's behalf, the live model, which follows the PBX over AMI,
must show that call at the matching step:

- a **rating** (`survey`): the session's channel is on the PBX with that uniqueid and
  name, is running AGI, and its call was answered by a seat that has since hung up
  (the dialplan sends the caller to the survey when the agent ends the call);
- a **callback request** (`queue-key`: the caller pressed the callback key while
  queued, and app_queue handed it to the dialplan): the channel is on the PBX, its call
  has not been answered by a seat, and it is in the IVR (running AGI) or waiting in a
  queue.

Anything else is refused: logged with the reason, counted, and nothing is written. A
real caller is never refused for timing: the check runs after the caller has heard a
prompt and pressed a key, seconds after Asterisk announced the AGI over AMI. While the
AMI link is down the live model cannot vouch for a call, and ratings and callback
requests are refused until it is back (the call itself is still routed).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Protocol

from agi.protocol.env import AgiEnv

log = logging.getLogger(__name__)

RATING, CALLBACK = "rating", "callback"


class _ChannelLike(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def linkedid(self) -> str: ...

    @property
    def application(self) -> str: ...


class _CallLike(Protocol):
    @property
    def seat(self) -> str: ...

    @property
    def agent(self) -> str | None: ...

    @property
    def where(self) -> str: ...


class _NodeLike(Protocol):
    @property
    def channels(self) -> Mapping[str, _ChannelLike]: ...

    @property
    def calls(self) -> Mapping[str, _CallLike]: ...


class LiveCallsLike(Protocol):
    """What `callcenter.live.LiveState` offers: every node's channels and calls."""

    @property
    def nodes(self) -> Mapping[str, _NodeLike]: ...


class CallGate(Protocol):
    def allows(self, what: str, env: AgiEnv) -> bool:
        """True if the session may record `what` (RATING or CALLBACK) for its call."""
        ...


class LiveCallGate:
    """The rules of the module docstring, read from the live model.
    `refused(what, reason)` is told of every refusal (the metric)."""

    def __init__(
        self, live: LiveCallsLike, refused: Callable[[str, str], None] | None = None
    ) -> None:
        self.live = live
        self._refused = refused

    def allows(self, what: str, env: AgiEnv) -> bool:
        reason = self.problem(what, env)
        if reason is None:
            return True
        log.warning(
            "IVR: %s refused for channel %r uniqueid %r: %s",
            what,
            env.channel[:80],
            env.uniqueid[:40],
            reason,
        )
        if self._refused is not None:
            self._refused(what, reason.split(":", 1)[0])
        return False

    def problem(self, what: str, env: AgiEnv) -> str | None:
        """Why the session may not record `what`, or None if it may."""
        for node in self.live.nodes.values():
            channel = node.channels.get(env.uniqueid)
            if channel is not None and channel.name == env.channel:
                call = node.calls.get(channel.linkedid)
                if call is None:
                    return "not a live call"
                in_agi = channel.application == "AGI"
                if what == RATING:
                    return _rating_problem(call, in_agi)
                if what == CALLBACK:
                    return _callback_problem(call, in_agi)
                return f"unknown request {what!r}"
        return "not a live call: no such channel on the PBX"


def _rating_problem(call: _CallLike, in_agi: bool) -> str | None:
    if not call.seat:
        return "not in the survey: no agent answered the call"
    if call.agent is not None:
        return "not in the survey: the agent is still on the call"
    if not in_agi:
        return "not in the survey: the channel is not running AGI"
    return None


def _callback_problem(call: _CallLike, in_agi: bool) -> str | None:
    if call.seat:
        return "not at the callback offer: an agent answered the call"
    if not (in_agi or call.where == "queue"):
        return "not at the callback offer: neither in the IVR nor waiting in a queue"
    return None

"""The FastAGI routes of the dialplan: `incoming`, `queue-key` and `survey`.

`incoming` decides where a call goes and answers with HOTLINE_* channel variables
(ARCHITECTURE.md "Dialplan ↔ FastAGI"); it returns as soon as it knows, so no AGI
socket is held while the caller waits in the queue. `HOTLINE_ROUTED=1` is set last:
if anything fails before it, the dialplan's fallback queues the caller anyway.

Caller-facing rules (DOMAIN.md, GB/T 33358): no forced menu on the default entry; every
menu has 0 = agent; timeouts and wrong keys lead to an agent, never to a hang-up; the
emergency key is live during greetings, menus and the wait in the queue.

A call the 110 platform hands over (the dialplan set `HOTLINE_SOURCE=110`,
callcenter/from110.py) hears no greeting and no menu: 110 has screened the caller
already, so it goes straight to the general queue with the 110 priority.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Protocol

from agi.ivr.catalog import PromptCatalog
from agi.ivr.live_calls import CALLBACK, RATING, CallGate
from agi.ivr.lookups import RouteLookup, WaitEstimator
from agi.ivr.model import AgentOption, Flow, MenuOption, QueueOption, TransferOption
from agi.protocol.env import AgiEnv
from agi.protocol.session import AgiSession as Session
from callcenter.from110 import SOURCE_110, clean_ref
from callcenter.records.facts import CallbackRequestFact, CallFacts, RatingFact

log = logging.getLogger(__name__)

#: a database write must not keep a caller in the IVR
RECORD_TIMEOUT_S = 3.0
ROUTED_MODES = ("merge", "dock")  # legacy modes whose calls 12345 answers itself


@dataclass(slots=True)
class Decision:
    """Where the call goes: the HOTLINE_* variables, before they are set."""

    action: str  # queue | transfer
    queue: str
    priority: int = 0
    transfer_to: str = ""
    unit: str = ""
    desk: str = ""


class PriorityHook(Protocol):
    """(caller number, unit, the IVR's priority, the call's source) -> the priority to
    queue with (the queues.priority rules: from 110, repeat caller, priority list,
    urgent unit; it may ask the database, and answers within its own timeout)."""

    def __call__(self, caller: str, unit: str, base: int, source: str = "") -> Awaitable[int]: ...


class IncomingFlow:
    """Answer, a short greeting (or an old number's notice), the entry's menu if it has
    one, then the queue: everything else a caller should hear (the emergency notice,
    the callback offer) plays while the caller already waits in the queue, as its
    periodic announcements, so the time to queue is the greeting's length."""

    def __init__(
        self,
        flow: Callable[[], Flow],
        catalog: PromptCatalog,
        routes: RouteLookup,
        clock: Callable[[], datetime],
        priority: PriorityHook | None = None,
        ref_dropped: Callable[[], None] | None = None,
    ) -> None:
        self.flow = flow
        self.catalog = catalog
        self.routes = routes
        self.clock = clock
        self.priority = priority
        self.ref_dropped = ref_dropped

    async def __call__(self, session: Session) -> None:
        flow = self.flow()
        env = session.env
        dialed = env.dialed_number
        source = await session.get_variable("HOTLINE_SOURCE") or ""
        if source == SOURCE_110:
            await session.answer()
            await self._keep_ref(session)
            base = Decision("queue", flow.general_queue)
            await self._answer_dialplan(session, await self._prioritised(env, base, source))
            return
        legacy = self.routes.route(dialed, self.clock()) if dialed else None
        await session.answer()
        emergency_keys = flow.emergency.key
        if legacy is not None and legacy.mode in ROUTED_MODES:
            # an old unit number: the notice, then that unit's queue (no menu)
            base = Decision("queue", legacy.queue, unit=legacy.unit_code)
            key = await session.stream_file(self._sound(flow.legacy.notice), emergency_keys + "0")
            menu = flow.emergency.menu if key == flow.emergency.key else None
        else:
            # 12345 itself (and `retain` numbers, which stay in service elsewhere and
            # only reach us if the carrier forwards them: treat as 12345)
            entry = flow.entry_for(dialed)
            base = Decision("queue", flow.general_queue)
            key = await session.stream_file(self._sound(entry.greeting), emergency_keys + "0")
            menu = entry.menu
            if key == flow.emergency.key:
                menu = flow.emergency.menu
            elif key == "0":
                menu = None  # 0 = agent, also during the greeting
        decision = await run_menus(session, self.catalog, flow, menu, base) if menu else base
        if decision.action == "queue":
            decision = await self._prioritised(env, decision, source)
        await self._answer_dialplan(session, decision)

    async def _prioritised(self, env: AgiEnv, decision: Decision, source: str) -> Decision:
        if self.priority is None:
            return decision
        caller = env.arg(2) or env.callerid or ""
        got = await self.priority(caller, decision.unit, decision.priority, source)
        return replace(decision, priority=got)

    async def _keep_ref(self, session: Session) -> None:
        """110's reference as the dialplan copied it from the INVITE: a malformed one is
        cleared (the record then keeps none) and counted; the call goes on."""
        raw = await session.get_variable("HOTLINE_SOURCE_REF") or ""
        if clean_ref(raw) is None:
            log.warning("IVR: a malformed 110 reference dropped (%d chars)", len(raw))
            if self.ref_dropped is not None:
                self.ref_dropped()
            await session.set_variable("HOTLINE_SOURCE_REF", "")

    def _sound(self, prompt: str) -> str:
        return self.catalog.sound(prompt)

    @staticmethod
    async def _answer_dialplan(session: Session, d: Decision) -> None:
        await session.set_variable("HOTLINE_CALL_ID", session.env.uniqueid)
        if d.action == "transfer":
            await session.set_variable("HOTLINE_TRANSFER_TO", d.transfer_to)
        else:
            await session.set_variable("HOTLINE_QUEUE", d.queue)
            await session.set_variable("HOTLINE_PRIORITY", str(d.priority))
        if d.unit:
            await session.set_variable("HOTLINE_UNIT", d.unit)
        if d.desk:
            await session.set_variable("HOTLINE_DESK", d.desk)
        await session.set_variable("HOTLINE_ACTION", d.action)
        await session.set_variable("HOTLINE_ROUTED", "1")


async def run_menus(
    session: Session, catalog: PromptCatalog, flow: Flow, start: str, base: Decision
) -> Decision:
    """Run menus from `start`; `max_attempts` timeouts or wrong keys → an agent."""
    node, attempts = start, 0
    while True:
        menu = flow.menus[node]
        got = await session.get_data(catalog.sound(menu.prompt), flow.digit_timeout_ms, 1)
        key = got.digits[:1]
        option = menu.options.get(key) if key else None
        if key == flow.emergency.key and option is None:
            option = MenuOption(action="menu", menu=flow.emergency.menu)
        if option is None:
            attempts += 1
            if attempts >= flow.max_attempts:
                await session.stream_file(catalog.sound(flow.to_agent_prompt), "")
                return base
            if key:
                await session.stream_file(catalog.sound(flow.invalid_prompt), "")
            continue
        if isinstance(option, AgentOption):
            await session.stream_file(catalog.sound(flow.to_agent_prompt), "")
            return base
        if isinstance(option, QueueOption):
            return replace(base, queue=option.queue, priority=option.priority, desk=option.desk)
        if isinstance(option, TransferOption):
            if option.prompt is not None:
                await session.stream_file(catalog.sound(option.prompt), "")
            return replace(base, action="transfer", transfer_to=option.to)
        node, attempts = option.menu, 0


async def record_fact(write: Awaitable[bool], what: str) -> bool:
    """Write a call fact within RECORD_TIMEOUT_S; False (logged) when it failed."""
    try:
        async with asyncio.timeout(RECORD_TIMEOUT_S):
            await write
    except Exception:
        log.exception("IVR: could not record the %s", what)
        return False
    return True


class QueueKeyFlow:
    """A key a caller pressed while waiting in the queue (`queue-key`; arguments: the
    key, the caller's number, the dialed number). app_queue let the caller leave the
    queue with it (queues.conf `context`); the dialplan asks here what to do and,
    unless this answers HOTLINE_ACTION=transfer, puts the caller back into the same
    queue at the position it left.

    - the emergency key: the emergency menu; a choice there is a transfer, 0 or no
      valid key sends the caller back to the queue;
    - the callback key: the request is recorded (once per call, only for a call the
      live model shows waiting, `gate`) and confirmed; the caller keeps its place and
      may hang up.
    """

    def __init__(
        self,
        flow: Callable[[], Flow],
        catalog: PromptCatalog,
        facts: CallFacts,
        gate: CallGate,
        waits: WaitEstimator | None = None,
    ) -> None:
        self.flow = flow
        self.catalog = catalog
        self.facts = facts
        self.gate = gate
        self.waits = waits

    async def __call__(self, session: Session) -> None:
        flow = self.flow()
        key = session.env.arg(1)
        queue = await session.get_variable("HOTLINE_QUEUE") or flow.general_queue
        base = Decision("queue", queue)
        if key == flow.emergency.key:
            decision = await run_menus(session, self.catalog, flow, flow.emergency.menu, base)
        else:
            decision = base
            if flow.callback is not None and key == flow.callback.key:
                await self._callback(session, flow, queue)
        if decision.action == "transfer":
            await session.set_variable("HOTLINE_TRANSFER_TO", decision.transfer_to)
        await session.set_variable("HOTLINE_ACTION", decision.action)

    async def _callback(self, session: Session, flow: Flow, queue: str) -> None:
        assert flow.callback is not None
        env = session.env
        if not self.gate.allows(CALLBACK, env):
            return
        wait = self.waits.estimated_wait_s(queue) if self.waits is not None else None
        request = CallbackRequestFact(
            uniqueid=env.uniqueid,
            caller=env.arg(2) or env.callerid or "",
            dialed=env.arg(3),
            queue=queue,
            unit=await session.get_variable("HOTLINE_UNIT") or "",
            estimated_wait_s=min(wait, 1e9) if wait is not None else 0.0,
        )
        if await record_fact(self.facts.request_callback(request), "callback"):
            await session.set_variable("HOTLINE_CALLBACK", "1")
            await session.stream_file(self.catalog.sound(flow.callback.recorded), "")


class SurveyFlow:
    """After the agent hangs up: 1 满意, 2 基本满意, 3 不满意, recorded once per call,
    and only for a call the live model shows in the survey (`gate`)."""

    def __init__(
        self, flow: Callable[[], Flow], catalog: PromptCatalog, facts: CallFacts, gate: CallGate
    ) -> None:
        self.flow = flow
        self.catalog = catalog
        self.facts = facts
        self.gate = gate

    async def __call__(self, session: Session) -> None:
        flow = self.flow()
        survey = flow.survey
        rating = 0
        for attempt in range(flow.max_attempts):
            if attempt:
                await session.stream_file(self.catalog.sound(survey.invalid), "")
            got = await session.get_data(self.catalog.sound(survey.ask), survey.timeout_ms, 1)
            if got.digits[:1] in ("1", "2", "3"):
                rating = int(got.digits[:1])
                break
        if not rating:
            return  # not rated: nothing recorded (satisfaction counts rated calls only)
        if not self.gate.allows(RATING, session.env):
            return
        await session.set_variable("SURVEY_RESULT", str(rating))
        env = session.env
        record = RatingFact(
            uniqueid=env.uniqueid,
            rating=rating,
            caller=env.callerid or "",
            queue=await session.get_variable("HOTLINE_QUEUE") or "",
            unit=await session.get_variable("HOTLINE_UNIT") or "",
            agent=await session.get_variable("MEMBERNAME") or "",
        )
        await record_fact(self.facts.record_rating(record), "survey rating")
        await session.stream_file(self.catalog.sound(survey.thanks), "")

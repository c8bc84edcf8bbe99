"""Assembles the FastAGI routes of the dialplan from their collaborators:
`incoming` (answer, greeting, route), `queue-key` (a key pressed while queued) and
`survey` (the rating after the agent hung up).

`callcenter serve` calls `build_agi` once; tests and the benchmark call it with their
own directory, call facts and estimator.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from agi.ivr.catalog import PromptCatalog
from agi.ivr.flows import IncomingFlow, PriorityHook, QueueKeyFlow, SurveyFlow
from agi.ivr.live_calls import CallGate
from agi.ivr.lookups import RouteLookup, WaitEstimator
from agi.ivr.model import Flow
from agi.protocol.metrics import AgiMetrics
from agi.protocol.server import FastAgiServer, Handler, ServerConfig
from callcenter.records.facts import CallFacts

INCOMING, QUEUE_KEY, SURVEY = "incoming", "queue-key", "survey"


def build_routes(
    flow: Callable[[], Flow],
    catalog: PromptCatalog,
    routes: RouteLookup,
    facts: CallFacts,
    clock: Callable[[], datetime],
    waits: WaitEstimator | None = None,
    priority: PriorityHook | None = None,
    *,
    gate: CallGate,
    ref_dropped: Callable[[], None] | None = None,
) -> dict[str, Handler]:
    """`gate` vouches for the call before a rating or a callback request is written
    (agi/ivr/live_calls.py: `LiveCallGate` over the live model); `ref_dropped` counts
    malformed hand-over references."""
    return {
        INCOMING: IncomingFlow(flow, catalog, routes, clock, priority, ref_dropped),
        QUEUE_KEY: QueueKeyFlow(flow, catalog, facts, gate, waits),
        SURVEY: SurveyFlow(flow, catalog, facts, gate),
    }


def build_agi(
    config: ServerConfig,
    flow: Callable[[], Flow],
    catalog: PromptCatalog,
    routes: RouteLookup,
    facts: CallFacts,
    clock: Callable[[], datetime],
    waits: WaitEstimator | None = None,
    metrics: AgiMetrics | None = None,
    priority: PriorityHook | None = None,
    *,
    gate: CallGate,
) -> FastAgiServer:
    handlers = build_routes(
        flow,
        catalog,
        routes,
        facts,
        clock,
        waits,
        priority,
        gate=gate,
        ref_dropped=metrics.ref_dropped if metrics is not None else None,
    )
    return FastAgiServer(handlers, config, metrics)

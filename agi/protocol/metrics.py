"""Prometheus metrics of the FastAGI server (served by the API's `/metrics`).

Per-command latency is what tells a slow IVR (our side) from slow callers: commands
that wait for people (GET DATA, STREAM FILE) are labelled by verb so they don't hide
the round trip of the instant ones (SET VARIABLE, ANSWER).

Counted in plain Python and turned into metric families at scrape time (a `Collector`):
the server runs on one event loop, so the locks of prometheus_client's own Histogram and
Counter bought nothing and cost a measurable share of each command (bench/agi_bench.py).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterator

from prometheus_client import CollectorRegistry
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.05, 0.25, 1.0, 5.0, 30.0)

_BOUNDS = (*(repr(b) for b in LATENCY_BUCKETS), "+Inf")

#: session outcomes, the values of the `outcome` label
OUTCOMES = (
    "ok",
    "hangup",
    "protocol_error",
    "command_error",
    "error",
    "unknown_route",
    "bad_env",
    "refused_full",
    "refused_peer",
    "evicted_idle",
)


class _Histogram:
    __slots__ = ("counts", "total")

    def __init__(self) -> None:
        self.counts = [0] * (len(LATENCY_BUCKETS) + 1)  # the last one is +Inf
        self.total = 0.0


class AgiMetrics(Collector):
    """Registered on `registry` at creation; call only from the server's event loop."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self._commands: dict[str, _Histogram] = {}
        self._sessions: dict[tuple[str, str], int] = {}
        self._refused: dict[tuple[str, str], int] = {}
        self.refs_dropped = 0
        self.active = 0
        registry.register(self)

    def observe_command(self, verb: str, seconds: float) -> None:
        histogram = self._commands.get(verb)
        if histogram is None:
            histogram = self._commands[verb] = _Histogram()
        histogram.counts[bisect_left(LATENCY_BUCKETS, seconds)] += 1
        histogram.total += seconds

    def session_started(self) -> None:
        self.active += 1

    def session_ended(self) -> None:
        self.active -= 1

    def session_done(self, route: str, outcome: str) -> None:
        key = (route, outcome)
        self._sessions[key] = self._sessions.get(key, 0) + 1

    def request_refused(self, what: str, reason: str) -> None:
        """The IVR refused to record `what` (a rating, a callback request) for a session
        the live model does not show at that step (agi/ivr/live_calls.py)."""
        key = (what, reason)
        self._refused[key] = self._refused.get(key, 0) + 1

    def ref_dropped(self) -> None:
        """A hand-over's reference (the 110 platform's SIP header) was malformed and
        dropped; the call went on without it."""
        self.refs_dropped += 1

    def collect(self) -> Iterator[Metric]:
        commands = HistogramMetricFamily(
            "callcenter_agi_command_seconds",
            "AGI command round trip (send to final reply), by command",
            labels=["command"],
        )
        for verb, histogram in sorted(self._commands.items()):
            cumulative, buckets = 0, []
            for bound, count in zip(
                (*LATENCY_BUCKETS, float("inf")), histogram.counts, strict=True
            ):
                cumulative += count
                buckets.append(("+Inf" if bound == float("inf") else repr(bound), cumulative))
            commands.add_metric([verb], buckets, histogram.total)
        yield commands
        sessions = CounterMetricFamily(
            "callcenter_agi_sessions",
            "FastAGI sessions by route and outcome",
            labels=["route", "outcome"],
        )
        for (route, outcome), count in sorted(self._sessions.items()):
            sessions.add_metric([route, outcome], count)
        yield sessions
        refused = CounterMetricFamily(
            "callcenter_ivr_requests_refused",
            "Ratings and callback requests refused: no live call at that step",
            labels=["what", "reason"],
        )
        for (what, reason), count in sorted(self._refused.items()):
            refused.add_metric([what, reason], count)
        yield refused
        yield CounterMetricFamily(
            "callcenter_ivr_source_refs_dropped",
            "Hand-over references (110's SIP header) dropped as malformed",
            value=self.refs_dropped,
        )
        yield GaugeMetricFamily(
            "callcenter_agi_sessions_active", "FastAGI sessions in progress", value=self.active
        )

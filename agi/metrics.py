"""Prometheus metrics of the FastAGI server (served by the API's `/metrics`).

Per-command latency is what tells a slow IVR (our side) from slow callers: commands
that wait for people (GET DATA, STREAM FILE) are labelled by verb so they don't hide
the round trip of the instant ones (SET VARIABLE, ANSWER).
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.05, 0.25, 1.0, 5.0, 30.0)

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
)


class AgiMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.commands = Histogram(
            "callcenter_agi_command_seconds",
            "AGI command round trip (send to final reply), by command",
            ["command"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.sessions = Counter(
            "callcenter_agi_sessions",
            "FastAGI sessions by route and outcome",
            ["route", "outcome"],
            registry=registry,
        )
        self.active = Gauge(
            "callcenter_agi_sessions_active", "FastAGI sessions in progress", registry=registry
        )
        self._by_verb: dict[str, Histogram] = {}

    def observe_command(self, verb: str, seconds: float) -> None:
        child = self._by_verb.get(verb)
        if child is None:
            child = self._by_verb[verb] = self.commands.labels(verb)
        child.observe(seconds)

    def session_done(self, route: str, outcome: str) -> None:
        self.sessions.labels(route, outcome).inc()

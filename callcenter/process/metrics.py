"""Prometheus metrics of the PBX links and the live state (read at scrape time)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from ami.node import LinkState, PbxNode
from callcenter.live.audit import Auditor
from callcenter.live.live_state import LiveState
from callcenter.live.live_views import seat_views
from callcenter.live.seat_state import QueueWrapups


class NodeCollector(Collector):
    def __init__(
        self,
        nodes: Iterable[PbxNode],
        live: LiveState,
        auditor: Auditor,
        wrapups: QueueWrapups,
    ) -> None:
        self._nodes = list(nodes)
        self._live = live
        self._auditor = auditor
        self._wrapups = wrapups

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily(
            "callcenter_ami_connected", "1 if logged in to the node", labels=["node"]
        )
        stale = GaugeMetricFamily(
            "callcenter_live_stale",
            "1 while the node's live state is not in sync (resync running or disconnected)",
            labels=["node"],
        )
        events = CounterMetricFamily(
            "callcenter_ami_events", "AMI events received", labels=["node"]
        )
        malformed = CounterMetricFamily(
            "callcenter_ami_malformed_frames", "AMI frames skipped as unreadable", labels=["node"]
        )
        reconnects = CounterMetricFamily("callcenter_ami_connects", "AMI logins", labels=["node"])
        login_failures = CounterMetricFamily(
            "callcenter_ami_login_failures", "AMI logins refused", labels=["node"]
        )
        rtt = GaugeMetricFamily(
            "callcenter_ami_ping_rtt_seconds", "last Ping round trip", labels=["node"]
        )
        lag = GaugeMetricFamily(
            "callcenter_ami_event_lag_seconds",
            "the last event's age on arrival (PBX Timestamp, corrected by the Ping clock "
            "offset; needs timestampevents=yes)",
            labels=["node"],
        )
        lag_max = GaugeMetricFamily(
            "callcenter_ami_event_lag_max_seconds",
            "the worst event age on arrival during the last ping interval",
            labels=["node"],
        )
        offset = GaugeMetricFamily(
            "callcenter_ami_clock_offset_seconds",
            "the PBX's wall clock minus ours, from the last Ping reply",
            labels=["node"],
        )
        for node in self._nodes:
            for family, value in (
                (lag, node.stats.event_lag_s),
                (lag_max, node.stats.event_lag_max_s),
                (offset, node.stats.clock_offset_s),
            ):
                if value is not None:
                    family.add_metric([node.name], value)
            up.add_metric([node.name], 1.0 if node.state is LinkState.CONNECTED else 0.0)
            state = self._live.nodes.get(node.name)
            stale.add_metric([node.name], 1.0 if state is None or state.stale else 0.0)
            events.add_metric([node.name], node.stats.events)
            malformed.add_metric([node.name], node.stats.malformed_frames)
            reconnects.add_metric([node.name], node.stats.connects)
            login_failures.add_metric([node.name], node.stats.login_failures)
            if node.stats.last_pong_rtt_s is not None:
                rtt.add_metric([node.name], node.stats.last_pong_rtt_s)
        yield from (up, stale, events, malformed, reconnects, login_failures, rtt)
        yield from (lag, lag_max, offset)
        yield CounterMetricFamily(
            "callcenter_live_audits", "model-vs-QueueStatus audits", value=self._auditor.audits
        )
        yield CounterMetricFamily(
            "callcenter_live_audit_disagreements",
            "audits that found the model wrong (it was resynced)",
            value=self._auditor.disagreements,
        )

        waiting = GaugeMetricFamily(
            "callcenter_queue_waiting", "callers waiting", labels=["node", "queue"]
        )
        for name, state in self._live.nodes.items():
            for queue in state.queues.values():
                waiting.add_metric([name, queue.name], len(queue.entries))
        yield waiting
        seats = GaugeMetricFamily("callcenter_seats", "seats by state", labels=["state"])
        paused = GaugeMetricFamily(
            "callcenter_seats_paused",
            "seats paused in every queue, by pause reason (Auto-Pause: Asterisk paused "
            "a seat that let a call ring out)",
            labels=["reason"],
        )
        counts: dict[str, int] = {}
        reasons: dict[str, int] = {}
        states = list(self._live.nodes.values())
        for seat in seat_views(states, self._live.clock(), self._wrapups):
            counts[seat.state] = counts.get(seat.state, 0) + 1
            if seat.paused:
                reasons[seat.paused_reason] = reasons.get(seat.paused_reason, 0) + 1
        for state_name, n in sorted(counts.items()):
            seats.add_metric([state_name], n)
        for reason, n in sorted(reasons.items()):
            paused.add_metric([reason], n)
        yield seats
        yield paused


def register_node_metrics(
    registry: CollectorRegistry,
    nodes: Iterable[PbxNode],
    live: LiveState,
    auditor: Auditor,
    wrapups: QueueWrapups,
) -> None:
    """`wrapups`: the queues' own wrap-ups (the seats' catalog), for the seats by state."""
    registry.register(NodeCollector(nodes, live, auditor, wrapups))

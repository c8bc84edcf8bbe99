"""Prometheus metrics of the webhook dispatcher, read at scrape time: a receiver that is
down shows as failed attempts growing while deliveries stand still."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from callcenter.webhooks.dispatcher import Dispatcher


class DispatcherCollector(Collector):
    def __init__(self, dispatcher: Dispatcher) -> None:
        self._dispatcher = dispatcher

    def collect(self) -> Iterator[Metric]:
        d = self._dispatcher
        yield CounterMetricFamily(
            "callcenter_webhook_deliveries",
            "webhook deliveries a receiver accepted (2xx), by this instance",
            value=d.delivered,
        )
        yield CounterMetricFamily(
            "callcenter_webhook_attempts_failed",
            "webhook attempts that failed (an error status, no answer, a timeout)",
            value=d.attempts_failed,
        )
        yield CounterMetricFamily(
            "callcenter_webhook_given_up",
            "webhook deliveries failed for good (retries exhausted)",
            value=d.given_up,
        )
        yield GaugeMetricFamily(
            "callcenter_webhook_in_flight", "webhook POSTs in flight", value=d.in_flight
        )

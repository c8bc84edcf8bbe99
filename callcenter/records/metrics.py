"""Prometheus metrics of call records, read at scrape time: a database outage shows as
a growing spool and failed writes instead of silently missing records."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from callcenter.records.reconcile import Reconciler
from callcenter.records.wiring import RecordsSystem


class RecordsCollector(Collector):
    def __init__(self, records: RecordsSystem) -> None:
        self._records = records

    def collect(self) -> Iterator[Metric]:
        writer, builder = self._records.writer, self._records.builder
        yield CounterMetricFamily(
            "callcenter_records_finished",
            "calls finished by the record builder",
            value=builder.finished,
        )
        yield CounterMetricFamily(
            "callcenter_records_written",
            "call records upserted into the database",
            value=writer.written,
        )
        yield CounterMetricFamily(
            "callcenter_records_write_failures",
            "batches the database refused (kept in the spool)",
            value=writer.failures,
        )
        yield CounterMetricFamily(
            "callcenter_records_builder_errors",
            "events the record builder failed on",
            value=self._records.listener.builder_errors,
        )
        spool = writer.spool
        for name, help_text, value in (
            (
                "append_failures",
                "spool appends that failed (the call kept in memory)",
                writer.append_failures,
            ),
            (
                "spool_read_failures",
                "tries to read a sealed spool file that failed",
                writer.read_failures,
            ),
            (
                "quarantined_files",
                "unreadable spool files moved to quarantine/",
                spool.quarantined_files,
            ),
            ("torn_lines", "torn last lines of spool files skipped", spool.torn_lines),
            ("bad_lines", "bad spool lines set aside in quarantine/", spool.bad_lines),
            ("writer_errors", "unexpected errors of the record writer's flush", writer.errors),
        ):
            yield CounterMetricFamily(f"callcenter_records_{name}", help_text, value=value)
        yield GaugeMetricFamily(
            "callcenter_records_backlog",
            "finished calls held in memory because the spool refused them",
            value=len(writer.backlog),
        )
        yield GaugeMetricFamily(
            "callcenter_records_spooled_files",
            "sealed spool files waiting for the database",
            value=len(writer.spool.sealed()),
        )
        yield GaugeMetricFamily(
            "callcenter_records_write_lag_seconds",
            "age of the oldest finished call not yet written to the database",
            value=writer.write_lag_s(),
        )
        yield GaugeMetricFamily(
            "callcenter_records_last_flush_seconds",
            "how long the last flush (seal + batched upserts) took",
            value=writer.last_flush_s,
        )
        yield GaugeMetricFamily(
            "callcenter_records_database_ok",
            "1 if the last write reached the database",
            value=1 if writer.database_ok else 0,
        )
        answers = self._records.answers
        yield GaugeMetricFamily(
            "callcenter_records_answers_pending",
            "answers seen whose call.answered webhook event is not yet written",
            value=len(answers.pending),
        )
        for name, help_text, value in (
            ("answers_dropped", "answers never announced: the backlog was full", answers.dropped),
            ("answers_write_failures", "failed writes of call.answered events", answers.failures),
        ):
            yield CounterMetricFamily(f"callcenter_records_{name}", help_text, value=value)
        yield GaugeMetricFamily(
            "callcenter_calls_in_progress",
            "calls the record builder is following",
            value=len(builder.open),
        )


class ReconcileCollector(Collector):
    """What the reconciliations with Asterisk's ledger found and did."""

    def __init__(self, reconciler: Reconciler) -> None:
        self._reconciler = reconciler

    def collect(self) -> Iterator[Metric]:
        r = self._reconciler
        for name, help_text, value in (
            ("runs", "reconciliation runs (dry runs included)", r.runs),
            ("failures", "reconciliation runs that failed", r.failures),
            ("rebuilt", "call records rebuilt from the ledger", r.rebuilt),
            ("corrected", "record fields corrected from the ledger", r.corrected_fields),
            ("unexplained", "records the ledger does not know, per run", r.unexplained),
        ):
            counter = CounterMetricFamily(
                f"callcenter_reconcile_{name}", help_text, labels=["node"]
            )
            counter.add_metric([r.node], value)
            yield counter
        last = r.last
        yield GaugeMetricFamily(
            "callcenter_reconcile_last_ok",
            "1 if the last reconciliation run succeeded (or none ran yet)",
            value=0 if last is not None and last.error else 1,
        )


def register_reconcile_metrics(registry: CollectorRegistry, reconciler: Reconciler) -> None:
    registry.register(ReconcileCollector(reconciler))


def register_records_metrics(registry: CollectorRegistry, records: RecordsSystem) -> None:
    registry.register(RecordsCollector(records))

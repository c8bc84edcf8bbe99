"""Which benchmarks exist and the targets their keys are held to (from the issues)."""

from __future__ import annotations

from bench.agi_bench import bench_agi
from bench.ami_bench import bench_ami_read_path, bench_live_state_memory
from bench.api_bench import bench_api
from bench.desk_bench import bench_desk
from bench.legacy_bench import bench_legacy_directory
from bench.queues_bench import bench_queues
from bench.reconcile_bench import bench_reconcile
from bench.records_bench import bench_records
from bench.runner import Bench, Target
from bench.security_bench import bench_security
from bench.soak_bench import bench_soak
from bench.unit_cards_bench import bench_unit_cards
from bench.webhooks_bench import bench_webhooks

BENCHES: dict[str, Bench] = {
    "ami_read_path": bench_ami_read_path,
    "live_state_memory": bench_live_state_memory,
    "legacy_directory": bench_legacy_directory,
    "queues": bench_queues,
    "agi": bench_agi,
    "records": bench_records,
    "reconcile": bench_reconcile,
    "api": bench_api,
    "desk": bench_desk,
    "security": bench_security,
    "soak": bench_soak,
    "unit_cards": bench_unit_cards,
    "webhooks": bench_webhooks,
}

TARGETS: dict[str, Target] = {
    "ami_events_per_s": Target(">=", 20_000, "events/s"),
    "ami_vs_panoramisk": Target(">=", 0.5, "x"),
    "live_state_mb": Target("<=", 100, "MB"),
    "legacy_import_280_s": Target("<=", 1.0, "s"),
    "legacy_import_100k_s": Target("<=", 30.0, "s"),
    "legacy_lookup_us": Target("<=", 20.0, "µs"),
    "seat_login_storm_s": Target("<=", 10.0, "s"),
    "queue_view_ms": Target("<=", 5.0, "ms"),
    "agi_sessions_per_s": Target(">=", 1500, "sessions/s"),
    "agi_vs_panoramisk": Target(">=", 1.0, "x"),
    "agi_cmd_p99_ms": Target("<=", 2.0, "ms"),
    "cdr_write_per_s": Target(">=", 10_000, "records/s"),
    "kpi_day_query_ms": Target("<=", 100.0, "ms"),
    "today_view_p99_ms": Target("<=", 20.0, "ms"),
    "export_1m_rows_mb": Target("<=", 150.0, "MB"),
    "reconcile_day_s": Target("<=", 5.0, "s"),
    "rebuild_1k_calls_s": Target("<=", 3.0, "s"),
    "api_queues_p99_ms": Target("<=", 10.0, "ms"),
    "ws_fanout_lag_ms": Target("<=", 200.0, "ms"),
    "ws_clients_cut": Target("<=", 0, "clients"),
    "screen_pop_ms": Target("<=", 300.0, "ms"),
    "screen_pop_wrong_desk": Target("<=", 0, "pops"),
    "unauth_50mb_post_ms": Target("<=", 100.0, "ms"),
    "loop_stall_ms": Target("<=", 50.0, "ms"),
    "healthz_p99_under_slowloris_ms": Target("<=", 50.0, "ms"),
    "slowloris_closed": Target(">=", 1000, "connections"),
    "soak_kb_per_1k_calls": Target("<=", 50.0, "KB/1k calls"),
    "unit_card_search_p99_ms": Target("<=", 50.0, "ms"),
    "unit_card_sqlite_search_p99_ms": Target("<=", 50.0, "ms"),
    "webhook_deliveries_per_s": Target(">=", 500, "deliveries/s"),
    "webhook_deliveries_per_s_pg": Target(">=", 500, "deliveries/s"),
    "webhook_lag_p99_ms": Target("<=", 1000.0, "ms"),
}

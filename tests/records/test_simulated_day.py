"""A compressed 12345 day on pbxsim, end to end: pbxsim's traffic generator places
thousands of calls (the daily profile, legacy numbers routed by the AstDB map, callers
who give up - some within 5 s -, a queue time limit some reach, seats that let a call
ring out), the product follows them over a real AMI socket and writes call records.
Then, against pbxsim's own ledger of what its people did (pbxsim/ledger.py):

- every call placed has exactly one record (by Linkedid) and there is no other record;
- each record's disposition, queue, dialed number, answering seat, rung seats, wait,
  talk time and who hung up are what the ledger says;
- the KPIs the API serves (callcenter/records/kpi.py: per queue, per day, per hour)
  equal a count made here from the ledger alone.

Exactness and its stated tolerances:
- waits and talk times: app_queue's HoldTime/TalkTime are whole seconds of the PBX
  clock (`int(t1) - int(t0)`), so a record may differ from the true duration by less
  than 1 s. The ledger knows an answer's instant exactly (app_queue's own) and brackets
  an exit the caller or a seat caused between the cause and the end of the synchronous
  step that handled it: [waited, waited_max]. At SPEED simulated s per real s the PBX
  clock moves within one step (typically 0.1-1 ms real, i.e. 0.1-1 s simulated here;
  more if the OS preempts us), which is why the ledger measures the bracket per call
  instead of the test assuming a fixed epsilon. So a call may fall on either side of the
  SL15 (15 s) or short-abandon (5 s) line only if [waited - 1, waited_max + 1] straddles
  it; every other call must be classified exactly as the ledger says.
- periods: a record's start is the product's clock when it read the call's first event,
  which trails pbxsim's arrival by the AMI round trip and the backlog of the one event
  loop pbxsim and the product share, i.e. real seconds x SPEED: measured at 0.1-0.5 s
  real at the peak hours here (90-450 simulated s). The test measures that lag per call,
  requires it below LAG_REAL_S x SPEED, and lets only calls that arrived within the
  largest measured lag before an hour's (or the day's) end be counted in the next
  period; the per-period counts must lie in that band and their totals are exact.

KNOWN GAP (reported, not in this test's files): a record's wrap-up is the member's own
`Wrapuptime` from AMI (callcenter/records/wiring.py `wrapup`), 0 for members added
without one, while app_queue applies the queue's `wrapuptime = 10` (queues.conf
[hotline]); so AHT is checked as talk + the wrap-up the records hold, and the talk part
against the ledger.

Volume and speed: about 3,000 calls over 24.5 simulated hours at SPEED simulated
seconds per real second, i.e. roughly 100 s of traffic per database on this 2-core
machine; the loop's jitter only moves the instants things happen at, which pbxsim and
the ledger both see identically (see above). There is no FastAGI server in this test:
the dialplan's fallback queues callers by the AstDB map (what it does when the IVR is
down), so calls carry no IVR keys and no survey rating; test_ivr_traffic.py covers the
IVR's part of a record.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import select

from ami.node import NodeConfig, PbxNode
from callcenter import migrate
from callcenter.db import create_engine, session_factory
from callcenter.live.live import LiveState
from callcenter.records import kpi
from callcenter.records.models import CallRecord
from callcenter.records.wiring import build_records
from pbxsim.demo import DemoOptions, DemoTraffic
from pbxsim.ledger import CallOutcome
from pbxsim.traffic import CallerMix, Distribution, HourlyProfile, SeatBehaviour
from tests.queues.sim import SECRET, USER, start_pbx, wait_until

CST = timezone(timedelta(hours=8))
DAY_START = datetime(2026, 11, 24, tzinfo=CST).timestamp()  # local midnight
DAY_END = DAY_START + 86400
SIM_START = DAY_START - 1800  # 23:30 the day before: the day cut is crossed too
SPEED = 900.0
CALLS_PER_DAY = 3000.0
SEATS = 18
MAX_WAIT_S = 90  # HOTLINE_MAX_WAIT: Queue()'s own limit, reached by patient callers
TRUNC = 1.0  # HoldTime/TalkTime are whole seconds: |record - true duration| < 1 s
LAG_REAL_S = 1.0  # the product reads a call's first event at most this late (real s)
HOUSING, UTILITIES, UNROUTED = "043262345678", "043287654321", "043211112222"
ROUTES = {HOUSING: "hotline-housing", UTILITIES: "hotline-utilities"}


def traffic_options() -> DemoOptions:
    mix = CallerMix(
        legacy_numbers=(HOUSING, UTILITIES, UNROUTED),
        legacy_share=0.15,
        # wide: some hang up within seconds, some would wait longer than MAX_WAIT_S
        patience=Distribution.lognormal(90.0, 1.3),
    )
    return DemoOptions(
        seats=SEATS,
        calls_per_hour=CALLS_PER_DAY / 24,
        mix=mix,
        profile=HourlyProfile(),
        until=DAY_END,
        seat_behaviour=SeatBehaviour(
            no_answer_probability=0.05, talk_time=Distribution.lognormal(180.0, 0.6)
        ),
    )


@dataclass
class Expected:
    """One KPI row as counted from the ledger: exact part and what may move."""

    offered: int = 0
    answered: int = 0
    answered_15s: int = 0
    sl_edge: int = 0  # answered with a wait in (15, 16]: either side of the line
    abandoned: int = 0  # gave up after > 6 s (certainly not short)
    short_abandoned: int = 0  # gave up within 5 s
    abandon_edge: int = 0  # gave up after (5, 6] s
    waits: float = 0.0
    talks: float = 0.0
    wrapup: float = 0.0  # the records' mean wrap-up (not the ledger's: see KNOWN GAP)

    def add(self, call: CallOutcome) -> None:
        if not call.queue:
            return
        self.offered += 1
        low, high = call.waited or 0.0, call.waited_max or 0.0
        if call.queue_exit == "answered":
            self.answered += 1
            self.waits += low
            self.talks += call.talk_time or 0.0
            if high < 15:
                self.answered_15s += 1
            elif low <= 16:  # HoldTime <= 15 possible, not certain
                self.sl_edge += 1
        elif call.queue_exit == "gave_up":
            if high < 5:
                self.short_abandoned += 1
            elif low <= 6:
                self.abandon_edge += 1
            else:
                self.abandoned += 1


def count(calls: Iterable[CallOutcome], wrapups: dict[str, float] | None = None) -> Expected:
    """The KPI row of `calls` from the ledger; `wrapups`: the records' wrap-up by
    Linkedid (the one figure taken from the records, see KNOWN GAP)."""
    expected = Expected()
    wrapped = 0.0
    for call in calls:
        expected.add(call)
        if call.queue_exit == "answered" and wrapups is not None:
            wrapped += wrapups[call.linkedid]
    if expected.answered:
        expected.wrapup = wrapped / expected.answered
    return expected


def assert_row_matches(row: kpi.KpiRow, exp: Expected, what: str) -> None:
    assert (row.offered, row.answered) == (exp.offered, exp.answered), what
    assert exp.answered_15s <= row.answered_15s <= exp.answered_15s + exp.sl_edge, what
    gave_up = exp.abandoned + exp.short_abandoned + exp.abandon_edge
    assert row.abandoned + row.short_abandoned == gave_up, what
    assert exp.abandoned <= row.abandoned <= exp.abandoned + exp.abandon_edge, what
    # no FastAGI here: the survey a caller keys into is never heard, nothing is rated
    assert (row.rated, row.satisfied) == (0, 0), what
    if exp.answered:  # answer waits are exact, talk ends bracketed within a second
        assert row.asa_s is not None and row.aht_s is not None, what
        assert abs(row.asa_s - exp.waits / exp.answered) < TRUNC, what
        # AHT = talk + wrap-up; the wrap-up compared is the one the records hold
        # (see KNOWN GAP above: app_queue applies the queue's 10 s, records hold 0)
        assert abs(row.aht_s - (exp.talks / exp.answered + exp.wrapup)) < TRUNC + 1, what


def assert_periods(
    rows: list[kpi.KpiRow], calls: list[CallOutcome], size: int, lag_s: float
) -> None:
    """Per period: the ledger's count, where a call arriving within `lag_s` of the
    period's end may be counted in the next one; totals are exact."""

    def bucket(t: float) -> int:
        return int((t + kpi.CITY_UTC_OFFSET_S) // size * size - kpi.CITY_UTC_OFFSET_S)

    sure: dict[int, list[CallOutcome]] = defaultdict(list)
    movable: dict[int, list[CallOutcome]] = defaultdict(list)  # by the later period
    for call in calls:
        first, last = bucket(call.arrival), bucket(call.arrival + lag_s)
        (sure[first] if first == last else movable[last]).append(call)
    by_period = {row.period_start: row for row in rows}
    periods = set(sure) | set(movable) | {p - size for p in movable}
    assert set(by_period) <= periods
    for period in sorted(periods):
        low = count(sure[period])
        high = count(sure[period] + movable.get(period, []) + movable.get(period + size, []))
        row = by_period.get(period)
        offered = row.offered if row else 0
        assert low.offered <= offered <= high.offered, (size, period)
        answered = row.answered if row else 0
        assert low.answered <= answered <= high.answered, (size, period)
    total = count(calls)
    assert sum(r.offered for r in rows) == total.offered
    assert sum(r.answered for r in rows) == total.answered
    assert sum(r.abandoned + r.short_abandoned for r in rows) == (
        total.abandoned + total.short_abandoned + total.abandon_edge
    )


DISPOSITIONS: dict[str, str] = {
    "answered": "answered",
    "gave_up": "abandoned",
    "timeout": "fallback_routed",
    "": "ivr_only",
}


def within(whole_seconds: float, low: float, high: float) -> bool:
    """A whole-second duration of the PBX clock against the true one in [low, high]."""
    return low - TRUNC < whole_seconds < high + TRUNC


def assert_record(row: CallRecord, call: CallOutcome) -> None:
    what = (call.linkedid, call.caller_number, row.timeline)
    assert row.caller == call.caller_number and row.dialed == call.dialed_number, what
    assert row.disposition == DISPOSITIONS[call.queue_exit], what
    assert row.queue == call.queue, what
    # a record's keys are every key the caller sent, the survey's included
    assert row.ivr_keys == call.ivr_keys + call.survey_key, what
    assert [r["interface"] for r in row.rings] == [f"PJSIP/{r.seat}" for r in call.rings], what
    # which ring was answered; whether an unanswered one "rang out" (no_answer) or was
    # cancelled by the caller leaving is app_queue's timer against the caller's, and
    # both are late by the loop's lag at this speed: not compared
    answered = [r.outcome == "answered" for r in call.rings]
    assert [r["outcome"] == "answered" for r in row.rings] == answered, what
    if call.queue_exit == "answered":
        assert row.agent == f"PJSIP/{call.seat}" and row.seat == f"seat-{call.seat}", what
        assert call.talk_time is not None and call.talk_time_max is not None
        assert within(row.talk_s, call.talk_time, call.talk_time_max), what
        assert row.hangup_by == call.hangup_by, what
    else:
        assert row.agent == "" and row.seat == "", what
    if call.queue_exit in ("answered", "gave_up"):
        assert call.waited is not None and call.waited_max is not None
        assert row.wait_s is not None, what
        assert within(row.wait_s, call.waited, call.waited_max), what
    if call.queue_exit == "timeout":  # Queue()'s limit: at least MAX_WAIT_S, by the end
        assert call.waited_max is not None and row.wait_s is not None, what
        assert MAX_WAIT_S <= row.wait_s < call.waited_max + TRUNC, what
    if call.queue_exit == "gave_up":
        assert row.hangup_by == "caller", what
    assert row.rating is None, what  # (the survey's AGI is not there to hear a key)


async def run_day(database_url: str, tmp_path: Path) -> tuple[list[CallOutcome], float]:
    """The day's traffic with the product listening; returns the ledger and the largest
    lag (simulated s) between a call's arrival and the start its record shows."""
    sim = await start_pbx(0, speed=SPEED, start=SIM_START)
    sim.system.pbx.globals["HOTLINE_MAX_WAIT"] = str(MAX_WAIT_S)
    for did, queue in ROUTES.items():
        sim.route(did, queue)
    engine = create_engine(database_url)
    await migrate.upgrade(engine)
    sessions = session_factory(engine)
    live = LiveState(sim.scheduler.now)
    records = build_records(sessions, live, tmp_path / "spool", flush_every_s=0.2)
    node = PbxNode(
        NodeConfig("pbx1", "127.0.0.1", sim.port, USER, SECRET, action_timeout=10.0),
        records.listener,
    )
    node.start()
    writer = asyncio.create_task(records.writer.run())
    traffic = DemoTraffic(sim.system, sim.scheduler, random.Random(12345), traffic_options())
    try:
        await asyncio.wait_for(live.synced.wait(), 10)
        traffic.start()
        day_s = (DAY_END - sim.scheduler.now()) / SPEED
        await asyncio.sleep(day_s)
        ledger = traffic.ledger
        await wait_until(lambda: sim.scheduler.now() >= DAY_END and ledger.in_progress == 0, 60)
        await wait_until(lambda: records.builder.finished >= len(ledger), 30)
        await wait_until(lambda: not records.builder.open, 10)
        await wait_until(lambda: records.writer.written >= records.builder.finished, 30)
        await records.writer.flush()
    finally:
        traffic.stop()
        writer.cancel()
        await node.stop()
        await sim.server.stop()
    calls = list(traffic.ledger)
    async with sessions() as s:
        rows = {r.linkedid: r for r in (await s.scalars(select(CallRecord))).all()}
        # every placed call has exactly one record, and nothing else has one
        assert len(rows) == len(calls) and set(rows) == {c.linkedid for c in calls}
        lags = []
        for call in calls:
            row = rows[call.linkedid]
            assert_record(row, call)
            lags.append(row.started_at.timestamp() - call.arrival)
        lags.sort()
        median, p99 = lags[len(lags) // 2], lags[-len(lags) // 100]
        print(f"lag (simulated s): median {median:.1f}, p99 {p99:.1f}, max {lags[-1]:.1f}")
        lag = lags[-1]
        assert lags[0] >= -0.001
        assert lag <= LAG_REAL_S * SPEED
        everything = (int(SIM_START) - 86400, int(DAY_END) + 86400)
        (whole,) = await kpi.compute(s, *everything)
        wrapups = {linkedid: row.wrapup_s for linkedid, row in rows.items()}
        assert_row_matches(whole, count(calls, wrapups), "whole run")
        by_queue = await kpi.compute(s, *everything, group="queue")
        groups: dict[str, list[CallOutcome]] = defaultdict(list)
        for call in calls:
            groups[call.queue].append(call)
        assert {r.group for r in by_queue} == set(groups)
        for kpi_row in by_queue:
            group = kpi_row.group or ""
            assert_row_matches(kpi_row, count(groups[group], wrapups), f"queue {group}")
        assert_periods(await kpi.compute(s, *everything, period="day"), calls, 86400, lag)
        assert_periods(await kpi.compute(s, *everything, period="hour"), calls, 3600, lag)
    await engine.dispose()
    return calls, lag


def describe(calls: list[CallOutcome]) -> dict[str, int]:
    out: dict[str, int] = defaultdict(int)
    for call in calls:
        out[call.queue_exit or "never_queued"] += 1
        if call.queue_exit == "gave_up" and (call.waited or 0) <= 5:
            out["short_abandon"] += 1
        out["ring_no_answer"] += sum(r.outcome == "not_answered" for r in call.rings)
        out["legacy"] += call.legacy
    return dict(out)


@pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)
async def test_simulated_day(database_url: str, tmp_path: Path) -> None:
    began = time.monotonic()
    calls, lag = await run_day(database_url, tmp_path)
    seen = describe(calls)
    print(f"{len(calls)} calls, {seen}, lag {lag:.1f} s, {time.monotonic() - began:.0f} s wall")
    # the day really exercised what the checks are about
    assert len(calls) > 2000
    assert {"answered", "gave_up", "timeout"} <= set(seen)
    assert seen["short_abandon"] > 0 and seen["ring_no_answer"] > 0 and seen["legacy"] > 0
    assert any(c.arrival < DAY_START for c in calls)
    assert {c.queue for c in calls} >= set(ROUTES.values()) | {"hotline-general"}

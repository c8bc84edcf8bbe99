"""Statistical checks of the traffic model. Every tolerance is computed from the sample
size (about 4.5 standard errors), so the tests are strict yet do not flake for a seed."""

from __future__ import annotations

import itertools
import json
import math
import random
from collections import Counter
from pathlib import Path

import pytest

from pbxsim.clock import VirtualScheduler
from pbxsim.traffic import (
    DAY,
    FROM_110_NUMBER,
    HOUR,
    Caller,
    CallerMix,
    CallerSource,
    Distribution,
    HourlyProfile,
    SeatBehaviour,
    generate_callers,
    load_legacy_numbers,
    poisson_arrivals,
    seat_response,
)

Z = 4.5
START = 1_795_000_000.0 - (1_795_000_000.0 + 8 * HOUR) % DAY  # local (UTC+8) midnight


def within(observed: float, expected: float, std_error: float) -> bool:
    return abs(observed - expected) <= Z * std_error


def test_homogeneous_poisson_counts_and_gaps() -> None:
    rng = random.Random(1)
    lam = 0.5  # per second
    horizon = 20_000.0
    times = list(poisson_arrivals(rng, 0.0, horizon, lambda t: lam, lambda t: math.inf))
    n = len(times)
    assert within(n, lam * horizon, math.sqrt(lam * horizon))
    gaps = [b - a for a, b in itertools.pairwise(times)]
    mean = sum(gaps) / len(gaps)
    assert within(mean, 1 / lam, (1 / lam) / math.sqrt(len(gaps)))
    # exponential gaps: P(gap > mean) = e^-1
    share = sum(g > 1 / lam for g in gaps) / len(gaps)
    p = math.exp(-1)
    assert within(share, p, math.sqrt(p * (1 - p) / len(gaps)))
    assert times == sorted(times) and all(0 <= t < horizon for t in times)


def test_hourly_profile_shapes_the_day() -> None:
    rng = random.Random(2)
    profile = HourlyProfile()
    calls_per_day = 40_000.0
    callers = list(generate_callers(rng, START, START + DAY, calls_per_day, profile))
    per_hour = Counter(profile.local_hour(c.arrival) for c in callers)
    for hour in range(24):
        expected = calls_per_day * profile.share(hour)
        assert within(per_hour[hour], expected, math.sqrt(expected)), hour
    # the 12345 shape: night trough, two peaks
    assert per_hour[3] < per_hour[10] / 10
    assert per_hour[10] > per_hour[12] and per_hour[15] > per_hour[12]
    assert [c.index for c in callers] == list(range(len(callers)))


def test_profile_uses_local_time() -> None:
    profile = HourlyProfile()
    assert profile.local_hour(START) == 0
    assert profile.local_hour(START + 9.5 * HOUR) == 9
    assert profile.hour_end(START + 9.5 * HOUR) == START + 10 * HOUR
    assert HourlyProfile(utc_offset_hours=0).local_hour(START) == 16
    with pytest.raises(ValueError):
        HourlyProfile((1.0,) * 23)


@pytest.fixture
def legacy_csv(transcripts_dir: Path) -> Path:
    return transcripts_dir.parents[1] / "data" / "legacy_numbers.csv"


def test_caller_mix_ivr_legacy_and_patience(legacy_csv: Path) -> None:
    mix = CallerMix.with_legacy_csv(legacy_csv, share=0.2)
    legacy = mix.legacy_numbers
    rng = random.Random(3)
    callers = list(generate_callers(rng, START, START + DAY, 20_000.0, HourlyProfile(), mix))
    n = len(callers)
    legacy_share = sum(c.legacy for c in callers) / n
    assert within(legacy_share, 0.2, math.sqrt(0.2 * 0.8 / n))
    assert all(c.dialed_number in legacy for c in callers if c.legacy)
    assert all(c.dialed_number == "12345" for c in callers if not c.legacy)
    total = sum(w for _, w in mix.ivr_choices)
    pressed = Counter(c.ivr_digits for c in callers)
    for digits, weight in mix.ivr_choices:
        p = weight / total
        assert within(pressed[digits] / n, p, math.sqrt(p * (1 - p) / n)), digits
    assert (pressed[""] + pressed["0"]) / n > 0.5  # most press nothing or 0
    mean_patience = sum(c.patience for c in callers) / n
    assert within(mean_patience, 120.0, 120.0 / math.sqrt(n))
    assert all(len(c.caller_number) == 11 and c.caller_number.isdigit() for c in callers)


def test_legacy_numbers_from_csv(tmp_path: Path, legacy_csv: Path) -> None:
    numbers = load_legacy_numbers(legacy_csv)
    assert "043262264412" in numbers and "12333" in numbers
    merged = load_legacy_numbers(legacy_csv, modes=("merge",))
    assert "12333" not in merged and set(merged) < set(numbers)
    empty = tmp_path / "empty.csv"
    empty.write_text("number,mode\n")
    with pytest.raises(ValueError):
        load_legacy_numbers(empty)
    with pytest.raises(ValueError):
        CallerMix(legacy_share=0.1)  # a share of nothing


@pytest.mark.parametrize(
    "dist",
    [Distribution.exponential(90.0), Distribution.lognormal(240.0, 0.6), Distribution.fixed(5.0)],
)
def test_distribution_means(dist: Distribution) -> None:
    rng = random.Random(4)
    n = 40_000
    values = [dist.draw(rng) for _ in range(n)]
    assert all(v > 0 for v in values)
    mean = sum(values) / n
    assert within(mean, dist.mean, dist.std / math.sqrt(n) or 1e-12)
    if dist.kind == "lognormal":
        # the median of a lognormal is exp(mu)
        median = sorted(values)[n // 2]
        expected = math.exp(math.log(dist.mean) - dist.sigma**2 / 2)
        assert abs(median / expected - 1) < Z * 1.2533 * dist.sigma / math.sqrt(n)


def test_seat_behaviour() -> None:
    behaviour = SeatBehaviour(no_answer_probability=0.1)
    rng = random.Random(5)
    n = 30_000
    responses = [seat_response(rng, behaviour) for _ in range(n)]
    missed = sum(not r.answers for r in responses) / n
    assert within(missed, 0.1, math.sqrt(0.1 * 0.9 / n))
    talk = sum(r.talk_time for r in responses) / n
    assert within(talk, 240.0, behaviour.talk_time.std / math.sqrt(n))
    delay = sum(r.answer_delay for r in responses) / n
    assert within(delay, 3.0, behaviour.answer_delay.std / math.sqrt(n))
    with pytest.raises(ValueError):
        SeatBehaviour(no_answer_probability=1.5)


def test_same_seed_same_day() -> None:
    a = list(generate_callers(random.Random(7), START, START + 4 * HOUR, 5000.0))
    b = list(generate_callers(random.Random(7), START, START + 4 * HOUR, 5000.0))
    c = list(generate_callers(random.Random(8), START, START + 4 * HOUR, 5000.0))
    assert a == b and a != c


def test_caller_source_on_the_scheduler() -> None:
    scheduler = VirtualScheduler(start=START + 9 * HOUR)
    seen: list[tuple[float, Caller]] = []
    source = CallerSource(
        scheduler,
        random.Random(9),
        calls_per_day=24 * 3600.0,  # one call per second on a flat profile
        on_caller=lambda caller: seen.append((scheduler.now(), caller)),
        profile=HourlyProfile.flat(),
    )
    source.start(until=scheduler.now() + 2000.0)
    assert scheduler.pending() == 1  # only the next arrival is scheduled
    scheduler.run()
    assert all(now == caller.arrival for now, caller in seen)
    assert [c.index for _, c in seen] == list(range(len(seen)))
    assert within(len(seen), 2000.0, math.sqrt(2000.0))
    assert not source.running and source.generated == len(seen)
    # the same seed through the pure generator gives the same callers
    pure = list(
        generate_callers(
            random.Random(9), START + 9 * HOUR, START + 9 * HOUR + 2000.0, 86400.0,
            HourlyProfile.flat(),
        )
    )  # fmt: skip
    assert pure == [c for _, c in seen]


def test_caller_source_stop_from_callback() -> None:
    scheduler = VirtualScheduler(start=START)
    seen: list[Caller] = []

    def arrive(caller: Caller) -> None:
        seen.append(caller)
        if len(seen) == 5:
            source.stop()

    source = CallerSource(scheduler, random.Random(10), 86400.0, arrive, HourlyProfile.flat())
    source.start()
    scheduler.run(until=START + 3600.0)
    assert len(seen) == 5 and scheduler.pending() == 0


def test_demo_ledger_tells_what_became_of_every_call(tmp_path: Path) -> None:
    """Three busy hours on the repo's dialplan and queues (no FastAGI: the fallback
    queues everyone): the ledger holds each call once, ended, with a queue exit that
    fits its rings and times, and the same lines go to the JSONL file."""
    from pbxsim.demo import DemoOptions, DemoTraffic
    from pbxsim.events import EventBus
    from pbxsim.ledger import Ledger
    from pbxsim.telephony.pbx import build_pbx

    conf = Path(__file__).resolve().parents[2] / "asterisk-conf"
    scheduler = VirtualScheduler(START + 9 * HOUR)
    system = build_pbx(
        scheduler,
        EventBus(),
        random.Random(3),
        extensions_conf=conf / "extensions.conf",
        queues_conf=conf / "queues.conf",
    )
    system.pbx.globals["HOTLINE_MAX_WAIT"] = "60"
    system.pbx.astdb.put("hotline-legacy", "043262345678", "hotline-housing")
    ledger = Ledger.to_file(tmp_path / "ledger.jsonl")
    options = DemoOptions(
        seats=6,
        calls_per_hour=110,
        mix=CallerMix(
            legacy_numbers=("043262345678",),
            legacy_share=0.2,
            patience=Distribution.lognormal(60.0, 1.2),
        ),
        until=START + 12 * HOUR,
        seat_behaviour=SeatBehaviour(no_answer_probability=0.1),
    )
    traffic = DemoTraffic(system, scheduler, random.Random(7), options, ledger)
    traffic.start()
    scheduler.run(until=START + 14 * HOUR)
    ledger.close()
    calls = list(traffic.ledger)
    assert len(calls) == traffic.stats.arrived > 200 and ledger.in_progress == 0
    assert len({c.linkedid for c in calls}) == len(calls)
    lines = (tmp_path / "ledger.jsonl").read_text("utf-8").splitlines()
    written = {row["linkedid"]: row for row in map(json.loads, lines)}
    # each line is the call as it ended, complete (not a snapshot taken mid-hangup)
    assert len(written) == len(lines) and written == {c.linkedid: c.to_json() for c in calls}
    exits = Counter(c.queue_exit for c in calls)
    assert set(exits) == {"answered", "gave_up", "timeout"}, exits
    assert {c.queue for c in calls} == {"hotline-general", "hotline-housing"}
    for c in calls:
        assert c.ended_at is not None and c.joined_at is not None and c.arrival <= c.joined_at
        # virtual time does not move within a step: every bracket is a single instant
        assert c.waited == c.waited_max or c.queue_exit == "timeout"
        answered = [r for r in c.rings if r.outcome == "answered"]
        if c.queue_exit == "answered":
            assert [r.seat for r in answered] == [c.seat] and c.hangup_by == "agent"
            assert c.talk_time is not None and c.talk_time == c.talk_time_max > 0
            assert c.waited is not None and c.answered_at == c.joined_at + c.waited
        else:
            assert not answered and c.seat == "" and c.talk_time is None
        if c.queue_exit == "gave_up":
            assert c.hangup_by == "caller" and c.waited is not None
        if c.queue_exit == "timeout":  # Queue(,,,,60) counts from the joining second
            assert c.hangup_by == "pbx" and c.waited_max is not None
            assert 59 < c.waited_max <= 61 + 15  # (checked when a ring round ends)
    # app_queue counts a timeout as an abandon too (QueueCallerAbandon)
    queues = system.queues.queues.values()
    assert sum(q.abandoned for q in queues) == exits["gave_up"] + exits["timeout"]
    assert sum(r.outcome == "not_answered" for c in calls for r in c.rings) > 0


def test_queue_keys_draw_nothing_unless_asked_for() -> None:
    """A mix without queue keys keeps every other draw where it was."""
    plain = list(generate_callers(random.Random(4), START, START + HOUR, 2400.0))
    keyed_mix = CallerMix(queue_key_share=0.5, queue_keys=(("1", 1.0), ("9", 1.0)))
    keyed = list(generate_callers(random.Random(4), START, START + HOUR, 2400.0, mix=keyed_mix))
    assert all(c.queue_key == "" for c in plain)
    share = sum(c.queue_key != "" for c in keyed) / len(keyed)
    assert within(share, 0.5, math.sqrt(0.25 / len(keyed)))
    assert {c.queue_key for c in keyed} == {"", "1", "9"}
    assert all(c.queue_key_delay > 0 for c in keyed if c.queue_key)
    with pytest.raises(ValueError):
        CallerMix(queue_key_share=1.5)


def test_demo_callers_press_keys_while_queued_and_keep_their_call(tmp_path: Path) -> None:
    """Callers who press 1 or 9 in the queue leave it with the key (EXITWITHKEY), the
    dialplan brings them back (no FastAGI here) and their wait runs from the first join."""
    from pbxsim.asterisk_ledger import AsteriskLedger, LedgerRow, QueueLogRow, pbx_apps
    from pbxsim.demo import DemoOptions, DemoTraffic
    from pbxsim.events import EventBus
    from pbxsim.telephony.pbx import build_pbx

    conf = Path(__file__).resolve().parents[2] / "asterisk-conf"
    scheduler = VirtualScheduler(START + 9 * HOUR)
    bus = EventBus()
    system = build_pbx(
        scheduler,
        bus,
        random.Random(3),
        extensions_conf=conf / "extensions.conf",
        queues_conf=conf / "queues.conf",
    )
    rows: list[LedgerRow] = []
    AsteriskLedger(scheduler.now, rows.append, pbx_apps(system.pbx)).attach(bus)
    options = DemoOptions(
        seats=3,
        calls_per_hour=80,
        queue_key_share=0.5,
        mix=None,
        until=START + 10 * HOUR,
        login_seats=True,
    )
    traffic = DemoTraffic(system, scheduler, random.Random(7), options)
    traffic.start()
    scheduler.run(until=START + 11 * HOUR)
    qlog = [r for r in rows if isinstance(r, QueueLogRow)]
    exits = [r for r in qlog if r.event == "EXITWITHKEY"]
    assert exits and {r.data1 for r in exits} <= {"1", "9"}
    for row in exits:
        entries = [r for r in qlog if r.callid == row.callid and r.event == "ENTERQUEUE"]
        assert len(entries) >= 2  # back in the queue
        assert entries[1].data3 == row.data2  # at the place it left
    by_linkedid = {c.linkedid: c for c in traffic.ledger}
    for row in exits:
        call = by_linkedid[row.callid]
        first = next(r for r in qlog if r.callid == row.callid and r.event == "ENTERQUEUE")
        assert call.joined_at is not None
        assert abs(call.joined_at - first.time.timestamp()) < 1.0
        if call.queue_exit == "answered":
            assert call.answered_at == call.joined_at + (call.waited or 0)


def test_demo_agents_who_let_a_call_ring_out_are_auto_paused_and_come_back() -> None:
    """The repo's queues.conf auto-pauses (`autopause = all`) a seat that does not
    answer; the demo's agent unpauses itself `back_from_auto_pause_s` later."""
    from pbxsim.demo import DemoOptions, DemoTraffic
    from pbxsim.events import AmiEvent, EventBus
    from pbxsim.telephony.pbx import build_pbx

    conf = Path(__file__).resolve().parents[2] / "asterisk-conf"
    scheduler = VirtualScheduler(START + 9 * HOUR)
    bus = EventBus()
    pauses: list[tuple[float, str, str, str]] = []

    def seen(event: AmiEvent) -> None:
        if event.name == "QueueMemberPause":
            pauses.append(
                (
                    scheduler.now(),
                    event.get("Queue") or "",
                    event.get("Paused") or "",
                    event.get("PausedReason") or "",
                )
            )

    bus.subscribe(seen)
    system = build_pbx(
        scheduler,
        bus,
        random.Random(3),
        extensions_conf=conf / "extensions.conf",
        queues_conf=conf / "queues.conf",
    )
    options = DemoOptions(
        seats=1,
        calls_per_hour=30,
        specialist_queues_per_seat=1,
        until=START + 9 * HOUR + 600,
        seat_behaviour=SeatBehaviour(no_answer_probability=1.0, back_from_auto_pause_s=90.0),
    )
    traffic = DemoTraffic(system, scheduler, random.Random(7), options)
    traffic.start()
    scheduler.run(until=START + 9 * HOUR + 900)
    first = pauses[0]
    assert first[2:] == ("1", "Auto-Pause")
    # paused in both its queues at once, back in both 90 s later
    at_once = [p for p in pauses if p[0] == first[0]]
    assert len(at_once) == 2 and "hotline-general" in {p[1] for p in at_once}
    assert all(p[2:] == ("1", "Auto-Pause") for p in at_once)
    back = [p for p in pauses if p[2] == "0"]
    assert back and back[0][0] == first[0] + 90.0
    assert {p[1] for p in back[:2]} == {p[1] for p in at_once}


def test_a_share_of_callers_come_from_110_with_a_reference() -> None:
    mix = CallerMix(from_110_share=0.2)
    callers = list(generate_callers(random.Random(7), 0.0, 86400.0, 2000, mix=mix))
    handed = [c for c in callers if c.from_110]
    assert 0.15 < len(handed) / len(callers) < 0.25
    for c in handed:
        assert c.dialed_number == FROM_110_NUMBER and not c.ivr_digits and not c.queue_key
        ((name, ref),) = c.headers
        assert name == "X-110-Ref" and ref.startswith("110-") and len(ref) == 14
    # no share: the same draws as a mix without the option
    plain = list(generate_callers(random.Random(7), 0.0, 86400.0, 2000, mix=CallerMix()))
    assert not any(c.from_110 for c in plain)
    with pytest.raises(ValueError, match="from_110_share"):
        CallerMix(from_110_share=1.5)

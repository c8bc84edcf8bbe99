"""The day so far is one figure everywhere: two service instances on one database,
following one pbxsim under traffic (one instance on SQLite), read at one instant while
calls are in progress.

At three instants of a morning peak (each the first moment after a set time when a
caller waits in a queue, so calls are in progress both at seats and in queues), and once
more when every call has ended, pbxsim's clock is paused (pbxsim/clock.py
`AsyncioScheduler.pause`: no timer runs and no FastAGI command is carried out, so no
caller, seat or IVR does anything) until the events already on their way have reached
both instances, and everything is read; an instant at which pbxsim published an event
during the reading is not one, and is taken again. Then, per queue and for the
centre (offered, answered, answered_15s, abandoned, short_abandoned and their rates):
- instance A's `/stats/today`, B's, every `/queues/{name}`'s `today` on both, and the
  live stream's queue rows and `centre` row (both instances) are the same figures;
- the CSV export of the city day (the finished calls, counted by kpi.contribution) plus
  the calls in progress is those figures, and `in_progress` is the calls pbxsim still has
  (`/calls/active` on both instances, pbxsim's outcome ledger);
- pbxsim's outcome ledger (pbxsim/ledger.py: what its callers and seats did, finished or
  not) gives them too, with the simulated day's tolerances for the SL15 and
  short-abandon lines (tests/records/test_simulated_day.py: a wait is whole seconds of
  the PBX clock, so a call within a second of a line may fall on either side);
- each seat's `calls_today` (`/seats` on both instances, the stream's seat rows) is the
  calls its records say it answered plus the one it is on, and the ledger's count.

Instance A's day is built from its own hand only (records it finished, drafts); B reads
the day back from the database (`DayBook.refresh`) at every instant: the two paths must
agree. With one instance (SQLite), its figures before and after the read-back must.
Both instances write every record (an idempotent upsert): at every instant the export
has each finished call once, and at the end every call in the ledger has exactly one
record. No callback is placed (the seats side is built for its API, but no watcher
feeds its callback worklist), which the end checks too: no callback record.
"""

from __future__ import annotations

import asyncio
import copy
import csv
import io
import json
import random
import time
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, fields, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.app import create_app
from api.services import ApiServices
from callcenter import migrate
from callcenter.db import create_engine, session_factory
from callcenter.legacy.queues import QueueCatalog
from callcenter.records.kpi import Figures, Tally, contribution
from callcenter.records.models import CallRecord
from callcenter.tokens import Role, TokenStore
from pbxsim.clock import AsyncioScheduler
from pbxsim.demo import DemoTraffic
from pbxsim.ledger import CallOutcome
from pbxsim.telephony.pbx import Pbx
from queues.wiring import SeatsSystem, build_seats
from tests.queues.sim import Sim, start_pbx, wait_until
from tests.records.test_faults_reconciled import Service, start_service
from tests.records.test_simulated_day import DAY_START, Expected, count, traffic_options

pytestmark = pytest.mark.db

SPEED = 300.0
START = DAY_START + 9 * 3600  # the morning peak
END = START + 70 * 60  # the last caller arrives before this
#: the instants compared (simulated): the first caller waiting from each on
INSTANTS = (START + 15 * 60, START + 35 * 60, START + 55 * 60)
MAX_WAIT_S = 60
SEATS = 10  # fewer than the simulated day's 14: callers wait at the instants too
DAY = ("2026-11-24T00:00:00+08:00", "2026-11-25T00:00:00+08:00")
#: every figure the API gives; compared exactly between the product's own surfaces
FIGURES = [f.name for f in fields(Figures)]
#: what is compared with the export and with pbxsim's ledger
COUNTS = ("calls", "offered", "answered", "answered_15s", "abandoned", "short_abandoned")
RATES = {
    "answer_rate": ("answered", "offered"),
    "sl15": ("answered_15s", "offered"),
    "sl15_of_answered": ("answered_15s", "answered"),
    "abandon_rate": ("abandoned", "offered"),
}

Row = dict[str, Any]  # one group's figures, by name


@dataclass
class Instance:
    """One service instance: its parts on the PBX, its seats side and its HTTP API."""

    name: str
    service: Service
    seats: SeatsSystem
    api: ApiServices
    client: httpx.AsyncClient


async def start_instance(
    name: str,
    sim: Sim,
    sessions: async_sessionmaker[AsyncSession],
    spool: Path,
    wrapups: dict[str, int],
    tokens: TokenStore,
) -> Instance:
    service = await start_service(sim, sessions, spool, wrapups)
    seats = build_seats(
        sessions,
        service.live,
        lambda: datetime.now(UTC),
        ["break"],
        callback_tasks=service.records.callback_tasks,
    )
    api = ApiServices.from_systems(
        tokens=tokens, live=service.live, seats=seats, records=service.records
    )
    app = create_app(api, CollectorRegistry(), "t")
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")
    assert api.stream is not None
    await api.stream.ensure_started()
    return Instance(name, service, seats, api, client)


async def close(instance: Instance) -> None:
    """Stop its parts without waiting for calls to end (a failed check may leave some)."""
    await instance.client.aclose()
    if instance.api.stream is not None:
        await instance.api.stream.stop()
    service = instance.service
    service.writer.cancel()
    await asyncio.gather(service.writer, return_exceptions=True)
    await service.node.stop()
    await service.ivr.stop()
    await service.records.writer.flush()
    service.records.writer.spool.close()


# --- what each surface says ------------------------------------------------------------
@dataclass
class Reading:
    """Everything one instance shows of the day, at one instant."""

    stats: dict[str, Row]  # /stats/today: queues by name, and "centre"
    as_of: str
    in_progress: int
    queue_views: dict[str, Row]  # /queues/{name} today, by Asterisk name
    stream: dict[str, Row]  # the stream's queue rows by name, and its centre row
    seats: dict[str, int]  # /seats: calls_today by member name
    stream_seats: dict[str, int]
    active: list[Row]  # /calls/active


def differing(a: dict[str, Row], b: dict[str, Row]) -> list[tuple[str, str, Any, Any]]:
    """(group, figure, one, other) where two readings differ: what an assertion shows."""
    out = []
    for group in sorted(set(a) | set(b)):
        left, right = a.get(group, {}), b.get(group, {})
        for name in sorted(set(left) | set(right)):
            if left.get(name) != right.get(name):
                out.append((group, name, left.get(name), right.get(name)))
    return out


def figures(row: Row) -> Row:
    return {name: row[name] for name in FIGURES}


async def get(client: httpx.AsyncClient, url: str, headers: dict[str, str]) -> Any:
    response = await client.get(url, headers=headers)
    assert response.status_code == 200, (url, response.status_code, response.text[:300])
    return response.json()


async def read(instance: Instance, headers: dict[str, str], queue_names: list[str]) -> Reading:
    client = instance.client
    today = await get(client, "/api/v1/stats/today", headers)
    # the API names queues by the directory's names; the ledger by Asterisk's
    stats = {
        QueueCatalog.default().asterisk_name(row["group"]): figures(row) for row in today["queues"]
    }
    stats["centre"] = figures(today["centre"])
    views = {}
    for name in queue_names:
        view = await get(client, f"/api/v1/queues/{name}", headers)
        views[view["asterisk"]] = figures(view["today"])
    seats = await get(client, "/api/v1/seats?limit=500", headers)
    assert seats["next_cursor"] is None
    active = await get(client, "/api/v1/calls/active", headers)
    stream = instance.api.stream
    assert stream is not None
    stream.emit([], full=True)  # the rows as of now (the pump would within a tick)
    snapshot = json.loads(stream.snapshot_message())
    return Reading(
        stats=stats,
        as_of=today["as_of"],
        in_progress=today["in_progress"],
        queue_views=views,
        stream={
            (row["asterisk"] or row["name"]): figures(row["today"]) for row in snapshot["queues"]
        },
        seats={s["name"]: s["calls_today"] for s in seats["items"]},
        stream_seats={s["name"]: s["calls_today"] for s in snapshot["seats"]},
        active=active,
    )


async def export(instance: Instance, headers: dict[str, str]) -> list[dict[str, str]]:
    """The city day's records as the CSV export gives them (a BOM, if any, dropped)."""
    response = await instance.client.get(
        "/api/v1/calls/export.csv", headers=headers, params={"start": DAY[0], "end": DAY[1]}
    )
    assert response.status_code == 200, response.text[:300]
    return list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))


def optional_float(text: str) -> float | None:
    return float(text) if text not in ("", "None") else None


def exported(lines: Iterable[dict[str, str]]) -> dict[str, Row]:
    """The export's figures per queue and for the centre, by kpi.contribution (the
    export has no `agent` column: a record's seat is set exactly when an agent
    answered, test_simulated_day.assert_record)."""
    tallies: dict[str, Tally] = defaultdict(Tally)
    for line in lines:
        queue = QueueCatalog.default().asterisk_name(line["queue"]) if line["queue"] else ""
        rating = optional_float(line["rating"])
        tally = contribution(
            kind=line["kind"],
            queue=queue,
            agent=line["seat"],
            queue_exit=line["queue_exit"],
            wait_s=optional_float(line["wait_s"]),
            talk_s=float(line["talk_s"]),
            wrapup_s=float(line["wrapup_s"]),
            rating=int(rating) if rating is not None else None,
            called_back=False,
        )
        if tally is None:
            continue
        tallies["centre"].add(tally)
        if queue:
            tallies[queue].add(tally)
    return {name: _asdict(t.figures()) for name, t in tallies.items()}


def _asdict(f: Figures) -> Row:
    return {name: getattr(f, name) for name in FIGURES}


#: a queue without a call today
NONE = _asdict(Tally().figures())


# --- what pbxsim's people did ----------------------------------------------------------
def by_group(calls: Iterable[CallOutcome]) -> dict[str, list[CallOutcome]]:
    """The ledger's calls per queue first joined, and every call as "centre"."""
    out: dict[str, list[CallOutcome]] = defaultdict(list)
    for call in calls:
        out["centre"].append(call)
        if call.queue:
            out[call.queue].append(call)
    return out


def assert_ledger(row: Row, calls: list[CallOutcome], what: str) -> None:
    """A group's counts against the ledger's calls (finished or in progress; a caller
    still waiting is offered, one at a seat answered), within the stated lines."""
    exp: Expected = count(calls)
    said = {k: row[k] for k in COUNTS}
    assert row["calls"] == len(calls), (what, said)
    assert (row["offered"], row["answered"]) == (exp.offered, exp.answered), (what, said, exp)
    assert exp.answered_15s <= row["answered_15s"] <= exp.answered_15s + exp.sl_edge, (
        what,
        said,
        exp,
    )
    gave_up = exp.abandoned + exp.short_abandoned + exp.abandon_edge
    assert row["abandoned"] + row["short_abandoned"] == gave_up, (what, said, exp)
    assert exp.abandoned <= row["abandoned"] <= exp.abandoned + exp.abandon_edge, (
        what,
        said,
        exp,
    )


def told_differently(
    instance: Instance, lines: list[dict[str, str]], calls: list[CallOutcome]
) -> list[str]:
    """The calls whose queue, or whether a seat answered, the instance (its records,
    its drafts) and the ledger tell differently: what a failed count is made of."""
    said: dict[str, tuple[str, bool, str]] = {
        line["linkedid"]: (line["queue"], bool(line["seat"]), "record") for line in lines
    }
    for (_, linkedid), draft in instance.service.records.builder.open.items():
        queue = draft.queues[0] if draft.queues else ""
        said[linkedid] = (queue, bool(draft.agent), f"draft {draft.timeline[-3:]}")
    out = []
    for call in calls:
        product = said.get(call.linkedid)
        if product is None or product[:2] != (call.queue, call.queue_exit == "answered"):
            out.append(
                f"{call.linkedid}: instance {instance.name} {product}; ledger queue "
                f"{call.queue!r} exit {call.queue_exit!r} arrived {call.arrival:.1f} "
                f"joined {call.joined_at} ended {call.ended_at}"
            )
    return out


def assert_rates(row: Row, what: str) -> None:
    """Each rate is its numerator over its denominator (fractions, 4 places)."""
    for rate, (top, bottom) in RATES.items():
        expected = round(row[top] / row[bottom], 4) if row[bottom] else None
        assert row[rate] == expected, (what, rate, row)


# --- one instant -----------------------------------------------------------------------
def in_progress(calls: Iterable[CallOutcome]) -> set[str]:
    return {c.linkedid for c in calls if c.ended_at is None}


def waiting(calls: Iterable[CallOutcome]) -> int:
    """Callers in a queue now, as the ledger has them."""
    return sum(bool(c.queue) and not c.queue_exit and c.ended_at is None for c in calls)


def unsettled(instances: list[Instance], calls: list[CallOutcome], pbx: Pbx) -> str:
    """What keeps the instances from showing the paused PBX's calls in progress (the
    ledger's), live and in the record builder; "" nothing."""
    going = in_progress(calls)
    out = []
    for instance in instances:
        live = instance.service.live.nodes.get("pbx1")
        if live is None or live.stale:
            out.append(f"instance {instance.name}: no live model of pbx1")
            continue
        drafts = {linkedid for _, linkedid in instance.service.records.builder.open}
        for what, seen in (("live calls", set(live.calls)), ("record drafts", drafts)):
            if seen != going:
                extra = {
                    lid: (c.where, [_channel(pbx, u) for u in sorted(c.channels)])
                    if (c := live.calls.get(lid))
                    else None
                    for lid in sorted(seen - going)[:5]
                }
                out.append(
                    f"instance {instance.name}: {what} the ledger has ended {extra}, "
                    f"in progress in the ledger missing {sorted(going - seen)[:5]}"
                )
    return "; ".join(out)


def _channel(pbx: Pbx, uniqueid: str) -> str:
    """A channel as pbxsim has it."""
    channel = pbx.find_channel(uniqueid)
    if channel is None:
        return f"{uniqueid}: gone from pbxsim"
    return f"{uniqueid}: {channel.name} state {channel.state} hungup {channel.hungup}"


async def events_read(instances: list[Instance]) -> None:
    """Return once every instance has taken in every event pbxsim sent it so far: a
    Ping's reply follows them on the connection, and an event is handled as it is
    read (a caller the ledger has answered may otherwise still wait in a draft, its
    AgentConnect on the way)."""
    await asyncio.gather(
        *(i.service.node.send({"Action": "Ping"}, timeout=10.0) for i in instances)
    )


async def pause_at_a_settled_instant(
    scheduler: AsyncioScheduler,
    instances: list[Instance],
    calls: list[CallOutcome],
    pbx: Pbx,
    someone_waiting: bool,
) -> None:
    """Pause pbxsim and wait for the instances to catch up. A pause that leaves work
    only a timer would finish (say, a channel's hangup after the caller's) never
    settles: run a moment and try again. `someone_waiting`: only an instant at which a
    caller waits in a queue will do."""
    why = ""
    for _ in range(30):
        if someone_waiting:
            await wait_until(lambda: waiting(calls) > 0, 30)
        scheduler.pause()  # (no await since the wait: the caller still waits)
        try:
            await events_read(instances)
            await wait_until(lambda: not unsettled(instances, calls, pbx), 0.5)
            return
        except AssertionError:
            why = unsettled(instances, calls, pbx)
        scheduler.resume()
        await asyncio.sleep(0.002)  # the held timers run; 0.6 s of simulated time
    raise AssertionError(f"no instant at which every instance had read every event: {why}")


async def stable_readings(
    instances: list[Instance], headers: dict[str, str], queue_names: list[str]
) -> list[Reading]:
    """Read every instance until two consecutive readings are the same (the writers
    and the stream's pump are still running; nothing else moves while paused)."""
    last: list[Reading] | None = None
    for _ in range(20):
        now = [await read(i, headers, queue_names) for i in instances]
        if now == last:
            return now
        last = now
        await asyncio.sleep(0.05)
    raise AssertionError(f"two consecutive readings never agreed; the last: {last}")


def rows_of(table: dict[str, Row], names: Iterable[str]) -> dict[str, Row]:
    """The groups of `names`; a queue without a call today has every figure at none."""
    return {name: table.get(name, NONE) for name in names}


class EventCount:
    """How many events pbxsim has published (its bus)."""

    def __init__(self) -> None:
        self.n = 0

    def __call__(self, _event: object) -> None:
        self.n += 1


@dataclass
class Instant:
    """Everything read at one instant: pbxsim's ledger and what the instances show."""

    calls: list[CallOutcome]  # a copy: the calls go on after resume()
    before: Reading  # the first instance, before the last one read the day back
    readings: list[Reading]  # every instance, after
    lines: list[dict[str, str]]  # the export
    stored: int  # records in the database
    differences: list[str]  # calls the instances and the ledger tell differently
    tries: int  # pauses it took


async def read_instant(
    sim: Sim,
    events: EventCount,
    instances: list[Instance],
    calls: list[CallOutcome],
    headers: dict[str, str],
    queue_names: list[str],
    sessions: async_sessionmaker[AsyncSession],
    someone_waiting: bool,
) -> Instant:
    """Pause at a settled instant and read everything. Should pbxsim publish an event
    while the instances are read (a pause holds timers and FastAGI commands, not AMI
    actions), that instant is not one: read again at another."""
    scheduler = sim.scheduler
    for tries in range(1, 11):
        await pause_at_a_settled_instant(
            scheduler, instances, calls, sim.system.pbx, someone_waiting
        )
        try:
            mark = events.n
            ledger = copy.deepcopy(calls)
            for instance in instances:  # the export reads the database
                await instance.service.records.writer.flush()
            first = instances[0]
            before = (await stable_readings([first], headers, queue_names))[0]
            # the last instance reads the day back from the database; the first keeps
            # its own (with one instance: the same one, after the read-back)
            await instances[-1].service.records.day.refresh()
            readings = await stable_readings(instances, headers, queue_names)
            lines = await export(first, headers)
            differences = [d for i in instances for d in told_differently(i, lines, ledger)]
            async with sessions() as session:
                stored = await session.scalar(select(func.count()).select_from(CallRecord))
            if events.n == mark:
                return Instant(ledger, before, readings, lines, stored or 0, differences, tries)
        finally:
            scheduler.resume()
        await asyncio.sleep(0.002)
    raise AssertionError("pbxsim never stood still while the instances were read")


async def check_instant(
    label: str,
    sim: Sim,
    events: EventCount,
    instances: list[Instance],
    calls_so_far: list[CallOutcome],
    headers: dict[str, str],
    queue_names: list[str],
    asterisk_names: list[str],
    sessions: async_sessionmaker[AsyncSession],
    someone_waiting: bool = True,
) -> tuple[int, int]:
    """Compare every surface at one paused instant; returns the calls in progress at a
    seat and those waiting in a queue."""
    instant = await read_instant(
        sim, events, instances, calls_so_far, headers, queue_names, sessions, someone_waiting
    )
    calls, before, readings, lines = instant.calls, instant.before, instant.readings, instant.lines
    differences, stored = instant.differences, instant.stored

    groups = ["centre", *asterisk_names]
    truth = rows_of(readings[0].stats, groups)
    what = f"{label} ({len(calls)} calls so far)"
    # the product's surfaces: the same figures, each of them
    own = rows_of(before.stats, groups)
    assert own == truth, (what, "own records vs read back", differing(own, truth))
    for instance, reading in zip(instances, readings, strict=True):
        at = f"{what}, instance {instance.name}"
        stats = rows_of(reading.stats, groups)
        assert stats == truth, (at, "/stats/today", differing(stats, truth))
        assert rows_of(reading.queue_views, asterisk_names) == rows_of(truth, asterisk_names), (
            at,
            "/queues/{name} today",
        )
        assert rows_of(reading.stream, groups) == truth, (at, "the stream's rows")
        assert reading.as_of == readings[0].as_of, (at, "one instant")
        assert reading.in_progress == readings[0].in_progress, (at, "in_progress")
        assert len(reading.active) == reading.in_progress, (at, "/calls/active")
        assert reading.seats == readings[0].seats, (at, "/seats calls_today")
        assert reading.stream_seats == reading.seats, (at, "the stream's seat rows")

    going = [c for c in calls if c.ended_at is None]
    finished = [c for c in calls if c.ended_at is not None]
    assert readings[0].in_progress == len(going), (what, "in progress: the ledger's")
    # the export: the finished calls, once each; with the calls in progress, the day
    keys = Counter((line["node"], line["linkedid"]) for line in lines)
    assert not [k for k, n in keys.items() if n > 1], (what, "an exported record twice")
    assert {k[1] for k in keys} == {c.linkedid for c in finished}, (what, "export vs ledger")
    done = rows_of(exported(lines), groups)
    ledger_all, ledger_done, ledger_going = by_group(calls), by_group(finished), by_group(going)
    for group in groups:
        row, csv_row = truth[group], done[group]
        at = f"{what}, {group}"
        assert_rates(row, at)
        try:
            assert_ledger(row, ledger_all.get(group, []), f"{at}: the day vs the ledger")
            assert_ledger(csv_row, ledger_done.get(group, []), f"{at}: the export vs the ledger")
            rest = {k: row[k] - csv_row[k] for k in COUNTS}
            assert_ledger(rest, ledger_going.get(group, []), f"{at}: the day minus the export")
        except AssertionError as exc:
            raise AssertionError(f"{exc}\ncalls told differently: {differences[:10]}") from None
        assert rest["abandoned"] == rest["short_abandoned"] == 0, (at, rest)
    assert truth["centre"]["calls"] - done["centre"]["calls"] == readings[0].in_progress

    # a seat's calls: its records, the call it is on, and what its phone did
    answered = Counter(f"seat-{c.seat}" for c in calls if c.queue_exit == "answered")
    recorded = Counter(line["seat"] for line in lines if line["seat"])
    talking = Counter(c["seat"] for c in readings[0].active if c["answered"])
    seats = {name: n for name, n in readings[0].seats.items() if n}
    assert seats == dict(answered), (what, "calls_today vs the ledger")
    assert seats == dict(recorded + talking), (what, "calls_today vs records + in progress")
    assert stored == len(lines), (what, "records in the database vs the export")
    at_seats, in_queues = sum(c.queue_exit == "answered" for c in going), waiting(going)
    print(
        f"{label} (pause {instant.tries}): {len(calls)} calls, {len(going)} in progress "
        f"({at_seats} at a seat, {in_queues} waiting); centre "
        + ", ".join(f"{k} {truth['centre'][k]}" for k in COUNTS)
    )
    return at_seats, in_queues


@pytest.mark.parametrize(
    ("database_url", "instances"),
    [("sqlite", 1), ("postgresql", 2)],
    indirect=["database_url"],
)
async def test_every_surface_agrees_at_one_instant(
    database_url: str, instances: int, tmp_path: Path
) -> None:
    began = time.monotonic()
    engine = create_engine(database_url)
    await migrate.upgrade(engine)
    sessions = session_factory(engine)
    tokens = TokenStore(sessions, lambda: datetime.now(UTC))
    headers = {"Authorization": f"Bearer {(await tokens.create('sup', Role.SUPERVISOR))[1]}"}
    sim = await start_pbx(0, speed=SPEED, start=START)
    events = EventCount()
    sim.system.pbx.bus.subscribe(events)
    sim.system.pbx.globals["HOTLINE_MAX_WAIT"] = str(MAX_WAIT_S)
    wrapups = {q.name: q.config.wrapuptime for q in sim.system.queues.queues.values()}
    running: list[Instance] = []
    options = replace(traffic_options(END), seats=SEATS)
    traffic = DemoTraffic(sim.system, sim.scheduler, random.Random(14), options)
    try:
        for n in range(instances):
            name = "AB"[n]
            running.append(
                await start_instance(
                    name, sim, sessions, tmp_path / f"spool-{name}", wrapups, tokens
                )
            )
        catalog = running[0].seats.catalog.current
        simulated = set(sim.system.queues.queues)
        queue_names = sorted(q.name for q in catalog.queues if q.asterisk in simulated)
        asterisk_names = sorted(catalog.queue(n).asterisk for n in queue_names)
        assert asterisk_names == sorted(simulated)
        traffic.start()
        busy = []
        for n, instant in enumerate(INSTANTS):
            await wait_until(lambda at=instant: sim.scheduler.now() >= at, 60)
            busy.append(
                await check_instant(
                    f"instant {n + 1}",
                    sim,
                    events,
                    running,
                    traffic.ledger.calls,
                    headers,
                    queue_names,
                    asterisk_names,
                    sessions,
                )
            )
        # the instants had calls in progress to account for, at seats and waiting
        assert all(at_seats and in_queues for at_seats, in_queues in busy), busy
        ledger = traffic.ledger
        await wait_until(lambda: sim.scheduler.now() >= END and ledger.in_progress == 0, 60)
        assert await check_instant(
            "the end",
            sim,
            events,
            running,
            ledger.calls,
            headers,
            queue_names,
            asterisk_names,
            sessions,
            someone_waiting=False,
        ) == (0, 0)
    finally:
        traffic.stop()
        for instance in running:
            await close(instance)
        await sim.server.stop()
    calls = list(traffic.ledger)
    async with sessions() as session:
        kinds = Counter((await session.scalars(select(CallRecord.kind))).all())
    await engine.dispose()
    # every call once, by every instance that wrote it; no callback was placed
    assert kinds == {"call": len(calls)}
    outcomes = Counter(c.queue_exit or "never queued" for c in calls)
    print(f"{len(calls)} calls {dict(outcomes)}; {time.monotonic() - began:.0f} s wall")
    assert len(calls) > 150 and outcomes["answered"] and outcomes["gave_up"]

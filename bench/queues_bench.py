"""Seats and queues: the shift-start login storm and the live queue view.

`seat_login_storm_s`: 1,500 provisioned seats, each with 3 skills (general + 2
specialist queues), log in at once (SeatService.login_many: 4,500 QueueAdd over one
AMI socket, plus the seat rows and sessions in SQLite) against pbxsim in its own
process (1,500 simulated softphones, no traffic), timed until the live model shows all
1,500 seats `available`.

`queue_view_ms`: the full live view of every queue (queues.queue_views.queue_live: callers
with position/wait/priority, seats by state, today's figures; what GET
/api/v1/queues/{name} serves, for all 10 queues) on a model with 1,500 seats x 3 queues
and 500 waiting callers; median of 50 runs. `queue_list_view_ms`: the same model
through GET /api/v1/queues's view (callcenter.live.live_views.queue_views).
"""

from __future__ import annotations

import asyncio
import secrets
import socket
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from ami.node import NodeConfig, PbxNode
from callcenter import migrate
from callcenter.db import create_engine, session_factory
from callcenter.legacy.queues import QueueCatalog, asterisk_queue
from callcenter.live.live_state import LiveState
from callcenter.live.live_views import queue_views
from callcenter.live.node_state import Member, NodeState, Queue, WaitingCaller
from callcenter.live.seat_state import seat_state
from callcenter.records.kpi import Figures, Tally
from queues.catalog import catalog, demo_skills, queue_wrapups
from queues.queue_views import queue_live
from queues.seat_state import memberships
from queues.wiring import build_seats

SEATS = 1_500
#: the city plan's queues, as the demo floor and the bench seats serve them
QUEUES = QueueCatalog.default().names
CALLERS = 500


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _login_storm() -> float:
    port, secret = _free_port(), secrets.token_urlsafe(12)
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "pbxsim",
        "--ami-port",
        str(port),
        "--ami-secret",
        secret,
        "--seats",
        str(SEATS),
        "--calls-per-hour",
        "0.001",  # softphones need the demo traffic module; one call in 1,000 h
        "--no-login-seats",
        "--log-level",
        "WARNING",
    )
    with tempfile.TemporaryDirectory() as tmp:
        engine = create_engine(f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}")
        try:
            await migrate.upgrade(engine)
            live = LiveState(time.time)
            seats = build_seats(session_factory(engine), live, lambda: datetime.now(UTC), ["break"])
            await seats.repo.provision(SEATS, 1001, demo_skills, "PJSIP/{extension}", "pbx1")
            node = PbxNode(
                NodeConfig("pbx1", "127.0.0.1", port, "callcenter", secret, action_timeout=30),
                live,
            )
            for _ in range(100):
                try:
                    _, writer = await asyncio.open_connection("127.0.0.1", port)
                    writer.close()
                    break
                except OSError:
                    await asyncio.sleep(0.1)
            node.start()
            await asyncio.wait_for(live.synced.wait(), 30)
            state = live.nodes["pbx1"]
            interfaces = [f"PJSIP/{1001 + i}" for i in range(SEATS)]
            t0 = time.perf_counter()
            failed = await seats.service.login_many([str(1001 + i) for i in range(SEATS)])
            if failed:
                raise RuntimeError(
                    f"{len(failed)} logins failed, e.g. {next(iter(failed.items()))}"
                )
            while True:
                now = live.clock()
                ready = sum(
                    1
                    for iface in interfaces
                    if (m := memberships(state, iface))
                    and len(m) == 3
                    and seat_state(m, now, seats.wrapups)[0] == "available"
                )
                if ready == SEATS:
                    break
                if time.perf_counter() - t0 > 120:
                    raise RuntimeError(f"only {ready}/{SEATS} seats available after 120 s")
                await asyncio.sleep(0.05)
            took = time.perf_counter() - t0
            await node.stop()
            return took
        finally:
            await engine.dispose()
            proc.terminate()
            await proc.wait()


def _big_model() -> tuple[NodeState, Figures]:
    now = time.time()
    state = NodeState("pbx1", time.time)
    state.stale = False
    state.queues = {
        asterisk_queue(q): Queue(asterisk_queue(q), strategy="leastrecent") for q in QUEUES
    }
    for i in range(SEATS):
        iface = f"PJSIP/{1001 + i}"
        for k, (name, level) in enumerate(demo_skills(i).items()):
            queue = state.queues[asterisk_queue(name)]
            queue.members[iface] = Member(
                queue.name,
                iface,
                member_name=str(1001 + i),
                state_interface=iface,
                penalty=5 - level,
                status=(1, 2, 6)[i % 3],
                in_call=i % 3 == 1,
                paused=i % 17 == 0,
                paused_reason="break" if i % 17 == 0 else "",
                last_call=int(now) - (i % 30) * (k + 1),
            )
    for c in range(CALLERS):
        queue = state.queues[asterisk_queue(QUEUES[c % len(QUEUES)])]
        uid = f"1795000000.{c}"
        queue.entries[uid] = WaitingCaller(
            queue.name,
            uid,
            f"PJSIP/trunk-{c:08x}",
            len(queue.entries) + 1,
            now - c,
            c % 3,
            f"139{c:08d}",
        )
    return state, Tally().figures()


def _median_ms(fn: Callable[[], object], runs: int = 50) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return round(statistics.median(times), 2)


def bench_queues() -> dict[str, float]:
    storm = asyncio.run(_login_storm())
    state, today = _big_model()
    queues = QueueCatalog.default()
    specs = list(catalog(queues).values())
    wrapups = queue_wrapups(catalog(queues))
    now = time.time()
    return {
        "seat_login_storm_s": round(storm, 2),
        # every queue's full view: callers, seats by state, today's counters
        "queue_view_ms": _median_ms(
            lambda: [queue_live(s, [state], today, [], now, catalog=queues) for s in specs]
        ),
        # GET /api/v1/queues (live fields only), for comparison
        "queue_list_view_ms": _median_ms(lambda: queue_views([state], now, wrapups)),
    }


if __name__ == "__main__":
    print(bench_queues())

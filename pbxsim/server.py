"""`python -m pbxsim`: the simulated PBX as a process — AMI on a TCP port, FastAGI out to
the service, app_queue inside, and (unless --no-traffic) live callers and agents."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import random
import signal
from collections.abc import Sequence
from pathlib import Path

from pbxsim.ami_server import AmiServer, ManagerUser
from pbxsim.asterisk_ledger_db import LedgerWriter, start_ledger
from pbxsim.clock import AsyncioScheduler
from pbxsim.demo import DemoOptions, DemoTraffic
from pbxsim.events import EventBus
from pbxsim.ledger import Ledger
from pbxsim.parent import ask_kernel_for_death_signal, watch_parent
from pbxsim.telephony.pbx import build_pbx
from pbxsim.telephony.sounds import sound_lengths
from pbxsim.traffic import SeatBehaviour

log = logging.getLogger("pbxsim")

#: how long closing the AMI server and the ledger may take once asked to stop
STOP_WITHIN_S = 1.5

#: the configuration the product ships (what a real Asterisk would be given)
CONF = Path(__file__).resolve().parent.parent / "asterisk-conf"


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m pbxsim",
        description="A simulated Asterisk 22: AMI server, FastAGI client, app_queue, and "
        "live demo traffic. `python -m pbxsim erlang --help` for the queue-model check.",
    )
    p.add_argument("--ami-host", default="127.0.0.1")
    p.add_argument("--ami-port", type=int, default=5038)
    p.add_argument("--ami-user", default="callcenter")
    p.add_argument(
        "--ami-secret",
        default=os.environ.get("PBXSIM_AMI_SECRET"),
        help="the AMI user's secret (there is no default secret); default $PBXSIM_AMI_SECRET, "
        "which keeps it out of the process list",
    )
    p.add_argument(
        "--agi-url",
        default="agi://127.0.0.1:4573",
        help="base FastAGI URL the dialplan calls (HOTLINE_AGI)",
    )
    p.add_argument("--extensions-conf", type=Path, default=CONF / "extensions.conf")
    p.add_argument("--queues-conf", type=Path, default=CONF / "queues.conf")
    p.add_argument(
        "--sounds",
        type=Path,
        default=CONF / "sounds",
        help="sound files (<dir>/<language>/...wav) whose lengths prompts and queue "
        "announcements take",
    )
    p.add_argument(
        "--sound-language", default="zh", help="the callers' language (its sounds' lengths)"
    )
    p.add_argument("--seats", type=int, default=60, help="simulated softphones (PJSIP/1001…)")
    p.add_argument("--first-extension", type=int, default=1001)
    p.add_argument("--calls-per-hour", type=float, default=800.0)
    p.add_argument(
        "--daily-profile",
        action="store_true",
        help="follow a 12345 day (peaks 9-11, 14-16) instead of a flat rate",
    )
    p.add_argument(
        "--legacy-csv",
        type=Path,
        default=None,
        help="legacy numbers some callers dial (CSV with a `number` column)",
    )
    p.add_argument(
        "--queue-key-share",
        type=float,
        default=0.03,
        help="share of callers who press 1 (callback) or 9 (emergency) while queued",
    )
    p.add_argument(
        "--from-110-share",
        type=float,
        default=0.02,
        help="share of calls the 110 platform hands over (dialing 12345110, with X-110-Ref)",
    )
    p.add_argument(
        "--no-login-seats",
        action="store_true",
        help="do not log the softphones into queues (the service does it)",
    )
    p.add_argument(
        "--no-answer-share",
        type=float,
        default=SeatBehaviour().no_answer_probability,
        help="share of rings an agent lets ring out (app_queue then auto-pauses the seat)",
    )
    p.add_argument(
        "--back-from-auto-pause-s",
        type=float,
        default=SeatBehaviour().back_from_auto_pause_s,
        help="seconds until an auto-paused agent unpauses itself (negative: never)",
    )
    p.add_argument("--speed", type=float, default=1.0, help="simulated seconds per real second")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--no-traffic", action="store_true", help="serve AMI only, no calls")
    p.add_argument(
        "--ledger",
        type=Path,
        default=None,
        help="append one JSON line per finished call: what the traffic did (pbxsim/ledger.py)",
    )
    p.add_argument(
        "--ledger-url",
        default=os.environ.get("PBXSIM_LEDGER_URL"),
        help="write Asterisk's own ledger (cdr, cel, queue_log) to this SQLAlchemy async URL "
        "(postgresql+asyncpg: schema asterisk; sqlite+aiosqlite: plain tables); default "
        "$PBXSIM_LEDGER_URL, which keeps a password out of the process list",
    )
    p.add_argument(
        "--ledger-create",
        action="store_true",
        help="create the ledger tables when missing (normally the service's migration does)",
    )
    p.add_argument(
        "--timestampevents",
        action="store_true",
        help="a Timestamp header on every event, as manager.conf's timestampevents = yes",
    )
    p.add_argument(
        "--parent-pid",
        type=int,
        default=int(os.environ.get("PBXSIM_PARENT_PID") or 0) or None,
        help="stop when this process (the one that started the simulator) is gone; "
        "default $PBXSIM_PARENT_PID",
    )
    p.add_argument("--log-level", default="INFO")
    return p


async def serve(args: argparse.Namespace) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    watcher = None
    if args.parent_pid is not None:
        ask_kernel_for_death_signal()
        watcher = asyncio.create_task(watch_parent(args.parent_pid, stop))
    scheduler = AsyncioScheduler(loop, speed=args.speed)
    bus = EventBus()
    rng = random.Random(args.seed)
    system = build_pbx(
        scheduler, bus, rng, extensions_conf=args.extensions_conf, queues_conf=args.queues_conf
    )
    system.pbx.globals["HOTLINE_AGI"] = args.agi_url.rstrip("/")
    system.pbx.sound_lengths.update(sound_lengths(args.sounds, args.sound_language))
    writer = (
        await start_ledger(system.pbx, args.ledger_url, create=args.ledger_create)
        if args.ledger_url
        else None
    )
    users = {args.ami_user: ManagerUser(args.ami_secret, read="all", write="all")}
    server = AmiServer(
        scheduler,
        bus,
        system.actions,
        users,
        system.cli,
        host=args.ami_host,
        port=args.ami_port,
        timestampevents=args.timestampevents,
    )
    await server.start()
    log.info(
        "pbxsim: AMI on %s:%s (user %s), FastAGI to %s, speed x%g",
        args.ami_host,
        server.port,
        args.ami_user,
        args.agi_url,
        args.speed,
    )
    traffic: DemoTraffic | None = None
    ledger = Ledger.to_file(args.ledger) if args.ledger is not None else None
    if not args.no_traffic:
        traffic = DemoTraffic(
            system,
            scheduler,
            random.Random(args.seed + 1),
            DemoOptions(
                seats=args.seats,
                first_extension=args.first_extension,
                calls_per_hour=args.calls_per_hour,
                flat_profile=not args.daily_profile,
                legacy_csv=args.legacy_csv,
                queue_key_share=args.queue_key_share,
                from_110_share=args.from_110_share,
                login_seats=not args.no_login_seats,
                seat_behaviour=SeatBehaviour(
                    no_answer_probability=args.no_answer_share,
                    back_from_auto_pause_s=(
                        args.back_from_auto_pause_s if args.back_from_auto_pause_s >= 0 else None
                    ),
                ),
            ),
            ledger,
        )
        traffic.start()
    try:
        await stop.wait()
    finally:
        if traffic is not None:
            traffic.stop()
            log.info("pbxsim: %s", traffic.stats)
        if ledger is not None:
            ledger.close()
        try:  # a stop that hangs must not keep the simulator (and its port) alive
            await asyncio.wait_for(_close(server, writer), STOP_WITHIN_S)
        except TimeoutError:
            log.warning("pbxsim: closing took over %g s; exiting anyway", STOP_WITHIN_S)
        if watcher is not None:
            watcher.cancel()


async def _close(server: AmiServer, writer: LedgerWriter | None) -> None:
    await server.stop()
    if writer is not None:
        await writer.close()


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    if not args.ami_secret:
        parser().error("an AMI secret is required: $PBXSIM_AMI_SECRET or --ami-secret")
    if args.seats < 0 or args.calls_per_hour < 0 or args.speed <= 0:
        parser().error("--seats and --calls-per-hour must be >= 0, --speed > 0")
    if not 0.0 <= args.no_answer_share <= 1.0:
        parser().error("--no-answer-share must be within 0..1")
    asyncio.run(serve(args))
    return 0

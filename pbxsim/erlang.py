"""`python -m pbxsim erlang`: the queue engine under M/M/n(+M) traffic vs. Erlang C / A.

The point is to check the *engine that serves AMI* against queueing theory, so the run
drives `app_queue.engine.QueueEngine` itself (members, entries, strategy, ring attempts,
answer, wrap-up 0, the once-a-second turn checks, abandonment) on a `VirtualScheduler`.
Only channels are replaced: callers and agents are small host objects, and agents report
device states (RINGING, INUSE, NOT_INUSE) the way a softphone endpoint would.

Arrivals are Poisson, talk times and patience exponential, agents answer at once. All
three figures are over *all* arrivals after a warm-up: P(wait) = not connected on
arrival, abandon rate, SL = answered within the threshold.

The reference numbers are computed here in pure Python (pbxsim is stdlib-only): Erlang C
in closed form, Erlang A from the birth-death chain, with its service level from the
tagged-caller chain by uniformization.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import statistics
import sys
from collections.abc import Sequence
from dataclasses import dataclass

from pbxsim.app_queue.config import QueueConfig
from pbxsim.app_queue.engine import QueueEngine, QueueEntry, RingAttempt
from pbxsim.clock import Handle, VirtualScheduler
from pbxsim.events import EventBus, Fields

QUEUE = "erlang"
BATCHES = 20


# --------------------------------------------------------------------------- theory
def erlang_b(n: int, a: float) -> float:
    b = 1.0
    for k in range(1, n + 1):
        b = a * b / (k + a * b)
    return b


def erlang_c(n: int, a: float) -> float:
    """P(wait > 0) in M/M/n with offered load `a` Erlangs."""
    if a >= n:
        return 1.0
    b = erlang_b(n, a)
    return n * b / (n - a * (1 - b))


@dataclass(frozen=True)
class Reference:
    model: str
    p_wait: float
    abandon_rate: float
    sl: float


def erlang_c_reference(n: int, lam: float, aht: float, t: float) -> Reference:
    a = lam * aht
    pw = erlang_c(n, a)
    sl = 1.0 - pw * math.exp(-(n - a) * t / aht) if a < n else 0.0
    return Reference("Erlang C", pw, 0.0, sl)


def erlang_a_reference(
    n: int, lam: float, aht: float, patience: float, t: float, kmax: int = 4000
) -> Reference:
    """M/M/n+M: stationary birth-death chain; SL over all arrivals via the chain of a
    tagged caller who finds k callers ahead (moves up at n*mu + k*theta, abandons at
    theta), solved by uniformization."""
    mu, th = 1.0 / aht, 1.0 / patience
    logp = [0.0]
    for k in range(1, n + kmax + 1):
        death = min(k, n) * mu + max(k - n, 0) * th
        logp.append(logp[-1] + math.log(lam) - math.log(death))
    top = max(logp)
    p = [math.exp(v - top) for v in logp]
    total = sum(p)
    p = [v / total for v in p]
    pw = sum(p[n:])
    p_ab = th * sum((k - n) * p[k] for k in range(n + 1, len(p))) / lam
    kq = min(400, kmax)
    rate = n * mu + kq * th + th  # uniformization constant
    # v[j] = P(served within m uniformized jumps | j callers ahead)
    v = [0.0] * (kq + 1)
    lt = rate * t
    steps = int(lt + 12 * math.sqrt(lt) + 30)
    weight = math.exp(-lt)  # Poisson(m; lt), m = 0
    served_by_t = [0.0] * (kq + 1)
    for m in range(1, steps + 1):
        nv = [0.0] * (kq + 1)
        for j in range(kq + 1):
            move = (n * mu + j * th) / rate
            stay = 1.0 - move - th / rate
            ahead = 1.0 if j == 0 else v[j - 1]
            nv[j] = move * ahead + stay * v[j]
        v = nv
        weight *= lt / m
        for j in range(kq + 1):
            served_by_t[j] += weight * v[j]
    sl = sum(p[:n]) + sum(p[n + k] * served_by_t[k] for k in range(kq + 1) if n + k < len(p))
    return Reference("Erlang A", pw, p_ab, sl)


# ----------------------------------------------------------------------- simulation
class _Caller:
    """One simulated caller: the engine's CallerHost without a channel."""

    __slots__ = ("abandon_timer", "arrival", "batch", "counted", "entry", "sim", "waited")

    def __init__(self, sim: _Simulation, arrival: float, batch: int) -> None:
        self.sim = sim
        self.arrival = arrival
        self.batch = batch
        self.counted = batch >= 0
        self.entry: QueueEntry | None = None
        self.abandon_timer: Handle | None = None
        self.waited = -1.0

    # the engine only asks for channel blocks when someone listens on the bus
    def caller_block(self) -> Fields:
        return [("Channel", f"Sim/caller-{id(self):x}")]

    def dest_block(self, attempt: RingAttempt) -> Fields:
        return [("DestChannel", attempt.member.interface)]

    def set_var(self, name: str, value: str) -> None:
        return None

    def set_member_var(self, attempt: RingAttempt, name: str, value: str) -> None:
        return None

    def hold_start(self, musicclass: str) -> None:
        return None

    def announce(self, sound: str) -> float:
        """No channel, no sound: the Erlang check's queues announce nothing, and an
        announcement would take no time."""
        return 0.0

    def hold_stop(self) -> None:
        return None

    def ring(self, attempt: RingAttempt) -> bool:
        self.sim.engine.device_state_changed(attempt.member.interface, "RINGING")
        return True

    def dial_begin(self, attempt: RingAttempt) -> None:
        self.sim.scheduler.call_soon(self.sim.engine.answered, attempt)

    def end_ring(self, attempt: RingAttempt, status: str) -> None:
        self.sim.engine.device_state_changed(attempt.member.interface, "NOT_INUSE")

    def connect(self, attempt: RingAttempt) -> None:
        sim = self.sim
        now = sim.scheduler.now()
        self.waited = now - self.arrival
        if self.abandon_timer is not None:
            self.abandon_timer.cancel()
        sim.engine.device_state_changed(attempt.member.interface, "INUSE")
        sim.scheduler.call_later(sim.rng.expovariate(sim.mu), self._hangup, attempt)
        if self.counted:
            sim.answered += 1
            if self.waited > 0:
                sim.waited[self.batch] += 1
            if self.waited <= sim.threshold:
                sim.in_sl[self.batch] += 1
            sim.wait_sum += self.waited

    def _hangup(self, attempt: RingAttempt) -> None:
        assert self.entry is not None
        self.sim.engine.call_ended(self.entry, "agent")
        self.sim.engine.device_state_changed(attempt.member.interface, "NOT_INUSE")

    def _give_up(self) -> None:
        self.abandon_timer = None
        if self.entry is not None:
            self.sim.engine.abandon(self.entry)

    def finished(self, status: str | None) -> None:
        if self.waited < 0 and self.counted:
            self.sim.abandoned[self.batch] += 1
            self.sim.waited[self.batch] += 1


class _Simulation:
    def __init__(
        self,
        agents: int,
        calls_per_hour: float,
        aht: float,
        patience: float,
        calls: int,
        seed: int,
        threshold: float,
        strategy: str,
    ) -> None:
        self.scheduler = VirtualScheduler()
        self.rng = random.Random(seed)
        self.engine = QueueEngine(self.scheduler, EventBus(), random.Random(seed + 1))
        config = QueueConfig(
            name=QUEUE, strategy=strategy, timeout=15, retry=1, ringinuse=False, servicelevel=15
        )
        from pbxsim.app_queue.config import QueuesConf

        self.engine.load(QueuesConf(queues=(config,)))
        for i in range(agents):
            interface = f"PJSIP/agent-{i + 1:04d}"
            self.engine.device_state_changed(interface, "NOT_INUSE")
            self.engine.add_member(QUEUE, interface, membername=f"agent-{i + 1:04d}")
        self.lam = calls_per_hour / 3600.0
        self.mu = 1.0 / aht
        self.theta = 0.0 if math.isinf(patience) else 1.0 / patience
        self.calls = calls
        self.warmup = calls // 10
        self.threshold = threshold
        self.arrived = 0
        self.answered = 0
        self.wait_sum = 0.0
        # per-batch counts over consecutive arrivals: batch means give the standard
        # error of each figure despite the strong autocorrelation of queue waits
        self.batches = BATCHES
        self.arrivals = [0] * BATCHES
        self.abandoned = [0] * BATCHES
        self.waited = [0] * BATCHES
        self.in_sl = [0] * BATCHES

    def _arrive(self) -> None:
        sim = self
        index = sim.arrived - sim.warmup
        sim.arrived += 1
        batch = index * sim.batches // (sim.calls - sim.warmup) if index >= 0 else -1
        if batch >= 0:
            sim.arrivals[batch] += 1
        caller = _Caller(sim, sim.scheduler.now(), batch)
        if sim.theta:
            caller.abandon_timer = sim.scheduler.call_later(
                sim.rng.expovariate(sim.theta), caller._give_up
            )
        result = sim.engine.join(QUEUE, caller)
        if isinstance(result, str):  # cannot happen: joinempty is off
            raise RuntimeError(f"caller refused: {result}")
        caller.entry = result
        if sim.arrived < sim.calls:
            sim.scheduler.call_later(sim.rng.expovariate(sim.lam), sim._arrive)

    def run(self) -> dict[str, float]:
        self.scheduler.call_later(self.rng.expovariate(self.lam), self._arrive)
        self.scheduler.run()
        n = sum(self.arrivals)
        result = {
            "p_wait": sum(self.waited) / n,
            "abandon_rate": sum(self.abandoned) / n,
            "sl": sum(self.in_sl) / n,
            "asa": self.wait_sum / self.answered if self.answered else 0.0,
        }
        for key, counts in (
            ("p_wait", self.waited),
            ("abandon_rate", self.abandoned),
            ("sl", self.in_sl),
        ):
            means = [c / a for c, a in zip(counts, self.arrivals, strict=True) if a]
            result[f"{key}_se"] = statistics.stdev(means) / math.sqrt(len(means))
        return result


def simulate(
    agents: int,
    calls_per_hour: float,
    aht: float,
    patience: float,
    calls: int = 300_000,
    seed: int = 1,
    threshold: float = 15.0,
    strategy: str = "rrmemory",
) -> dict[str, float]:
    """Run the queue engine under M/M/n(+M) traffic; figures over all counted arrivals."""
    return _Simulation(
        agents, calls_per_hour, aht, patience, calls, seed, threshold, strategy
    ).run()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m pbxsim erlang",
        description="Drive the app_queue engine with M/M/n(+M) traffic; compare with Erlang C/A.",
    )
    parser.add_argument("--agents", type=int, required=True)
    parser.add_argument("--calls-per-hour", type=float, required=True)
    parser.add_argument("--aht", type=float, required=True, help="mean talk time, seconds")
    parser.add_argument(
        "--patience", type=float, default=math.inf, help="mean patience, seconds (inf: none)"
    )
    parser.add_argument("--calls", type=int, default=300_000, help="simulated arrivals")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--threshold", type=float, default=15.0, help="service level, seconds")
    parser.add_argument("--strategy", default="rrmemory")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    if args.agents <= 0 or args.calls_per_hour <= 0 or args.aht <= 0 or args.calls <= 0:
        parser.error("agents, calls-per-hour, aht and calls must be positive")
    lam = args.calls_per_hour / 3600.0
    if math.isinf(args.patience):
        ref = erlang_c_reference(args.agents, lam, args.aht, args.threshold)
    else:
        ref = erlang_a_reference(args.agents, lam, args.aht, args.patience, args.threshold)
    sim = simulate(
        args.agents,
        args.calls_per_hour,
        args.aht,
        args.patience,
        calls=args.calls,
        seed=args.seed,
        threshold=args.threshold,
        strategy=args.strategy,
    )
    sl_key = f"sl{args.threshold:g}"
    result = {
        "p_wait": round(sim["p_wait"], 4),
        "abandon_rate": round(sim["abandon_rate"], 4),
        sl_key: round(sim["sl"], 4),
        "asa": round(sim["asa"], 2),
        "stderr": {
            "p_wait": round(sim["p_wait_se"], 4),
            "abandon_rate": round(sim["abandon_rate_se"], 4),
            sl_key: round(sim["sl_se"], 4),
        },
        "calls": args.calls,
        "seed": args.seed,
        "reference": {
            "model": ref.model,
            "p_wait": round(ref.p_wait, 4),
            "abandon_rate": round(ref.abandon_rate, 4),
            sl_key: round(ref.sl, 4),
        },
    }
    if args.json:
        print(json.dumps(result))
    else:
        print(f"{'':14}{'engine':>10}{ref.model:>12}")
        for key, label in (("p_wait", "P(wait)"), ("abandon_rate", "P(abandon)"), (sl_key, "SL")):
            print(f"{label:14}{result[key]:>10.4f}{result['reference'][key]:>12.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

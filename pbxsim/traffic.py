"""Simulated people: callers of a 12345 hotline and the agents' softphones.

Pure model, no telephony: plain data objects and generators driven by an injected
`random.Random` (and, for the live source, the injected `Scheduler`), so a seed gives the
same day of traffic every time. The telephony/integration code turns a `Caller` into a
channel that dials `dialed_number`, presses `ivr_digits` and hangs up after `patience`
seconds in queue; a `SeatResponse` tells a simulated softphone how to handle one ring.

Defaults describe a typical municipal 12345 day: few calls at night, a morning peak
around 9-11 and an afternoon peak around 14-16 (China Standard Time), most callers
pressing nothing or 0 in the IVR, a minority dialing one of the old department numbers
that were merged into 12345.
"""

from __future__ import annotations

import csv
import math
import random
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pbxsim.clock import Handle, Scheduler

HOUR = 3600.0
DAY = 24 * HOUR

#: relative call volume per local hour 0..23 of a typical 12345 weekday
TYPICAL_12345_WEIGHTS: tuple[float, ...] = (
    0.6, 0.4, 0.3, 0.25, 0.25, 0.4,  # 00-05: night
    1.0, 2.5, 5.5, 8.0, 8.5, 7.0,  # 06-11: morning peak 9-11
    4.5, 5.0, 7.5, 8.0, 7.0, 5.5,  # 12-17: lunch dip, afternoon peak 14-16
    3.5, 2.8, 2.2, 1.8, 1.3, 0.9,  # 18-23: evening
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class HourlyProfile:
    """Relative arrival rate for each local hour; the level is set by `calls_per_day`."""

    weights: tuple[float, ...] = TYPICAL_12345_WEIGHTS
    utc_offset_hours: float = 8.0  # China Standard Time

    def __post_init__(self) -> None:
        if len(self.weights) != 24 or any(w < 0 for w in self.weights) or not sum(self.weights):
            raise ValueError("an hourly profile needs 24 non-negative weights, not all zero")

    @classmethod
    def flat(cls, utc_offset_hours: float = 8.0) -> HourlyProfile:
        return cls((1.0,) * 24, utc_offset_hours)

    def local_hour(self, t: float) -> int:
        return int(((t + self.utc_offset_hours * HOUR) % DAY) // HOUR)

    def share(self, hour: int) -> float:
        return self.weights[hour] / sum(self.weights)

    def rate(self, t: float, calls_per_day: float) -> float:
        """Arrivals per second at simulated Unix time `t`."""
        return calls_per_day * self.share(self.local_hour(t)) / HOUR

    def hour_end(self, t: float) -> float:
        """The next local hour boundary after `t` (where the rate may change)."""
        local = t + self.utc_offset_hours * HOUR
        return t + (HOUR - local % HOUR)


def poisson_arrivals(
    rng: random.Random,
    start: float,
    end: float,
    rate: Callable[[float], float],
    boundary: Callable[[float], float],
) -> Iterator[float]:
    """A non-homogeneous Poisson process with piecewise-constant `rate`.

    Inside a piece the gaps are exponential; at a boundary the process restarts with the
    new rate, which is exact because the exponential is memoryless.
    """
    t = start
    while t < end:
        piece_end = min(boundary(t), end)
        lam = rate(t)
        if lam <= 0:
            t = piece_end
            continue
        nxt = t + rng.expovariate(lam)
        if nxt >= piece_end:
            t = piece_end
            continue
        t = nxt
        yield t


# --------------------------------------------------------------------------- distributions


@dataclass(frozen=True, slots=True)
class Distribution:
    """A positive duration distribution given by its mean (seconds).

    `kind`: `exponential`, `lognormal` (with `sigma`, the shape of the log), or `fixed`.
    """

    kind: str
    mean: float
    sigma: float = 0.0

    def __post_init__(self) -> None:
        if self.kind not in ("exponential", "lognormal", "fixed"):
            raise ValueError(f"unknown distribution {self.kind!r}")
        if self.mean <= 0:
            raise ValueError("mean must be > 0")

    @classmethod
    def exponential(cls, mean: float) -> Distribution:
        return cls("exponential", mean)

    @classmethod
    def lognormal(cls, mean: float, sigma: float) -> Distribution:
        return cls("lognormal", mean, sigma)

    @classmethod
    def fixed(cls, value: float) -> Distribution:
        return cls("fixed", value)

    @property
    def std(self) -> float:
        if self.kind == "exponential":
            return self.mean
        if self.kind == "lognormal":
            return self.mean * math.sqrt(math.exp(self.sigma**2) - 1.0)
        return 0.0

    def draw(self, rng: random.Random) -> float:
        if self.kind == "exponential":
            return rng.expovariate(1.0 / self.mean)
        if self.kind == "lognormal":
            # mean of a lognormal is exp(mu + sigma^2/2): solve for mu
            mu = math.log(self.mean) - self.sigma**2 / 2.0
            return rng.lognormvariate(mu, self.sigma)
        return self.mean


def _weighted_choice(rng: random.Random, options: Sequence[tuple[str, float]]) -> str:
    total = sum(w for _, w in options)
    x = rng.random() * total
    for value, weight in options:
        x -= weight
        if x < 0:
            return value
    return options[-1][0]


# --------------------------------------------------------------------------- callers


def load_legacy_numbers(path: str | Path, modes: Sequence[str] | None = None) -> list[str]:
    """Dialable old department numbers from the directory CSV (column `number`).

    `modes` keeps only rows whose `mode` column is listed (e.g. `("merge",)`); the
    product's directory code is not imported: pbxsim only needs the numbers.
    """
    numbers: list[str] = []
    with Path(path).open(encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            number = (row.get("number") or "").strip()
            if not number or (modes is not None and (row.get("mode") or "") not in modes):
                continue
            numbers.append(number)
    if not numbers:
        raise ValueError(f"no legacy numbers in {path}")
    return numbers


#: what callers press at the IVR menu: "" nothing (wait for the default), "0" a person
DEFAULT_IVR_CHOICES: tuple[tuple[str, float], ...] = (
    ("", 0.45),
    ("0", 0.30),
    ("1", 0.10),
    ("2", 0.07),
    ("3", 0.05),
    ("9", 0.03),
)


#: the number the demo's 110 platform dials (callcenter.asterisk_conf DEMO_FROM_110
#: renders it into the committed dialplan)
FROM_110_NUMBER = "12345110"


@dataclass(frozen=True, slots=True)
class CallerMix:
    """Who calls and how they behave."""

    hotline_number: str = "12345"
    legacy_numbers: tuple[str, ...] = ()
    legacy_share: float = 0.0  # share of calls dialing an old number
    ivr_choices: tuple[tuple[str, float], ...] = DEFAULT_IVR_CHOICES
    #: seconds from the IVR prompt's start to the key press
    dtmf_delay: Distribution = field(default_factory=lambda: Distribution.lognormal(2.0, 0.5))
    #: seconds a caller waits in queue before hanging up
    patience: Distribution = field(default_factory=lambda: Distribution.exponential(120.0))
    #: mobile prefixes caller numbers are drawn from
    mobile_prefixes: tuple[str, ...] = ("130", "135", "138", "139", "150", "158", "186", "189")
    #: share of callers who press a key while waiting in the queue (the queue's
    #: announcements offer 1 = callback, 9 = emergency), which key, and when (seconds
    #: after joining); 0 draws nothing, so the other draws stay as they are
    queue_key_share: float = 0.0
    queue_keys: tuple[tuple[str, float], ...] = (("1", 0.8), ("9", 0.2))
    queue_key_delay: Distribution = field(default_factory=lambda: Distribution.lognormal(22.0, 0.4))
    #: share of calls the 110 platform hands over: they dial `from_110_number` (a
    #: number the dialplan knows as 110's) with 110's reference in `from_110_header`,
    #: and press nothing (no greeting plays for them); 0 draws nothing
    from_110_share: float = 0.0
    from_110_number: str = FROM_110_NUMBER
    from_110_header: str = "X-110-Ref"

    @classmethod
    def with_legacy_csv(
        cls, path: str | Path, share: float = 0.15, modes: Sequence[str] | None = None
    ) -> CallerMix:
        """The default mix with `share` of the calls dialing numbers from the CSV."""
        return cls(legacy_numbers=tuple(load_legacy_numbers(path, modes)), legacy_share=share)

    def __post_init__(self) -> None:
        if not 0.0 <= self.legacy_share <= 1.0:
            raise ValueError("legacy_share must be within [0, 1]")
        if self.legacy_share > 0 and not self.legacy_numbers:
            raise ValueError("legacy_share > 0 needs legacy_numbers")
        if not self.ivr_choices or any(w < 0 for _, w in self.ivr_choices):
            raise ValueError("ivr_choices need non-negative weights")
        if not 0.0 <= self.queue_key_share <= 1.0:
            raise ValueError("queue_key_share must be within [0, 1]")
        if not 0.0 <= self.from_110_share <= 1.0:
            raise ValueError("from_110_share must be within [0, 1]")
        if not self.queue_keys or any(w < 0 for _, w in self.queue_keys):
            raise ValueError("queue_keys need non-negative weights")


@dataclass(frozen=True, slots=True)
class Caller:
    """One simulated call, decided when it arrives."""

    index: int
    arrival: float  # simulated Unix time the call reaches the PBX
    caller_number: str
    dialed_number: str
    legacy: bool  # dialed an old department number rather than the hotline
    ivr_digits: str  # "" presses nothing
    dtmf_delay: float
    patience: float
    #: the key pressed while queued ("" none) and when, in seconds after joining
    queue_key: str = ""
    queue_key_delay: float = 0.0
    #: SIP headers of the INVITE beyond SIP's own (110's reference on a hand-over)
    headers: tuple[tuple[str, str], ...] = ()

    @property
    def from_110(self) -> bool:
        return bool(self.headers)


def make_caller(rng: random.Random, mix: CallerMix, index: int, arrival: float) -> Caller:
    legacy = mix.legacy_share > 0 and rng.random() < mix.legacy_share
    dialed = rng.choice(mix.legacy_numbers) if legacy else mix.hotline_number
    number = rng.choice(mix.mobile_prefixes) + f"{rng.randrange(10**8):08d}"
    ivr_digits = _weighted_choice(rng, mix.ivr_choices)
    dtmf_delay = mix.dtmf_delay.draw(rng)
    patience = mix.patience.draw(rng)
    queue_key, queue_key_delay = _queue_key(rng, mix)
    headers: tuple[tuple[str, str], ...] = ()
    if mix.from_110_share > 0 and rng.random() < mix.from_110_share:
        # 110 passes the citizen's number on as the caller ID, and its case number
        dialed, legacy, ivr_digits, queue_key = mix.from_110_number, False, "", ""
        headers = ((mix.from_110_header, f"110-{rng.randrange(10**10):010d}"),)
    return Caller(
        index=index,
        arrival=arrival,
        caller_number=number,
        dialed_number=dialed,
        legacy=legacy,
        ivr_digits=ivr_digits,
        dtmf_delay=dtmf_delay,
        patience=patience,
        queue_key=queue_key,
        queue_key_delay=queue_key_delay,
        headers=headers,
    )


def _queue_key(rng: random.Random, mix: CallerMix) -> tuple[str, float]:
    """(key, seconds after joining) of a caller who presses one while queued."""
    if mix.queue_key_share <= 0 or rng.random() >= mix.queue_key_share:
        return "", 0.0
    key = _weighted_choice(rng, mix.queue_keys)
    return key, mix.queue_key_delay.draw(rng)


def generate_callers(
    rng: random.Random,
    start: float,
    end: float,
    calls_per_day: float,
    profile: HourlyProfile | None = None,
    mix: CallerMix | None = None,
) -> Iterator[Caller]:
    """Every caller arriving in [start, end), in time order (a pure generator)."""
    profile = profile or HourlyProfile()
    mix = mix or CallerMix()
    arrivals = poisson_arrivals(
        rng, start, end, lambda t: profile.rate(t, calls_per_day), profile.hour_end
    )
    for index, t in enumerate(arrivals):
        yield make_caller(rng, mix, index, t)


class CallerSource:
    """Live arrivals on a Scheduler: `on_caller(caller)` runs at each caller's arrival.

    Only the next arrival is scheduled at any time, so a long run keeps one timer.
    """

    def __init__(
        self,
        scheduler: Scheduler,
        rng: random.Random,
        calls_per_day: float,
        on_caller: Callable[[Caller], None],
        profile: HourlyProfile | None = None,
        mix: CallerMix | None = None,
    ) -> None:
        self.scheduler = scheduler
        self.rng = rng
        self.calls_per_day = calls_per_day
        self.on_caller = on_caller
        self.profile = profile or HourlyProfile()
        self.mix = mix or CallerMix()
        self.generated = 0
        self._handle: Handle | None = None
        self._callers: Iterator[Caller] | None = None

    def start(self, until: float = math.inf) -> None:
        self.stop()
        self._callers = generate_callers(
            self.rng, self.scheduler.now(), until, self.calls_per_day, self.profile, self.mix
        )
        self._schedule_next()

    def stop(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        self._callers = None

    @property
    def running(self) -> bool:
        return self._handle is not None

    def _schedule_next(self) -> None:
        if self._callers is None:
            return
        caller = next(self._callers, None)
        if caller is None:
            self._handle = None
            return
        caller = _renumber(caller, self.generated)
        self._handle = self.scheduler.call_at(caller.arrival, self._arrive, caller)

    def _arrive(self, caller: Caller) -> None:
        self.generated += 1
        self._schedule_next()  # first: on_caller may stop() the source
        self.on_caller(caller)


def _renumber(caller: Caller, index: int) -> Caller:
    if caller.index == index:
        return caller
    return Caller(
        index,
        caller.arrival,
        caller.caller_number,
        caller.dialed_number,
        caller.legacy,
        caller.ivr_digits,
        caller.dtmf_delay,
        caller.patience,
        caller.queue_key,
        caller.queue_key_delay,
    )


# --------------------------------------------------------------------------- softphones


@dataclass(frozen=True, slots=True)
class SeatBehaviour:
    """How an agent's softphone handles a ring."""

    #: seconds from ring to answer
    answer_delay: Distribution = field(default_factory=lambda: Distribution.lognormal(3.0, 0.5))
    #: the agent lets it ring out (away from the desk, busy with a ticket)
    no_answer_probability: float = 0.05
    #: talk time, mean = AHT (average handling time)
    talk_time: Distribution = field(default_factory=lambda: Distribution.lognormal(240.0, 0.6))
    #: seconds until an agent that app_queue auto-paused (it let a call ring out) is back
    #: and unpauses itself; None: it stays paused until somebody else unpauses it
    back_from_auto_pause_s: float | None = 60.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.no_answer_probability <= 1.0:
            raise ValueError("no_answer_probability must be within [0, 1]")
        if self.back_from_auto_pause_s is not None and self.back_from_auto_pause_s < 0:
            raise ValueError("back_from_auto_pause_s must not be negative")


@dataclass(frozen=True, slots=True)
class SeatResponse:
    answers: bool
    answer_delay: float  # meaningful when `answers`
    talk_time: float  # seconds after answering until the agent hangs up


def seat_response(rng: random.Random, behaviour: SeatBehaviour) -> SeatResponse:
    """Decide one ring: always draws all three values, so the stream stays aligned."""
    answers = rng.random() >= behaviour.no_answer_probability
    delay = behaviour.answer_delay.draw(rng)
    talk = behaviour.talk_time.draw(rng)
    return SeatResponse(answers, delay, talk)

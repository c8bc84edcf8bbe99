"""Today's per-queue counters (offered, answered, abandoned, SL15, answer rate).

app_queue's own counters reset on a reload or restart and mean "since then", not
"today"; a supervisor's wallboard means the calendar day in the city's time zone. These
are counted from the live model's changes as they happen; call records (issue 7) are
the durable source, this is the instant one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

CITY_TZ = ZoneInfo("Asia/Shanghai")
SERVICE_LEVEL_S = 15.0


@dataclass
class QueueDay:
    offered: int = 0
    answered: int = 0
    answered_in_sl: int = 0
    abandoned: int = 0
    abandoned_in_sl: int = 0  # gave up within the threshold: not counted against SL

    @property
    def sl15(self) -> float | None:
        """Answered within 15 s / (answered + abandoned after 15 s), in percent: a
        caller who hung up after 3 s is not the floor's failure."""
        base = self.answered + self.abandoned - self.abandoned_in_sl
        return None if base == 0 else round(100.0 * self.answered_in_sl / base, 1)

    @property
    def answer_rate(self) -> float | None:
        base = self.answered + self.abandoned
        return None if base == 0 else round(100.0 * self.answered / base, 1)


class TodayCounters:
    def __init__(self) -> None:
        self._day: str = ""
        self.queues: dict[str, QueueDay] = {}

    def _roll(self, now: float) -> None:
        day = datetime.fromtimestamp(now, CITY_TZ).date().isoformat()
        if day != self._day:
            self._day, self.queues = day, {}

    def get(self, queue: str, now: float) -> QueueDay:
        self._roll(now)
        return self.queues.setdefault(queue, QueueDay())

    def offered(self, queue: str, now: float) -> None:
        self.get(queue, now).offered += 1

    def answered(self, queue: str, hold_s: float, now: float) -> None:
        day = self.get(queue, now)
        day.answered += 1
        if hold_s <= SERVICE_LEVEL_S:
            day.answered_in_sl += 1

    def abandoned(self, queue: str, hold_s: float, now: float) -> None:
        day = self.get(queue, now)
        day.abandoned += 1
        if hold_s <= SERVICE_LEVEL_S:
            day.abandoned_in_sl += 1

"""What the records announce to webhooks (callcenter/webhooks/), and in which transaction.

The records are the one owner of facts about a call, so they say when one becomes true,
in the transaction that writes it (the outbox's rule):

- `call.offered` and `call.ended`: when the call's record is written (store.py). The
  record is the first fact about the call the service writes: calls in progress live in
  memory and in the spool, which is where a finished call becomes durable; announcing
  the offer earlier would need a durable write of its own on the AMI reader's path.
  So the offer comes with the record, first, and says when it happened (`offered_at`).
  Only offered calls (kpi.py's definition) are announced as offered.
- `callback.done`: when a callback reached its caller (callback_tasks.py).

Each payload is what an integration token reads of the fact (callcenter/privacy.py):
the record's caller as a reader of records sees it (masked if confidential); the
offered caller and a callback's number as a live view shows them (masked: while a call
is in progress its confidentiality is not settled). Queues carry their directory names
and times the city's ISO form, as in the API.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.clock import CityTime
from callcenter.legacy.queues import directory_name
from callcenter.privacy import Viewer, live_caller, record_caller
from callcenter.records.callback_tasks import CallbackTaskFact
from callcenter.records.kpi import is_offered
from callcenter.tokens import Principal, Role
from callcenter.webhooks.outbox import Outbox, OutboxEvent

CALL_OFFERED, CALL_ENDED, CALLBACK_DONE = "call.offered", "call.ended", "callback.done"

#: who a webhook is, as far as numbers go: an integration token
WEBHOOK_VIEWER = Viewer.of(Principal(token_id=0, name="webhooks", role=Role.INTEGRATION, seat=None))

#: a record's fields a call.ended carries as they are (the rest are written below)
_AS_IS = (
    "node",
    "linkedid",
    "dialed",
    "unit",
    "district",
    "mode",
    "confidential",
    "queue_exit",
    "wait_s",
    "queued_after_s",
    "seat",
    "talk_s",
    "wrapup_s",
    "hangup_by",
    "disposition",
    "rating",
    "direction",
    "kind",
    "callback_of",
    "ivr_keys",
    "transfers",
    "fallback",
)


def call_stream(node: str, linkedid: str) -> str:
    return f"call:{node}:{linkedid}"


class Announcer:
    """Builds the records' events and stores them through the outbox."""

    def __init__(self, outbox: Outbox, city: CityTime) -> None:
        self.outbox = outbox
        self.city = city

    async def records_written(self, session: AsyncSession, rows: list[dict[str, Any]]) -> None:
        """In the records' upsert transaction: the rows as written (store.to_row)."""
        if self.outbox.wants(CALL_OFFERED) or self.outbox.wants(CALL_ENDED):
            await self.outbox.announce(session, self._call_events(rows))

    async def callback_done(self, session: AsyncSession, task: CallbackTaskFact) -> None:
        """In the transaction that marks the callback done."""
        if self.outbox.wants(CALLBACK_DONE):
            await self.outbox.announce(session, [self.callback_event(task)])

    def _call_events(self, rows: list[dict[str, Any]]) -> Iterator[OutboxEvent]:
        for row in rows:
            stream = call_stream(row["node"], row["linkedid"])
            key = f"{row['node']}:{row['linkedid']}"
            if is_offered(row["kind"], row["queue"]) and self.outbox.wants(CALL_OFFERED):
                yield OutboxEvent(CALL_OFFERED, stream, f"{CALL_OFFERED}:{key}", self.offered(row))
            if self.outbox.wants(CALL_ENDED):
                yield OutboxEvent(CALL_ENDED, stream, f"{CALL_ENDED}:{key}", self.ended(row))

    def offered(self, row: Mapping[str, Any]) -> dict[str, Any]:
        joined = _first_join_s(row["timeline"])
        started: datetime = row["started_at"]
        return {
            "id": f"{row['node']}:{row['linkedid']}",
            "node": row["node"],
            "linkedid": row["linkedid"],
            "started_at": self.city.iso(started),
            "offered_at": (None if joined is None else self.city.iso(started.timestamp() + joined)),
            "caller": live_caller(row["caller"], row["confidential"], "", WEBHOOK_VIEWER),
            "dialed": row["dialed"],
            "unit": row["unit"],
            "queue": directory_name(row["queue"]),
        }

    def ended(self, row: Mapping[str, Any]) -> dict[str, Any]:
        data: dict[str, Any] = {"id": f"{row['node']}:{row['linkedid']}"}
        data |= {name: row[name] for name in _AS_IS}
        data["started_at"] = self.city.iso(row["started_at"])
        data["ended_at"] = self.city.iso(row["ended_at"])
        data["caller"] = record_caller(row["caller"], row["confidential"], WEBHOOK_VIEWER)
        data["queue"] = directory_name(row["queue"])
        data["queues"] = [directory_name(q) for q in row["queues"]]
        return data

    def callback_event(self, task: CallbackTaskFact) -> OutboxEvent:
        data = {
            "id": task.id,
            "call_uniqueid": task.uniqueid,
            "source": task.source,
            "caller": live_caller(task.caller, False, "", WEBHOOK_VIEWER),
            "queue": directory_name(task.queue),
            "attempts": task.attempts,
            "outcome": task.outcome,
            "created_at": self.city.iso(task.created_at),
            "done_at": self.city.iso(task.updated_at),
        }
        stream = f"callback:{task.id}"
        return OutboxEvent(CALLBACK_DONE, stream, f"{CALLBACK_DONE}:{task.id}", data)


def _first_join_s(timeline: list[list[Any]]) -> float | None:
    """Seconds from the call's start to its first queue join, from its timeline."""
    for entry in timeline:
        if len(entry) > 1 and entry[1] == "queue_join":
            return float(entry[0])
    return None

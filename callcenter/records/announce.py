"""What the records announce to webhooks (callcenter/webhooks/), and in which transaction.

The records are the one owner of facts about a call, so they say when one becomes true,
in the transaction that writes it (the outbox's rule):

- `call.offered` and `call.ended`: when the call's record is written (store.py). The
  record is the first fact about the call the service writes: calls in progress live in
  memory and in the spool, which is where a finished call becomes durable; announcing
  the offer earlier would need a durable write of its own on the AMI reader's path.
  So the offer comes with the record, first, and says when it happened (`offered_at`).
  Only offered calls (kpi.py's definition) are announced as offered.
- `call.answered`: when a seat answers, the screen pop's facts (answers.py: kept in
  memory off the AMI reader's path and written by a task of their own; an answer still
  in memory is written first by any later transaction about its call). It announces
  the offer too, ahead of it: the `call.offered` the record would write later is then
  the same event (same dedupe key), so per call the order is offered, answered, ...
- `call.intake`: each intake version, in the transaction that writes it (intake.py),
  after the call's answers still in memory. The platform's own ticket change (an
  integration token's PATCH) is announced too, not suppressed: it is a version like the
  others, other subscriptions need it, and a receiver counting versions sees no gap;
  its `role` and `author` let the platform recognise its own change.
- `callback.done`: when a callback reached its caller (callback_tasks.py).

Events about one call share one stream (`call_stream`) and are delivered in the order
they were written; every transaction writing them takes the call's lock (locks.py)
first, so that order is the order of the facts.

Each payload is what an integration token reads of the fact (callcenter/privacy.py):
the record's caller as a reader of records sees it (masked if confidential); the
offered caller and a callback's number as a live view shows them (masked: while a call
is in progress its confidentiality is not settled). Queues carry their directory names
and times the city's ISO form, as in the API.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.clock import CityTime
from callcenter.legacy.queues import directory_name
from callcenter.privacy import Viewer, live_caller, record_caller
from callcenter.records.answers import Answer, AnswerLog
from callcenter.records.callback_tasks import CallbackTaskFact
from callcenter.records.intake import IntakeVersion
from callcenter.records.kpi import is_offered
from callcenter.records.store import DialedUnit, DialedUnitLookup
from callcenter.tokens import Principal, Role
from callcenter.webhooks.outbox import Outbox, OutboxEvent

CALL_OFFERED, CALL_ENDED, CALLBACK_DONE = "call.offered", "call.ended", "callback.done"
CALL_ANSWERED, CALL_INTAKE = "call.answered", "call.intake"

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


def _no_route(dialed: str) -> DialedUnit | None:
    return None


class Announcer:
    """Builds the records' events and stores them through the outbox."""

    def __init__(
        self,
        outbox: Outbox,
        city: CityTime,
        answers: AnswerLog | None = None,
        route: Callable[[], DialedUnitLookup] = lambda: _no_route,
    ) -> None:
        """`answers`: the answers seen and not yet written (taken into every later
        transaction about their call); `route`: the records' dialed-number lookup in
        force (store.py), for an answer's unit as the record will say it."""
        self.outbox = outbox
        self.city = city
        self.route = route
        self.answers = answers
        if answers is not None and outbox.wants(CALL_ANSWERED):
            answers.announce = self.answers_written

    async def records_written(self, session: AsyncSession, rows: list[dict[str, Any]]) -> None:
        """In the records' upsert transaction: the rows as written (store.to_row)."""
        answered = self._answer_events(self._unwritten((r["node"], r["linkedid"]) for r in rows))
        await self.outbox.announce(session, [*answered, *self._call_events(rows)])

    async def answers_written(self, session: AsyncSession, answers: list[Answer]) -> None:
        """In the answer writer's transaction (answers.py), the calls' locks taken."""
        await self.outbox.announce(session, self._answer_events(answers))

    async def intake_written(
        self, session: AsyncSession, version: IntakeVersion, confidential: bool
    ) -> None:
        """In the transaction that writes `version`, the call's lock taken.
        `confidential`: whether the call is, with this version (a report marks it)."""
        if not self.outbox.wants(CALL_INTAKE):
            return
        answered = self._answer_events(self._unwritten([(version.node, version.linkedid)]))
        await self.outbox.announce(session, [*answered, self.intake_event(version, confidential)])

    def _unwritten(self, calls: Iterable[tuple[str, str]]) -> list[Answer]:
        if self.answers is None or self.answers.announce is None:
            return []
        return self.answers.of_calls(calls)

    def _answer_events(self, answers: Iterable[Answer]) -> Iterator[OutboxEvent]:
        for answer in answers:
            stream = call_stream(answer.node, answer.linkedid)
            key = f"{answer.node}:{answer.linkedid}"
            if answer.first_queue and self.outbox.wants(CALL_OFFERED):
                offered = self.offered_of(answer)
                yield OutboxEvent(CALL_OFFERED, stream, f"{CALL_OFFERED}:{key}", offered)
            dedupe = f"{CALL_ANSWERED}:{key}:{answer.leg}"
            yield OutboxEvent(CALL_ANSWERED, stream, dedupe, self.answered(answer))

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
        started: datetime = row["started_at"]
        return self._offered(
            row["node"],
            row["linkedid"],
            started.timestamp(),
            _first_join_s(row["timeline"]),
            row["caller"],
            row["confidential"],
            row["dialed"],
            row["unit"],
            row["queue"],
        )

    def offered_of(self, answer: Answer) -> dict[str, Any]:
        """The offer as the record would announce it (`offered`), from an answer."""
        unit = self._unit(answer)
        return self._offered(
            answer.node,
            answer.linkedid,
            answer.started_at,
            answer.joined_after_s,
            answer.caller,
            answer.confidential,
            answer.dialed[:40],
            unit.unit if unit is not None else answer.unit,
            answer.first_queue,
        )

    def _offered(
        self,
        node: str,
        linkedid: str,
        started: float,
        joined: float | None,
        caller: str,
        confidential: bool,
        dialed: str,
        unit: str,
        queue: str,
    ) -> dict[str, Any]:
        return {
            "id": f"{node}:{linkedid}",
            "node": node,
            "linkedid": linkedid,
            "started_at": self.city.iso(started),
            "offered_at": None if joined is None else self.city.iso(started + joined),
            "caller": live_caller(caller[:40], confidential, "", WEBHOOK_VIEWER),
            "dialed": dialed,
            "unit": unit,
            "queue": directory_name(queue),
        }

    def _unit(self, answer: Answer) -> DialedUnit | None:
        """The dialed number's route (store.to_row's rule: the dialplan's unit first)."""
        route = self.route()(answer.dialed) if answer.dialed else None
        if answer.unit:
            district, mode = (route.district, route.mode) if route is not None else ("", "")
            return DialedUnit(answer.unit, district, mode)
        return route

    def answered(self, answer: Answer) -> dict[str, Any]:
        """The screen pop's facts at the answer (api/desk_pop.py shows the same call)."""
        unit = self._unit(answer)
        return {
            "id": f"{answer.node}:{answer.linkedid}",
            "node": answer.node,
            "linkedid": answer.linkedid,
            "started_at": self.city.iso(answer.started_at),
            "answered_at": self.city.iso(answer.answered_at),
            "caller": live_caller(answer.caller[:40], answer.confidential, "", WEBHOOK_VIEWER),
            "dialed": answer.dialed[:40],
            "unit": unit.unit if unit is not None else "",
            "district": unit.district if unit is not None else "",
            "mode": unit.mode if unit is not None else "",
            "ivr_keys": answer.ivr_keys,
            "queue": directory_name(answer.queue),
            "wait_s": answer.wait_s,
            "priority": answer.priority,
            "seat": answer.seat,
        }

    def intake_event(self, version: IntakeVersion, confidential: bool) -> OutboxEvent:
        """`GET /calls/{id}/intake`'s `Intake` as an integration token reads it."""
        key = f"{version.node}:{version.linkedid}"
        data = version.shown(confidential, "", WEBHOOK_VIEWER, self.city)
        stream = call_stream(version.node, version.linkedid)
        return OutboxEvent(CALL_INTAKE, stream, f"{CALL_INTAKE}:{key}:{version.version}", data)

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

"""Connects call records to the running service: the records' listener on every PBX
node (beside the live state's, through ami.fanout), and the writer behind it.

The builder reads the raw event stream instead of the live state's change hub because
it needs events the live model does not keep (see builder.py). It must never slow the
AMI reader: it is in-memory, and the only I/O on that path is the spool append.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ami import events as ev
from ami.node import PbxNode
from callcenter.clock import SHANGHAI, CityTime, utcnow
from callcenter.legacy.directory import Directory
from callcenter.live.live_state import LiveState
from callcenter.live.seat_state import wrapup_s
from callcenter.records.announce import Announcer
from callcenter.records.answers import AnswerLog
from callcenter.records.builder import FinishedCall, RecordBuilder
from callcenter.records.callback_tasks import SqlCallbackTasks
from callcenter.records.facts import SqlCallFacts
from callcenter.records.history import SqlHistory
from callcenter.records.intake import SqlIntake, UnitLookup
from callcenter.records.store import DialedUnit, DialedUnitLookup, RecordStore, RecordWriter
from callcenter.records.today import DayBook
from callcenter.webhooks.outbox import Outbox

log = logging.getLogger(__name__)


def directory_routes(directory: Directory) -> DialedUnitLookup:
    """The legacy directory as the records' unit lookup (the route in force now)."""

    def lookup(dialed: str) -> DialedUnit | None:
        route = directory.route(dialed, datetime.now(UTC)) if dialed else None
        if route is None:
            return None
        return DialedUnit(route.unit_code, route.district, route.mode)

    return lookup


class RecordsListener:
    """A `NodeListener` beside the live state's (ami.fanout): every event goes to the
    record builder. Calls in progress are reconciled once the live state has resynced a
    node (a connect hook of the live state), from its snapshot of channels and members.
    """

    def __init__(self, live: LiveState, builder: RecordBuilder) -> None:
        self.live = live
        self.builder = builder
        self.builder_errors = 0
        live.connect_hooks.append(self.reconcile)

    async def reconcile(self, node: PbxNode) -> None:
        state = self.live.nodes.get(node.name)
        if state is None or state.stale:
            return  # resync failed; the next connect reconciles
        self.builder.reconcile(node.name, state)

    async def on_connected(self, node: PbxNode) -> None:
        return None

    def on_event(self, node: PbxNode, event: ev.AmiEvent) -> None:
        try:
            self.builder.apply(node.name, event)
        except Exception:  # a record bug must never stop the AMI reader
            self.builder_errors += 1
            log.exception("call records: builder failed on %s", event.name)

    def on_disconnected(self, node: PbxNode, reason: str) -> None:
        return None

    def on_response(self, node: PbxNode, action_id: str) -> None:
        return None


def directory_units(directory: Directory) -> UnitLookup:
    """The legacy directory as the intake's unit check: a unit code -> its name."""

    async def lookup(code: str) -> str | None:
        unit = await directory.repository.unit(code)
        return None if unit is None else unit.name

    return lookup


@dataclass
class RecordsSystem:
    builder: RecordBuilder
    store: RecordStore
    writer: RecordWriter
    listener: RecordsListener
    #: Asterisk queue name -> the queue's `wrapuptime` (queues.conf), which app_queue
    #: applies to members added without their own; filled from the seats catalog
    queue_wrapup: dict[str, int]
    #: the one way other parts add a fact about a call (rating, callback request, mark)
    facts: SqlCallFacts
    #: the callback worklist's table (queues/callbacks.py keeps the policy)
    callback_tasks: SqlCallbackTasks
    #: the city day so far (finished calls and calls in progress), for every figure
    day: DayBook
    #: what the records say of callers and seats (repeat callers, calls per seat)
    history: SqlHistory
    #: the agents' intake of each call (kind, unit, summary, ticket), in versions
    intake: SqlIntake
    #: answers seen, until their `call.answered` is written (a task: `answers.run`)
    answers: AnswerLog


def queue_priority(live: LiveState) -> Callable[[str, str], int]:
    """The caller's queue priority as app_queue got it (the channel's QUEUE_PRIO, which
    the screen pop shows too), 0 when it has none."""

    def lookup(node: str, linkedid: str) -> int:
        state = live.nodes.get(node)
        channel = state.channels.get(linkedid) if state is not None else None
        value = channel.variables.get("QUEUE_PRIO", "0") if channel is not None else "0"
        return int(value) if value.isdigit() else 0

    return lookup


def build_records(
    sessions: async_sessionmaker[AsyncSession],
    live: LiveState,
    spool_dir: Path,
    routes: DialedUnitLookup | None = None,
    flush_every_s: float = 0.2,
    batch_size: int = 500,
    queue_wrapup: Mapping[str, int] | None = None,
    clock: Callable[[], datetime] = utcnow,
    city: CityTime = SHANGHAI,
    intake_wrapup_s: float = 120.0,
    outbox: Outbox | None = None,
) -> RecordsSystem:
    """`clock`: when a fact was stored (ratings, callback requests); `city`: the day
    the figures of today are cut on; `intake_wrapup_s`: how long after a call its agent
    writes the intake without it being a correction, at least (the seat's own wrap-up
    when longer). The intake's units are checked against the legacy directory once the
    process sets `intake.units` (`directory_units`). `outbox`: where written facts are
    announced to webhooks (None: nowhere)."""
    answers = AnswerLog(sessions, queue_priority(live))
    announcer = (
        Announcer(outbox, city, answers, route=lambda: store.route) if outbox is not None else None
    )
    store = RecordStore(sessions, written=announcer.records_written if announcer else None)
    if routes is not None:
        store.route = routes
    writer = RecordWriter(store, spool_dir, flush_every_s, batch_size)
    queue_defaults = dict(queue_wrapup or {})

    def wrapup(node: str, queue: str, interface: str) -> float:
        """How long the member's wrap-up after this call lasts (seat_state.wrapup_s; the
        queue's when the member is gone already)."""
        state = live.nodes.get(node)
        member = (
            state.queues[queue].members.get(interface) if state and queue in state.queues else None
        )
        if member is None:
            return float(queue_defaults.get(queue, 0))
        return float(wrapup_s(member, queue_defaults))

    day = DayBook(sessions, live.clock, lambda: list(builder.open.values()), city)

    def finished(record: FinishedCall) -> None:
        writer.add(record)
        day.observe(record)

    builder = RecordBuilder(live.clock, finished, wrapup, answers.saw)
    listener = RecordsListener(live, builder)
    facts = SqlCallFacts(sessions, clock, live.mark_confidential)
    return RecordsSystem(
        builder,
        store,
        writer,
        listener,
        queue_defaults,
        facts,
        SqlCallbackTasks(sessions, announcer.callback_done if announcer else None),
        day,
        SqlHistory(sessions),
        SqlIntake(
            sessions,
            live.clock,
            live.mark_confidential,
            wrapup_grace_s=intake_wrapup_s,
            announce=announcer.intake_written if announcer else None,
        ),
        answers,
    )

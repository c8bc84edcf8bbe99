"""What the routes work with, typed, and the FastAPI dependencies that hand it to them.

`ApiServices` holds each collaborator a route needs (the token store, the live model,
the seat repository, the callback worklist, the record store, ...), not the systems
that bundle them (queues.wiring.SeatsSystem, callcenter.records.wiring.RecordsSystem):
`ApiServices.from_systems` takes those apart, once, where the process is composed.
`create_app` stores it on the application (`attach`), and nothing else is read from
there: a route names what it uses as a parameter,
`Annotated[SeatService, Depends(seat_service)]`.

A part that is None is not configured in this instance: its dependency answers 503
saying so. Routes declare such a dependency after their token check, so the door still
answers first (401/403). The `..._if_any` dependencies are for the routes that work
with or without a part (seat rows without a PBX link, the WebSocket that closes itself).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable, Mapping
from dataclasses import dataclass, field
from typing import TypeVar

from fastapi import FastAPI, HTTPException
from starlette.requests import HTTPConnection

from agi.ivr.store import FlowStore
from api.desk_pop import CardLookup, PopBuilder
from api.desk_ws import DeskHub
from api.live_ws import LiveStream
from api.search_limits import CallerSearches
from callcenter.audit.repository import AuditLog
from callcenter.clock import SHANGHAI, CityTime
from callcenter.legacy.card_store import UnitCards
from callcenter.legacy.catalog_store import CatalogStore
from callcenter.legacy.directory import Directory
from callcenter.legacy.queues import CatalogHolder, QueueCatalog
from callcenter.live.live_state import LiveState
from callcenter.live.seat_state import QueueWrapups
from callcenter.records.facts import CallFacts
from callcenter.records.intake import SqlIntake
from callcenter.records.store import RecordStore, RecordWriter
from callcenter.records.today import DayBook
from callcenter.records.wiring import RecordsSystem
from callcenter.tokens import TokenStore
from callcenter.transfers.service import TransferService
from callcenter.webhooks.deliveries import SqlDeliveries
from queues.callbacks import CallbackWorklist
from queues.repository import SeatRepository
from queues.seat_state import StateTracker
from queues.seats import SeatService
from queues.wiring import SeatsSystem


# What `/readyz` runs: defined here, with the collaborators' types, rather than in
# api/health.py, which reads the checks through the dependencies below.
@dataclass(frozen=True)
class CheckResult:
    ok: bool
    detail: str


#: one check of `/readyz` (api/health.py): whether a part is usable, and if not, why
ReadinessCheck = Callable[[], Awaitable[CheckResult]]


class BodyCache:
    """Response bodies serialised once and served while their version holds: one slot
    per variant of a response (e.g. per `?node=`), rendered again when its version
    moves on."""

    def __init__(self) -> None:
        self._slots: dict[Hashable, tuple[Hashable, bytes]] = {}

    def get(self, slot: Hashable, version: Hashable, render: Callable[[], bytes]) -> bytes:
        hit = self._slots.get(slot)
        if hit is None or hit[0] != version:
            self._slots[slot] = hit = (version, render())
        return hit[1]


@dataclass(frozen=True, kw_only=True)
class ApiServices:
    """Every collaborator of the routes; None: not configured in this instance."""

    #: `/readyz`: name -> check (the dict the process keeps adding its checks to)
    readiness: Mapping[str, ReadinessCheck] = field(default_factory=dict)
    #: the city's calendar: how dates in requests are read and times are written
    city: CityTime = SHANGHAI
    tokens: TokenStore | None = None
    #: the live model of every PBX node (`GET /queues`, seat rows, queue views)
    live: LiveState | None = None
    #: `WS /api/v1/live`: the pump over the live model, started by its first client
    stream: LiveStream | None = None
    #: `WS /api/v1/desk`: the agents' desks and their screen pops
    desk: DeskHub | None = None
    #: provisioned seats: rows, login/pause history, stats
    seat_repository: SeatRepository | None = None
    #: seat actions over AMI: login, logout, pause, unpause
    seat_service: SeatService | None = None
    #: each seat's state and since when (available, on a call, wrap-up, paused, ...)
    seat_states: StateTracker | None = None
    #: the queue catalogue in force (reloaded by the process; the city plan's by default)
    catalog: CatalogHolder = field(default_factory=lambda: CatalogHolder(QueueCatalog.default()))
    #: the catalogue's table: admins' changes (`/api/v1/queue-catalog`)
    catalog_store: CatalogStore | None = None
    #: each Asterisk queue's own wrap-up (the catalog's), as every seat count applies it
    queue_wrapups: QueueWrapups = field(default_factory=dict)
    #: the city day so far: finished calls and calls in progress (every today figure)
    day: DayBook | None = None
    callbacks: CallbackWorklist | None = None
    legacy: Directory | None = None
    #: the units' cards (responsibilities, hours, transfer numbers, knowledge-base links)
    unit_cards: UnitCards | None = None
    #: call records in the database
    call_records: RecordStore | None = None
    #: the one way to add a fact to a call (here: a confidential mark)
    call_facts: CallFacts | None = None
    #: the spool between the record builder and the database
    record_writer: RecordWriter | None = None
    #: the agents' intake of each call (kind, unit, summary, ticket)
    intake: SqlIntake | None = None
    audit: AuditLog | None = None
    ivr: FlowStore | None = None
    #: the webhooks outbox's deliveries (`/webhooks/deliveries`)
    webhook_deliveries: SqlDeliveries | None = None
    #: transfers and three-party calls of calls at a seat, over AMI
    transfers: TransferService | None = None
    #: `GET /queues`' bodies (api/queues.py): a wall of screens polls one list
    queue_lists: BodyCache = field(default_factory=BodyCache, init=False, compare=False)
    #: searches of call records by caller number: each token's allowance (api/caller_search.py)
    caller_searches: CallerSearches = field(
        default_factory=CallerSearches, init=False, compare=False
    )

    @classmethod
    def from_systems(
        cls,
        *,
        readiness: Mapping[str, ReadinessCheck] | None = None,
        city: CityTime = SHANGHAI,
        tokens: TokenStore | None = None,
        live: LiveState | None = None,
        seats: SeatsSystem | None = None,
        records: RecordsSystem | None = None,
        legacy: Directory | None = None,
        unit_cards: UnitCards | None = None,
        audit: AuditLog | None = None,
        ivr: FlowStore | None = None,
        catalog: CatalogHolder | None = None,
        catalog_store: CatalogStore | None = None,
        cards: CardLookup | None = None,
        webhook_deliveries: SqlDeliveries | None = None,
        transfers: TransferService | None = None,
    ) -> ApiServices:
        """The API's collaborators out of the process's systems; the live stream and
        the desks' hub are built here, over the live model (and the seats, when there
        are any). `catalog`: the process's queue catalogue (default: the seats system's,
        else the city plan's); `cards`: the unit-card lookup screen pops show (none:
        `card: null`)."""
        if catalog is None:
            catalog = seats.catalog if seats else CatalogHolder(QueueCatalog.default())
        return cls(
            readiness=readiness if readiness is not None else {},
            city=city,
            tokens=tokens,
            live=live,
            stream=(
                LiveStream(live, seats, city=city, day=records.day if records else None)
                if live is not None
                else None
            ),
            desk=(
                _desk(live, seats, records, legacy, cards, city, catalog)
                if live is not None
                else None
            ),
            seat_repository=seats.repo if seats else None,
            seat_service=seats.service if seats else None,
            seat_states=seats.tracker if seats else None,
            catalog=catalog,
            catalog_store=catalog_store,
            queue_wrapups=seats.wrapups if seats else {},
            day=records.day if records else None,
            callbacks=seats.callbacks if seats else None,
            legacy=legacy,
            unit_cards=unit_cards,
            call_records=records.store if records else None,
            call_facts=records.facts if records else None,
            record_writer=records.writer if records else None,
            intake=records.intake if records else None,
            audit=audit,
            ivr=ivr,
            webhook_deliveries=webhook_deliveries,
            transfers=transfers,
        )


def _desk(
    live: LiveState,
    seats: SeatsSystem | None,
    records: RecordsSystem | None,
    legacy: Directory | None,
    cards: CardLookup | None,
    city: CityTime,
    catalog: CatalogHolder,
) -> DeskHub:
    """The desks' hub: pops from the live model, the directory, the records' history
    and IVR keys, the priority rules and the unit cards, whichever this instance has."""
    builder = records.builder if records is not None else None

    def keys(node: str, linkedid: str) -> str:
        draft = builder.open.get((node, linkedid)) if builder is not None else None
        return draft.keys if draft is not None else ""

    pops = PopBuilder(
        live,
        city,
        directory=legacy,
        history=records.history if records is not None else None,
        priority=seats.priority if seats is not None else None,
        keys=keys,
        cards=cards,
        catalog=catalog,
    )
    return DeskHub(
        live,
        pops,
        seats,
        pause_reasons=seats.service.pause_reasons if seats is not None else (),
        city=city,
        day=records.day if records is not None else None,
    )


def attach(app: FastAPI, services: ApiServices) -> None:
    """Once, in create_app: what every dependency below reads."""
    app.state.services = services


def api_services(conn: HTTPConnection) -> ApiServices:
    services: ApiServices = conn.app.state.services
    return services


T = TypeVar("T")

NO_SEATS = "seat management is not configured in this instance"
_NO_RECORDS = "call records are not configured in this instance"


def _configured(part: T | None, detail: str) -> T:
    if part is None:
        raise HTTPException(503, detail)
    return part


async def readiness_checks(conn: HTTPConnection) -> Mapping[str, ReadinessCheck]:
    return api_services(conn).readiness


async def city_time(conn: HTTPConnection) -> CityTime:
    """The city's calendar (`CALLCENTER_TIMEZONE`)."""
    return api_services(conn).city


async def token_store(conn: HTTPConnection) -> TokenStore:
    return _configured(
        api_services(conn).tokens, "authentication is not configured in this instance"
    )


async def token_store_if_any(conn: HTTPConnection) -> TokenStore | None:
    return api_services(conn).tokens


async def live_state(conn: HTTPConnection) -> LiveState:
    return _configured(api_services(conn).live, "no PBX link configured in this instance")


async def live_state_if_any(conn: HTTPConnection) -> LiveState | None:
    return api_services(conn).live


async def live_stream_if_any(conn: HTTPConnection) -> LiveStream | None:
    return api_services(conn).stream


async def desk_hub(conn: HTTPConnection) -> DeskHub:
    return _configured(api_services(conn).desk, "no PBX link configured in this instance")


async def desk_hub_if_any(conn: HTTPConnection) -> DeskHub | None:
    return api_services(conn).desk


async def queue_list_cache(conn: HTTPConnection) -> BodyCache:
    return api_services(conn).queue_lists


async def seat_repository(conn: HTTPConnection) -> SeatRepository:
    return _configured(api_services(conn).seat_repository, NO_SEATS)


async def seat_repository_if_any(conn: HTTPConnection) -> SeatRepository | None:
    return api_services(conn).seat_repository


async def seat_service(conn: HTTPConnection) -> SeatService:
    return _configured(api_services(conn).seat_service, NO_SEATS)


async def seat_states_if_any(conn: HTTPConnection) -> StateTracker | None:
    return api_services(conn).seat_states


async def queue_catalog(conn: HTTPConnection) -> QueueCatalog:
    """The queue catalogue in force when the request came in."""
    return api_services(conn).catalog.current


async def catalog_wrapups(conn: HTTPConnection) -> QueueWrapups:
    """The queues' own wrap-ups; none where no seats system is configured."""
    return api_services(conn).queue_wrapups


async def day_book(conn: HTTPConnection) -> DayBook:
    return _configured(api_services(conn).day, _NO_RECORDS)


async def day_book_if_any(conn: HTTPConnection) -> DayBook | None:
    return api_services(conn).day


async def callback_worklist(conn: HTTPConnection) -> CallbackWorklist:
    return _configured(api_services(conn).callbacks, NO_SEATS)


async def legacy_directory(conn: HTTPConnection) -> Directory:
    return _configured(
        api_services(conn).legacy, "the legacy directory is not configured in this instance"
    )


async def unit_cards(conn: HTTPConnection) -> UnitCards:
    return _configured(
        api_services(conn).unit_cards, "unit cards are not configured in this instance"
    )


async def call_records(conn: HTTPConnection) -> RecordStore:
    return _configured(api_services(conn).call_records, _NO_RECORDS)


async def call_facts(conn: HTTPConnection) -> CallFacts:
    return _configured(api_services(conn).call_facts, _NO_RECORDS)


async def record_writer(conn: HTTPConnection) -> RecordWriter:
    return _configured(api_services(conn).record_writer, _NO_RECORDS)


async def call_intake(conn: HTTPConnection) -> SqlIntake:
    return _configured(api_services(conn).intake, _NO_RECORDS)


async def call_intake_if_any(conn: HTTPConnection) -> SqlIntake | None:
    return api_services(conn).intake


async def audit_log(conn: HTTPConnection) -> AuditLog:
    return _configured(api_services(conn).audit, "the audit log is not configured in this instance")


async def audit_log_if_any(conn: HTTPConnection) -> AuditLog | None:
    return api_services(conn).audit


async def caller_searches(conn: HTTPConnection) -> CallerSearches:
    return api_services(conn).caller_searches


async def ivr_flows(conn: HTTPConnection) -> FlowStore:
    return _configured(api_services(conn).ivr, "the IVR is not configured in this instance")


async def webhook_deliveries(conn: HTTPConnection) -> SqlDeliveries:
    return _configured(
        api_services(conn).webhook_deliveries, "webhooks are not configured in this instance"
    )

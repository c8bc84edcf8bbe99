"""A call's intake: the agent's classification of what the caller brought (DOMAIN.md
"Intake kinds"), the unit the matter concerns, a summary, the province platform's
ticket and whether it was resolved on the call.

Who writes, and when, is one rule (`correction_of`):
- the agent whose seat took the call writes it while the call runs and during the
  wrap-up after it (the seat's wrap-up as the record keeps it, `wrapup_s`, but at least
  `CALLCENTER_INTAKE_WRAPUP_S`, so a seat without wrap-up still has time to finish);
- afterwards that agent, or a supervisor or admin at any time, writes a correction
  (`correction: true`): the city's assessment counts what the agent wrote, and a later
  change must show who made it;
- an integration token (the province platform) only links the ticket
  (`INTEGRATION_FIELDS`);
- an agent never touches another seat's call (`NotTheirCall`: the API answers as for a
  call that does not exist).

Every write is a new version (models.CallIntake); the latest is the call's intake. A
`report` 举报 marks the call confidential in the same transaction (facts.store_mark):
one-way, so a later correction to another kind does not expose the whistle-blower.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, fields, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter.clock import CityTime, as_utc
from callcenter.privacy import CONFIDENTIAL_CATEGORIES, Viewer, intake_summary_visible
from callcenter.records.facts import (
    ConfidentialMarkFact,
    InProgressMark,
    known_facts,
    store_mark,
)
from callcenter.records.locks import lock_calls
from callcenter.records.models import CallIntake
from callcenter.tokens import Role

SUMMARY_MAX = 2000
TICKET_MAX = 64
#: what an integration token may change: the province platform links its ticket
INTEGRATION_FIELDS = frozenset({"ticket"})
#: the reason kept with the confidential mark a report sets
REPORT_MARK_REASON = "intake: report 举报"


@dataclass(frozen=True, slots=True)
class IntakeKind:
    kind: str
    zh: str
    en: str

    @property
    def confidential_by_default(self) -> bool:
        """A report 举报 is confidential from the start (privacy.py's one list)."""
        return self.kind in CONFIDENTIAL_CATEGORIES


#: the city plan's six kinds, in its order (咨询、求助、意见、建议、投诉、举报)
KINDS: tuple[IntakeKind, ...] = (
    IntakeKind("consultation", "咨询", "consultation"),
    IntakeKind("help", "求助", "request for help"),
    IntakeKind("opinion", "意见", "opinion"),
    IntakeKind("suggestion", "建议", "suggestion"),
    IntakeKind("complaint", "投诉", "complaint"),
    IntakeKind("report", "举报", "report (whistle-blowing)"),
)
KIND_NAMES = tuple(k.kind for k in KINDS)
_BY_NAME = {k.kind: k for k in KINDS}


def confidential_by_default(kind: str) -> bool:
    """Whether classifying a call as `kind` makes it confidential."""
    found = _BY_NAME.get(kind)
    return found is not None and found.confidential_by_default


class IntakeError(ValueError):
    """A bad intake: `field` names what, the message says why."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


class NotTheirCall(LookupError):
    """An agent's write on a call its seat did not take."""


class IntakeRefused(PermissionError):
    """The author's role may not change these fields."""


class NoIntake(LookupError):
    """A change to the intake of a call that has none yet."""


class IntakeUnavailable(RuntimeError):
    """The legacy directory, which the units are checked against, is not configured."""


@dataclass(frozen=True, slots=True)
class IntakeFields:
    """What the writer gives."""

    kind: str
    unit: str
    summary: str = ""
    ticket: str | None = None
    resolved_on_call: bool = False

    def checked(self) -> IntakeFields:
        """These fields if every one is well formed (the unit's existence aside:
        `SqlIntake` asks the directory); else an IntakeError naming the first bad one."""
        if self.kind not in _BY_NAME:
            raise IntakeError("kind", f"unknown {self.kind!r}; one of {', '.join(KIND_NAMES)}")
        unit = self.unit
        if not isinstance(unit, str) or not unit or len(unit) > 32 or not unit.isprintable():
            raise IntakeError("unit", f"not a unit code: {str(unit)[:40]!r}")
        check_summary(self.summary)
        if self.ticket is not None:
            check_ticket(self.ticket)
        if not isinstance(self.resolved_on_call, bool):
            raise IntakeError("resolved_on_call", "must be true or false")
        return self


def check_summary(summary: str) -> None:
    if len(summary) > SUMMARY_MAX:
        raise IntakeError("summary", f"{len(summary)} characters; at most {SUMMARY_MAX}")
    for at, char in enumerate(summary):
        if char in "\n\t":
            continue
        category = unicodedata.category(char)
        if category == "Cc":
            raise IntakeError(
                "summary",
                f"control character U+{ord(char):04X} at {at}; only line breaks (\\n) and tabs",
            )
        if category == "Cs":  # half a UTF-16 pair: no text, and no database stores it
            raise IntakeError("summary", f"lone surrogate U+{ord(char):04X} at {at}")


def check_ticket(ticket: str) -> None:
    if not ticket or ticket != ticket.strip():
        raise IntakeError("ticket", "empty or padded with spaces; give the id, or null for none")
    if len(ticket) > TICKET_MAX:
        raise IntakeError("ticket", f"{len(ticket)} characters; at most {TICKET_MAX}")
    if not ticket.isprintable():
        raise IntakeError("ticket", "printable characters only")


@dataclass(frozen=True, slots=True)
class Author:
    """Who writes: the token's name and role, and an agent's seat."""

    name: str
    role: Role
    seat: str | None = None


@dataclass(frozen=True, slots=True)
class CallAtSeat:
    """What decides who may write: the seat that took the call ('' for none), whether
    the call still runs, and (once over) when it ended and the seat's wrap-up after it
    (the record's `ended_at` and `wrapup_s`; PBX clock, epoch seconds)."""

    seat: str
    in_progress: bool
    ended_at: float | None = None
    wrapup_s: float = 0.0
    #: whether the call is confidential (its live mark or its record's) before this write
    confidential: bool = False


def writing_window_open(call: CallAtSeat, now: float, wrapup_grace_s: float) -> bool:
    """Whether the call's agent is still on the call or in its wrap-up."""
    if call.in_progress:
        return True
    if call.ended_at is None:
        return False
    return now < call.ended_at + max(call.wrapup_s, wrapup_grace_s)


def correction_of(author: Author, call: CallAtSeat, now: float, wrapup_grace_s: float) -> bool:
    """Whether a version `author` writes now is a correction: anything but the call's
    agent writing during the call or its wrap-up. NotTheirCall for an agent writing a
    call its seat did not take."""
    if author.role is Role.AGENT:
        if not author.seat or not call.seat or call.seat != author.seat:
            raise NotTheirCall(author.seat)
        return not writing_window_open(call, now, wrapup_grace_s)
    return True


def may_change(author: Author, changed: frozenset[str]) -> None:
    """IntakeRefused when the author's role may not change `changed`."""
    if author.role is Role.INTEGRATION and not changed <= INTEGRATION_FIELDS:
        others = ", ".join(sorted(changed - INTEGRATION_FIELDS))
        raise IntakeRefused(f"an integration token may set the ticket only, not {others}")


@dataclass(frozen=True, slots=True)
class IntakeVersion:
    """One stored version of a call's intake."""

    node: str
    linkedid: str
    version: int
    kind: str
    unit: str
    unit_name: str
    summary: str
    ticket: str | None
    resolved_on_call: bool
    author: str
    role: str
    seat: str | None
    written_at: datetime
    correction: bool

    @classmethod
    def of(cls, row: CallIntake) -> IntakeVersion:
        values = {f.name: getattr(row, f.name) for f in fields(cls)}
        values["written_at"] = as_utc(values["written_at"])
        return cls(**values)

    @property
    def given(self) -> IntakeFields:
        return IntakeFields(self.kind, self.unit, self.summary, self.ticket, self.resolved_on_call)

    def shown(
        self, confidential: bool, call_seat: str, viewer: Viewer, city: CityTime
    ) -> dict[str, Any]:
        """This version as `viewer` reads it, the summary withheld when it may not: the one
        outward shape of an intake, for the API (`Intake`) and the `call.intake` webhook."""
        visible = intake_summary_visible(confidential, call_seat, viewer)
        return {
            "call": f"{self.node}:{self.linkedid}",
            "version": self.version,
            "kind": self.kind,
            "unit": self.unit,
            "unit_name": self.unit_name,
            "summary": self.summary if visible else "",
            "summary_hidden": not visible,
            "ticket": self.ticket,
            "resolved_on_call": self.resolved_on_call,
            "author": self.author,
            "role": self.role,
            "seat": self.seat,
            "written_at": city.iso(self.written_at),
            "correction": self.correction,
        }


#: announces a version written (announce.py: `call.intake`), in its transaction after
#: the call's lock; the bool: whether the call is confidential with this version
IntakeAnnounce = Callable[[AsyncSession, IntakeVersion, bool], Awaitable[None]]

#: a unit code -> its name in the legacy directory, or None when there is no such unit
UnitLookup = Callable[[str], Awaitable[str | None]]


async def _no_directory(code: str) -> str | None:
    raise IntakeUnavailable("the legacy directory is not configured in this instance")


class SqlIntake:
    """Stores and reads intake versions. `clock`: the PBX clock the records are built
    on (their `ended_at`), so the wrap-up window is measured on the same clock."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Callable[[], float],
        in_progress: InProgressMark,
        units: UnitLookup = _no_directory,
        wrapup_grace_s: float = 120.0,
        announce: IntakeAnnounce | None = None,
    ) -> None:
        self.sessions = sessions
        self.announce = announce
        self.clock = clock
        self.in_progress = in_progress
        self.units = units
        self.wrapup_grace_s = wrapup_grace_s

    async def write(
        self, node: str, linkedid: str, given: IntakeFields, author: Author, call: CallAtSeat
    ) -> IntakeVersion:
        """A whole new version (`POST`)."""
        may_change(author, frozenset(f.name for f in fields(IntakeFields)))
        given.checked()
        unit_name = await self._unit_name(given.unit)
        return await self._store(node, linkedid, author, call, unit_name, lambda _: given)

    async def amend(
        self,
        node: str,
        linkedid: str,
        changes: Mapping[str, Any],
        author: Author,
        call: CallAtSeat,
    ) -> IntakeVersion:
        """A new version: the current one with `changes` (`PATCH`); NoIntake if the
        call has none yet."""
        unknown = set(changes) - {f.name for f in fields(IntakeFields)}
        if unknown:
            raise IntakeError(sorted(unknown)[0], "not a field of an intake")
        may_change(author, frozenset(changes))
        unit = changes.get("unit")
        unit_name = await self._unit_name(unit) if isinstance(unit, str) and unit else None

        def merged(current: IntakeVersion | None) -> IntakeFields:
            if current is None:
                raise NoIntake(f"{node}:{linkedid}")
            return replace(current.given, **changes)

        return await self._store(node, linkedid, author, call, unit_name, merged)

    async def _unit_name(self, code: str) -> str:
        if not code or len(code) > 32 or not code.isprintable():
            raise IntakeError("unit", f"not a unit code: {code[:40]!r}")
        name = await self.units(code)
        if name is None:
            raise IntakeError("unit", f"no unit {code!r} in the legacy directory")
        return name

    async def _store(
        self,
        node: str,
        linkedid: str,
        author: Author,
        call: CallAtSeat,
        unit_name: str | None,
        make: Callable[[IntakeVersion | None], IntakeFields],
    ) -> IntakeVersion:
        """`unit_name`: the new unit's, looked up before the call's lock is taken;
        None: the unit stays the current version's."""
        now = self.clock()
        correction = correction_of(author, call, now, self.wrapup_grace_s)
        async with self.sessions() as session, session.begin():
            await lock_calls(session, [linkedid])
            current = await _current(session, node, linkedid)
            given = make(current).checked()
            if unit_name is None:
                assert current is not None  # a whole version always names its unit
                unit_name = current.unit_name
            at = datetime.fromtimestamp(now, UTC)
            if current is not None:
                await session.execute(
                    update(CallIntake)
                    .where(
                        CallIntake.node == node,
                        CallIntake.linkedid == linkedid,
                        CallIntake.current.is_(True),
                    )
                    .values(current=False)
                )
            row = CallIntake(
                node=node,
                linkedid=linkedid,
                version=(current.version if current else 0) + 1,
                current=True,
                kind=given.kind,
                unit=given.unit,
                unit_name=unit_name[:200],
                summary=given.summary,
                ticket=given.ticket,
                resolved_on_call=given.resolved_on_call,
                author=author.name[:100],
                role=author.role.value,
                seat=author.seat if author.role is Role.AGENT else None,
                written_at=at,
                correction=correction,
            )
            session.add(row)
            await session.flush()
            stored = IntakeVersion.of(row)
            marks = confidential_by_default(given.kind)
            if marks:
                mark = ConfidentialMarkFact(node, linkedid, author.name, REPORT_MARK_REASON, at)
                await store_mark(session, mark)
            if self.announce is not None:
                confidential = marks or call.confidential or await _marked(session, node, linkedid)
                await self.announce(session, stored, confidential)
        if marks:
            self.in_progress(node, linkedid)
        return stored

    async def versions(self, node: str, linkedid: str) -> list[IntakeVersion]:
        """Every version of the call's intake, oldest first."""
        query = (
            select(CallIntake)
            .where(CallIntake.node == node, CallIntake.linkedid == linkedid)
            .order_by(CallIntake.version)
        )
        async with self.sessions() as session:
            return [IntakeVersion.of(row) for row in await session.scalars(query)]

    async def current(self, node: str, linkedid: str) -> IntakeVersion | None:
        async with self.sessions() as session:
            return await _current(session, node, linkedid)


async def _marked(session: AsyncSession, node: str, linkedid: str) -> bool:
    """Whether the call has a confidential mark (a fact written after its record)."""
    return (node, linkedid) in (await known_facts(session, [linkedid])).marked


async def _current(session: AsyncSession, node: str, linkedid: str) -> IntakeVersion | None:
    row = await session.scalar(
        select(CallIntake).where(
            CallIntake.node == node,
            CallIntake.linkedid == linkedid,
            CallIntake.current.is_(True),
        )
    )
    return None if row is None else IntakeVersion.of(row)

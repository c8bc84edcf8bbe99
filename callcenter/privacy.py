"""Who sees a caller's number, and where: the one definition (DOMAIN.md: callers'
identity is confidential on request, always for reports 举报).

A record (a finished call: `/calls`, `/calls/{id}`, `/calls/export.csv`) shows its
caller's number to whoever may read the record, unless the call is confidential: then
it is masked (13912341111 -> 139****1111) for every role but admin.

A live view (a call in progress or owed a call back: `/queues`, `/queues/{name}`,
`/calls/active`, `/callbacks`, the WebSocket stream) shows a number in full only to
admin and to the agent whose seat has the call, and to that agent only if the call is
not confidential; every other viewer (supervisors, integration tokens, other agents)
sees it masked. Live views are stricter than records because while a call is going on
its confidentiality is not settled: the IVR marks a report only once the caller chose
it, and a caller may ask the agent for protection mid-call; a number shown before the
mark cannot be taken back. Nobody on a wallboard needs a waiting caller's number, and
callbacks are dialed by the service, not by whoever reads the worklist.

A `caller=` filter on records never matches a confidential call for a viewer who would
see its number masked: otherwise probing candidate numbers recovers the number the
mask hides (`filter_reaches_confidential`).

The agent's summary of a confidential call (its intake) is read only by admin and the
agent who took it (`intake_summary_visible`).

110's reference on a call the 110 platform handed over (`source_ref`,
callcenter/from110.py) is not a caller's number and names nobody: it is 110's case
number, which the agent quotes back to 110. It is shown with the call to whoever may
read the call, confidential or not, and no `caller=` rule applies to it.
"""

from __future__ import annotations

from dataclasses import dataclass

from callcenter.tokens import Principal, Role


def mask(number: str) -> str:
    """Keep the first 3 and last 4 digits of a long number; mask all but the last 2 of a
    short one, so a short number is never shown whole either."""
    if len(number) >= 8:
        return number[:3] + "****" + number[-4:]
    if len(number) > 2:
        return "*" * (len(number) - 2) + number[-2:]
    return "*" * len(number)


@dataclass(frozen=True, slots=True)
class Viewer:
    """Who is looking, as far as numbers go: admin or not, and an agent's seat."""

    admin: bool = False
    seat: str | None = None

    @classmethod
    def of(cls, principal: Principal) -> Viewer:
        return cls(
            admin=principal.role is Role.ADMIN,
            seat=principal.seat if principal.role is Role.AGENT else None,
        )

    def without_seat(self) -> Viewer:
        """The viewer as far as calls of no seat go (callers waiting, held, owed a
        callback): what one shows a viewer it shows every viewer alike so reduced, so a
        body serialised once serves them all."""
        return Viewer(admin=self.admin)


#: a viewer who sees every number (admin), and one who sees every number masked
EVERY_NUMBER = Viewer(admin=True)
NO_NUMBER = Viewer()


def record_caller(number: str, confidential: bool, viewer: Viewer) -> str:
    """A finished call's number as a reader of its record sees it."""
    return number if viewer.admin or not confidential else mask(number)


def live_caller(number: str, confidential: bool, call_seat: str, viewer: Viewer) -> str:
    """The number of a call in progress (or owed a call back) as `viewer` sees it:
    `call_seat` is the seat that has the call ('' for none yet)."""
    if viewer.admin:
        return number
    own = viewer.seat is not None and call_seat != "" and call_seat == viewer.seat
    return number if own and not confidential else mask(number)


def intake_summary_visible(confidential: bool, call_seat: str, viewer: Viewer) -> bool:
    """Whether `viewer` may read the agent's summary of a call (its intake). The
    summary of a confidential call is what the caller told: a whistle-blower's report
    names who saw what, where, and so identifies them better than the number does. So
    only admin and the agent whose seat took the call (who heard it anyway) read it;
    supervisors and integration tokens get kind, unit and ticket, which the city's
    figures and the work order need, without it."""
    if viewer.admin or not confidential:
        return True
    return viewer.seat is not None and call_seat != "" and call_seat == viewer.seat


def filter_reaches_confidential(viewer: Viewer) -> bool:
    """Whether a filter on the caller's number may match confidential records for this
    viewer: only for one who sees their numbers anyway."""
    return viewer.admin


#: a matter of one of these categories (HOTLINE_CATEGORY) is confidential from the start:
#: a whistle-blower's report 举报
CONFIDENTIAL_CATEGORIES = frozenset({"report", "举报"})


def makes_confidential(variable: str, value: str) -> bool:
    """Whether a channel variable the dialplan or IVR set marks the call confidential."""
    if variable == "HOTLINE_CONFIDENTIAL":
        return value.strip() in ("1", "yes", "true")
    if variable == "HOTLINE_CATEGORY":
        return value.strip() in CONFIDENTIAL_CATEGORIES
    return False

"""The number a caller dialed, as a call goes: one rule for the live model and the record.

Asterisk's own view drifts: a call queued through the dialplan's `Goto` sits in
`hotline-queue,s`, and the CDR's `dst` says `s`. The number is the caller channel's
extension until the IVR (AGI) or a queue has seen the caller, after which later
extensions are the dialplan's, not the caller's; a `DID` variable the dialplan sets
is the number outright.
"""

from __future__ import annotations

from dataclasses import dataclass

#: extensions that are the dialplan's own, never a dialed number
_NOT_DIALED = frozenset({"", "s", "h"})
#: applications after which the caller's extension is settled
_SETTLING_APPLICATIONS = frozenset({"AGI", "Queue"})


@dataclass(slots=True)
class DialedNumber:
    number: str = ""
    settled: bool = False

    def saw_exten(self, exten: str) -> None:
        """The caller's channel is at `exten` (an originated call starts elsewhere)."""
        if not self.settled and exten not in _NOT_DIALED:
            self.number = exten

    def saw_did(self, value: str) -> None:
        if value:
            self.number, self.settled = value, True

    def saw_application(self, application: str) -> None:
        if application in _SETTLING_APPLICATIONS:
            self.settled = True

    def settle(self) -> None:
        """A queue saw the caller: the number is final."""
        self.settled = True

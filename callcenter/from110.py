"""Calls the 110 platform hands over to 12345 (the national rules for 12345 and 110:
a non-emergency matter 110 receives is passed on over a trunk or a dialed number).

A hand-over is recognised by the rendered dialplan, before the service is asked
(`[from-trunk]`: the dialed number among CALLCENTER_FROM_110_NUMBERS, or the channel's
PJSIP endpoint among CALLCENTER_FROM_110_TRUNKS), so that a call is tagged and queued
with its priority even while the service is down. The dialplan sets `HOTLINE_SOURCE=110`
and copies 110's reference from the INVITE's header into `HOTLINE_SOURCE_REF`; the IVR,
the live model and the call record read those variables, never the settings again.
The condition below is the one definition of "from 110"; `dialplan_lines` writes it.

The reference is 110's, not the caller's: it is not a phone number, and whoever may
see a call may see it. It is kept only when it is printable and short (`clean_ref`);
anything else is dropped (and counted by the IVR), never refusing the call.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

SOURCE_110 = "110"
#: a call the caller dialed themselves (the record's `call_source` otherwise)
DIRECT = "direct"
SOURCES = (DIRECT, SOURCE_110)
DEFAULT_HEADER = "X-110-Ref"
DEFAULT_PRIORITY = 10
REF_MAX_CHARS = 64
#: a SIP header name is an RFC 3261 token; kept to what a dialplan argument may hold
HEADER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,63}")
#: a dialed number as the dialplan's DID holds it (FILTER(0123456789,...))
NUMBER = re.compile(r"[0-9]{2,20}")
#: a PJSIP endpoint name as pjsip.conf can hold it (a section name)
ENDPOINT = re.compile(r"[A-Za-z0-9_.+-]{1,64}")


def clean_ref(value: str) -> str | None:
    """110's reference as kept, "" when there is none, None when it is malformed
    (control characters, longer than REF_MAX_CHARS): then it is dropped."""
    value = value.strip()
    if not value:
        return ""
    if len(value) > REF_MAX_CHARS or not value.isprintable():
        return None
    return value


@dataclass(frozen=True)
class From110:
    """Which calls are 110's hand-overs and the priority they queue with."""

    numbers: tuple[str, ...] = ()
    trunks: tuple[str, ...] = ()
    priority: int = DEFAULT_PRIORITY
    header: str = DEFAULT_HEADER

    def __post_init__(self) -> None:
        bad = [n for n in self.numbers if not NUMBER.fullmatch(n)]
        bad += [t for t in self.trunks if not ENDPOINT.fullmatch(t)]
        if bad:
            raise ValueError(f"from 110: not a dialed number or endpoint name: {bad}")
        if not HEADER_NAME.fullmatch(self.header):
            raise ValueError(f"from 110: {self.header!r} is not a SIP header name")

    @property
    def configured(self) -> bool:
        return bool(self.numbers or self.trunks)

    def matches(self, dialed: str, endpoint: str) -> bool:
        """The rule `dialplan_lines` renders, for a call already in the ledger (its
        dialed number and its first channel's endpoint)."""
        return dialed in self.numbers or endpoint in self.trunks

    def condition(self) -> str:
        """The dialplan expression of `matches` (`DID` is set before it runs)."""
        terms = [f'"${{DID}}" = "{n}"' for n in self.numbers]
        terms += [f'"${{CHANNEL(endpoint)}}" = "{t}"' for t in self.trunks]
        return " | ".join(terms)

    def dialplan_lines(self) -> str:
        """`[from-trunk]` lines before the service is asked: tag a hand-over, keep its
        reference; `from110` (after `fallback`) gives it its priority when the service
        did not answer. PJSIP_HEADER reads the INVITE's header (res_pjsip_header_funcs
        read_header: first header of that name, case-insensitive, value stripped);
        without one the variable is empty."""
        if not self.configured:
            return (
                " same => n,Set(HOTLINE_SOURCE=)   ; no calls from 110 configured "
                "(CALLCENTER_FROM_110_NUMBERS, CALLCENTER_FROM_110_TRUNKS)"
            )
        return "\n".join(
            (
                f" same => n,Set(HOTLINE_SOURCE=${{IF($[{self.condition()}]?{SOURCE_110}:)}})",
                f' same => n,GotoIf($["${{HOTLINE_SOURCE}}" != "{SOURCE_110}"]?asked)',
                f" same => n,Set(HOTLINE_SOURCE_REF=${{PJSIP_HEADER(read,{self.header})}})",
            )
        )

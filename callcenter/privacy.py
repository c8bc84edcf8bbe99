"""Caller numbers of confidential calls (on request, and every report 举报) are masked
for every role but admin, in the API and in exports: 13912341111 -> 139****1111."""

from __future__ import annotations


def mask(number: str) -> str:
    """Keep the first 3 and last 4 digits of a long number; mask all but the last 2 of a
    short one, so a short number is never shown whole either."""
    if len(number) >= 8:
        return number[:3] + "****" + number[-4:]
    if len(number) > 2:
        return "*" * (len(number) - 2) + number[-2:]
    return "*" * len(number)


def shown_caller(number: str, confidential: bool, is_admin: bool) -> str:
    return number if is_admin or not confidential else mask(number)


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

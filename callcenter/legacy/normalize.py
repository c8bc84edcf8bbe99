"""Phone numbers as people type them, reduced to the digits Asterisk sees.

Spreadsheets arrive with `0432-62345678`, `(0432) 62 345678`, full-width digits and
`+86 432 ...`. The directory stores one canonical form — national digits
(`043262345678`), mobile numbers as 11 digits, short service codes as they are — so
that a dialed number, normalized the same way, finds its row with one dict lookup.
"""

from __future__ import annotations

import re
import unicodedata

#: emergency numbers stay separate from 12345 (DOMAIN.md); never in the directory
EMERGENCY = frozenset({"110", "119", "120", "122"})

# Separators a person may type between digit groups (after NFKC folding, which turns
# full-width digits, brackets, dashes and the ideographic space into ASCII).
_SEPARATORS = re.compile(r"[\s\-‐‑‒–—―.()\[\]/]+")
_LETTER = re.compile(r"[^\W\d_]")


class NumberError(ValueError):
    """A number that cannot be normalized; the message says why, for the CSV report."""


def normalize_number(raw: str) -> str:
    """Canonical digits of a hand-typed number, or NumberError naming the problem."""
    text = unicodedata.normalize("NFKC", raw).strip()
    if not text:
        raise NumberError("empty number")
    if _LETTER.search(text):
        raise NumberError(f"letters in number {raw!r}")
    international = False
    if text.startswith("+"):
        international = True
        text = text[1:]
    digits = _SEPARATORS.sub("", text)
    if not digits.isascii() or not digits.isdigit():
        raise NumberError(f"unexpected characters in number {raw!r}")
    if digits.startswith("0086"):
        international, digits = True, digits[2:]
    if international:
        if not digits.startswith("86"):
            raise NumberError(f"{raw!r} is not a Chinese (+86) number")
        digits = digits[2:].lstrip("0")
        # a mobile number has no trunk prefix; a fixed line gets its 0 back
        digits = digits if len(digits) == 11 and digits[0] == "1" else "0" + digits
    return _check_shape(digits, raw)


def _check_shape(digits: str, raw: str) -> str:
    if digits in EMERGENCY:
        raise NumberError(f"{digits} is an emergency number and stays separate from 12345")
    if digits[0] == "0":
        if not 10 <= len(digits) <= 12:
            raise NumberError(
                f"{raw!r}: a fixed-line number with area code has 10 to 12 digits, "
                f"got {len(digits)}"
            )
        return digits
    if len(digits) == 11 and digits[0] == "1":
        return digits  # mobile
    if len(digits) == 10 and digits[:3] in ("400", "800"):
        return digits
    if 3 <= len(digits) <= 6:
        return digits  # short service code (12333, 95598, ...)
    if len(digits) in (7, 8):
        raise NumberError(f"{raw!r}: local number without area code (write it as 0432...)")
    raise NumberError(f"{raw!r}: {len(digits)} digits is no Chinese phone number")


def normalize_dialed(raw: str) -> str | None:
    """The dialed number in directory form, or None when it cannot be one of ours."""
    try:
        return normalize_number(raw)
    except NumberError:
        return None

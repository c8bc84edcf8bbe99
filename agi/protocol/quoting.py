"""Building one AGI command line so that no argument can become a second command.

res_agi's `parse_args` splits on spaces and tabs, honours `"..."` and lets `\\` escape
the next character; a command ends at `\\n`. Every argument we send is therefore quoted
and its `"` and `\\` escaped. What quoting cannot neutralise is a line break (the line
ends there, whatever the quotes) or NUL (C string end): those are replaced by a space,
because the values concerned (caller ID names, digits, variable values) have no
legitimate use for them and dropping the call over one would hang a caller up.
"""

from __future__ import annotations

import re

#: res_agi's command buffer (AGI_BUF_LEN) is 2048 in old, 8192 in current Asterisk
MAX_COMMAND_BYTES = 8192
_UNSAFE = re.compile(r"[\r\n\x00]")
_WORD = re.compile(r"[A-Z][A-Z ]*[A-Z]|[A-Z]")
_VERBS = frozenset({"ANSWER", "STREAM FILE", "GET DATA", "SET VARIABLE", "GET VARIABLE"})


class QuotingError(ValueError):
    """The command would not fit in one AGI line, or its verb is not a verb."""


def quote(value: str) -> str:
    """One argument as a single `parse_args` token whatever it contains."""
    if not ('"' in value or "\\" in value or "\n" in value or "\r" in value or "\0" in value):
        return '"' + value + '"'  # the common case, without regex or copies
    clean = _UNSAFE.sub(" ", value)
    return '"' + clean.replace("\\", "\\\\").replace('"', '\\"') + '"'


def build_command(verb: str, *args: str | int) -> bytes:
    """`VERB "arg1" "arg2"...\\n`; ints are sent bare (timeouts, digit counts)."""
    if verb not in _VERBS and not _WORD.fullmatch(verb):
        raise QuotingError(f"not an AGI command verb: {verb!r}")
    parts = [verb]
    for arg in args:
        parts.append(str(arg) if isinstance(arg, int) else quote(arg))
    line = (" ".join(parts) + "\n").encode("utf-8")
    if len(line) > MAX_COMMAND_BYTES:
        raise QuotingError(f"{verb}: command is {len(line)} bytes (max {MAX_COMMAND_BYTES})")
    return line

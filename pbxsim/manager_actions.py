"""AMI actions that need no telephony: Ping, the AstDB actions and Command.

Each handler mirrors its Asterisk 22 counterpart (main/manager.c, main/db.c, main/cli.c)
down to the punctuation of the error texts, which differs between actions ("No family
specified" for DBPut, "No family specified." with a dot for the others) and which
clients match on. Queue actions are registered by `app_queue`, channel actions by
`telephony`, into the same `ActionRegistry`.

Command runs a `CliRegistry` command and frames its output as Asterisk does: a
response (Success, or Error when the command is unknown or fails), ``Message: Command
output follows``, then one ``Output:`` line per output line. A CLI handler returns its
output lines exactly as printed (a final blank line is a trailing ""), raises
`CliShowUsage` for Asterisk's CLI_SHOWUSAGE or `CliFailed` for CLI_FAILURE.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from pbxsim.astdb import MAX_DB_FIELD, AstDB
from pbxsim.clock import Scheduler
from pbxsim.manager_api import (
    ActionRegistry,
    CliRegistry,
    Handler,
    Message,
    Request,
    error,
    list_complete,
    list_item,
    list_start,
    response,
)

#: manager.c `command_blacklist`, compared on the first MAX_BLACKLIST_CMD_LEN words
COMMAND_BLACKLIST = (("module", "load"), ("module", "unload"), ("restart", "gracefully"))
MAX_BLACKLIST_CMD_LEN = 2


class CliShowUsage(Exception):
    """A CLI handler's CLI_SHOWUSAGE: Asterisk prints the usage text, answers Error."""

    def __init__(self, usage: str, output: Iterable[str] = ()) -> None:
        super().__init__(usage)
        self.usage = usage
        self.output = list(output)


class CliFailed(Exception):
    """A CLI handler's CLI_FAILURE: Asterisk adds "Command '<cmd>' failed.", answers Error."""

    def __init__(self, output: Iterable[str] = ()) -> None:
        super().__init__("CLI command failed")
        self.output = list(output)


def _value(request: Request, name: str) -> str:
    """`astman_get_header`: "" when the header is absent."""
    return request.get(name) or ""


# ---------------------------------------------------------------------------- Ping


def ping_handler(scheduler: Scheduler) -> Handler:
    """Action: Ping. ``Timestamp`` is the scheduler's (simulated) time."""

    def ping(request: Request) -> list[Message]:
        stamp = f"{scheduler.now():.6f}"
        return [response(request, None, extra=[("Ping", "Pong"), ("Timestamp", stamp)])]

    return ping


# ---------------------------------------------------------------------------- AstDB


class AstDBActions:
    """DBPut, DBGet, DBGetTree, DBDel, DBDelTree (main/db.c `manager_db*`)."""

    def __init__(self, db: AstDB) -> None:
        self.db = db

    def put(self, request: Request) -> list[Message]:
        family, key = _value(request, "Family"), _value(request, "Key")
        if not family:
            return [error(request, "No family specified")]
        if not key:
            return [error(request, "No key specified")]
        if not self.db.put(family, key, _value(request, "Val")):
            return [error(request, "Failed to update entry")]
        return [response(request, "Updated database successfully")]

    def get(self, request: Request) -> list[Message]:
        family, key = _value(request, "Family"), _value(request, "Key")
        if not family:
            return [error(request, "No family specified.")]
        if not key:
            return [error(request, "No key specified.")]
        value = self.db.get(family, key, limit=MAX_DB_FIELD - 1)  # char tmp[MAX_DB_FIELD]
        if value is None:
            return [error(request, "Database entry not found")]
        return [
            list_start(request, "Result will follow"),
            list_item(request, "DBGetResponse", [("Family", family), ("Key", key), ("Val", value)]),
            list_complete(request, "DBGetComplete", 1),
        ]

    def get_tree(self, request: Request) -> list[Message]:
        family, key = _value(request, "Family"), _value(request, "Key")
        rows = self.db.gettree(family or None, key if family else None)
        items = [list_item(request, "DBGetTreeResponse", [("Key", k), ("Val", v)]) for k, v in rows]
        return [
            list_start(request, "Result will follow"),
            *items,
            list_complete(request, "DBGetTreeComplete", len(items)),
        ]

    def delete(self, request: Request) -> list[Message]:
        family, key = _value(request, "Family"), _value(request, "Key")
        if not family:
            return [error(request, "No family specified.")]
        if not key:
            return [error(request, "No key specified.")]
        if not self.db.delete(family, key):
            return [error(request, "Database entry could not be deleted")]
        return [response(request, "Key deleted successfully")]

    def delete_tree(self, request: Request) -> list[Message]:
        family, key = _value(request, "Family"), _value(request, "Key")
        if not family:
            return [error(request, "No family specified.")]
        deleted = self.db.deltree(family, key or None)
        if deleted < 0:
            return [error(request, "Database unavailable")]
        if deleted == 0:
            return [error(request, "Database entry not found")]
        return [response(request, "Key tree deleted successfully")]


# ---------------------------------------------------------------------------- Command


def _blacklisted(command: str) -> bool:
    """manager.c `check_blacklist`: words split on single spaces, empty ones skipped."""
    words = [w.strip() for w in command.split(" ") if w.strip()][:MAX_BLACKLIST_CMD_LEN]
    return any(
        len(words) >= len(entry) and all(w.lower() == e for w, e in zip(words, entry, strict=False))
        for entry in COMMAND_BLACKLIST
    )


def parse_cli_args(command: str) -> list[str]:
    """cli.c `parse_args`: words split on spaces and tabs, ``"`` quotes, ``\\`` escapes."""
    args: list[str] = []
    current: list[str] = []
    quoted = escaped = False
    in_word = False
    for ch in command.lstrip(" \t\n\v\f\r"):
        if ch == '"' and not escaped:
            quoted = not quoted
            if quoted and not in_word:
                in_word = True
        elif ch in " \t" and not (quoted or escaped):
            if in_word:
                args.append("".join(current))
                current, in_word = [], False
        elif ch == "\\" and not escaped:
            escaped = True
        else:
            in_word = True
            current.append(ch)
            escaped = False
    if in_word:
        args.append("".join(current))
    return args


def _registered(cli: CliRegistry) -> list[tuple[str, ...]]:
    return cli.commands()


def _find_cli(entries: list[tuple[str, ...]], cmds: list[str], match_type: int) -> bool:
    """cli.c `find_cli` for plain-word entries: 0 = entry is a prefix of cmds, -1 = also a
    mismatch on the last word of both."""
    lowered = [w.lower() for w in cmds]
    for entry in entries:
        i = 0
        while i < len(lowered) and i < len(entry) and lowered[i] == entry[i]:
            i += 1
        if i == len(entry):
            if i == len(lowered) or match_type == 0:
                return True
        elif i < len(lowered) and match_type == -1 and i == len(lowered) - 1 == len(entry) - 1:
            return True
    return False


def _find_best(entries: list[tuple[str, ...]], argv: list[str]) -> str:
    """cli.c `find_best`: the words up to the first one no command starts with."""
    taken: list[str] = []
    for word in argv:
        taken.append(word)
        if not _find_cli(entries, taken, -1):
            break
    return " ".join(taken).encode("utf-8", "surrogateescape")[:79].decode("utf-8", "ignore")


_ESCAPE = re.compile("\x1b[^m]*m?")


def _output_lines(printed: list[str]) -> list[str]:
    """What action_command makes of the CLI output: colours stripped (`term_strip`), one
    trailing newline dropped, split on newlines."""
    text = _ESCAPE.sub("", "".join(line + "\n" for line in printed))
    if text.endswith("\n"):
        text = text[:-1]
    return text.split("\n")


class CommandAction:
    """Action: Command (main/manager.c `action_command`)."""

    def __init__(self, cli: CliRegistry) -> None:
        self.cli = cli

    def __call__(self, request: Request) -> list[Message]:
        command = _value(request, "Command")
        if not command:
            return [error(request, "No command provided")]
        if _blacklisted(command):
            return [error(request, "Command blacklisted")]
        ok, printed = self.run(command)
        head = response(request, status="Success" if ok else "Error")
        body = [("Message", "Command output follows")]
        body += [("Output", line) for line in _output_lines(printed)]
        return [head + body]

    def run(self, command: str) -> tuple[bool, list[str]]:
        """`ast_cli_command`: (succeeded, printed lines)."""
        argv = parse_cli_args(command)
        if not argv:
            return False, []
        entries = _registered(self.cli)
        if not _find_cli(entries, argv, 0):
            best = _find_best(entries, argv)
            return False, [
                f"No such command '{command}' (type 'core show help {best}' "
                "for other possible commands)"
            ]
        try:
            return True, self.cli.run(" ".join(argv))
        except CliShowUsage as usage:
            return False, usage.output + usage.usage.removesuffix("\n").split("\n")
        except CliFailed as failed:
            return False, [*failed.output, f"Command '{command}' failed."]


# ---------------------------------------------------------------------------- wiring


def register_manager_actions(
    registry: ActionRegistry,
    *,
    scheduler: Scheduler,
    cli: CliRegistry,
    astdb: AstDB,
) -> None:
    """Register Ping, DBGet, DBGetTree, DBPut, DBDel, DBDelTree and Command with the
    write classes Asterisk requires for them."""
    registry.register("Ping", ping_handler(scheduler))
    db = AstDBActions(astdb)
    registry.register("DBGet", db.get, privilege="system,reporting")
    registry.register("DBGetTree", db.get_tree, privilege="system,reporting")
    registry.register("DBPut", db.put, privilege="system")
    registry.register("DBDel", db.delete, privilege="system")
    registry.register("DBDelTree", db.delete_tree, privilege="system")
    registry.register("Command", CommandAction(cli), privilege="command")


__all__ = [
    "COMMAND_BLACKLIST",
    "MAX_DB_FIELD",
    "AstDBActions",
    "CliFailed",
    "CliShowUsage",
    "CommandAction",
    "parse_cli_args",
    "register_manager_actions",
]

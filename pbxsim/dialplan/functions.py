"""Dialplan functions (`${CALLERID(num)}`, `Set(CHANNEL(language)=fr)`, ...).

Each function is a reader and optionally a writer, looked up case-insensitively as
Asterisk's `ast_custom_function_find` does. They act on a `Scope`: the channel (if any),
variable access, the AstDB and the clock, all injected by the telephony part.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from pbxsim.channel import STATE_DESC
from pbxsim.dialplan.appargs import split_args
from pbxsim.dialplan.expr import check_condition

if TYPE_CHECKING:
    from pbxsim.dialplan.substitution import Scope


class AstDBLike(Protocol):
    """What `${DB()}` and the AGI `DATABASE` commands need from the AstDB."""

    def get(self, family: str, key: str) -> str | None: ...

    def put(self, family: str, key: str, value: str) -> object: ...

    def delete(self, family: str, key: str) -> object: ...


class FunctionError(Exception):
    """The function refused its arguments (Asterisk logs a warning, the value is empty)."""


Reader = Callable[["Scope", str], str]
Writer = Callable[["Scope", str, str], None]


@dataclass(frozen=True, slots=True)
class DialplanFunction:
    name: str
    read: Reader | None
    write: Writer | None = None


class FunctionRegistry:
    def __init__(self) -> None:
        self._functions: dict[str, DialplanFunction] = {}

    def register(self, name: str, read: Reader | None, write: Writer | None = None) -> None:
        self._functions[name.upper()] = DialplanFunction(name.upper(), read, write)

    def get(self, name: str) -> DialplanFunction | None:
        return self._functions.get(name.upper())

    def copy(self) -> FunctionRegistry:
        clone = FunctionRegistry()
        clone._functions = dict(self._functions)
        return clone


def split_call(text: str) -> tuple[str, str]:
    """`NAME(args)` -> (`NAME`, `args`): `func_args` cuts at the first `(` and last `)`."""
    name, paren, rest = text.partition("(")
    if not paren:
        return text, ""
    close = rest.rfind(")")
    return name, rest[:close] if close >= 0 else rest


# --- logic -----------------------------------------------------------------------------


def _if(scope: Scope, data: str) -> str:
    first = split_args(data, "?", max_args=2, remove_chars=False)
    expr = first[0] if first else ""
    second = split_args(first[1], ":", max_args=2, remove_chars=False) if len(first) > 1 else []
    iftrue = second[0] if second else None
    iffalse = second[1] if len(second) > 1 else None
    if not expr.strip() or (iftrue is None and iffalse is None):
        raise FunctionError("Syntax IF(<expr>?[<true>][:<false>])")
    chosen = iftrue if check_condition(expr.strip()) else iffalse
    return (chosen or "").strip()


def _exists(scope: Scope, data: str) -> str:
    return "1" if data else "0"


def _isnull(scope: Scope, data: str) -> str:
    return "0" if data else "1"


def _len(scope: Scope, data: str) -> str:
    return str(len(data))


def _set_read(scope: Scope, data: str) -> str:
    name, eq, value = data.partition("=")
    if not eq or not name.strip():
        raise FunctionError("SET requires an '=' to be a valid assignment")
    scope.assign(name.strip(), value)
    return value


# --- strings ---------------------------------------------------------------------------


def _decode_char(text: str, i: int) -> tuple[str, int]:
    """`ast_get_encoded_char`: one possibly backslash-escaped character."""
    c = text[i]
    if c != "\\" or i + 1 >= len(text):
        return c, i + 1
    nxt = text[i + 1]
    simple = {"n": "\n", "r": "\r", "t": "\t", "a": "\a", "b": "\b", "f": "\f", "v": "\v"}
    if nxt in simple:
        return simple[nxt], i + 2
    if nxt == "x":
        j = i + 2
        while j < len(text) and j < i + 4 and text[j] in "0123456789abcdefABCDEF":
            j += 1
        return (chr(int(text[i + 2 : j], 16)) if j > i + 2 else "\0"), j
    if nxt == "0":
        j = i + 2
        while j < len(text) and j < i + 5 and text[j] in "01234567":
            j += 1
        return (chr(int(text[i + 2 : j], 8)) if j > i + 2 else "\0"), j
    return nxt, i + 2


def _filter(scope: Scope, data: str) -> str:
    args = split_args(data, ",", max_args=2)
    if len(args) < 2:
        raise FunctionError("Usage: FILTER(<allowed-chars>,<data>)")
    allowed_text, string = args
    allowed: set[str] = set()
    i = 0
    while i < len(allowed_text):
        c1, i = _decode_char(allowed_text, i)
        if i < len(allowed_text) and allowed_text[i] == "-" and i + 1 < len(allowed_text):
            c2, i = _decode_char(allowed_text, i + 1)
            a, b = ord(c1) & 0xFF, ord(c2) & 0xFF
            code = a
            while True:  # wraps past 255 like the unsigned char loop in func_strings.c
                allowed.add(chr(code))
                if code == b:
                    break
                code = (code + 1) & 0xFF
        else:
            allowed.add(c1)
    return "".join(ch for ch in string if ch in allowed)


# --- channel ---------------------------------------------------------------------------


def _callerid_read(scope: Scope, data: str) -> str:
    ch = scope.channel
    if ch is None:
        raise FunctionError("CALLERID needs a channel")
    item = split_args(data, ",")[0].strip().lower() if data else ""
    if item in ("num", "number"):
        return ch.caller_num
    if item == "name":
        return ch.caller_name
    if item == "all":
        if ch.caller_name and ch.caller_num:
            return f'"{ch.caller_name}" <{ch.caller_num}>'
        return ch.caller_name or ch.caller_num
    if item == "dnid":
        return ch.dnid
    if item in ("ani", "rdnis", "subaddr", "tag"):
        return ch.variables.get(f"__CALLERID_{item.upper()}", "")
    raise FunctionError(f"Unknown callerid data type '{item}'")


def _callerid_write(scope: Scope, data: str, value: str) -> None:
    ch = scope.channel
    if ch is None:
        raise FunctionError("CALLERID needs a channel")
    item = data.strip().lower()
    if item in ("num", "number"):
        ch.caller_num = value
    elif item == "name":
        ch.caller_name = value
    elif item == "all":
        value = value.strip()
        if "<" in value and value.endswith(">"):
            name, _, num = value[:-1].partition("<")
            ch.caller_name = name.strip().strip('"')
            ch.caller_num = num.strip()
        else:
            ch.caller_num = value
    elif item == "dnid":
        ch.dnid = value
    else:
        raise FunctionError(f"Unknown callerid data type '{item}'")


def _channel_read(scope: Scope, data: str) -> str:
    ch = scope.channel
    if ch is None:
        raise FunctionError("CHANNEL needs a channel")
    item = data.strip().lower()
    values = {
        "name": ch.name,
        "language": ch.language,
        "uniqueid": ch.uniqueid,
        "linkedid": ch.linkedid,
        "accountcode": ch.accountcode,
        "context": ch.context,
        "exten": ch.exten,
        "channeltype": ch.tech,
        "state": STATE_DESC[ch.state],
        "hangupsource": ch.variables.get("__HANGUPSOURCE", ""),
    }
    if item == "endpoint" and ch.tech.upper() == "PJSIP":
        # chan_pjsip's CHANNEL(endpoint): the session's endpoint, the `PJSIP/<endpoint>-`
        # part of the channel's name (ast_sip_session channel naming)
        return ch.name.split("/", 1)[1].rsplit("-", 1)[0]
    if item not in values:
        raise FunctionError(f"Unknown or unavailable item requested: '{item}'")
    return values[item]


def _channel_write(scope: Scope, data: str, value: str) -> None:
    ch = scope.channel
    if ch is None:
        raise FunctionError("CHANNEL needs a channel")
    item = data.strip().lower()
    if item == "language":
        ch.language = value
    elif item == "accountcode":
        ch.accountcode = value
    else:
        raise FunctionError(f"Unknown or unavailable item requested: '{item}'")


def _pjsip_header_read(scope: Scope, data: str) -> str:
    """`PJSIP_HEADER(read,<name>[,<number>])` as res_pjsip_header_funcs.c read_header:
    the <number>th (from 1) header of the INVITE with that name, compared without
    case (pj_stricmp2), a trailing `*` matching a prefix; its value stripped. No PJSIP
    channel, no such header: an error, so the value reads empty."""
    ch = scope.channel
    if ch is None or ch.tech.upper() != "PJSIP":
        raise FunctionError("This function requires a PJSIP channel.")
    args = split_args(data, ",", max_args=3)
    if len(args) < 2 or not args[1]:
        raise FunctionError("This function requires a header name.")
    if args[0].strip().lower() != "read":
        raise FunctionError(f"Unknown action '{args[0]}' is not valid, must be 'read'")
    name = args[1].strip().lower()
    number = 1
    if len(args) > 2 and args[2].strip():
        if not args[2].strip().isdigit() or int(args[2]) < 1:
            raise FunctionError("Invalid value for header number")
        number = int(args[2])
    seen = 0
    for header, value in ch.sip_headers:
        header = header.lower()
        hit = header.startswith(name[:-1]) if name.endswith("*") else header == name
        if hit:
            seen += 1
            if seen == number:
                return value.strip()
    raise FunctionError(f"There was no header named {args[1]}.")


# --- AstDB and globals -----------------------------------------------------------------


def _db_key(data: str) -> tuple[str, str]:
    parts = split_args(data, "/", max_args=2, remove_chars=False)
    if len(parts) < 2 or not parts[0] or not parts[1]:
        raise FunctionError("DB requires an argument, DB(<family>/<key>)")
    return parts[0], parts[1]


def _db_read(scope: Scope, data: str) -> str:
    family, key = _db_key(data)
    if scope.db is None:
        raise FunctionError("no AstDB")
    value = scope.db.get(family, key)
    if value is None:
        return ""
    scope.assign("DB_RESULT", value)  # func_db.c sets it, and the VarSet is on the wire
    return value


def _db_write(scope: Scope, data: str, value: str) -> None:
    family, key = _db_key(data)
    if scope.db is None:
        raise FunctionError("no AstDB")
    scope.db.put(family, key, value)


def _db_exists(scope: Scope, data: str) -> str:
    family, key = _db_key(data)
    if scope.db is None:
        raise FunctionError("no AstDB")
    value = scope.db.get(family, key)
    if value is None:
        return "0"
    scope.assign("DB_RESULT", value)
    return "1"


def _db_delete(scope: Scope, data: str) -> str:
    family, key = _db_key(data)
    if scope.db is None:
        raise FunctionError("no AstDB")
    value = scope.db.get(family, key)
    if value is None:
        return ""
    scope.db.delete(family, key)
    return value


def _global_read(scope: Scope, data: str) -> str:
    return scope.globals.get(data, "")


def _global_write(scope: Scope, data: str, value: str) -> None:
    if scope.assign_global is None:
        raise FunctionError("GLOBAL is read-only in this scope")
    scope.assign_global(data, value)


def default_functions() -> FunctionRegistry:
    reg = FunctionRegistry()
    reg.register("IF", _if)
    reg.register("EXISTS", _exists)
    reg.register("ISNULL", _isnull)
    reg.register("LEN", _len)
    reg.register("SET", _set_read)
    reg.register("FILTER", _filter)
    reg.register("CALLERID", _callerid_read, _callerid_write)
    reg.register("CHANNEL", _channel_read, _channel_write)
    reg.register("PJSIP_HEADER", _pjsip_header_read)
    reg.register("DB", _db_read, _db_write)
    reg.register("DB_EXISTS", _db_exists)
    reg.register("DB_DELETE", _db_delete)
    reg.register("GLOBAL", _global_read, _global_write)
    return reg

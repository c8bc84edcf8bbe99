"""`${...}` and `$[...]` substitution: main/pbx_variables.c `pbx_substitute_variables_helper_full`.

The text Newexten shows as AppData is the priority's data after this substitution, so it
must be exact: `${VAR:offset:length}` substring rules, unset variables become empty,
unknown functions become empty, `$[...]` goes through `expr.evaluate`, and nesting
(`${DB(did/${DID})}`) is resolved innermost first.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from pbxsim.channel import Channel
from pbxsim.dialplan.expr import evaluate
from pbxsim.dialplan.functions import (
    AstDBLike,
    FunctionError,
    FunctionRegistry,
    default_functions,
    split_call,
)

_DEFAULT_FUNCTIONS = default_functions()


def _no_assign(name: str, value: str) -> None:
    raise FunctionError(f"cannot set {name}: no channel")


@dataclass
class Scope:
    """Everything an evaluation can see. The telephony part builds one per channel.

    `lookup` resolves channel variables (then globals) after the builtins below;
    `assign` sets a channel variable and is where the telephony part emits `VarSet`.
    """

    channel: Channel | None
    lookup: Callable[[str], str | None]
    assign: Callable[[str, str], None] = _no_assign
    now: Callable[[], float] = lambda: 0.0
    db: AstDBLike | None = None
    globals: dict[str, str] = field(default_factory=dict)
    functions: FunctionRegistry = field(default_factory=lambda: _DEFAULT_FUNCTIONS)
    assign_global: Callable[[str, str], None] | None = None

    @classmethod
    def for_channel(
        cls,
        channel: Channel | None,
        *,
        globals: dict[str, str] | None = None,
        now: Callable[[], float] = lambda: 0.0,
        db: AstDBLike | None = None,
        on_set: Callable[[str, str], None] | None = None,
        functions: FunctionRegistry | None = None,
    ) -> Scope:
        """A scope over `channel.variables` then `globals`; `on_set` is told of each set."""
        gvars = globals if globals is not None else {}

        def lookup(name: str) -> str | None:
            if channel is not None:
                for key in (name, "_" + name, "__" + name):
                    if key in channel.variables:
                        return channel.variables[key]
            return gvars.get(name)

        def assign(name: str, value: str) -> None:
            if channel is None:
                raise FunctionError(f"cannot set {name}: no channel")
            channel.variables[name] = value
            if on_set is not None:
                on_set(name, value)

        def assign_global(name: str, value: str) -> None:
            gvars[name] = value

        return cls(
            channel,
            lookup,
            assign,
            now,
            db,
            gvars,
            functions if functions is not None else _DEFAULT_FUNCTIONS,
            assign_global,
        )

    def builtin(self, name: str) -> str | None:
        """`pbx_retrieve_variable`'s built-ins, which shadow channel variables."""
        ch = self.channel
        if ch is not None:
            if name == "EXTEN":
                return ch.exten
            if name == "CONTEXT":
                return ch.context
            if name == "PRIORITY":
                return str(ch.priority)
            if name == "CHANNEL":
                return ch.name
            if name == "UNIQUEID":
                return ch.uniqueid
            if name in ("CALLINGPRES", "CALLINGANI2", "CALLINGTON", "CALLINGTNS"):
                return "0"
        if name == "EPOCH":
            return str(int(self.now()))
        return None

    def variable(self, name: str) -> str | None:
        value = self.builtin(name)
        if value is not None:
            return value
        return self.lookup(name)

    def read_function(self, text: str) -> str | None:
        name, args = split_call(text)
        func = self.functions.get(name.strip())
        if func is None or func.read is None:
            return None
        try:
            return func.read(self, args)
        except FunctionError:
            return None


def _parse_offsets(spec: str) -> tuple[int, int | None]:
    """`sscanf(var, "%30d:%30d", &offset, &length)` with its partial-match behaviour."""
    offset, length = 0, None
    m = re.match(r"\s*([+-]?\d+)", spec)
    if not m:
        return offset, length
    offset = int(m.group(1))
    rest = spec[m.end() :]
    m2 = re.match(r":\s*([+-]?\d+)", rest)
    if m2:
        length = int(m2.group(1))
    return offset, length


def substring(value: str, offset: int, length: int | None) -> str:
    """main/strings.c `substring` (negative offset from the end, negative length trims)."""
    lr = len(value)
    if offset == 0 and (length is None or length >= lr):
        return value
    if offset < 0:
        offset = max(lr + offset, 0)
    if offset >= lr:
        return ""
    ret = value[offset:]
    if length is None:
        return ret
    if 0 <= length < lr - offset:
        return ret[:length]
    if length < 0:
        return ret[: lr + length - offset] if lr > offset - length else ""
    return ret


def _split_var(var: str) -> tuple[str, int, int | None, bool]:
    """`parse_variable_name`: name, offset, length, is-function (`:` outside parens)."""
    parens = 0
    isfunc = False
    for i, c in enumerate(var):
        if c == "(":
            isfunc = True
            parens += 1
        elif c == ")":
            parens -= 1
        elif c == ":" and parens == 0:
            offset, length = _parse_offsets(var[i + 1 :])
            return var[:i], offset, length, isfunc
    return var, 0, None, isfunc


def substitute(text: str, scope: Scope) -> str:
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        dollar = text.find("$", i)
        if dollar < 0:
            out.append(text[i:])
            break
        out.append(text[i:dollar])
        nxt = text[dollar + 1] if dollar + 1 < n else ""
        if nxt == "{":
            start = j = dollar + 2
            brackets, needsub = 1, False
            while brackets and j < n:
                if text.startswith("${", j) or text.startswith("$[", j):
                    needsub = True
                elif text[j] == "{":
                    brackets += 1
                elif text[j] == "}":
                    brackets -= 1
                j += 1
            # a missing '}' loses the last character, as in pbx_variables.c
            inner = text[start : j - 1]
            if needsub:
                inner = substitute(inner, scope)
            name, offset, length, isfunc = _split_var(inner)
            value = scope.read_function(name) if isfunc else scope.variable(name)
            if value is not None:
                out.append(substring(value, offset, length))
            i = j
        elif nxt == "[":
            start = j = dollar + 2
            brackets, needsub = 1, False
            while brackets and j < n:
                if text.startswith("$[", j):
                    needsub = True
                    brackets += 1
                    j += 1
                elif text[j] == "[":
                    brackets += 1
                elif text[j] == "]":
                    brackets -= 1
                elif text.startswith("${", j):
                    needsub = True
                    j += 1
                j += 1
            inner = text[start : j - 1] if not brackets else text[start:j]
            if needsub:
                inner = substitute(inner, scope)
            out.append(evaluate(inner, lambda f, args: _expr_function(scope, f, args)))
            i = j
        else:
            out.append("$")
            i = dollar + 1
    return "".join(out)


def _expr_function(scope: Scope, name: str, args: list[str]) -> str | None:
    return scope.read_function(f"{name}({','.join(args)})")


def assign(scope: Scope, name: str, value: str) -> None:
    """`pbx_builtin_setvar_helper` as Set() uses it: `FUNC(args)=v` writes a function."""
    if name.endswith(")"):
        fname, args = split_call(name)
        func = scope.functions.get(fname.strip())
        if func is None or func.write is None:
            raise FunctionError(f"Function {fname} cannot be written to")
        func.write(scope, args, value)
        return
    scope.assign(name, value)

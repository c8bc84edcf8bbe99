"""`$[...]` expressions: main/ast_expr2.fl (lexer) and ast_expr2.y (grammar, operators).

Asterisk's rules, which differ from most languages and show up in AppData text:
* a double-quoted token keeps its quotes (`$["a"]` is `"a"`), so `"${X}" = "ok"` compares
  quoted strings;
* bare tokens are strings unless they are a plain number (`[0-9]+(.[0-9]+)?`);
* comparisons are numeric only when neither side is a string;
* `|` / `&` return an operand, not a boolean; the conditional is `cond ? a :: b`;
* numbers are long doubles printed with `%.18Lg` (so `$[3/2]` is `1.5`), emulated here
  with 19-digit decimals; division by zero gives INT_MAX;
* a syntax error makes the whole expression `0`, an empty one is the empty string.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Context, Decimal, InvalidOperation, localcontext

INT_MAX = 2147483647
_DEC = Context(prec=19)

STRING, NUMERIC_STRING, NUMBER = "string", "numeric_string", "number"


@dataclass
class Val:
    kind: str
    s: str = ""
    n: Decimal = Decimal(0)


class ExprSyntaxError(Exception):
    pass


_OPERATORS = (
    "||", "&&", "==", "=~", "~~", ">=", "<=", "!=", "::",
    "|", "&", "=", ">", "<", "+", ",", "-", "*", "/", "%", "?", "!", ":", "(", ")",
)  # fmt: skip
_OP_NAMES = {"||": "|", "&&": "&", "==": "="}
_WORD = re.compile(r"(?:[a-zA-Z0-9.';\\_^#@\x80-\U0010ffff]|\$(?!\{)[\s\S])+")
_NUMBER = re.compile(r"[0-9]+(?:\.[0-9]+)?")


def tokenize(text: str) -> list[tuple[str, Val | None]]:
    """Flex's longest-match rules; characters no rule matches are skipped (flex ECHO)."""
    tokens: list[tuple[str, Val | None]] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c in " \t\r\n":
            i += 1
            continue
        if c == '"':
            end = text.find('"', i + 1)
            if end >= 0:
                tokens.append(("TOKEN", Val(STRING, text[i : end + 1])))
                i = end + 1
                continue
            i += 1
            continue
        word = _WORD.match(text, i)
        number = _NUMBER.match(text, i)
        wlen = word.end() - i if word else 0
        nlen = number.end() - i if number else 0
        op = next((o for o in _OPERATORS if text.startswith(o, i)), None)
        olen = len(op) if op else 0
        if olen and olen >= wlen and olen >= nlen:
            assert op is not None
            tokens.append((_OP_NAMES.get(op, op), None))
            i += olen
        elif nlen and nlen >= wlen:
            tokens.append(("TOKEN", Val(NUMERIC_STRING, text[i : i + nlen])))
            i += nlen
        elif wlen:
            tokens.append(("TOKEN", Val(STRING, text[i : i + wlen])))
            i += wlen
        else:
            i += 1
    return tokens


def _make_str(s: str) -> Val:
    isint = bool(s) and (s[0].isdigit() or s[0] in "-.")
    if isint and any(not (ch.isdigit() or ch == ".") for ch in s):
        isint = False
    return Val(NUMERIC_STRING if isint else STRING, s)


def _num(x: Decimal | int | float) -> Val:
    with localcontext(_DEC):
        return Val(NUMBER, n=+Decimal(x))


def _to_number(v: Val) -> bool:
    if v.kind == NUMBER:
        return True
    if v.kind == STRING:
        return False
    m = re.match(r"\s*[+-]?(\d+(\.\d*)?|\.\d+)", v.s)
    try:
        v.n = +Decimal(m.group(0).strip()) if m else Decimal(0)
    except InvalidOperation:
        v.n = Decimal(0)
    v.kind = NUMBER
    return True


def format_number(n: Decimal) -> str:
    """C's `%.18Lg`."""
    if n.is_zero():
        return "-0" if n.is_signed() else "0"
    with localcontext(Context(prec=18)):
        r = +n
    exp = r.adjusted()
    if exp < -4 or exp >= 18:
        digits = format(r, ".17e")
        mant, _, e = digits.partition("e")
        if "." in mant:
            mant = mant.rstrip("0").rstrip(".")
        ev = int(e)
        return f"{mant}e{'-' if ev < 0 else '+'}{abs(ev):02d}"
    text = format(r, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def _to_string(v: Val) -> None:
    if v.kind == NUMBER:
        v.s = format_number(v.n)
        v.kind = STRING


def _is_string(v: Val) -> bool:
    return v.kind == STRING


def _zero_or_null(v: Val) -> bool:
    if v.kind == NUMBER:
        return v.n == 0
    return v.s == "" or (_to_number(v) and v.n == 0)


def _strip_quotes(v: Val) -> None:
    if v.kind != NUMBER and len(v.s) >= 1 and v.s[0] == '"' and v.s[-1] == '"':
        v.s = v.s.replace('"', "")


def _compare(a: Val, b: Val, test: Callable[[int], bool]) -> Val:
    if _is_string(a) or _is_string(b):
        _to_string(a)
        _to_string(b)
        cmp = (a.s > b.s) - (a.s < b.s)
    else:
        _to_number(a)
        _to_number(b)
        cmp = (a.n > b.n) - (a.n < b.n)
    return _num(1 if test(cmp) else 0)


def _arith(op: str, a: Val, b: Val) -> Val:
    an, bn = _to_number(a), _to_number(b)
    with localcontext(_DEC):
        if op == "+":
            if not an:
                return b if bn else _num(0)
            if not bn:
                return a
            return _num(a.n + b.n)
        if op == "-":
            if not an:
                return _num(-b.n) if bn else _num(0)
            if not bn:
                return a
            return _num(a.n - b.n)
        if op == "*":
            return _num(a.n * b.n) if an and bn else _num(0)
        if op == "/":
            if not an:
                return _num(0)
            if not bn or b.n == 0:
                return _num(INT_MAX)
            return _num(a.n / b.n)
        # "%": fmod semantics (sign of the dividend)
        if not (an and bn):
            return _num(0)
        if b.n == 0:
            return b
        return _num(a.n % b.n)


def _regex(a: Val, b: Val, anchored: bool) -> Val:
    _to_string(a)
    _to_string(b)
    _strip_quotes(a)
    _strip_quotes(b)
    try:
        rx = re.compile(b.s)
    except re.error:
        return _make_str("")
    m = rx.search(a.s)
    if m and (not anchored or m.start() == 0):
        if rx.groups >= 1 and m.start(1) >= 0:
            return _make_str(m.group(1))
        return _num(m.end() - m.start())
    return _num(0) if rx.groups == 0 else _make_str("")


def _compl(a: Val) -> Val:
    if a.kind == NUMBER:
        v1 = 0 if a.n == 0 else 1
    elif a.s == "" or a.s == "0":
        v1 = 0
    else:
        m = re.match(r"\s*[+-]?\d+", a.s)
        v1 = int(m.group(0)) if m else 0
    return _num(0 if v1 else 1)


def _cond(a: Val, b: Val, c: Val) -> Val:
    if _is_string(a):
        return b if a.s not in ("", '""', "0") else c
    _to_number(a)
    return b if a.n != 0 else c


_MATH1: dict[str, Callable[[float], float]] = {
    "COS": math.cos, "SIN": math.sin, "TAN": math.tan, "ACOS": math.acos,
    "ASIN": math.asin, "ATAN": math.atan, "SQRT": math.sqrt, "FLOOR": math.floor,
    "CEIL": math.ceil, "ROUND": lambda x: math.floor(abs(x) + 0.5) * (1 if x >= 0 else -1),
    "RINT": round, "TRUNC": math.trunc, "EXP": math.exp, "EXP2": lambda x: 2.0**x,
    "EXP10": lambda x: 10.0**x, "LOG": math.log, "LOG2": math.log2, "LOG10": math.log10,
}  # fmt: skip
_MATH2: dict[str, Callable[[float, float], float]] = {
    "ATAN2": math.atan2, "POW": math.pow, "REMAINDER": math.remainder,
}  # fmt: skip

# binding power: (left, right) — bison's %left/%right table, low to high
_BINARY = {
    "|": 3, "&": 4, "=": 5, ">": 5, "<": 5, ">=": 5, "<=": 5, "!=": 5,
    "+": 6, "-": 6, "*": 7, "/": 7, "%": 7, ":": 9, "=~": 9, "~~": 9,
}  # fmt: skip
_COND_BP = 2
_UNARY_BP = 8


FunctionHook = Callable[[str, list[str]], str | None]


class _Parser:
    def __init__(self, tokens: list[tuple[str, Val | None]], func: FunctionHook | None) -> None:
        self.toks = tokens
        self.i = 0
        self.func = func

    def peek(self) -> str | None:
        return self.toks[self.i][0] if self.i < len(self.toks) else None

    def take(self) -> tuple[str, Val | None]:
        tok = self.toks[self.i]
        self.i += 1
        return tok

    def expect(self, kind: str) -> None:
        if self.peek() != kind:
            raise ExprSyntaxError(f"expected {kind!r}")
        self.i += 1

    def primary(self) -> Val:
        kind = self.peek()
        if kind is None:
            raise ExprSyntaxError("unexpected end")
        if kind == "(":
            self.take()
            v = self.expr(0)
            self.expect(")")
            return v
        if kind == "-":
            self.take()
            a = self.expr(_UNARY_BP)
            if not _to_number(a):
                return _num(0)
            return _num(-a.n)
        if kind == "!":
            self.take()
            return _compl(self.expr(_UNARY_BP))
        if kind == "TOKEN":
            _, val = self.take()
            assert val is not None
            if self.peek() == "(":
                return self.call(val)
            return val
        raise ExprSyntaxError(f"unexpected {kind!r}")

    def call(self, name: Val) -> Val:
        self.take()  # (
        args: list[Val] = []
        if self.peek() != ")":
            args.append(self.expr(1))
            while self.peek() == ",":
                self.take()
                args.append(self.expr(1))
        self.expect(")")
        fname = name.s
        if fname in _MATH1 or fname in _MATH2:
            table_arity = 1 if fname in _MATH1 else 2
            if len(args) != table_arity:
                return _num(0)
            nums: list[float] = []
            for a in args:
                _to_number(a)
                nums.append(float(a.n))
            try:
                if table_arity == 1:
                    return _num(Decimal(repr(_MATH1[fname](nums[0]))))
                return _num(Decimal(repr(_MATH2[fname](nums[0], nums[1]))))
            except (ValueError, OverflowError):
                return _num(0)
        if self.func is not None:
            texts = []
            for a in args:
                _to_string(a)
                texts.append(a.s)
            result = self.func(fname, texts)
            if result is not None:
                return _make_str(result)
        return _make_str("")

    def expr(self, min_bp: int) -> Val:
        left = self.primary()
        while True:
            op = self.peek()
            if op == "?" and min_bp <= _COND_BP:
                self.take()
                mid = self.expr(_COND_BP + 1)
                self.expect("::")
                right = self.expr(_COND_BP + 1)
                left = _cond(left, mid, right)
                continue
            if op is None or op not in _BINARY:
                return left
            bp = _BINARY[op]
            if bp < min_bp:
                return left
            self.take()
            right = self.expr(bp + 1)
            left = self._apply(op, left, right)

    @staticmethod
    def _apply(op: str, a: Val, b: Val) -> Val:
        if op == "|":
            return b if _zero_or_null(a) else a
        if op == "&":
            return _num(0) if _zero_or_null(a) or _zero_or_null(b) else a
        if op == "=":
            return _compare(a, b, lambda c: c == 0)
        if op == "!=":
            return _compare(a, b, lambda c: c != 0)
        if op == ">":
            return _compare(a, b, lambda c: c > 0)
        if op == "<":
            return _compare(a, b, lambda c: c < 0)
        if op == ">=":
            return _compare(a, b, lambda c: c >= 0)
        if op == "<=":
            return _compare(a, b, lambda c: c <= 0)
        if op in "+-*/%":
            return _arith(op, a, b)
        if op == ":":
            return _regex(a, b, anchored=True)
        if op == "=~":
            return _regex(a, b, anchored=False)
        # "~~": concatenation
        _to_string(a)
        _to_string(b)
        _strip_quotes(a)
        _strip_quotes(b)
        return _make_str(a.s + b.s)


def evaluate(text: str, func: FunctionHook | None = None) -> str:
    """The text `$[text]` turns into (after `${}` substitution of `text`)."""
    tokens = tokenize(text)
    if not tokens:
        return ""
    parser = _Parser(tokens, func)
    try:
        value = parser.expr(0)
        if parser.i != len(tokens):
            raise ExprSyntaxError("trailing tokens")
    except ExprSyntaxError:
        return "0"
    if value.kind == NUMBER:
        return format_number(value.n)
    return value.s


def check_condition(text: str) -> bool:
    """`pbx_checkcondition`: empty is false, a leading integer is its truth, text is true."""
    if not text:
        return False
    m = re.match(r"\s*[+-]?\d+", text)
    if m:
        return int(m.group(0)) != 0
    return True

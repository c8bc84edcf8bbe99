"""Extension patterns: matching and the order Asterisk tries them in (main/pbx.c).

Asterisk keeps each context's extensions sorted with `ext_cmp` and, with the default
`extenpatternmatchnew=no`, takes the first one that matches. Literal extensions sort
before patterns; among patterns the one whose characters allow fewer digits, position
by position, comes first (`_3XXX` before `_9X.` before `_X.`). `-` is decoration in
literal extensions and in dialed digits.
"""

from __future__ import annotations

from enum import Enum


class MatchMode(Enum):
    MATCH = "match"  # the digits are a complete extension
    CANMATCH = "canmatch"  # complete, or could become one with more digits
    MATCHMORE = "matchmore"  # more digits could still produce a (longer) match


_N = 0x0800 | ord("2")
_X = 0x0A00 | ord("0")
_Z = 0x0900 | ord("1")
_DOT = 0x18000
_BANG = 0x28000
_END = 0x30000
_ERR = 0x40000


def _pattern_position(p: str, i: int) -> tuple[int, bytes, int]:
    """One step of ext_cmp_pattern_pos: (score, character-set bitmap, next index)."""
    while i < len(p) and p[i] == " ":
        i += 1
    bits = bytearray(32)
    if i >= len(p):
        return _END, bytes(bits), i
    c = p[i]
    i += 1
    up = c.upper()
    if up == "N":
        bits[6], bits[7] = 0x3F, 0xC0
        return _N, bytes(bits), i
    if up == "X":
        bits[6], bits[7] = 0xFF, 0xC0
        return _X, bytes(bits), i
    if up == "Z":
        bits[6], bits[7] = 0x7F, 0xC0
        return _Z, bytes(bits), i
    if c == ".":
        return _DOT, bytes(bits), i
    if c == "!":
        return _BANG, bytes(bits), i
    if c != "[":
        code = ord(c) & 0xFF
        bits[code // 8] = 1 << (7 - code % 8)
        return 0x0100 | code, bytes(bits), i
    end = p.find("]", i)
    if end < 0:
        return _ERR, bytes(bits), len(p)
    count = 0
    cmin = 0xFF
    while i < end:
        c1 = ord(p[i]) & 0xFF
        c2 = c1
        if i + 2 < end and p[i + 1] == "-":
            c2 = ord(p[i + 2]) & 0xFF
            i += 2
        cmin = min(cmin, c1)
        for code in range(c1, c2 + 1):
            mask = 1 << (7 - code % 8)
            if not bits[code // 8] & mask:
                bits[code // 8] |= mask
                count += 0x100
        i += 1
    return count | cmin, bytes(bits), end + 1


def _cmp_pattern(left: str, right: str) -> int:
    li = ri = 0
    while True:
        lpos, lbits, li = _pattern_position(left, li)
        rpos, rbits, ri = _pattern_position(right, ri)
        cmp = lpos - rpos
        if not cmp:
            # same score, different sets: the set with lower characters first
            cmp = (rbits > lbits) - (rbits < lbits)
        if cmp or lpos == _END:
            return cmp


def _cmp_literal(left: str, right: str) -> int:
    a = left.replace("-", "")
    b = right.replace("-", "")
    for x, y in zip(a, b, strict=False):
        if x != y:
            return ord(x) - ord(y)
    return len(a) - len(b)


def compare_extensions(left: str, right: str) -> int:
    """`ext_cmp`: negative if `left` is tried before `right`."""
    if not left.startswith("_"):
        if right.startswith("_"):
            return -1
        return _cmp_literal(left, right)
    if not right.startswith("_"):
        return 1
    return _cmp_pattern(left[1:], right[1:])


def _literal_length(text: str) -> int:
    return len(text.replace("-", ""))


def extension_match(pattern: str, data: str, mode: MatchMode = MatchMode.MATCH) -> int:
    """`_extension_match_core`: 0 no match, 1 match, 2 early match (`!`)."""
    if not pattern.startswith("_"):
        lp, ld = _literal_length(pattern), _literal_length(data)
        if lp < ld:
            return 0
        p = pattern.replace("-", "")
        d = data.replace("-", "")
        if mode is MatchMode.MATCH:
            return 1 if p == d else 0
        if not p.startswith(d):
            return 0
        if mode is MatchMode.MATCHMORE:
            return 1 if lp > ld else 0
        return 1
    p, i = pattern, 1
    j = 0
    while j < len(data) and i < len(p) and p[i] != "/":
        d = data[j]
        if d == "-":
            j += 1
            continue
        c = p[i].upper()
        if c == "[":
            end = p.find("]", i + 1)
            if end < 0:
                return 0
            k = i + 1
            if k == end:
                i = end + 1
                continue
            found = False
            while k < end:
                if k + 2 < end and p[k + 1] == "-":
                    if p[k] <= d <= p[k + 2]:
                        found = True
                        break
                    k += 3
                    continue
                if d == p[k]:
                    found = True
                    break
                k += 1
            if not found:
                return 0
            i = end
        elif c == "N":
            if not "2" <= d <= "9":
                return 0
        elif c == "X":
            if not "0" <= d <= "9":
                return 0
        elif c == "Z":
            if not "1" <= d <= "9":
                return 0
        elif c == ".":
            return 1
        elif c == "!":
            return 2
        elif c in " -":
            i += 1
            continue
        elif d != p[i]:
            return 0
        j += 1
        i += 1
    if j < len(data):
        # data longer than the pattern, unless only '-' separators remain
        if data[j:].replace("-", ""):
            return 0
    if i >= len(p) or p[i] == "/":
        return 0 if mode is MatchMode.MATCHMORE else 1
    if p[i] == "!":
        return 2
    return 0 if mode is MatchMode.MATCH else 1

"""The loaded dialplan: contexts, extensions, priorities and the lookups pbx.c does.

Lookups follow `pbx_find_extension` with the default (old) pattern algorithm: a
context's own extensions in `ext_cmp` order, the first whose pattern matches *and* that
has the wanted priority (or label) wins; otherwise the context's includes are searched,
depth first, in the order they were written, each context at most once.
"""

from __future__ import annotations

import bisect
import functools
from dataclasses import dataclass, field

from pbxsim.dialplan.patterns import MatchMode, compare_extensions, extension_match


@dataclass(frozen=True, slots=True)
class Priority:
    number: int
    app: str
    data: str  # raw, unsubstituted (`NoOp(inbound ${EXTEN})` -> `inbound ${EXTEN}`)
    label: str | None = None
    file: str = ""
    line: int = 0


@dataclass(eq=False)
class Extension:
    name: str  # `_X.` or `12345`
    cidmatch: str | None = None
    priorities: dict[int, Priority] = field(default_factory=dict)
    labels: dict[str, int] = field(default_factory=dict)

    @property
    def is_pattern(self) -> bool:
        return self.name.startswith("_")

    def matches(self, exten: str, callerid: str | None, mode: MatchMode) -> int:
        result = extension_match(self.name, exten, mode)
        if result and self.cidmatch is not None:
            if callerid is None or not extension_match(self.cidmatch, callerid):
                return 0
        return result

    def sort_key(self) -> _ExtKey:
        return _ExtKey(self.name, self.cidmatch)


@functools.total_ordering
@dataclass(frozen=True, slots=True)
class _ExtKey:
    name: str
    cid: str | None

    def _cmp(self, other: _ExtKey) -> int:
        res = compare_extensions(self.name, other.name)
        if res:
            return res
        # same extension: the caller-id specific variants are tried first
        if self.cid is None and other.cid is None:
            return 0
        if self.cid is None:
            return 1
        if other.cid is None:
            return -1
        return compare_extensions(self.cid, other.cid)

    def __lt__(self, other: object) -> bool:
        assert isinstance(other, _ExtKey)
        return self._cmp(other) < 0

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _ExtKey) and self._cmp(other) == 0

    def __hash__(self) -> int:
        return hash((self.name.replace("-", ""), self.cid))


@dataclass(eq=False)
class Context:
    name: str
    extensions: list[Extension] = field(default_factory=list)  # kept in ext_cmp order
    includes: list[str] = field(default_factory=list)
    file: str = ""
    line: int = 0
    _keys: list[_ExtKey] = field(default_factory=list, repr=False)
    _index: tuple[dict[str, list[Extension]], list[Extension]] | None = field(
        default=None, repr=False
    )

    def candidates(self, exten: str, mode: MatchMode) -> list[Extension]:
        """Extensions that may match `exten`, in `ext_cmp` order.

        For a complete match only the literal extensions equal to `exten` (a dict
        lookup) and the patterns can match, and literals sort first: a big generated
        DID map stays cheap to search.
        """
        if mode is not MatchMode.MATCH:
            return self.extensions
        if self._index is None:
            literals: dict[str, list[Extension]] = {}
            patterns: list[Extension] = []
            for ext in self.extensions:
                if ext.is_pattern:
                    patterns.append(ext)
                else:
                    literals.setdefault(ext.name.replace("-", ""), []).append(ext)
            self._index = (literals, patterns)
        literals, patterns = self._index
        return literals.get(exten.replace("-", ""), []) + patterns

    def get_or_add(self, name: str, cidmatch: str | None) -> Extension:
        """The extension `name` (`ext_cmp`-equal, so `12-34` is `1234`), created in order."""
        key = _ExtKey(name, cidmatch)
        pos = bisect.bisect_left(self._keys, key)
        if pos < len(self._keys) and self._keys[pos] == key:
            return self.extensions[pos]
        ext = Extension(name, cidmatch)
        self.extensions.insert(pos, ext)
        self._keys.insert(pos, key)
        self._index = None
        return ext


@dataclass
class Dialplan:
    contexts: dict[str, Context] = field(default_factory=dict)
    general: dict[str, str] = field(default_factory=dict)
    globals: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def _walk(
        self,
        context: str,
        exten: str,
        callerid: str | None,
        mode: MatchMode,
        seen: set[str],
    ) -> list[Extension]:
        """Every extension that matches, in the order Asterisk would try them."""
        ctx = self.contexts.get(context)
        if ctx is None or context in seen:
            return []
        seen.add(context)
        found = [e for e in ctx.candidates(exten, mode) if e.matches(exten, callerid, mode)]
        for inc in ctx.includes:
            found.extend(self._walk(inc, exten, callerid, mode, seen))
        return found

    def find_priority(
        self, context: str, exten: str, priority: int, callerid: str | None = None
    ) -> tuple[Extension, Priority] | None:
        """The (extension, priority) the PBX runs for `context,exten,priority`."""
        for ext in self._walk(context, exten, callerid, MatchMode.MATCH, set()):
            prio = ext.priorities.get(priority)
            if prio is not None:
                return ext, prio
        return None

    def find(self, context: str, exten: str, callerid: str | None = None) -> list[Priority]:
        """The priorities of the extension that would answer `exten` at priority 1."""
        hit = self.find_priority(context, exten, 1, callerid)
        if hit is None:
            return []
        ext = hit[0]
        return [ext.priorities[n] for n in sorted(ext.priorities)]

    def find_label(
        self, context: str, exten: str, label: str, callerid: str | None = None
    ) -> int | None:
        """`ast_findlabel_extension`: the priority number carrying `label`, or None."""
        for ext in self._walk(context, exten, callerid, MatchMode.MATCH, set()):
            if label in ext.labels:
                return ext.labels[label]
        return None

    def exists(
        self, context: str, exten: str, priority: int = 1, callerid: str | None = None
    ) -> bool:
        return self.find_priority(context, exten, priority, callerid) is not None

    def can_match(self, context: str, exten: str, callerid: str | None = None) -> bool:
        return bool(self._walk(context, exten, callerid, MatchMode.CANMATCH, set()))

    def match_more(self, context: str, exten: str, callerid: str | None = None) -> bool:
        """`ast_matchmore_extension`; an early-match `!` pattern stops the search."""
        for ext in self._walk(context, exten, callerid, MatchMode.MATCHMORE, set()):
            return ext.matches(exten, callerid, MatchMode.MATCHMORE) != 2
        return False

    def resolve_priority(
        self, context: str, exten: str, priority: str, callerid: str | None = None
    ) -> int | None:
        """A Goto/Redirect target: a number or a label; None if it does not exist."""
        text = priority.strip()
        try:
            number = int(text)
        except ValueError:
            return self.find_label(context, exten, text, callerid)
        return number if self.exists(context, exten, number, callerid) else None

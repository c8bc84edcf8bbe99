"""Asterisk's .conf syntax (main/config.c), reduced to what dialplans and queues use.

Yields one `ConfLine` per `name = value` / `name => value` line with the file and line
it came from, so errors can say `extensions.conf:12`. Handles `[section]` headers with
template options, `;` comments (`\\;` is a literal semicolon), `;-- block --;` comments
and `#include` / `#tryinclude` relative to the including file.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path


class ConfigError(Exception):
    """A config file Asterisk would refuse or warn about; carries `file:line`."""

    def __init__(self, file: str, line: int, message: str) -> None:
        super().__init__(f"{file}:{line}: {message}")
        self.file = file
        self.line = line
        self.message = message


@dataclass(frozen=True, slots=True)
class ConfLine:
    file: str
    line: int
    section: str
    name: str
    value: str
    is_object: bool  # written with `=>`


@dataclass(frozen=True, slots=True)
class SectionHeader:
    file: str
    line: int
    name: str
    options: tuple[str, ...]  # `(!)` -> ("!",), `(+)` -> ("+",), `(tpl)` -> ("tpl",)


def _strip_comment(line: str, in_block: int) -> tuple[str, int]:
    """Remove comments; returns the remaining text and the block-comment depth."""
    out: list[str] = []
    i, n = 0, len(line)
    while i < n:
        if in_block:
            if line.startswith("--;", i):
                in_block -= 1
                i += 3
            elif line.startswith(";--", i):
                in_block += 1
                i += 3
            else:
                i += 1
            continue
        c = line[i]
        if c == "\\" and i + 1 < n and line[i + 1] == ";":
            out.append(";")
            i += 2
            continue
        if c == ";":
            if line.startswith(";--", i):
                in_block += 1
                i += 3
                continue
            break
        out.append(c)
        i += 1
    return "".join(out), in_block


def read_config(
    path: str | Path, _seen: tuple[Path, ...] = (), _section: str = ""
) -> Iterator[ConfLine | SectionHeader]:
    """Parse a config file (following includes) into headers and lines, in file order."""
    path = Path(path)
    resolved = path.resolve()
    if resolved in _seen:
        raise ConfigError(str(path), 0, "recursive #include")
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(str(path), 0, f"cannot read: {exc.strerror}") from exc
    yield from _parse_text(text, path, (*_seen, resolved), _section)


def _parse_text(
    text: str, path: Path, seen: tuple[Path, ...], section: str = ""
) -> Iterator[ConfLine | SectionHeader]:
    """`section` is the including file's current section: an included file continues it."""
    fname = path.name
    in_block = 0
    for lineno, raw in enumerate(text.splitlines(), start=1):
        stripped, in_block = _strip_comment(raw, in_block)
        line = stripped.strip()
        if not line:
            continue
        if line.startswith("#"):
            directive, _, arg = line[1:].partition(" ")
            directive = directive.lower()
            arg = arg.strip().strip('"').strip("<>").strip()
            if directive in ("include", "tryinclude"):
                if not arg:
                    raise ConfigError(fname, lineno, f"#{directive} without a file name")
                target = Path(arg) if Path(arg).is_absolute() else path.parent / arg
                if not target.exists():
                    if directive == "tryinclude":
                        continue
                    raise ConfigError(fname, lineno, f"#include file '{arg}' not found")
                for item in read_config(target, seen, section):
                    if isinstance(item, SectionHeader):
                        section = item.name
                    yield item
                continue
            raise ConfigError(fname, lineno, f"unsupported directive '#{directive}'")
        if line.startswith("["):
            close = line.find("]")
            if close < 0:
                raise ConfigError(fname, lineno, f"parse error: no closing ']' in '{line}'")
            section = line[1:close].strip()
            rest = line[close + 1 :].strip()
            options: tuple[str, ...] = ()
            if rest:
                if not (rest.startswith("(") and rest.endswith(")")):
                    raise ConfigError(fname, lineno, f"junk after section header: '{rest}'")
                options = tuple(o.strip() for o in rest[1:-1].split(",") if o.strip())
            yield SectionHeader(fname, lineno, section, options)
            continue
        eq = line.find("=")
        if eq < 0:
            raise ConfigError(fname, lineno, f"No '=' (equal sign) in line {lineno} of {fname}")
        name = line[:eq].strip()
        value = line[eq + 1 :]
        is_object = value.startswith(">")
        if is_object:
            value = value[1:]
        if not section:
            raise ConfigError(fname, lineno, f"'{name}' outside of any [section]")
        yield ConfLine(fname, lineno, section, name, value.strip(), is_object)

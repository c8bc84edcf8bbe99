"""Build a `Dialplan` from extensions.conf, following pbx_config.c.

`exten => ext[/cid],priority[(label)],App(data)`; `same => priority,...` reuses the
previous extension; priority is a number, `n` (previous + 1), `s`/`same` (previous),
`hint`, or a label of an earlier priority, optionally `+offset`. Asterisk logs a warning
and skips a bad line; for a simulator a silently missing priority is worse than a loud
one, so syntax errors raise `ConfigError` with file:line. Duplicate priorities keep the
first definition (as Asterisk does) and are recorded in `Dialplan.warnings`.
"""

from __future__ import annotations

from pathlib import Path

from pbxsim.dialplan.appargs import split_app_call
from pbxsim.dialplan.confparse import ConfigError, ConfLine, SectionHeader, read_config
from pbxsim.dialplan.model import Context, Dialplan, Extension, Priority

HINT = -1


def load_dialplan(path: str | Path) -> Dialplan:
    """Parse an extensions.conf (and whatever it #includes)."""
    return build_dialplan(read_config(path))


def parse_dialplan(text: str, name: str = "extensions.conf") -> Dialplan:
    """Parse dialplan text held in memory (tests, generated configs). No #include."""
    from pbxsim.dialplan.confparse import _parse_text

    return build_dialplan(_parse_text(text, Path(name), ()))


def _parse_priority(
    pri: str, last: int | None, ext: Extension | None, where: tuple[str, int]
) -> int:
    plus = 0
    if "+" in pri:
        pri, _, offset = pri.partition("+")
        try:
            plus = int(offset)
        except ValueError:
            plus = 0
    pri = pri.strip()
    if pri == "hint":
        return HINT
    if pri in ("n", "next"):
        if last is None:
            raise ConfigError(*where, "Can't use 'next' priority on the first entry")
        return last + 1 + plus
    if pri in ("s", "same"):
        if last is None:
            raise ConfigError(*where, "Can't use 'same' priority on the first entry")
        return last + plus
    try:
        return int(pri) + plus
    except ValueError:
        pass
    if ext is not None and pri in ext.labels:
        return ext.labels[pri] + plus
    raise ConfigError(*where, f"Invalid priority/label '{pri}'")


def build_dialplan(items: object) -> Dialplan:
    plan = Dialplan()
    current: Context | None = None
    section = ""
    last_ext: tuple[str, str | None] | None = None
    last_pri: int | None = None
    for item in items:  # type: ignore[attr-defined]
        if isinstance(item, SectionHeader):
            section = item.name
            last_ext, last_pri = None, None
            if section in ("general", "globals"):
                current = None
                continue
            if "!" in item.options:
                raise ConfigError(item.file, item.line, "context templates are not supported")
            current = plan.contexts.get(section)
            if current is None:
                current = Context(section, file=item.file, line=item.line)
                plan.contexts[section] = current
            continue
        assert isinstance(item, ConfLine)
        where = (item.file, item.line)
        if section == "general":
            plan.general[item.name] = item.value
            continue
        if section == "globals":
            plan.globals[item.name] = item.value
            continue
        assert current is not None
        key = item.name.lower()
        if key == "include":
            target = item.value.split(",", 1)[0].strip()
            current.includes.append(target)
            continue
        if key in ("switch", "ignorepat", "eswitch", "lswitch"):
            plan.warnings.append(f"{item.file}:{item.line}: '{key}' is not simulated")
            continue
        if key not in ("exten", "same"):
            raise ConfigError(*where, f"unknown keyword '{item.name}' in context [{section}]")
        value = item.value
        if key == "same":
            if last_ext is None:
                raise ConfigError(*where, "No previous extension for 'same'")
            ext_name, cid = last_ext
            pri_text, _, app_text = value.partition(",")
        else:
            ext_field, _, rest = value.partition(",")
            pri_text, _, app_text = rest.partition(",")
            ext_field = ext_field.strip()
            if not ext_field:
                raise ConfigError(*where, "missing extension")
            ext_name, _, cid_text = ext_field.partition("/")
            cid = cid_text.replace("-", "").replace(" ", "") or None
            if last_ext != (ext_name, cid):
                last_pri = None
            last_ext = (ext_name, cid)
        pri_text = pri_text.strip()
        if not pri_text:
            raise ConfigError(*where, "missing priority")
        label = None
        if "(" in pri_text:
            pri_text, _, label_text = pri_text.partition("(")
            if not label_text.endswith(")"):
                raise ConfigError(*where, "Label missing trailing ')'")
            label = label_text[:-1].strip() or None
        ext = current.get_or_add(ext_name, cid)
        number = _parse_priority(pri_text, last_pri, ext, where)
        if number == HINT:
            continue  # hints drive device states, not dialplan execution
        if number < 1:
            raise ConfigError(*where, f"Invalid priority '{pri_text}'")
        last_pri = number
        app, data = split_app_call(app_text)
        if number in ext.priorities:
            plan.warnings.append(
                f"{item.file}:{item.line}: Unable to register extension '{ext_name}' "
                f"priority {number} in '{section}', already in use"
            )
            continue
        ext.priorities[number] = Priority(number, app, data, label, item.file, item.line)
        if label:
            ext.labels.setdefault(label, number)
    return plan

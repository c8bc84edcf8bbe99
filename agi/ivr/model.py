"""IVR flows as data: shape (pydantic) plus the cross-checks that make a flow safe.

A flow file can come from the repo or from the database, written by someone who is not
a developer; loading is where mistakes must stop, not on a live call. `validate_flow`
refuses: a prompt the catalog lacks, a menu option pointing to a missing menu, a menu no
entry can reach, a menu without "0 = agent" (DOMAIN.md: every menu has 0 = 人工),
an emergency key that a menu uses for something else, and a queue the queue catalogue
in force (callcenter/legacy/queues.py) does not have: the PBX has no such queue, and the caller
would fall through the dialplan. Sizes are bounded (a comment, how many entries and
menus) so a flow stays something a person reads, and a 422 stays short.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from agi.ivr.catalog import PromptCatalog
from callcenter.legacy.catalog_store import QueueUsers
from callcenter.legacy.queues import QueueCatalog, asterisk_queue

Key = Annotated[str, Field(pattern=r"^[0-9*#]$")]
QueueName = Annotated[str, Field(pattern=r"^hotline-[a-z0-9][a-z0-9-]{0,38}$")]
PromptId = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,48}$")]
Number = Annotated[str, Field(pattern=r"^[0-9]{3,20}$")]
NodeId = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,38}$")]
EntryKey = Annotated[str, Field(min_length=1, max_length=20)]
MAX_COMMENT = 2000
MAX_ENTRIES = 500  # a dialed number each: the city has 280 legacy numbers
MAX_MENUS = 100
#: problems listed in one FlowError; the rest are counted
MAX_PROBLEMS = 20


class FlowError(ValueError):
    """A flow that must not run; the message lists every problem found."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AgentOption(_Strict):
    """To a person in the entry's queue (the legacy unit's queue, or the general one)."""

    action: Literal["agent"]


class QueueOption(_Strict):
    action: Literal["queue"]
    queue: QueueName
    desk: str = Field(default="", pattern=r"^[a-z0-9_-]{0,20}$")
    priority: int = Field(default=0, ge=0, le=100)


class MenuOption(_Strict):
    action: Literal["menu"]
    menu: NodeId


class TransferOption(_Strict):
    action: Literal["transfer"]
    to: Number
    prompt: PromptId | None = None


Option = Annotated[
    AgentOption | QueueOption | MenuOption | TransferOption, Field(discriminator="action")
]


class Menu(_Strict):
    prompt: PromptId
    options: dict[Key, Option]


class Entry(_Strict):
    greeting: PromptId
    menu: NodeId | None = None


class Emergency(_Strict):
    """The emergency key: live during greetings and menus, and while queued (the
    dialplan's queue-key context); `notice` is the queue's announcement that says so."""

    key: Key = "9"
    menu: NodeId
    notice: PromptId = "queue-emergency"


class Legacy(_Strict):
    notice: PromptId


class Callback(_Strict):
    """The callback offer, a periodic announcement of the queue (`offer`): the caller
    presses `key` while waiting, the IVR records the request and plays `recorded`, and
    the caller goes back to its place in the queue.

    A stored flow may carry `threshold_s` (an estimated wait above which to offer); it
    is accepted and has no effect: the queue offers a callback to every waiting caller."""

    key: Key = "1"
    offer: PromptId
    recorded: PromptId

    @model_validator(mode="before")
    @classmethod
    def _ignore_threshold(cls, data: object) -> object:
        if isinstance(data, dict) and "threshold_s" in data:
            return {k: v for k, v in data.items() if k != "threshold_s"}
        return data


class Survey(_Strict):
    ask: PromptId
    thanks: PromptId
    invalid: PromptId
    timeout_ms: int = Field(default=6000, ge=1000, le=30000)


class Flow(_Strict):
    version: int = Field(ge=1)
    comment: str = Field(default="", max_length=MAX_COMMENT)
    general_queue: QueueName
    digit_timeout_ms: int = Field(default=5000, ge=1000, le=30000)
    max_attempts: int = Field(default=2, ge=1, le=5)
    emergency: Emergency
    legacy: Legacy
    callback: Callback | None = None
    survey: Survey
    invalid_prompt: PromptId
    #: played when a caller is sent to a person after a menu (choice 0, or no valid key)
    to_agent_prompt: PromptId
    entries: dict[EntryKey, Entry] = Field(max_length=MAX_ENTRIES)
    menus: dict[NodeId, Menu] = Field(max_length=MAX_MENUS)

    def entry_for(self, dialed_number: str) -> Entry:
        return self.entries.get(dialed_number) or self.entries["default"]

    def prompts(self) -> set[str]:
        """Every prompt id the flow can play."""
        used = {self.legacy.notice, self.invalid_prompt, self.to_agent_prompt, self.survey.ask}
        used.add(self.emergency.notice)
        used |= {self.survey.thanks, self.survey.invalid}
        if self.callback is not None:
            used |= {self.callback.offer, self.callback.recorded}
        used |= {e.greeting for e in self.entries.values()}
        for menu in self.menus.values():
            used.add(menu.prompt)
            for option in menu.options.values():
                if isinstance(option, TransferOption) and option.prompt is not None:
                    used.add(option.prompt)
        return used

    def queues(self) -> set[str]:
        found = {self.general_queue}
        for menu in self.menus.values():
            found |= {o.queue for o in menu.options.values() if isinstance(o, QueueOption)}
        return found

    def transfer_numbers(self) -> set[str]:
        return {
            o.to
            for menu in self.menus.values()
            for o in menu.options.values()
            if isinstance(o, TransferOption)
        }


def _problems(flow: Flow, catalog: PromptCatalog, queues: QueueCatalog) -> list[str]:
    problems: list[str] = []
    if "default" not in flow.entries:
        problems.append("entries: no 'default' entry")
    for number in flow.entries:
        if number != "default" and not number.isdigit():
            problems.append(f"entries: {number!r} is not a dialed number (digits) or 'default'")
    for queue in sorted(flow.queues() - queues.asterisk_names):
        known = ", ".join(sorted(queues.asterisk_names))
        problems.append(f"queue {queue!r} is not in the queue catalog (known: {known})")
    for prompt in sorted(flow.prompts()):
        if prompt not in catalog:
            problems.append(f"prompt {prompt!r} is not in the prompt catalog")
    targets: dict[str, set[str]] = {}
    for name, menu in flow.menus.items():
        zero = menu.options.get("0")
        if not isinstance(zero, AgentOption):
            problems.append(f"menu {name!r}: key 0 must be 'agent' (every menu has 0 = 人工)")
        targets[name] = set()
        for key, option in menu.options.items():
            if isinstance(option, MenuOption):
                if option.menu not in flow.menus:
                    problems.append(f"menu {name!r} key {key}: no menu {option.menu!r}")
                targets[name].add(option.menu)
        used = menu.options.get(flow.emergency.key)
        if used is not None and not (
            isinstance(used, MenuOption) and used.menu == flow.emergency.menu
        ):
            problems.append(
                f"menu {name!r}: key {flow.emergency.key} is the emergency key, not another choice"
            )
    if flow.emergency.menu not in flow.menus:
        problems.append(f"emergency: no menu {flow.emergency.menu!r}")
    for number, entry in flow.entries.items():
        if entry.menu is not None and entry.menu not in flow.menus:
            problems.append(f"entry {number!r}: no menu {entry.menu!r}")
    reachable: set[str] = set()
    todo = [e.menu for e in flow.entries.values() if e.menu is not None]
    todo.append(flow.emergency.menu)
    while todo:
        node = todo.pop()
        if node in reachable or node not in flow.menus:
            continue
        reachable.add(node)
        todo.extend(targets.get(node, ()))
    for name in sorted(set(flow.menus) - reachable):
        problems.append(f"menu {name!r} is unreachable from every entry")
    return problems


def validate_flow(
    data: object, catalog: PromptCatalog, source: str = "flow", *, queues: QueueCatalog
) -> Flow:
    """The flow, or FlowError listing every problem (shape first, then cross-checks
    against the prompt `catalog` and the queue catalogue `queues`)."""
    try:
        flow = Flow.model_validate(data)
    except ValidationError as exc:
        lines = [f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()]
        raise FlowError(_listed(source, lines)) from exc
    problems = _problems(flow, catalog, queues)
    if problems:
        raise FlowError(_listed(source, problems))
    return flow


def _listed(source: str, problems: list[str]) -> str:
    """`source: a; b; ...`, at most MAX_PROBLEMS of them, each at most 300 characters."""
    shown = [p if len(p) <= 300 else p[:297] + "..." for p in problems[:MAX_PROBLEMS]]
    if len(problems) > MAX_PROBLEMS:
        shown.append(f"and {len(problems) - MAX_PROBLEMS} more")
    return f"{source}: " + "; ".join(shown)


def load_flow_file(
    catalog: PromptCatalog, path: Path | None = None, *, queues: QueueCatalog
) -> Flow:
    """The flow file (default: the one shipped in this package), validated."""
    if path is None:
        text = resources.files("agi.ivr").joinpath("flows.json").read_text(encoding="utf-8")
        source = "agi/ivr/flows.json"
    else:
        text = path.read_text(encoding="utf-8")
        source = str(path)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise FlowError(f"{source}: not JSON: {exc}") from exc
    return validate_flow(data, catalog, source, queues=queues)


def flow_users(flow: Callable[[], Flow]) -> QueueUsers:
    """The IVR flow in force (`flow()`) as a user of the queues it sends callers to: a
    queue it names cannot leave the catalogue."""

    async def users(_session: object, name: str) -> list[str]:
        return ["the IVR flow"] if asterisk_queue(name) in flow().queues() else []

    return users

"""Flow and catalog validation: a flow that could misbehave on a live call never loads."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from agi.ivr.catalog import CatalogError, load_catalog, parse_catalog
from agi.ivr.model import FlowError, load_flow_file, validate_flow
from agi.ivr.store import FlowStore
from callcenter import migrate
from callcenter.db import create_engine, session_factory
from callcenter.legacy.queues import QueueCatalog

CATALOG = load_catalog()


def shipped() -> dict[str, Any]:
    text = resources.files("agi.ivr").joinpath("flows.json").read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def test_shipped_flow_is_valid_and_follows_gb_t_33358() -> None:
    flow = load_flow_file(CATALOG, queues=QueueCatalog.default())
    assert flow.entry_for("12345").menu is None  # no forced menu on 12345 itself
    assert flow.entry_for("99999999").menu is None  # nor on unknown numbers
    assert flow.transfer_numbers() == {"110", "119", "120", "122"}
    for name, menu in flow.menus.items():
        assert menu.options["0"].action == "agent", name


def test_every_prompt_a_flow_uses_is_in_the_catalog() -> None:
    """The issue's rule: a flow that uses a prompt the catalog lacks fails here."""
    flow = load_flow_file(CATALOG, queues=QueueCatalog.default())
    missing = sorted(p for p in flow.prompts() if p not in CATALOG)
    assert missing == []


def _problem(data: dict[str, Any]) -> str:
    with pytest.raises(FlowError) as info:
        validate_flow(data, CATALOG, queues=QueueCatalog.default())
    return str(info.value)


def test_unknown_prompt_is_an_error() -> None:
    data = shipped()
    data["menus"]["desks"]["prompt"] = "no-such-prompt"
    assert "prompt 'no-such-prompt' is not in the prompt catalog" in _problem(data)


def test_menu_without_zero_for_agent_is_an_error() -> None:
    data = shipped()
    del data["menus"]["desks"]["options"]["0"]
    assert "menu 'desks': key 0 must be 'agent'" in _problem(data)
    data = shipped()
    data["menus"]["desks"]["options"]["0"] = {"action": "queue", "queue": "hotline-general"}
    assert "menu 'desks': key 0 must be 'agent'" in _problem(data)


def test_unreachable_and_dangling_menus_are_errors() -> None:
    data = shipped()
    data["menus"]["orphan"] = copy.deepcopy(data["menus"]["desks"])
    assert "menu 'orphan' is unreachable" in _problem(data)
    data = shipped()
    data["menus"]["desks"]["options"]["4"] = {"action": "menu", "menu": "nowhere"}
    assert "no menu 'nowhere'" in _problem(data)
    data = shipped()
    data["entries"]["123450"]["menu"] = "nowhere"
    assert "entry '123450': no menu 'nowhere'" in _problem(data)


def test_shape_errors_name_the_place() -> None:
    data = shipped()
    data["menus"]["desks"]["options"]["1"]["queue"] = "general"  # not an Asterisk name
    assert "menus.desks.options.1.queue" in _problem(data)
    data = shipped()
    data["menus"]["emergency"]["options"]["1"]["to"] = "11O"
    assert "menus.emergency.options.1.transfer.to" in _problem(data)
    data = shipped()
    del data["entries"]["default"]
    assert "no 'default' entry" in _problem(data)
    data = shipped()
    data["menus"]["desks"]["options"]["9"] = {"action": "agent"}
    assert "key 9 is the emergency key" in _problem(data)


def test_catalog_needs_both_languages() -> None:
    with pytest.raises(CatalogError, match="'welcome': no en text"):
        parse_catalog({"version": 1, "prompts": {"welcome": {"zh": "您好"}}})


async def test_database_override_is_validated_and_used(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'flow.db'}")
    await migrate.upgrade(engine)
    try:
        store = FlowStore(
            CATALOG, session_factory(engine), lambda: datetime.now(UTC), queues=QueueCatalog.default
        )
        assert (await store.reload()) is store.file_flow
        bad = shipped()
        bad["menus"]["desks"]["prompt"] = "no-such-prompt"
        with pytest.raises(FlowError):
            await store.save(bad, "test")
        good = shipped()
        good["version"] = 2
        good["entries"]["12345"]["menu"] = "desks"
        row_id = await store.save(good, "test")
        flow = await store.reload()
        assert flow.version == 2 and store() is flow
        assert store.source == f"database id {row_id}"
        assert flow.entry_for("12345").menu == "desks"
    finally:
        await engine.dispose()

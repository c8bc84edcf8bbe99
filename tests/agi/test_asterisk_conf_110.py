"""The 110 hand-over rule as settings and as rendered dialplan: validated settings, the
`[from-trunk]` lines for numbers and trunks, and a trunk hand-over run over pbxsim on
that rendering (the endpoint read with CHANNEL(endpoint), the reference from the
configured header)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import pytest
from prometheus_client import CollectorRegistry
from pydantic import ValidationError
from typer.testing import CliRunner

from agi.ivr.catalog import load_catalog
from agi.ivr.model import load_flow_file
from agi.ivr.routes import build_agi
from agi.protocol.metrics import AgiMetrics
from agi.protocol.server import FastAgiServer, ServerConfig
from callcenter.asterisk_conf import default_extensions
from callcenter.config import Settings
from callcenter.from110 import From110
from callcenter.legacy.queues import QueueCatalog
from callcenter.live.live_state import LiveState
from callcenter.process.cli import app
from pbxsim.dialplan import load_dialplan
from queues.priority import CallerPriority, PriorityRules
from tests.agi.helpers import AnyCall
from tests.agi.pbx import Call, Pbx

RULE = From110(numbers=("96110",), trunks=("police110",), priority=12, header="X-Case-Ref")


def test_settings_give_the_rule_and_refuse_what_the_dialplan_cannot_hold() -> None:
    settings = Settings(
        from_110_numbers=["96110"],
        from_110_trunks=["police110"],
        from_110_priority=12,
        from_110_header="X-Case-Ref",
    )
    assert settings.from_110() == RULE
    assert Settings().from_110() == From110()  # nothing is 110's unless configured
    for field, value, named in (
        ("from_110_numbers", ["12a45"], "CALLCENTER_FROM_110_NUMBERS"),
        ("from_110_trunks", ["police 110"], "CALLCENTER_FROM_110_TRUNKS"),
        ("from_110_header", "X-Ref)}", "CALLCENTER_FROM_110_HEADER"),
        ("from_110_header", "", "CALLCENTER_FROM_110_HEADER"),
    ):
        with pytest.raises(ValidationError, match=named):
            Settings(**{field: cast(Any, value)})
    with pytest.raises(ValidationError):
        Settings(from_110_priority=101)


def test_the_rendered_lines_tag_numbers_and_trunks_before_the_service_is_asked() -> None:
    text = default_extensions(RULE)
    trunk = text.split("[from-trunk]")[1].split("\n[")[0]
    assert (
        ' same => n,Set(HOTLINE_SOURCE=${IF($["${DID}" = "96110" | '
        '"${CHANNEL(endpoint)}" = "police110"]?110:)})'
    ) in trunk
    assert "Set(HOTLINE_SOURCE_REF=${PJSIP_HEADER(read,X-Case-Ref)})" in trunk
    assert "?12:)" in trunk  # the fallback's priority
    assert trunk.index("HOTLINE_SOURCE=") < trunk.index("AGI(") < trunk.index("(fallback)")
    # nothing configured: nothing is tagged, the header is never read
    plain = default_extensions(From110())
    assert "PJSIP_HEADER" not in plain and "Set(HOTLINE_SOURCE=)" in plain


@pytest.fixture
async def agi() -> AsyncIterator[FastAgiServer]:
    catalog = load_catalog()
    flow = load_flow_file(catalog, queues=QueueCatalog.default())

    class Nothing:
        def route(self, dialed_number: str, now: datetime) -> None:
            return None

        async def last_queued(self, caller: str, since_epoch: float) -> float | None:
            return None

    rules = CallerPriority(PriorityRules(from_110=RULE.priority), Nothing(), LiveState(time.time))
    server = build_agi(
        ServerConfig(port=0, read_timeout_s=5.0),
        lambda: flow,
        catalog,
        Nothing(),
        # no fact is written on the `incoming` route
        None,  # type: ignore[arg-type]
        lambda: datetime.now(UTC),
        None,
        AgiMetrics(CollectorRegistry()),
        rules.queue_priority,
        gate=AnyCall(),
    )
    await server.start()
    yield server
    await server.stop()


async def test_a_hand_over_on_110s_trunk_over_pbxsim(agi: FastAgiServer, tmp_path: Path) -> None:
    conf = tmp_path / "extensions.conf"
    conf.write_text(default_extensions(RULE), encoding="utf-8")
    load_dialplan(conf)
    pbx = Pbx(agi.port, extensions_conf=conf, trunk="police110")
    handed = await pbx.place(Call("12345", {}), headers=(("x-case-ref", "A-7"),))
    v = handed.variables
    assert v["HOTLINE_SOURCE"] == "110" and v["HOTLINE_SOURCE_REF"] == "A-7"
    assert v["QUEUE_PRIO"] == "12" and handed.queue == "hotline-general"
    pbx.hang_up_all()
    other = Pbx(agi.port, extensions_conf=conf)  # the carrier's trunk, to 12345
    direct = await other.place(Call("12345", {}), headers=(("X-Case-Ref", "A-8"),))
    assert direct.variables["HOTLINE_SOURCE"] == "" and direct.variables["QUEUE_PRIO"] == "0"
    other.hang_up_all()


def test_render_writes_the_rule_from_the_environment(tmp_path: Path) -> None:
    env = {
        "CALLCENTER_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'cc.db'}",
        "CALLCENTER_AMI_NODES": '[{"name": "pbx1", "secret": "s3cret"}]',
        "CALLCENTER_SIP_SECRET": "sip-secret",
        "CALLCENTER_FROM_110_NUMBERS": '["96110"]',
        "CALLCENTER_FROM_110_PRIORITY": "15",
    }
    runner = CliRunner()
    for args in (
        ["db", "upgrade"],
        ["seats", "provision", "--count", "2"],
        ["asterisk-conf", "render", "--out", str(tmp_path / "out")],
    ):
        result = runner.invoke(app, args, env=env)
        assert result.exit_code == 0, result.output
    text = (tmp_path / "out" / "pbx1" / "extensions.conf").read_text(encoding="utf-8")
    assert '$["${DID}" = "96110"]?110:' in text and "?15:)" in text
    refused = runner.invoke(
        app,
        ["asterisk-conf", "render", "--out", str(tmp_path / "o2")],
        env={**env, "CALLCENTER_FROM_110_HEADER": "X Ref"},
    )
    assert refused.exit_code == 2 and "CALLCENTER_FROM_110_HEADER" in refused.output

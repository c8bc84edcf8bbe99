"""Issue 15, item 8: FastAGI as the README deployed it (`CALLCENTER_AGI_HOST=0.0.0.0`,
empty allow-list). 500 silent connections shut callers out of the IVR, and any peer
could rate a recorded call and create callback requests. Each attack is replayed here."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from prometheus_client import CollectorRegistry
from typer.testing import CliRunner

from agi.ivr.catalog import load_catalog
from agi.ivr.live_calls import CALLBACK, RATING, LiveCallGate
from agi.ivr.model import load_flow_file
from agi.ivr.routes import build_routes
from agi.protocol.env import parse_env_text
from agi.protocol.metrics import AgiMetrics
from agi.protocol.server import STALE_ENV_S, FastAgiServer, ServerConfig
from callcenter.config import Settings
from callcenter.legacy.queues import QueueCatalog
from callcenter.live.live_state import LiveState
from callcenter.live.node_state import Call, Channel, NodeState
from callcenter.process.cli import app
from callcenter.records.facts import CallbackRequestFact, ConfidentialMarkFact, RatingFact
from tests.agi.helpers import env_block, read_command, refused, running_server

ATTACK = 500
UNIQUEID, CHANNEL = "1795692697.1", "PJSIP/trunk-00000001"  # tests/agi/helpers.ENV_LINES


# --- the deployment: refused at start ------------------------------------------------
@pytest.mark.parametrize("host", ["0.0.0.0", "::", "", "10.0.0.5", "agi.example.org"])
def test_a_reachable_agi_host_without_an_allow_list_is_refused(host: str) -> None:
    with pytest.raises(ValueError) as raised:
        Settings(agi_host=host)
    message = str(raised.value)
    assert "CALLCENTER_AGI_HOST" in message and "CALLCENTER_AGI_ALLOWED_PEERS" in message


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "::1", "localhost"])
def test_loopback_needs_no_allow_list(host: str) -> None:
    assert Settings(agi_host=host).agi_allowed_peers == []


def test_an_allow_list_of_addresses_and_networks_makes_it_start() -> None:
    settings = Settings(agi_host="0.0.0.0", agi_allowed_peers=["10.0.0.11", "10.0.1.0/24"])
    assert settings.agi_allowed_peers == ["10.0.0.11", "10.0.1.0/24"]
    with pytest.raises(ValueError, match=r"CALLCENTER_AGI_ALLOWED_PEERS: '10\.0\.0\.300'"):
        Settings(agi_host="0.0.0.0", agi_allowed_peers=["10.0.0.300"])


def test_serve_as_the_readme_deployed_it_exits_saying_why(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CALLCENTER_AGI_HOST", "0.0.0.0")
    monkeypatch.delenv("CALLCENTER_AGI_ALLOWED_PEERS", raising=False)
    result = CliRunner().invoke(app, ["serve"])
    assert result.exit_code == 2
    output = " ".join(result.output.split())  # rich wraps the line
    assert "CALLCENTER_AGI_ALLOWED_PEERS is empty" in output


def test_the_environment_deadline_is_short() -> None:
    assert Settings().agi_env_timeout_s <= 5.0
    assert ServerConfig().env_timeout_s <= 5.0


# --- 500 silent connections ----------------------------------------------------------
async def _noop_route(session: object) -> None:
    await session.answer()  # type: ignore[attr-defined]


async def _silent(port: int, source: str, count: int) -> list[asyncio.StreamWriter]:
    """`count` connections from address `source` that never say a word."""
    held = []
    for _ in range(count):
        _, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0))
        held.append(writer)
    return held


async def _real_call(port: int) -> float:
    """What Asterisk does on a call (from 127.0.0.1); seconds until the IVR answers."""
    started = time.monotonic()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(env_block())
    try:
        assert await read_command(reader, timeout=3.0) == ["ANSWER"]
        writer.write(b"200 result=0\n")
    finally:
        writer.close()
    return time.monotonic() - started


async def test_silent_connections_from_another_peer_leave_room_for_the_pbx() -> None:
    async with running_server(
        {"incoming": _noop_route}, max_sessions=ATTACK, max_sessions_per_peer=50
    ) as server:
        held = await _silent(server.port, "127.0.0.2", ATTACK)
        try:
            await asyncio.sleep(0.1)
            # the rest were refused at once (or, once silent for STALE_ENV_S, displaced
            # by the attacker's own newer ones): never more than the peer's share
            assert server.active <= 50 and server.refused > 0
            assert await _real_call(server.port) < 1.0
        finally:
            for writer in held:
                writer.close()


async def test_silent_connections_from_the_pbx_address_give_way_to_a_real_call() -> None:
    """The attacker shares the PBX's address (loopback, a NAT): the per-peer cap cannot
    tell them apart, but a connection that has said nothing yields its place."""
    async with running_server(
        {"incoming": _noop_route},
        max_sessions=ATTACK,
        max_sessions_per_peer=ATTACK,
        env_timeout_s=5.0,
    ) as server:
        held = await _silent(server.port, "127.0.0.1", ATTACK + 20)
        try:
            await asyncio.sleep(STALE_ENV_S + 0.2)
            assert server.active == ATTACK  # full of silence
            # answered at once, not after the 5 s the silent ones may hold a place
            assert await _real_call(server.port) < 1.0
            assert await _real_call(server.port) < 1.0
        finally:
            for writer in held:
                writer.close()


async def test_a_silent_connection_is_closed_at_the_environment_deadline() -> None:
    async with running_server({"incoming": _noop_route}, env_timeout_s=0.3) as server:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        started = time.monotonic()
        assert await refused(reader, 2.0)
        assert time.monotonic() - started < 1.0
        writer.close()
        assert server.active == 0


# --- forged ratings and callback requests ----------------------------------------------
class Facts:
    """CallFacts that keep what they are asked to write."""

    def __init__(self) -> None:
        self.ratings: list[RatingFact] = []
        self.callbacks: list[CallbackRequestFact] = []

    async def record_rating(self, rating: RatingFact) -> bool:
        self.ratings.append(rating)
        return True

    async def request_callback(self, request: CallbackRequestFact) -> bool:
        self.callbacks.append(request)
        return True

    async def mark_confidential(self, mark: ConfidentialMarkFact) -> bool:
        return False


class LongWait:
    def estimated_wait_s(self, queue: str) -> float | None:
        return 900.0


class NoLegacy:
    def route(self, dialed_number: str, now: datetime) -> None:
        return None


def live_with(where: str) -> LiveState:
    """The live model with the helpers' call (uniqueid, channel) at step `where`:
    `ivr` (running an AGI: the incoming IVR, or the queue-key route), `talking`,
    `survey` (the agent hung up), or `gone` (not on the PBX)."""
    live = LiveState(time.time)
    node = live.nodes["pbx1"] = NodeState("pbx1", time.time)
    if where == "gone":
        return live
    application = "Queue" if where == "talking" else "AGI"
    node.channels[UNIQUEID] = Channel(UNIQUEID, CHANNEL, UNIQUEID, application=application)
    call = node.calls[UNIQUEID] = Call(UNIQUEID, started_at=time.time(), channels={UNIQUEID})
    if where in ("talking", "survey"):
        call.seat, call.answered_at = "1001", time.time()
    if where == "talking":
        call.agent, call.where = "PJSIP/1001", "talking"
    return live


@pytest.fixture
async def ivr() -> AsyncIterator[tuple[Facts, AgiMetrics, list[LiveState]]]:
    """The IVR's two routes behind the live gate; `live[0]` is the live model to set."""
    catalog = load_catalog()
    flow = load_flow_file(catalog, queues=QueueCatalog.default())
    facts = Facts()
    metrics = AgiMetrics(CollectorRegistry())
    holder = [live_with("gone")]

    class Live:
        @property
        def nodes(self):  # type: ignore[no-untyped-def]
            return holder[0].nodes

    routes = build_routes(
        lambda: flow,
        catalog,
        NoLegacy(),
        facts,
        lambda: datetime.now(UTC),
        LongWait(),
        gate=LiveCallGate(Live(), metrics.request_refused),
    )
    server = FastAgiServer(routes, ServerConfig(port=0, env_timeout_s=2.0), metrics)
    await server.start()
    facts.port = server.port  # type: ignore[attr-defined]
    yield facts, metrics, holder
    await server.stop(grace_s=1.0)


async def _run(
    port: int, script: str, args: tuple[str, ...] = ("12345", "13900001111")
) -> list[list[str]]:
    """A peer that runs `script` and presses 1 whenever asked for digits."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(env_block(script, args=args))
    sent: list[list[str]] = []
    try:
        while (command := await read_command(reader, timeout=3.0)) is not None:
            sent.append(command)
            if command[:2] == ["GET", "DATA"]:
                writer.write(b"200 result=1\n")
            elif command[:2] == ["GET", "VARIABLE"]:
                writer.write(b"200 result=1 (hotline-general)\n")
            elif command[:2] == ["STREAM", "FILE"]:
                writer.write(b"200 result=0 endpos=8000\n")
            else:
                writer.write(b"200 result=1\n")
    finally:
        writer.close()
    return sent


def _refused(metrics: AgiMetrics, what: str) -> float:
    total = 0.0
    for family in metrics.collect():
        if family.name == "callcenter_ivr_requests_refused":
            total += sum(s.value for s in family.samples if s.labels["what"] == what)
    return total


@pytest.mark.parametrize("where", ["gone", "ivr", "talking"])
async def test_a_forged_rating_is_refused_and_nothing_written(ivr, where: str) -> None:  # type: ignore[no-untyped-def]
    facts, metrics, live = ivr
    live[0] = live_with(where)
    await _run(facts.port, "survey")
    assert facts.ratings == []
    assert _refused(metrics, RATING) == 1


async def test_a_rating_in_the_survey_of_a_live_call_is_recorded(ivr) -> None:  # type: ignore[no-untyped-def]
    facts, metrics, live = ivr
    live[0] = live_with("survey")
    await _run(facts.port, "survey")
    assert [(r.uniqueid, r.rating) for r in facts.ratings] == [(UNIQUEID, 1)]
    assert _refused(metrics, RATING) == 0


#: the callback key pressed in the queue: key, caller, dialed number
CALLBACK_KEY = ("1", "13900001111", "12345")


@pytest.mark.parametrize("where", ["gone", "talking", "survey"])
async def test_a_forged_callback_request_is_refused_and_nothing_written(ivr, where: str) -> None:  # type: ignore[no-untyped-def]
    facts, metrics, live = ivr
    live[0] = live_with(where)
    sent = await _run(facts.port, "queue-key", CALLBACK_KEY)
    assert facts.callbacks == []
    assert _refused(metrics, CALLBACK) == 1
    assert ["SET", "VARIABLE", "HOTLINE_CALLBACK", "1"] not in sent
    # the caller still goes back to its queue
    assert ["SET", "VARIABLE", "HOTLINE_ACTION", "queue"] in sent


async def test_a_callback_request_from_the_queue_of_a_live_call_is_recorded(ivr) -> None:  # type: ignore[no-untyped-def]
    facts, metrics, live = ivr
    live[0] = live_with("ivr")
    sent = await _run(facts.port, "queue-key", CALLBACK_KEY)
    assert [c.uniqueid for c in facts.callbacks] == [UNIQUEID]
    assert ["SET", "VARIABLE", "HOTLINE_CALLBACK", "1"] in sent
    assert _refused(metrics, CALLBACK) == 0


def test_the_channel_name_must_match_too() -> None:
    """A uniqueid seen on the PBX is not enough: the session's channel must be its."""
    env = parse_env_text(env_block("survey", channel="PJSIP/trunk-0000ffff").decode()[:-2])
    gate = LiveCallGate(live_with("survey"))
    assert gate.problem(RATING, env) == "not a live call: no such channel on the PBX"

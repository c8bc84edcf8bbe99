"""The queue catalogue as data: its rules, the table migration 0015 seeds, `callcenter
queues ...` from adding a queue to the seats, CSV rows, rendered queues.conf and API
that then know it, the refusals, and a second instance that picks a change up."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from typer.testing import CliRunner

from api.app import create_app
from api.services import ApiServices
from callcenter import migrate
from callcenter.config import Settings
from callcenter.db import create_engine, session_factory
from callcenter.legacy import csvfile
from callcenter.legacy.catalog_store import CatalogStore, QueueInUse, keep_current
from callcenter.legacy.queues import (
    GENERAL,
    SEED,
    CatalogError,
    CatalogHolder,
    CatalogQueue,
    Display,
    QueueCatalog,
    UnknownQueue,
)
from callcenter.process.cli import app
from callcenter.tokens import Role, TokenStore
from queues.catalog import catalog, parse_skills
from queues.wiring import follow_wrapups

TOURISM = CatalogQueue(
    "tourism", Display("文化旅游", "Culture and tourism"), wrapup_s=20, position=110
)
SECRET, SIP = "ami-test-secret", "sip-test-secret"


def _now() -> datetime:
    return datetime.now(UTC)


# --- the rules -------------------------------------------------------------------------


def test_the_default_is_the_city_plan_in_screen_order() -> None:
    default = QueueCatalog.default()
    assert default.names[0] == GENERAL and len(default) == 10
    assert default.names == tuple(q.name for q in SEED)
    assert default.wrapups()["hotline-housing"] == 10
    assert default.with_queue(TOURISM).names[-1] == "tourism"
    first = default.with_queue(CatalogQueue("aaa", Display("甲", "A"), position=0))
    assert first.names[0] == "aaa"  # position, then name


@pytest.mark.parametrize(
    ("queue", "problem"),
    [
        (CatalogQueue("Tourism", Display("a", "a")), "lower-case"),
        (CatalogQueue("-x", Display("a", "a")), "lower-case"),
        (CatalogQueue("x" * 33, Display("a", "a")), "1-32"),
        (CatalogQueue("t", Display("", "a")), r"display name \(zh\) is empty"),
        (CatalogQueue("t", Display("a", "two\nlines")), r"display name \(en\): control"),
        (CatalogQueue("t", Display("a", "a" * 41)), "longer than 40"),
        (CatalogQueue("t", Display("a", "a"), strategy="loudest"), "unknown strategy"),
        (CatalogQueue("t", Display("a", "a"), wrapup_s=601), "wrap-up must be 0..600"),
        (CatalogQueue("t", Display("a", "a"), overflow_after_s=1), "overflow after must be"),
    ],
)
def test_a_queue_breaking_a_rule_is_refused_naming_it(queue: CatalogQueue, problem: str) -> None:
    with pytest.raises(CatalogError, match=problem):
        QueueCatalog.default().with_queue(queue)


def test_the_catalogue_keeps_general_and_one_row_per_name() -> None:
    with pytest.raises(CatalogError, match="general queue cannot overflow into itself"):
        QueueCatalog.default().with_overflow({GENERAL: 30})
    with pytest.raises(CatalogError, match="needs the 'general' queue"):
        QueueCatalog.default().without(GENERAL)
    with pytest.raises(CatalogError, match="appears more than once"):
        QueueCatalog((*SEED, SEED[3]))
    with pytest.raises(UnknownQueue, match="known: general, enterprise"):
        QueueCatalog.default().queue("tourism")


def test_the_holder_tells_its_listeners_and_wrapups_follow() -> None:
    holder = CatalogHolder(QueueCatalog.default())
    wrapups = holder.current.wrapups()
    follow_wrapups(holder, wrapups)
    assert not holder.replace(QueueCatalog.default())  # equal: nothing to tell
    assert holder.replace(QueueCatalog.default().with_queue(TOURISM).without("utilities"))
    assert wrapups["hotline-tourism"] == 20 and "hotline-utilities" not in wrapups


def test_the_spec_takes_sl15_from_the_kpi_module() -> None:
    from callcenter.records.kpi import SL_SECONDS

    specs = catalog(QueueCatalog.default().with_queue(TOURISM))
    assert {s.service_level_s for s in specs.values()} == {SL_SECONDS}
    assert specs["tourism"].wrapup_s == 20 and specs["tourism"].asterisk == "hotline-tourism"


def test_the_overflow_setting_points_to_the_catalogue() -> None:
    with pytest.raises(ValueError, match="callcenter queues update housing --overflow-after 60"):
        Settings(queue_overflow_s={"housing": 60})


# --- the table -------------------------------------------------------------------------


Sessions = async_sessionmaker[AsyncSession]


@pytest.fixture
async def sessions(database_url: str) -> AsyncIterator[Sessions]:
    """Sessions on a fresh database at the schema's head (the catalogue seeded)."""
    engine = create_engine(database_url)
    try:
        await migrate.upgrade(engine)
        yield session_factory(engine)
    finally:
        await engine.dispose()


@pytest.mark.db
async def test_migration_seeds_the_default_and_downgrades(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        await migrate.upgrade(engine)
        store = CatalogStore(session_factory(engine), _now)
        assert await store.load() == QueueCatalog.default()
        await migrate.downgrade(engine, "0014")
        await migrate.upgrade(engine)
        assert await store.load() == QueueCatalog.default()
    finally:
        await engine.dispose()


@pytest.mark.db
async def test_a_second_instance_sees_an_added_queue_after_its_refresh(database_url: str) -> None:
    one, two = create_engine(database_url), create_engine(database_url)
    try:
        await migrate.upgrade(one)
        first = CatalogStore(session_factory(one), _now)
        second = CatalogStore(session_factory(two), _now)
        holder = CatalogHolder(await second.load())
        tokens = TokenStore(session_factory(two), _now)
        services = ApiServices(catalog=holder, tokens=tokens)
        _, token = await tokens.create("sup", Role.SUPERVISOR, None)
        api = create_app(services, CollectorRegistry(), "t")
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=api), base_url="http://t")
        sup = {"Authorization": f"Bearer {token}"}

        async def listed() -> list[str]:
            r = await client.get("/api/v1/queue-catalog", headers=sup)
            assert r.status_code == 200, r.text
            return [q["name"] for q in r.json()]

        assert await listed() == list(QueueCatalog.default().names)
        refresh = asyncio.create_task(keep_current(second, holder, every_s=0.05))
        try:
            await first.add(TOURISM, "operator1")
            for _ in range(100):
                if "tourism" in holder.current:
                    break
                await asyncio.sleep(0.05)
        finally:
            refresh.cancel()
        assert holder.current.queue("tourism") == TOURISM
        assert (await listed())[-1] == "tourism"
        r = await client.get("/api/v1/queue-catalog", headers=sup)
        row = r.json()[-1]
        assert row["display"] == {"zh": "文化旅游", "en": "Culture and tourism"}
        assert (row["asterisk"], row["wrapup_s"], row["service_level_s"]) == (
            "hotline-tourism",
            20,
            15,
        )
        # the filters take the new name too (422 before: unknown queue)
        r = await client.get("/api/v1/calls", params={"queue": "tourism"}, headers=sup)
        assert r.status_code != 422, r.text
        await client.aclose()
    finally:
        await one.dispose()
        await two.dispose()


@pytest.mark.db
async def test_a_refused_change_writes_nothing(sessions: Sessions) -> None:
    store = CatalogStore(sessions, _now)
    with pytest.raises(CatalogError, match="exists already"):
        await store.add(CatalogQueue("housing", Display("住房", "Housing")), "op")
    with pytest.raises(CatalogError, match="wrap-up must be"):
        await store.update("housing", {"wrapup_s": 9999}, "op")
    with pytest.raises(CatalogError, match="cannot change name"):
        await store.update("housing", {"name": "home"}, "op")
    with pytest.raises(UnknownQueue):
        await store.update("tourism", {"wrapup_s": 5}, "op")
    with pytest.raises(QueueInUse, match="still used by: legacy number 1"):

        async def user(_session: object, name: str) -> list[str]:
            return ["legacy number 1"] if name == "housing" else []

        await store.remove("housing", [user])
    assert await store.load() == QueueCatalog.default()
    changed = await store.update("housing", {"overflow_after_s": 60.0}, "op")
    assert changed.queue("housing").overflow_after_s == 60.0
    assert await store.load() == changed


# --- the command line, end to end --------------------------------------------------------


@pytest.mark.db
def test_add_a_queue_and_everything_takes_it(
    database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for key, value in {
        "CALLCENTER_DATABASE_URL": database_url,
        "CALLCENTER_AMI_NODES": f'[{{"name": "pbx1", "secret": "{SECRET}"}}]',
        "CALLCENTER_SIP_SECRET": SIP,
        "USER": "operator1",
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(tmp_path)
    cli = CliRunner()

    r = cli.invoke(app, ["queues", "list"])
    assert r.exit_code == 2 and "callcenter db upgrade" in r.output  # never migrates
    assert cli.invoke(app, ["db", "upgrade"]).exit_code == 0

    add = ["queues", "add", "tourism", "--zh", "文化旅游", "--en", "Culture and tourism"]
    r = cli.invoke(app, [*add, "--wrapup", "20", "--overflow-after", "90", "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["changed"] is True
    assert "asterisk-conf render" in r.stderr and "queue reload all" in r.stderr

    r = cli.invoke(app, ["queues", "list", "--json"])
    assert r.exit_code == 0, r.output
    rows = {q["name"]: q for q in json.loads(r.stdout)["queues"]}
    assert rows["tourism"]["overflow_after_s"] == 90 and rows["tourism"]["position"] == 110
    assert rows["tourism"]["display"] == {"zh": "文化旅游", "en": "Culture and tourism"}

    r = cli.invoke(app, [*add, "--json"])
    assert r.exit_code == 1 and "exists already" in r.stderr
    assert json.loads(r.stdout) == {
        "changed": False,
        "errors": ["queue 'tourism' exists already (update it)"],
    }
    bad = ["queues", "add", "Bad_Name", "--zh", "x", "--en", "x"]
    r = cli.invoke(app, bad)
    assert r.exit_code == 1 and "lower-case letters" in r.stderr
    r = cli.invoke(app, ["queues", "add", "x", "--zh", "x"])
    assert r.exit_code == 2 and "--en" in r.stderr
    r = cli.invoke(app, ["queues", "update", "general", "--overflow-after", "30"])
    assert r.exit_code == 1 and "cannot overflow into itself" in r.stderr
    r = cli.invoke(app, ["queues", "update", "nope", "--wrapup", "5"])
    assert r.exit_code == 1 and "unknown queue 'nope'" in r.stderr

    # Asterisk's configuration has its section, with its own wrap-up and the city's SL15
    # seats can take it as a skill, a directory row can route to it
    r = cli.invoke(app, ["seats", "provision", "--count", "1", "--skills", "general:3,tourism:5"])
    assert r.exit_code == 0, r.output
    r = cli.invoke(app, ["asterisk-conf", "render", "--out", "conf"])
    assert r.exit_code == 0, r.output
    conf = (tmp_path / "conf" / "pbx1" / "queues.conf").read_text(encoding="utf-8")
    section = conf[conf.index("[hotline-tourism]") :].split("\n\n")[0]
    assert "wrapuptime = 20" in section and "servicelevel = 15" in section
    assert "strategy = leastrecent" in section
    csv_file = tmp_path / "numbers.csv"
    csv_file.write_text(
        "number,unit_code,unit,district,mode,queue,transfer_to,note\n"
        "043262345678,U900,市文化旅游局,市本级,merge,tourism,,\n",
        encoding="utf-8",
    )
    r = cli.invoke(app, ["legacy", "import", str(csv_file), "--json"])
    assert r.exit_code == 0, r.output

    # now in use: the removal names who uses it, and nothing changes
    r = cli.invoke(app, ["queues", "remove", "tourism", "--json"])
    assert r.exit_code == 1, r.output
    assert "seat 1001" in r.stderr and "legacy number 043262345678" in r.stderr
    assert json.loads(r.stdout)["changed"] is False
    r = cli.invoke(app, ["queues", "remove", "enterprise"])
    assert r.exit_code == 1 and "the IVR flow" in r.stderr
    r = cli.invoke(app, ["queues", "remove", "general"])
    assert r.exit_code == 1 and "needs the 'general' queue" in r.stderr
    r = cli.invoke(app, ["queues", "remove", "utilities", "--json"])
    assert r.exit_code == 0, r.output
    names = [q["name"] for q in json.loads(r.stdout)["queues"]]
    assert "utilities" not in names and "tourism" in names

    # a CSV naming a queue that is gone is rejected with its line
    parsed = csvfile.read(
        csv_file.read_bytes().replace(b"tourism", b"utilities"),
        queues=QueueCatalog.default().without("utilities"),
    )
    assert [(e.line, e.column) for e in parsed.errors] == [(2, "queue")]
    assert parse_skills("tourism:2", QueueCatalog.default().with_queue(TOURISM)) == {"tourism": 2}


@pytest.mark.db
async def test_admins_change_it_over_http_with_the_same_rules(sessions: Sessions) -> None:
    from agi.ivr.catalog import load_catalog
    from agi.ivr.store import FlowStore

    store = CatalogStore(sessions, _now)
    holder = CatalogHolder(await store.load())
    tokens = TokenStore(sessions, _now)
    flows = FlowStore(load_catalog(), sessions, _now, queues=holder)
    services = ApiServices(catalog=holder, catalog_store=store, tokens=tokens, ivr=flows)
    _, token = await tokens.create("adm", Role.ADMIN, None)
    api = create_app(services, CollectorRegistry(), "t")
    admin = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=api), base_url="http://t", headers=admin
    ) as client:
        url = "/api/v1/queue-catalog"
        body = {"name": "tourism", "display": {"zh": "文化旅游", "en": "Culture and tourism"}}
        r = await client.post(url, json=body | {"wrapup_s": 20})
        assert r.status_code == 201, r.text
        assert "queue reload all" in r.json()["next_step"]
        assert holder.current.queue("tourism").position == 110  # in force here at once
        assert (await store.load()) == holder.current
        r = await client.post(url, json=body)
        assert r.status_code == 422 and "exists already" in r.json()["detail"]
        r = await client.post(url, json=body | {"name": "x", "display": {"zh": "a\nb", "en": "b"}})
        assert r.status_code == 422 and "control character" in r.json()["detail"]
        r = await client.patch(f"{url}/tourism", json={"overflow_after_s": 90})
        assert r.status_code == 200, r.text
        assert holder.current.queue("tourism").overflow_after_s == 90
        r = await client.patch(f"{url}/tourism", json={"overflow_after_s": None})
        assert r.status_code == 200 and holder.current.queue("tourism").overflow_after_s is None
        r = await client.patch(f"{url}/general", json={"overflow_after_s": 30})
        assert r.status_code == 422 and "overflow into itself" in r.json()["detail"]
        r = await client.patch(f"{url}/nope", json={"wrapup_s": 5})
        assert r.status_code == 404
        r = await client.delete(f"{url}/enterprise")
        assert r.status_code == 409 and "the IVR flow" in r.json()["detail"]
        r = await client.delete(f"{url}/tourism")
        assert r.status_code == 200 and "tourism" not in holder.current
        assert (await store.load()) == QueueCatalog.default()


def test_every_rendered_section_says_what_the_spec_says() -> None:
    """queue.in, filled per catalogue row, against QueueSpec: what app_queue applies is
    what the views explain (ring timeout and SL15 alike on every queue)."""
    import configparser
    from dataclasses import replace

    from callcenter.asterisk_conf import ConfInputs, RenderError, render

    queues = QueueCatalog.default().with_queue(replace(TOURISM, strategy="rrmemory"))
    inputs = ConfInputs(
        agi_url="agi://127.0.0.1:4573",
        default_queue="hotline-general",
        queues=tuple(sorted(queues.asterisk_names)),
        transfer_targets={},
        seats=(),
        trunk_host="127.0.0.2",
        ami_user="callcenter",
        ami_secret="x",
        catalog=queues,
    )
    conf = configparser.ConfigParser(strict=False, inline_comment_prefixes=(";",))
    conf.read_string(render(inputs)["queues.conf"])
    specs = catalog(queues)
    assert {s for s in conf.sections() if s.startswith("hotline-")} == queues.asterisk_names
    for spec in specs.values():
        section = conf[spec.asterisk]
        assert section["strategy"] == spec.strategy
        assert int(section["wrapuptime"]) == spec.wrapup_s
        assert int(section["timeout"]) == spec.ring_timeout_s
        assert int(section["servicelevel"]) == spec.service_level_s
    assert conf["hotline-tourism"]["strategy"] == "rrmemory"
    gone = replace(inputs, catalog=queues.without("tourism"))
    with pytest.raises(RenderError, match="hotline-tourism is not in the queue catalogue"):
        render(gone)


@pytest.mark.db
async def test_a_table_broken_by_hand_keeps_the_catalogue_in_force(sessions: Sessions) -> None:
    """The reload raises (the supervisor shows it on /readyz) and changes nothing."""
    from sqlalchemy import update

    from callcenter.legacy.models import QueueCatalogRow

    store = CatalogStore(sessions, _now)
    holder = CatalogHolder(await store.load())
    async with sessions() as session, session.begin():
        await session.execute(
            update(QueueCatalogRow)
            .where(QueueCatalogRow.name == "housing")
            .values(strategy="loudest")
        )
    with pytest.raises(CatalogError, match="queue 'housing': unknown strategy 'loudest'"):
        await keep_current(store, holder, every_s=0.0)
    assert holder.current == QueueCatalog.default()

"""Unit cards in the database (SQLite and PostgreSQL): writes with versions, the search
index, bulk import all or nothing, re-indexing after the directory renames a unit."""

from __future__ import annotations

import asyncio

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import func, inspect, select
from sqlalchemy.engine import Connection

import callcenter.legacy.card_tables  # noqa: F401  (registers the tables)
from callcenter import migrate
from callcenter.db import create_engine, session_factory
from callcenter.legacy.card_store import StaleVersion, UnitCards, UnknownUnit
from callcenter.legacy.card_tables import UnitCardGram
from callcenter.legacy.card_text import parse_query
from callcenter.legacy.cards import CardContent, KbLink, TransferNumber, card_content
from callcenter.legacy.records import NumberRecord
from callcenter.models import Base
from tests.legacy.conftest import Db, city_records

pytestmark = pytest.mark.db

HOUSING = card_content(
    {
        "responsibilities": "负责全市住房保障、公租房申请受理\n物业管理投诉",
        "hours": "工作日 8:30-17:00",
        "transfer_numbers": [{"number": "0432-6200 0004", "label": "住房保障科"}],
        "kb_links": [{"title": "Public Rental Housing FAQ", "url": "https://KB.example.gov.cn/h"}],
    }
)
MEDICAL = card_content(
    {
        "responsibilities": "医保报销、异地就医备案",
        "hours": "7×24",
        "transfer_numbers": [{"number": "12393", "label": "医保热线"}],
    }
)


@pytest.fixture
async def cards(db: Db) -> UnitCards:
    result = await db.repo.import_records(city_records(), actor="t", reason="city")
    assert result.applied
    return UnitCards(session_factory(db.engine), db.clock)


async def _search(cards: UnitCards, q: str, **kw: object) -> list[str]:
    return [c.unit_code for c in await cards.search(parse_query(q), **kw)]  # type: ignore[arg-type]


async def test_migration_matches_models_and_downgrades(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        await migrate.upgrade(engine)

        def diff(connection: Connection) -> list[object]:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            return [d for d in compare_metadata(context, Base.metadata) if "unit_card" in repr(d)]

        async with engine.connect() as conn:
            assert await conn.run_sync(diff) == []
        await migrate.downgrade(engine, "0016")
        async with engine.connect() as conn:
            tables = await conn.run_sync(lambda c: inspect(c).get_table_names())
        assert not [t for t in tables if t.startswith("unit_card")]
    finally:
        await engine.dispose()


async def test_get_put_and_versions(cards: UnitCards, db: Db) -> None:
    assert await cards.get("U999") is None
    empty = await cards.get("U004")
    assert empty is not None
    assert (empty.unit, empty.district, empty.version, empty.content) == (
        "市住房和城乡建设局",
        "市本级",
        0,
        CardContent(),
    )
    assert empty.updated_at is None and empty.updated_by is None

    written = await cards.put("U004", HOUSING, version=0, actor="ops")
    assert written.version == 1 and written.updated_by == "ops"
    again = await cards.get("U004")
    assert again is not None and again.content == HOUSING and again.version == 1
    assert again.updated_at == db.clock()
    assert again.content.transfer_numbers == (TransferNumber("043262000004", "住房保障科"),)

    with pytest.raises(StaleVersion) as stale:
        await cards.put("U004", MEDICAL, version=0, actor="late")
    assert (stale.value.expected, stale.value.current) == (0, 1)
    with pytest.raises(StaleVersion):
        await cards.put("U004", MEDICAL, version=5, actor="late")
    with pytest.raises(UnknownUnit):
        await cards.put("U999", MEDICAL, version=0, actor="ops")
    assert (await cards.get("U004")).content == HOUSING  # type: ignore[union-attr]
    emptied = await cards.put("U004", CardContent(), version=1, actor="ops")
    assert emptied.version == 2
    assert await _search(cards, "公租房") == []


async def test_concurrent_writers_one_wins(cards: UnitCards, db: Db) -> None:
    """Two instances write the same card over the same version: one 409s."""
    engine = create_engine(db.engine.url.render_as_string(hide_password=False))
    other = UnitCards(session_factory(engine), db.clock)
    try:
        outcomes = await asyncio.gather(
            cards.put("U002", MEDICAL, version=0, actor="a"),
            other.put("U002", HOUSING, version=0, actor="b"),
            return_exceptions=True,
        )
    finally:
        await engine.dispose()
    assert sorted(type(o).__name__ for o in outcomes) == ["StaleVersion", "UnitCard"]
    (winner,) = [o for o in outcomes if not isinstance(o, BaseException)]
    found = await cards.get("U002")
    assert found is not None and found.content == winner.content and found.version == 1  # type: ignore[union-attr]


async def test_search_chinese_widths_cases_fields_and_pages(cards: UnitCards) -> None:
    await cards.put("U004", HOUSING, version=0, actor="ops")
    await cards.put("U002", MEDICAL, version=0, actor="ops")
    await cards.put(
        "U005",
        CardContent("房产交易登记、公租房分配", "工作日", (), (KbLink("房产", "http://kb/5"),)),
        version=0,
        actor="ops",
    )
    assert await _search(cards, "公租房") == ["U004", "U005"]  # 3 characters
    assert await _search(cards, "公租房申请受理") == ["U004"]
    assert await _search(cards, "异地就") == ["U002"]
    assert await _search(cards, "医保") == ["U002"]  # 2 characters: prefix range
    assert await _search(cards, "房") == ["U004", "U005"]  # 1 character
    assert await _search(cards, "ＦＡＱ") == ["U004"]  # full width
    assert await _search(cards, "rental HOUSING") == ["U004"]  # case
    assert await _search(cards, "kb.example") == ["U004"]
    assert await _search(cards, "7×24") == ["U002"]
    assert await _search(cards, "7x24") == []  # folding makes widths alike, not × and x
    assert await _search(cards, "0432-6200 0004") == ["U004"]  # a number as typed
    assert await _search(cards, "住房保障科") == ["U004"]  # a transfer number's label
    assert await _search(cards, "医疗保障局") == ["U002"]  # the unit's name
    assert await _search(cards, "u005") == ["U005"]
    # "投诉" ends the responsibilities, "工作日" starts the hours: no field holds both
    assert await _search(cards, "投诉工作日") == []
    assert await _search(cards, "投诉 工作日") == []
    # a line break inside a field is a space
    assert await _search(cards, "受理 物业") == ["U004"]
    assert await _search(cards, "没有这个词") == []

    assert await _search(cards, "房", limit=1) == ["U004"]
    assert await _search(cards, "房", after="U004", limit=1) == ["U005"]
    assert await _search(cards, "公租房", after="U005") == []
    every = await cards.search(None)
    assert [c.unit_code for c in every] == ["U002", "U004", "U005"]
    assert [c.unit_code for c in await cards.search(None, after="U002", limit=1)] == ["U004"]


async def test_a_rename_in_the_directory_is_searchable(cards: UnitCards, db: Db) -> None:
    await cards.put("U002", MEDICAL, version=0, actor="ops")
    renamed = [
        (
            line,
            r if r.unit_code != "U002" else NumberRecord(**{**r.as_dict(), "unit": "市医保中心"}),
        )
        for line, r in city_records()
    ]
    assert (await db.repo.import_records(renamed, actor="t", reason="rename")).applied
    # until the directory's listener re-indexes (serve: at once), the old name is indexed
    assert await _search(cards, "医保中心") == []
    assert await _search(cards, "医疗保障局") == ["U002"]
    assert await cards.refresh_unit_names() == 1
    assert await cards.refresh_unit_names() == 0
    assert await _search(cards, "医保中心") == ["U002"]
    assert await _search(cards, "医疗保障局") == []
    card = await cards.get("U002")
    assert card is not None and card.unit == "市医保中心" and card.version == 1


async def test_import_is_all_or_nothing(cards: UnitCards, db: Db) -> None:
    file = [(2, "U002", MEDICAL), (3, "U004", HOUSING), (4, "U404", MEDICAL)]
    result = await cards.import_cards(file, actor="loader")
    assert not result.applied
    assert [(e.line, e.column) for e in result.errors] == [(4, "unit_code")]
    assert "U404 is not in the legacy directory" in result.errors[0].reason
    assert await cards.search(None) == []
    async with session_factory(db.engine)() as session:
        assert await session.scalar(select(func.count()).select_from(UnitCardGram)) == 0

    dry = await cards.import_cards(file[:2], actor="loader", dry_run=True)
    assert (dry.applied, dry.added) == (False, ["U002", "U004"])
    assert await cards.search(None) == []

    await cards.put("U004", MEDICAL, version=0, actor="ops")
    done = await cards.import_cards(file[:2], actor="loader")
    assert (done.applied, done.added, done.changed) == (True, ["U002"], ["U004"])
    assert await _search(cards, "公租房") == ["U004"]
    assert await _search(cards, "异地就医") == ["U002"]
    housing = await cards.get("U004")
    assert housing is not None and (housing.version, housing.updated_by) == (2, "loader")
    same = await cards.import_cards(file[:2], actor="loader")
    assert (same.applied, same.unchanged) == (False, ["U002", "U004"])
    assert [(code, c) for code, c in await cards.stored()] == [("U002", MEDICAL), ("U004", HOUSING)]

"""Unit cards: searching a province's 10,000 cards by any part of their text.

A synthetic province: 10,000 units, each with a card of some 200 characters of
responsibilities built from a government vocabulary (so common words are in thousands
of cards, as in life), hours, two transfer numbers and two knowledge-base links. The
cards go in with the bulk import (`unit_card_import_10k_s`, the grams included), then
agents' searches run one after another, as the desk's search box sends them, a page of
20: fragments of 3 to 6 characters cut from random cards (`unit_card_search_p99_ms`)
and 1-2 character ones (`unit_card_search_short_p99_ms`, the prefix range over the
same index).

On PostgreSQL (CALLCENTER_TEST_POSTGRES_URL, a throw-away database) under those keys;
the embedded default, SQLite, under `..._sqlite_...` keys; both when PostgreSQL is
reachable.
"""

from __future__ import annotations

import asyncio
import random
import statistics
import tempfile
import time
from datetime import UTC, datetime

from sqlalchemy import text

from bench.legacy_bench import _postgres_url
from callcenter import migrate
from callcenter.db import create_engine, session_factory
from callcenter.legacy.card_store import UnitCards
from callcenter.legacy.card_text import parse_query
from callcenter.legacy.cards import CardContent, KbLink, TransferNumber
from callcenter.legacy.records import NumberRecord
from callcenter.legacy.repository import LegacyRepository

CARDS = 10_000
SEARCHES = 300
SHORT_SEARCHES = 100
PAGE = 20

VERBS = ("负责", "受理", "监管", "指导", "协调", "审批", "查处", "办理", "组织实施", "统筹")
OBJECTS = (
    "住房保障 公租房 物业管理 医保报销 社保缴费 公积金提取 户籍迁移 出入境证件 交通违章 "
    "出租车投诉 公交线路 燃气安全 供水停水 冬季供暖 环境污染 噪音扰民 食品安全 药品监管 "
    "价格违法 劳动仲裁 工资拖欠 义务教育 学籍管理 招生入学 养老服务 最低生活保障 残疾人补贴 "
    "退役军人安置 纳税服务 发票管理 营业执照 消费投诉 占道经营 违法建设 园林绿化 路灯维修 "
    "道路养护 停车管理 不动产登记 房产交易 征收补偿 土地利用 林业保护 农业补贴 水利工程 "
    "防汛抗旱 气象服务 婚姻登记 殡葬管理 文化市场 旅游投诉 全民健身 卫生健康 疫苗接种 "
    "医疗纠纷 人才引进 就业创业 社会组织 档案查询 统计调查 法律援助 公证服务 消防安全 "
    "安全生产 应急管理 粮食储备 邮政快递 通信服务 电力供应"
).split()
DISTRICTS = ("市本级", "南关区", "宽城区", "朝阳区", "二道区", "绿园区", "双阳区", "九台区")


def province_cards(n: int = CARDS, seed: int = 17) -> list[tuple[str, str, str, CardContent]]:
    """(code, name, district, card) of n synthetic units."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        phrases = [rng.choice(VERBS) + rng.choice(OBJECTS) for _ in range(rng.randint(10, 16))]
        district = DISTRICTS[i % len(DISTRICTS)]
        text = f"{district}第{i}号单位：" + "；".join(phrases) + "。"
        content = CardContent(
            text,
            rng.choice(("工作日 8:30-17:00", "7×24 小时", "周一至周六 9:00-18:00")),
            (
                TransferNumber(f"0431{8000_0000 + i:08d}", "值班室"),
                TransferNumber(f"0431{9000_0000 + i:08d}", f"{rng.choice(OBJECTS)}科"),
            ),
            (
                KbLink(f"{rng.choice(OBJECTS)}办事指南", f"https://zsk.example.gov.cn/kb/{i}/1"),
                KbLink(f"{rng.choice(OBJECTS)}常见问题", f"https://zsk.example.gov.cn/kb/{i}/2"),
            ),
        )
        out.append((f"P{i:05d}", f"{district}{rng.choice(OBJECTS)}局{i}", district, content))
    return out


def _queries(cards: list[tuple[str, str, str, CardContent]], seed: int = 5) -> list[str]:
    rng = random.Random(seed)
    out = []
    for _ in range(SEARCHES):
        _, name, _, content = rng.choice(cards)
        text = rng.choice((content.responsibilities, content.responsibilities, name))
        size = rng.randint(3, 6)
        start = rng.randrange(0, max(1, len(text) - size))
        out.append(text[start : start + size])
    return out


def _short(seed: int = 9) -> list[str]:
    rng = random.Random(seed)
    return [rng.choice(rng.choice(OBJECTS))[: rng.randint(1, 2)] for _ in range(SHORT_SEARCHES)]


def _p99(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=100)[98]


async def _run_on(url: str, cards: list[tuple[str, str, str, CardContent]]) -> dict[str, float]:
    engine = create_engine(url)
    try:
        await migrate.upgrade(engine)
        sessions = session_factory(engine)
        clock = lambda: datetime.now(UTC)  # noqa: E731
        directory = LegacyRepository(sessions, clock)
        numbers = [
            (
                None,
                NumberRecord(
                    f"0431{7000_0000 + i:08d}", code, name, district, "merge", "general", None, ""
                ),
            )
            for i, (code, name, district, _) in enumerate(cards)
        ]
        if not (await directory.import_records(numbers, actor="bench", reason="bench")).applied:
            raise RuntimeError("bench directory not written")
        store = UnitCards(sessions, clock)
        t0 = time.perf_counter()
        result = await store.import_cards(
            [(None, code, content) for code, _, _, content in cards], actor="bench"
        )
        imported = time.perf_counter() - t0
        if not result.applied:
            raise RuntimeError(f"bench cards not written: {result.errors[:3]}")
        if engine.dialect.name == "postgresql":
            # searched for months after one load: measured as autovacuum leaves the
            # tables (visibility map set, statistics taken), not in the minute after
            async with engine.connect() as conn:
                autocommit = await conn.execution_options(isolation_level="AUTOCOMMIT")
                await autocommit.execute(text("VACUUM ANALYZE unit_cards, unit_card_grams"))
        await store.search(parse_query("办事指南"), limit=PAGE + 1)  # the pool's connection
        timings: dict[str, list[float]] = {"long": [], "short": []}
        found = 0
        for kind, queries in (("long", _queries(cards)), ("short", _short())):
            for q in queries:
                t0 = time.perf_counter()
                hits = await store.search(parse_query(q), limit=PAGE + 1)
                timings[kind].append((time.perf_counter() - t0) * 1000)
                found += kind == "long" and bool(hits)
        if found < SEARCHES:  # every long query was cut from a card: it must find one
            raise RuntimeError(f"only {found} searches found anything")
        return {
            "import_10k_s": round(imported, 2),
            "search_p99_ms": round(_p99(timings["long"]), 2),
            "search_median_ms": round(statistics.median(timings["long"]), 2),
            "search_short_p99_ms": round(_p99(timings["short"]), 2),
        }
    finally:
        await engine.dispose()


async def _run() -> dict[str, float]:
    cards = province_cards()
    out: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for key, value in (await _run_on(f"sqlite+aiosqlite:///{tmp}/cards.db", cards)).items():
            out[f"unit_card_sqlite_{key}"] = value
    pg = await _postgres_url()
    if pg is not None:
        url, admin, name = pg
        try:
            for key, value in (await _run_on(url, cards)).items():
                out[f"unit_card_{key}"] = value
        finally:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await admin.close()
    return out


def bench_unit_cards() -> dict[str, float]:
    return asyncio.run(_run())

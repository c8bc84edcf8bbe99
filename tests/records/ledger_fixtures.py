"""Loads the real ledger (tests/fixtures/ledger/, as Asterisk 22.10.1 wrote it) and the
records the service had written by then into a migrated database."""

from __future__ import annotations

import csv
import json
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from callcenter.records.ledger import CDR, CEL, QUEUE_LOG
from callcenter.records.models import CallRecord
from callcenter.records.store import DialedUnit

LEDGER = Path(__file__).resolve().parent.parent / "fixtures" / "ledger"
#: the legacy routes of the numbers dialed in that run (as the records show them)
ROUTES = {
    "043266453987": DialedUnit("U001", "市本级", "merge"),
    "043263110058": DialedUnit("U003", "市本级", "dock"),
    "12333": DialedUnit("U001", "市本级", "retain"),
}
NODE = "pbx1"


def route(dialed: str) -> DialedUnit | None:
    return ROUTES.get(dialed)


def rows(name: str) -> list[dict[str, str]]:
    with (LEDGER / name).open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _typed(row: dict[str, str], times: set[str], ints: set[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in row.items():
        if key in times:
            out[key] = datetime.fromisoformat(value) if value else None
        elif key in ints:
            out[key] = int(value) if value else None
        else:
            out[key] = value
    return out


def ledger_rows() -> dict[str, list[dict[str, Any]]]:
    return {
        "cdr": [
            _typed(r, {"start", "answer", "end"}, {"duration", "billsec", "sequence"})
            for r in rows("cdr.csv")
        ],
        "cel": [_typed(r, {"eventtime"}, {"id", "amaflags"}) for r in rows("cel.csv")],
        "queue_log": [_typed(r, {"time"}, {"id"}) for r in rows("queue_log.csv")],
    }


JSON_COLUMNS = {"prompts", "queues", "rings", "transfers", "timeline"}
BOOL_COLUMNS = {"confidential", "fallback"}


def record_rows() -> list[dict[str, Any]]:
    out = []
    for row in rows("product_call_records_before.csv"):
        record: dict[str, Any] = dict(row)
        for key in JSON_COLUMNS:
            record[key] = json.loads(row[key])
        for key in BOOL_COLUMNS:
            record[key] = row[key] == "t"
        record["started_at"] = datetime.fromisoformat(row["started_at"])
        record["ended_at"] = datetime.fromisoformat(row["ended_at"])
        record["start_epoch"] = int(row["start_epoch"])
        record["wait_s"] = float(row["wait_s"]) if row["wait_s"] else None
        record["talk_s"] = float(row["talk_s"])
        record["wrapup_s"] = float(row["wrapup_s"])
        record["rating"] = int(row["rating"]) if row["rating"] else None
        out.append(record)
    return out


async def load(engine: AsyncEngine, records: bool = True) -> None:
    """The ledger (and, with `records`, the service's records) into a migrated database."""
    data = ledger_rows()
    async with engine.begin() as conn:
        await conn.execute(insert(CDR), data["cdr"])
        await conn.execute(insert(CEL), data["cel"])
        await conn.execute(insert(QUEUE_LOG), data["queue_log"])
        if records:
            await conn.execute(insert(CallRecord.__table__), record_rows())

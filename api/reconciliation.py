"""`GET /api/v1/records/reconciliation`: the runs of the reconciler that keeps the call
records in step with Asterisk's own ledger (callcenter/records/reconcile.py), newest
first, paged like every list (api/pagination.py). Admin and supervisors: a failed run
or unexplained records are the floor's concern as much as operations'."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field

from api.auth import require_roles
from api.city import City, OptionalStamp, Stamp, written
from api.pagination import Page, Paging
from api.services import call_records
from callcenter.records.reconcile import newest_runs
from callcenter.records.store import RecordStore
from callcenter.tokens import Principal, Role

router = APIRouter(prefix="/api/v1", tags=["records"])


class ReconciliationRunOut(BaseModel):
    id: int
    node: str
    started_at: Stamp
    finished_at: OptionalStamp = Field(description="null: still running, or interrupted")
    window_from: Stamp
    window_to: Stamp
    ledger_calls: int = Field(description="finished inbound calls in the ledger's window")
    records: int = Field(description="of those, calls that had a record")
    rebuilt: int = Field(description="records rebuilt from the ledger (would be, in a dry run)")
    corrected: int = Field(description="records with at least one field corrected")
    unexplained: int = Field(description="records of the window the ledger does not know")
    in_progress: int = Field(description="calls not ended yet, left to the live records")
    dry_run: bool
    error: str = Field(description="empty unless the run failed")

    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "id": 12,
                    "node": "pbx1",
                    "started_at": "2026-12-02T08:05:00+08:00",
                    "finished_at": "2026-12-02T08:05:01+08:00",
                    "window_from": "2026-12-02T07:50:00+08:00",
                    "window_to": "2026-12-02T08:05:00+08:00",
                    "ledger_calls": 17,
                    "records": 16,
                    "rebuilt": 1,
                    "corrected": 4,
                    "unexplained": 0,
                    "in_progress": 0,
                    "dry_run": False,
                    "error": "",
                }
            ]
        },
    )


@router.get(
    "/records/reconciliation",
    response_model=Page[ReconciliationRunOut],
    summary="Reconciliations of the records with Asterisk's ledger, newest first",
)
async def list_reconciliations(
    _: Annotated[Principal, Depends(require_roles(Role.SUPERVISOR))],
    page: Paging,
    records: Annotated[RecordStore, Depends(call_records)],
    city: City,
) -> Page[ReconciliationRunOut]:
    after = page.after(int)
    runs = await newest_runs(records.sessions, int(after[0]) if after else None, page.fetch)
    return page.of(
        runs, key=lambda r: (r.id,), item=lambda r: written(ReconciliationRunOut, r, city)
    )

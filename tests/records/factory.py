"""Hand-built finished calls for store, KPI and API tests."""

from __future__ import annotations

from typing import Any

from callcenter.records.builder import FinishedCall

DAY0 = 1_795_104_000.0  # 2026-11-19 00:00 +08:00 (a city day starts at local midnight)


def call(linkedid: str, **kw: Any) -> FinishedCall:
    started = kw.pop("started_at", DAY0 + 9 * 3600)
    fields: dict[str, Any] = dict(
        node="pbx1",
        linkedid=linkedid,
        started_at=started,
        ended_at=started + 120,
        caller="13900001111",
        dialed="12345",
        unit="",
        confidential=False,
        ivr_keys="",
        prompts=[],
        queues=["hotline-general"],
        queue_exit="answered",
        wait_s=5.0,
        rings=[],
        agent="PJSIP/1001",
        seat="s1001",
        talk_s=100.0,
        wrapup_s=10.0,
        transfers=[],
        hangup_by="agent",
        disposition="answered",
        fallback=False,
        recording="",
        timeline=[[0.0, "start", "12345"]],
    )
    fields.update(kw)
    return FinishedCall(**fields)

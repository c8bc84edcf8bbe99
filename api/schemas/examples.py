"""Examples for response types defined outside api/ (plain dataclasses of the live
model and the seats package, which stay free of API concerns). api/openapi.py puts them
into the OpenAPI document under the type's schema name; tests/api/test_openapi_contract.py
validates every example against its schema, so a field added to a dataclass and not
here fails a test instead of leaving a stale example.
"""

from __future__ import annotations

from typing import Any

_WAITING = {
    "position": 1,
    "uniqueid": "1764141243.2207",
    "linkedid": "1764141243.2207",
    "channel": "PJSIP/trunk-telecom-0000a1f3",
    "caller": "13958001234",
    "waited_s": 37.4,
    "priority": 0,
}
_QUEUE_VIEW = {
    "node": "pbx1",
    "name": "hotline-housing",
    "stale": False,
    "strategy": "rrmemory",
    "waiting": 1,
    "longest_wait_s": 37.4,
    "callers": [_WAITING],
    "members": 12,
    "available": 2,
    "ringing": 1,
    "on_call": 7,
    "wrap_up": 1,
    "paused": 1,
    "unavailable": 0,
    "completed": 351,
    "abandoned": 21,
    "service_level_s": 15,
    "service_level_perf": 84.6,
}
_SEAT_QUEUE = {
    "queue": "hotline-housing",
    "penalty": 0,
    "paused": True,
    "paused_reason": "meal",
    "calls_taken": 23,
}
_HELD = {"task_id": 318, "caller": "13958001234", "waited_s": 95.0, "priority": 0}
_TODAY = {"offered": 380, "answered": 351, "abandoned": 21, "sl15": 0.7816, "answer_rate": 0.9237}

EXAMPLES: dict[str, dict[str, Any]] = {
    "WaitingCaller": _WAITING,
    "QueueView": _QUEUE_VIEW,
    "SeatQueue": _SEAT_QUEUE,
    "HeldCallback": _HELD,
    "QueueToday": _TODAY,
    "QueueLive": {
        "name": "housing",
        "asterisk": "hotline-housing",
        "strategy": "rrmemory",
        "wrapup_s": 15,
        "ring_timeout_s": 20,
        "overflow_after_s": 120.0,
        "live": _QUEUE_VIEW,
        "seats": {
            "available": 2,
            "ringing": 1,
            "on_call": 7,
            "wrap_up": 1,
            "paused": 1,
            "unavailable": 0,
        },
        "held_callbacks": [_HELD],
        "today": _TODAY,
    },
    "SeatStatus": {
        "id": "1001",
        "extension": "1001",
        "skills": {"general": 3, "housing": 5},
        "logged_in": True,
        "pause_reason_db": "meal",
        "state": "paused",
        "state_reason": "meal",
        "state_since": 1764141243.2,
        "node": "pbx1",
        "interface": "PJSIP/1001",
        "name": "1001 王芳",
        "status": 1,
        "status_text": "not in use",
        "paused": True,
        "paused_reason": "meal",
        "in_call": False,
        "calls_taken": 23,
        "last_call": 1764140911,
        "state_interface": "PJSIP/1001",
        "stale": False,
        "queues": [_SEAT_QUEUE],
    },
    "SeatStats": {
        "seat_id": "1001",
        "login_s": 25200.0,
        "pause_s": {"meal": 1800.0, "break": 600.0},
        "calls": 61,
        "talk_s": 14523.5,
    },
}

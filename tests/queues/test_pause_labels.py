"""Pause reasons have words on screens for every code the settings offer by default and
for app_queue's own, and the stream's snapshot hands exactly that table to the page."""

from __future__ import annotations

import json

from api.live_table import LiveTable
from callcenter.clock import SHANGHAI
from callcenter.config import Settings
from callcenter.legacy.queues import Display
from callcenter.live.live_state import LiveState
from queues.pause_labels import PAUSE_LABELS, pause_label
from queues.seat_state import AUTO_PAUSE


def test_every_default_reason_and_auto_pause_has_words_in_both_languages() -> None:
    codes = [*Settings.model_fields["seat_pause_reasons"].get_default(call_default_factory=True)]
    for code in [*codes, AUTO_PAUSE]:
        label = PAUSE_LABELS[code]
        assert label.zh and label.en and label.zh != code, code
        assert any("\u4e00" <= ch <= "\u9fff" for ch in label.zh), label


def test_a_code_without_words_is_shown_as_it_is() -> None:
    assert pause_label("smoke") == Display("smoke", "smoke")
    assert pause_label("meal") == Display("用餐", "Meal")


def test_the_snapshot_carries_the_labels() -> None:
    live = LiveState(lambda: 1_800_000_000.0)
    table = LiveTable(
        live, None, queues_every_s=1.0, full_every_s=60.0, monotonic=lambda: 0.0, city=SHANGHAI
    )
    table.update([], full=True)
    message = json.loads(table.snapshot_json(3, "e"))
    assert message["type"] == "snapshot" and message["seq"] == 3
    labels = message["labels"]["pause_reasons"]
    assert labels == {c: {"zh": d.zh, "en": d.en} for c, d in PAUSE_LABELS.items()}
    assert labels[AUTO_PAUSE] == {"zh": "未接听", "en": "No answer"}

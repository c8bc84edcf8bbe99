"""What a pause reason is called on a screen, by language: the one table of them.

A seat's pause reason travels as its code everywhere (the API, app_queue's `Reason`, the
records, `CALLCENTER_SEAT_PAUSE_REASONS`): codes are what scripts and reports match on.
Only screens translate, and they take the words from here (the live stream hands this
table to the wallboard with every snapshot), so no page keeps its own copy. A code
without a label (an operator's own reason added to the settings, one typed on the PBX)
is shown as it is, in every language.
"""

from __future__ import annotations

from callcenter.legacy.queues import Display
from queues.seat_state import AUTO_PAUSE

#: pause reason code -> its words on screens (the settings' default codes and Asterisk's)
PAUSE_LABELS: dict[str, Display] = {
    "break": Display("小休", "Break"),
    "meal": Display("用餐", "Meal"),
    "training": Display("培训", "Training"),
    "meeting": Display("会议", "Meeting"),
    "after-call-work": Display("话后整理", "After-call work"),
    AUTO_PAUSE: Display("未接听", "No answer"),
}


def pause_label(code: str) -> Display:
    """The words for `code`; an unknown code is its own label in every language."""
    return PAUSE_LABELS.get(code, Display(code, code))

"""Why a caller has its priority: the rules' reasons, one definition for the IVR's
decision and for the agent's screen pop, which explains a call in progress without a
query of its own and without counting the call itself as the caller's earlier one."""

from __future__ import annotations

from datetime import UTC, datetime

from callcenter.live.live_state import LiveState
from callcenter.live.node_state import Call
from callcenter.records.history import PastCall
from queues.priority import CallerPriority, PriorityRules, reason_words, rule_decision

RULES = PriorityRules(
    repeat_within_s=3600, repeat_priority=2, numbers={"13900000009": 5}, units={"WATER": 7}
)
NOW = 1_795_140_000.0
CALLER = "13900000001"


class NoHistory:
    async def last_queued(self, caller: str, since_epoch: float) -> float | None:
        raise AssertionError("explaining a pop asks the records nothing")


def past(minutes_ago: float, queued: bool = True, callback: bool = False) -> PastCall:
    return PastCall(
        call=f"pbx1:{minutes_ago}",
        started_at=datetime.fromtimestamp(NOW - minutes_ago * 60, UTC),
        disposition="abandoned",
        routed_unit="",
        queued=queued,
        callback=callback,
    )


def test_rule_decision_takes_the_highest_rule_and_names_every_one() -> None:
    decision = rule_decision(RULES, "13900000009", "WATER", repeat=True)
    assert decision.priority == 7
    assert decision.reasons == ("repeat caller", "priority list", "unit WATER urgent")
    assert rule_decision(RULES, CALLER, "", repeat=False).reasons == ()
    assert reason_words("repeat caller") == {"zh": "重复来电", "en": "repeat caller"}
    assert reason_words("unit WATER urgent")["zh"] == "单位 WATER 紧急"
    assert reason_words("something new") == {"zh": "something new", "en": "something new"}


def test_explain_reads_the_repeat_rule_off_the_history_and_the_live_model() -> None:
    live = LiveState(lambda: NOW)
    state = live.node_state("pbx1")
    state.calls["now.1"] = Call("now.1", NOW - 30, caller_id_num=CALLER, where="talking")
    rules = CallerPriority(RULES, NoHistory(), live)
    # the call being explained is not its own earlier call
    assert rules.explain(CALLER, "", "now.1", [], NOW).reasons == ()
    # an earlier queued call in the window makes a repeat caller...
    assert rules.explain(CALLER, "", "now.1", [past(30)], NOW).reasons == ("repeat caller",)
    # ... one outside it, one that never reached a queue or a callback does not
    for earlier in (past(90), past(10, queued=False), past(10, callback=True)):
        assert rules.explain(CALLER, "", "now.1", [earlier], NOW).reasons == ()
    # another call of the caller on the PBX now does
    state.calls["now.2"] = Call("now.2", NOW - 5, caller_id_num=CALLER, where="queue")
    assert rules.explain(CALLER, "", "now.1", [], NOW).reasons == ("repeat caller",)
    # a withheld number is nobody's repeat
    assert rules.explain("anonymous", "", "now.3", [past(1)], NOW).reasons == ()


def test_a_hand_over_from_110_outranks_every_rule_and_says_so() -> None:
    decision = rule_decision(RULES, "13900000009", "WATER", repeat=True, source="110")
    assert decision.priority == RULES.from_110 == 10
    assert decision.reasons[0] == "from 110" and len(decision.reasons) == 4
    assert reason_words("from 110") == {"zh": "110 转来", "en": "from 110"}
    assert rule_decision(RULES, CALLER, "", repeat=False, source="direct").reasons == ()
    # the screen pop explains the call in progress with the source the live model kept
    live = LiveState(lambda: NOW)
    rules = CallerPriority(RULES, NoHistory(), live)
    assert rules.explain(CALLER, "", "now.1", [], NOW, source="110").reasons == ("from 110",)
    lower = PriorityRules(from_110=1, units={"WATER": 7})
    assert rule_decision(lower, CALLER, "WATER", repeat=False, source="110").priority == 7

"""A 110 hand-over's record built twice, from pbxsim's AMI events (the live builder)
and from the ledger pbxsim writes as Asterisk does (the reconciler's rebuild): both
say `call_source = 110`, an ordinary call `direct` on both. 110's reference is the
live record's only: the ledger does not carry channel variables."""

from __future__ import annotations

from datetime import UTC, datetime

from callcenter.asterisk_conf import DEMO_FROM_110
from callcenter.from110 import From110
from callcenter.records.ledger_calls import LedgerCall
from callcenter.records.reconcile import rebuild
from tests.agi.pbx import Call
from tests.agi.test_from_110 import FROM_110, REF
from tests.records.test_queue_keys_records import Floor, ivr  # noqa: F401  (fixture)


async def test_builder_and_ledger_agree_on_the_source(ivr) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    server, _ = ivr
    floor = Floor(server.port)
    handed = await floor.sim.place(Call(FROM_110, {}), "13900000001", headers=(REF,))
    direct = await floor.sim.place(Call("12345", {}), "13900000002", headers=(REF,))
    floor.sim.hang_up_all()
    for placed, source, ref in ((handed, "110", REF[1]), (direct, "direct", "")):
        assert placed.channel is not None
        linkedid = placed.channel.uniqueid
        record = await floor.record(linkedid)
        assert (record.call_source, record.call_source_ref) == (source, ref)
        ledger = floor.ledger(linkedid)
        assert ledger.endpoint == "trunk"
        rebuilt = rebuild("pbx1", ledger, DEMO_FROM_110)
        assert (rebuilt.call_source, rebuilt.call_source_ref) == (source, "")
        assert rebuild("pbx1", ledger).call_source == "direct"  # no rule given: none is 110's


def test_a_ledger_calls_endpoint_and_the_trunk_rule() -> None:
    def ledger_call(channel: str) -> LedgerCall:
        at = datetime(2026, 12, 6, tzinfo=UTC)
        return LedgerCall("1.1", at, at, True, channel, "139", "12345")

    police = ledger_call("PJSIP/police-110-0000002a")
    assert police.endpoint == "police-110"
    assert ledger_call("Local/1001@agents-00000001;1").endpoint == ""
    rule = From110(trunks=("police-110",))
    assert rebuild("pbx1", police, rule).call_source == "110"
    assert rebuild("pbx1", ledger_call("PJSIP/trunk-00000003"), rule).call_source == "direct"

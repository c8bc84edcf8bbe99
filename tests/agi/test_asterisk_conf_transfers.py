"""The configuration transfers and three-party calls need, as rendered: the whitelist
context with one explicit extension per target (AMI Atxfer keys the target in as
digits), the conference context, features.conf's atxfer code, confbridge.conf,
indications.conf -- each of which the transcript found Asterisk failing without
(asterisk-transcripts/asterisk-22.10.1/transfers/README.md)."""

from __future__ import annotations

from pathlib import Path

import pytest
from asterisk.config import Config

from callcenter.asterisk_conf import ConfInputs, render, transfer_targets
from callcenter.transfers.targets import transfer_whitelist
from pbxsim.dialplan import load_dialplan
from pbxsim.telephony.confbridge import UserProfile, load_user_profiles
from pbxsim.telephony.transfers import collected_digits, load_featuremap

UNITS = [
    ("057187001234", "057188880001", "HOUSING 住建局"),
    ("057187005678", "057188880002", "WATER 水务集团"),
    ("057187009999", None, "MERGED 已并入"),
]


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("xfer-conf")
    inputs = ConfInputs(
        agi_url="agi://127.0.0.1:4573",
        default_queue="hotline-general",
        queues=("hotline-general",),
        transfer_targets=transfer_targets(UNITS, None),
        seats=(),
        trunk_host="127.0.0.2",
        ami_user="callcenter",
        ami_secret="s3cret",
    )
    for name, text in render(inputs).items():
        (out / name).write_text(text, encoding="utf-8")
    return out


def sections(path: Path) -> dict[str, dict[str, str]]:
    return {
        c.name: {i.name: i.value.strip() for i in c.items} for c in Config(str(path)).categories
    }


def test_features_conf_maps_the_atxfer_code(rendered: Path) -> None:
    assert load_featuremap(rendered / "features.conf")["atxfer"] == "*2"
    assert "featuremap" in sections(rendered / "features.conf")


def test_confbridge_and_indications_parse(rendered: Path) -> None:
    confbridge = sections(rendered / "confbridge.conf")
    assert confbridge["default_bridge"]["type"] == "bridge"
    assert confbridge["default_user"]["type"] == "user"
    indications = sections(rendered / "indications.conf")
    assert indications["general"]["country"] == "cn"
    assert indications["cn"]["dial"] == "450"


def test_every_target_is_an_explicit_extension_the_digit_collector_reaches(
    rendered: Path,
) -> None:
    plan = load_dialplan(rendered / "extensions.conf")
    assert plan.warnings == []
    whitelist = transfer_whitelist(UNITS)
    assert set(whitelist) == {"110", "119", "120", "122", "057188880001", "057188880002"}
    for number in whitelist:
        assert plan.exists("hotline-transfer-targets", number), number
        # Atxfer feeds the number as DTMF: collection must end on the whole number
        assert collected_digits(plan, "hotline-transfer-targets", number) == number
    assert not plan.exists("hotline-transfer-targets", "057187009999")  # not a target
    assert not plan.exists("hotline-transfer-targets", "12345")


def test_conference_context_puts_a_call_room_in_confbridge(rendered: Path) -> None:
    plan = load_dialplan(rendered / "extensions.conf")
    steps = plan.find("hotline-conference", "1796170379.8")
    assert [p.app for p in steps] == ["Answer", "Set", "ConfBridge", "Hangup"]
    assert steps[2].data == "${EXTEN},,${CONFBRIDGE_USER}"
    target = plan.find("hotline-conference-target", "1796170379.8")
    assert [(p.app, p.data) for p in target] == [
        ("Goto", "hotline-transfer-targets,${HOTLINE_TRANSFER_TO},1")
    ]


def test_the_caller_is_the_marked_user_of_the_room(rendered: Path) -> None:
    profiles = load_user_profiles(rendered / "confbridge.conf")
    assert profiles["hotline-caller"] == UserProfile(marked=True, end_marked=False)
    assert profiles["hotline-party"] == UserProfile(marked=False, end_marked=True)


def test_the_whitelist_is_one_definition() -> None:
    whitelist = transfer_whitelist(UNITS, ["057199990000", "not-a-number"])
    assert whitelist["110"].kind == "emergency" and whitelist["110"].name == "police"
    assert whitelist["057188880001"].kind == "unit"
    assert whitelist["057188880001"].name == "HOUSING 住建局"
    assert "not-a-number" not in whitelist
    rendered_labels = transfer_targets(UNITS, None)
    assert set(rendered_labels) == set(transfer_whitelist(UNITS))

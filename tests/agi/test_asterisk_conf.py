"""`callcenter asterisk-conf render`: from a database holding the city's legacy directory
to files that parse (pyst2's asterisk.config, pbxsim's dialplan loader) and reference
only contexts, queues and seats that exist."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest
from asterisk.config import Config
from typer.testing import CliRunner

from agi.ivr.catalog import load_catalog
from agi.ivr.model import load_flow_file
from callcenter.asterisk_conf import seat_password
from callcenter.legacy.queues import QueueCatalog
from callcenter.process.cli import app
from pbxsim.dialplan import load_dialplan
from tests.conftest import LEGACY_CSV

SECRET, SIP = "ami-test-secret", "sip-test-secret"


def sections(path: Path) -> dict[str, list[dict[str, str]]]:
    """Section name → its bodies (pjsip.conf repeats names with different types)."""
    out: dict[str, list[dict[str, str]]] = {}
    for cat in Config(str(path)).categories:
        body: dict[str, str] = {}
        for item in cat.items:
            body.setdefault(item.name, item.value.strip())
        out.setdefault(cat.name, []).append(body)
    return out


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("conf")
    env = {
        "CALLCENTER_DATABASE_URL": f"sqlite+aiosqlite:///{tmp / 'cc.db'}",
        "CALLCENTER_AMI_NODES": f'[{{"name": "pbx1", "secret": "{SECRET}"}}]',
        "CALLCENTER_SIP_SECRET": SIP,
    }
    runner = CliRunner()
    for args in (
        ["db", "upgrade"],
        ["legacy", "import", str(LEGACY_CSV)],
        ["seats", "provision", "--count", "60"],
        ["asterisk-conf", "render", "--out", str(tmp / "out")],
    ):
        result = runner.invoke(app, args, env=env)
        assert result.exit_code == 0, result.output
    return tmp / "out" / "pbx1"


def test_every_file_is_rendered_and_parses(rendered: Path) -> None:
    names = {"extensions", "queues", "manager", "pjsip", "cdr", "cdr_manager", "cel"}
    for name in names:
        assert sections(rendered / f"{name}.conf"), name


def test_every_queue_of_the_directory_and_flow_exists(rendered: Path) -> None:
    queues = set(sections(rendered / "queues.conf")) - {"general"}
    with LEGACY_CSV.open(encoding="utf-8") as f:
        directory = {"hotline-" + row["queue"] for row in csv.DictReader(f)}
    flow = load_flow_file(load_catalog(), queues=QueueCatalog.default())
    assert directory | flow.queues() <= queues
    for name in queues:
        [body] = sections(rendered / "queues.conf")[name]
        assert (body["servicelevel"], body["ringinuse"]) == ("15", "no")
        assert int(body["wrapuptime"]) > 0
    text = (rendered / "extensions.conf").read_text()
    default = re.search(r"HOTLINE_DEFAULT_QUEUE = (\S+)", text)
    assert default is not None and default.group(1) in queues


def test_every_context_referenced_exists(rendered: Path) -> None:
    text = (rendered / "extensions.conf").read_text()
    contexts = set(sections(rendered / "extensions.conf"))
    referenced = set(re.findall(r"[?:(,]([a-z][a-z-]+),s,1\)?", text))
    referenced |= set(re.findall(r"include => (\S+)", text))
    for bodies in sections(rendered / "pjsip.conf").values():
        referenced |= {b["context"] for b in bodies if "context" in b}
    assert referenced, "no reference found: the patterns are wrong"
    assert referenced <= contexts, referenced - contexts
    assert {"from-trunk", "hotline-queue", "hotline-survey", "hotline-transfer"} <= referenced
    plan = load_dialplan(rendered / "extensions.conf")
    assert plan.warnings == []


def test_every_seat_has_endpoint_auth_and_aor(rendered: Path) -> None:
    pjsip = sections(rendered / "pjsip.conf")
    text = (rendered / "extensions.conf").read_text()
    dialled = re.findall(r"Dial\(PJSIP/(\d+),", text)
    assert len(dialled) == 60
    for ext in dialled:
        types = {b["type"]: b for b in pjsip[ext]}
        assert set(types) == {"endpoint", "auth", "aor"}
        assert types["endpoint"]["auth"] == ext and types["endpoint"]["aors"] == ext
        assert types["auth"]["password"] == seat_password(SIP, ext)
    trunk = {b["type"] for b in pjsip["trunk"]}
    assert trunk == {"endpoint", "aor", "identify"}


def test_transfer_targets_cover_emergency_and_dock_lines(rendered: Path) -> None:
    text = (rendered / "extensions.conf").read_text()
    targets = set(re.findall(r"^exten => (\d+),1,Dial\(PJSIP/\$\{EXTEN\}@trunk", text, re.M))
    assert {"110", "119", "120", "122"} <= targets
    with LEGACY_CSV.open(encoding="utf-8") as f:
        lines = {r["transfer_to"] for r in csv.DictReader(f) if r["mode"] == "dock"}
    assert lines and lines <= targets


def test_manager_conf_least_privilege_and_secret_from_environment(rendered: Path) -> None:
    [general] = sections(rendered / "manager.conf")["general"]
    assert general["bindaddr"] == "127.0.0.1"
    assert general["timestampevents"] == "yes"  # the service's AMI event-lag metric
    [user] = sections(rendered / "manager.conf")["callcenter"]
    assert user["secret"] == SECRET
    assert "command" not in user["write"].split(",")
    assert "agi" in user["read"].split(",")  # AGIExecStart: the prompts a call heard
    assert "config" not in user["write"].split(",")
    assert (rendered / "manager.conf").stat().st_mode & 0o007 == 0


def test_render_refuses_without_secrets(tmp_path: Path) -> None:
    env = {"CALLCENTER_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'cc.db'}"}
    runner = CliRunner()
    for args in (["db", "upgrade"], ["seats", "provision", "--count", "2"]):
        assert runner.invoke(app, args, env=env).exit_code == 0
    result = runner.invoke(app, ["asterisk-conf", "render", "--out", str(tmp_path / "o")], env=env)
    assert result.exit_code == 2
    assert "CALLCENTER_SIP_SECRET" in result.output and "no secret" in result.output
    assert not (tmp_path / "o").exists()


def test_committed_default_dialplan_is_the_rendered_one() -> None:
    """asterisk-conf/extensions.conf (read by the bundled simulator, and by the
    end-to-end IVR tests) must not drift from the template."""
    from callcenter.asterisk_conf import default_extensions
    from tests.agi.pbx import CONF

    assert (CONF / "extensions.conf").read_text(encoding="utf-8") == default_extensions()


def test_every_queue_announces_the_flows_notice_and_offer_and_takes_its_keys(
    rendered: Path,
) -> None:
    """The queue's periodic announcements are the flow's emergency notice and callback
    offer (prompts of the catalog, rendered), the first a few seconds after joining; its
    context holds exactly the flow's emergency and callback keys."""
    flow = load_flow_file(load_catalog(), queues=QueueCatalog.default())
    assert flow.callback is not None
    announced = f"hotline/{flow.emergency.notice},hotline/{flow.callback.offer}"
    queues = sections(rendered / "queues.conf")
    for name, [body] in queues.items():
        if name == "general":
            continue
        assert body["periodic-announce"] == announced, name
        assert 0 < int(body["periodic-announce-startdelay"]) <= 5, name
        assert int(body["periodic-announce-frequency"]) > 0, name
        assert body["context"] == "hotline-queue-keys", name
    plan = load_dialplan(rendered / "extensions.conf")
    keys = {k for k in "0123456789*#" if plan.exists("hotline-queue-keys", k, 1)}
    assert keys == {flow.emergency.key, flow.callback.key}
    # a key's extension asks the queue-key route and goes back to the queue's `rejoin`
    text = (rendered / "extensions.conf").read_text()
    assert "/queue-key,${EXTEN}" in text and "Goto(hotline-queue,s,rejoin)" in text
    assert plan.find_label("hotline-queue", "s", "rejoin") is not None


def test_the_committed_queues_conf_announces_and_takes_keys_as_the_template() -> None:
    """asterisk-conf/queues.conf (the simulator's default) says what queue.in says."""
    from tests.agi.pbx import CONF

    template = (CONF / "templates" / "queue.in").read_text(encoding="utf-8")
    committed = (CONF / "queues.conf").read_text(encoding="utf-8")
    for key in ("periodic-announce", "periodic-announce-startdelay", "context"):
        line = re.search(rf"^{key} = .*$", template, re.M)
        assert line is not None and line.group(0) in committed.splitlines(), key

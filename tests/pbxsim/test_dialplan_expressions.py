"""`${}` substitution, `$[]` expressions and dialplan functions, with the transcript's
AppData texts as the reference where they exist."""

from __future__ import annotations

from pathlib import Path

import pytest

from pbxsim.channel import Channel
from pbxsim.dialplan import (
    FunctionError,
    Scope,
    assign,
    evaluate,
    load_dialplan,
    split_args,
    substitute,
)


class FakeDB:
    def __init__(self) -> None:
        self.data: dict[tuple[str, str], str] = {}

    def get(self, family: str, key: str) -> str | None:
        return self.data.get((family, key))

    def put(self, family: str, key: str, value: str) -> None:
        self.data[(family, key)] = value

    def delete(self, family: str, key: str) -> bool:
        return self.data.pop((family, key), None) is not None


def make_scope() -> tuple[Channel, Scope, list[tuple[str, str]], FakeDB]:
    ch = Channel(
        "Local/press1@sim-caller-00000000;1",
        "1795691893.0",
        "1795691893.0",
        "from-trunk",
        "043262345678",
        caller_num="13900001111",
        caller_name="Caller",
    )
    sets: list[tuple[str, str]] = []
    db = FakeDB()
    scope = Scope.for_channel(
        ch,
        globals={"G": "global"},
        now=lambda: 1795691893.9,
        db=db,
        on_set=lambda n, v: sets.append((n, v)),
    )
    return ch, scope, sets, db


def _appdata(ami_log: str) -> list[str]:
    return [
        line[len("AppData: ") :] for line in ami_log.splitlines() if line.startswith("AppData: ")
    ]


def test_transcript_appdata(transcripts_dir: Path) -> None:
    """The substituted AppData of from-trunk, as ami.log shows it for the first call."""
    plan = load_dialplan(transcripts_dir / "config" / "extensions.conf")
    ch, scope, _, _ = make_scope()
    prios = plan.find("from-trunk", ch.exten)
    seen = set(_appdata((transcripts_dir / "ami.log").read_text()))
    assert substitute(prios[0].data, scope) in seen
    assert substitute(prios[0].data, scope) == "inbound 043262345678 from 13900001111"
    ch.variables.update(
        AGISTATUS="SUCCESS", HOTLINE_ACTION="queue", HOTLINE_QUEUE="hotline-general"
    )
    texts = [substitute(p.data, scope) for p in prios[2:6]]
    assert texts == [
        "agi://127.0.0.1:4573/incoming,arg one,arg2",
        "AGISTATUS=SUCCESS ACTION=queue QUEUE=hotline-general",
        "0?fallback",
        "hotline-general,tc,,,60",
    ]
    assert all(t in seen for t in texts)
    ch.variables["AGISTATUS"] = "FAILURE"
    assert substitute(prios[4].data, scope) == "1?fallback"


def test_direct_queue_defaults(transcripts_dir: Path) -> None:
    plan = load_dialplan(transcripts_dir / "config" / "extensions.conf")
    ch, scope, _, _ = make_scope()
    prios = plan.find("direct-queue", "100")
    assert substitute(prios[1].data, scope) == "QUEUE_PRIO=0"
    ch.variables.update(PRIO="10", QNAME="hotline-general", QOPTS="tc", QTIMEOUT="5")
    assert substitute(prios[1].data, scope) == "QUEUE_PRIO=10"
    assert substitute(prios[2].data, scope) == "hotline-general,tc,,,5"
    del ch.variables["QOPTS"], ch.variables["QTIMEOUT"]
    assert substitute(prios[2].data, scope) == "hotline-general,t,,,60"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("${EXTEN:1}", "43262345678"),
        ("${EXTEN:-4}", "5678"),
        ("${EXTEN:2:3}", "326"),
        ("${EXTEN:0:-2}", "0432623456"),
        ("${EXTEN:-4:2}", "56"),
        ("${EXTEN:20}", ""),
        ("${CALLERID(num):0:3}", "139"),
        ("${UNSET}x", "x"),
        ("${G}", "global"),
        ("${EPOCH}", "1795691893"),
        (
            "${CHANNEL}|${UNIQUEID}|${CONTEXT}",
            "Local/press1@sim-caller-00000000;1|1795691893.0|from-trunk",
        ),
        ("${CALLERID(all)}", '"Caller" <13900001111>'),
        ("${CALLERID(name)}", "Caller"),
        ("${CHANNEL(language)}", "en"),
        ("${LEN(${EXTEN})}", "12"),
        ("${FILTER(0-9,+86 139-0000)}", "861390000"),
        ("${ISNULL(${UNSET})}${EXISTS(${EXTEN})}", "11"),
        ("${NOSUCHFUNC(x)}", ""),
        ("cost $5", "cost $5"),
        ("$[1+1]$[${LEN(abc)} * 2]", "26"),
        ("${IF($[${LEN(${EXTEN})} > 11]?long:short)}", "long"),
        ("${IF(0?yes)}", ""),
        ("${IF(1?:no)}", ""),
    ],
)
def test_substitution(text: str, expected: str) -> None:
    _, scope, _, _ = make_scope()
    assert substitute(text, scope) == expected


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ('"SUCCESS" != "SUCCESS"', "0"),
        ('"SUCCESS"="SUCCESS" & "1"="1"', "1"),
        ('"" != ""', "0"),
        ('"abc"', '"abc"'),  # quotes are part of the token
        ("3/2", "1.5"),
        ("1/3", "0.333333333333333333"),
        ("0.1 + 0.2", "0.3"),
        ("7 % 3", "1"),
        ("-7 % 3", "-1"),
        ("1 + 2 * 3", "7"),
        ("(1 + 2) * 3", "9"),
        ("10 > 9", "1"),
        ('"10" > "9"', "0"),  # quoted: string comparison
        ("abc < abd", "1"),
        ("1 ? yes :: no", "yes"),
        ("0 ? yes :: no", "no"),
        ('"" ? yes :: no', "no"),
        ("0 | fallback", "fallback"),
        ("first | second", "first"),
        ("x & 0", "0"),
        ("!0", "1"),
        ("!5", "0"),
        ("1/0", "2147483647"),
        ("abc + 1", "1"),
        ('043262345678 : "0432(.*)"', "62345678"),
        ("043262345678 : 0432", "4"),
        ("abc : b", "0"),  # ':' is anchored
        ("abc =~ b", "1"),  # '=~' is not
        ('"a" ~~ "b"', "ab"),
        ("SQRT(16) + POW(2, 3)", "12"),
        ("1 +", "0"),  # syntax error
        ("", ""),
        ("1e5", "1e5"),  # not a number token: a string
    ],
)
def test_expressions(expr: str, expected: str) -> None:
    assert evaluate(expr) == expected


def test_db_function_and_assign() -> None:
    ch, scope, sets, db = make_scope()
    db.put("didlang", "043262345678", "zh")
    text = '${IF($["${DB(didlang/${EXTEN})}"!=""]?${DB(didlang/${EXTEN})}:en)}'
    assert substitute(text, scope) == "zh"
    assert sets == [("DB_RESULT", "zh"), ("DB_RESULT", "zh")]
    assign(scope, "CHANNEL(language)", substitute(text, scope))
    assert ch.language == "zh"
    assign(scope, "DB(did/043262345678)", "hotline-general")
    assert db.get("did", "043262345678") == "hotline-general"
    assign(scope, "__DID", "043262345678")
    assert substitute("${DID}", scope) == "043262345678"
    assign(scope, "CALLERID(all)", '"New" <555>')
    assert (ch.caller_name, ch.caller_num) == ("New", "555")
    with pytest.raises(FunctionError):
        assign(scope, "LEN(x)", "1")
    assert substitute("${DB(nofamily)}", scope) == ""


@pytest.mark.parametrize(
    ("data", "max_args", "expected"),
    [
        ("hotline-general,tc,,,60", None, ["hotline-general", "tc", "", "", "60"]),
        ("", None, []),
        ("a,", None, ["a", ""]),
        ('"a,b",c', None, ["a,b", "c"]),
        ("a\\,b,c", None, ["a,b", "c"]),
        ("f(x,y),z", None, ["f(x,y)", "z"]),
        ("[1,2],3", None, ["[1,2]", "3"]),
        ("a,b,c,d", 2, ["a", "b,c,d"]),
        (
            "agi://127.0.0.1:4573/incoming,arg one,arg2",
            None,
            ["agi://127.0.0.1:4573/incoming", "arg one", "arg2"],
        ),
    ],
)
def test_split_args(data: str, max_args: int | None, expected: list[str]) -> None:
    assert split_args(data, max_args=max_args) == expected


def test_pjsip_header_and_channel_endpoint_read_the_invite() -> None:
    """res_pjsip_header_funcs read_header: the Nth header of that name, any case, a
    trailing `*` a prefix, the value stripped; none, or no PJSIP channel: empty.
    chan_pjsip CHANNEL(endpoint): the endpoint the channel came in on."""
    ch = Channel("PJSIP/police-110-00000001", "1.1", "1.1", "from-trunk", "12345")
    ch.sip_headers = [("X-110-Ref", " A-1 "), ("x-110-ref", "A-2"), ("X-Other", "o")]
    scope = Scope.for_channel(ch)
    assert substitute("${PJSIP_HEADER(read,x-110-REF)}", scope) == "A-1"
    assert substitute("${PJSIP_HEADER(read,X-110-Ref,2)}", scope) == "A-2"
    assert substitute("${PJSIP_HEADER(read,X-110-Ref,3)}", scope) == ""
    assert substitute("${PJSIP_HEADER(read,X-O*)}", scope) == "o"
    assert substitute("${PJSIP_HEADER(read,X-None)}", scope) == ""
    assert substitute("${CHANNEL(endpoint)}", scope) == "police-110"
    local, _, _, _ = make_scope()
    local.sip_headers = [("X-110-Ref", "A-1")]
    local_scope = Scope.for_channel(local)
    assert substitute("${PJSIP_HEADER(read,X-110-Ref)}", local_scope) == ""
    assert substitute("${CHANNEL(endpoint)}", local_scope) == ""

"""Unit cards without a database: the rules of a card, folding, grams, queries, files."""

from __future__ import annotations

import json

import pytest

from callcenter.legacy import card_files
from callcenter.legacy.card_text import (
    END,
    QUERY_MAX,
    QueryError,
    card_fields,
    fold,
    grams,
    parse_query,
    search_text,
)
from callcenter.legacy.cards import (
    RESPONSIBILITIES_MAX,
    CardContent,
    CardRejected,
    KbLink,
    TransferNumber,
    card_content,
    url_problem,
    validate_card,
)

GOOD = {
    "responsibilities": "负责全市住房保障\n物业管理",
    "hours": " 工作日 8:30-17:00 ",
    "transfer_numbers": [{"number": "０４３２-6234 5678", "label": "值班室"}],
    "kb_links": [{"title": "公租房", "url": "https://kb.example.gov.cn/a?id=1"}],
}


def test_a_good_card_is_normalized() -> None:
    content = card_content(GOOD)
    assert content == CardContent(
        "负责全市住房保障\n物业管理",
        "工作日 8:30-17:00",
        (TransferNumber("043262345678", "值班室"),),
        (KbLink("公租房", "https://kb.example.gov.cn/a?id=1"),),
    )
    assert card_content({}) == CardContent()


def test_every_error_names_the_field_and_the_item() -> None:
    content, errors = validate_card(
        {
            "responsibilities": "x" * (RESPONSIBILITIES_MAX + 1),
            "hours": "8:30\n17:00",
            "transfer_numbers": [
                {"number": "12345", "label": "热线"},
                {"number": "110", "label": "报警"},
                {"number": "0432-ABC"},
                {"label": "没有号码"},
                {"number": "1 2345", "label": "重复"},
                "12333",
            ],
            "kb_links": [
                {"title": "内网", "url": "ftp://kb.example/a"},
                {"url": "https://kb.example/b"},
                {"title": "带密码", "url": "https://u:p@kb.example/c"},
                {"title": "空格", "url": "https://kb.example/a b"},
                {"title": "t", "url": "https://kb.example/" + "x" * 500},
                {"title": "t", "url": "javascript:alert(1)"},
            ],
            "colour": "red",
        }
    )
    assert content is None
    where = {e.column: e.reason for e in errors}
    assert sorted(where) == [
        "colour",
        "hours",
        "kb_links[0].url",
        "kb_links[1].title",
        "kb_links[2].url",
        "kb_links[3].url",
        "kb_links[4].url",
        "kb_links[5].url",
        "responsibilities",
        "transfer_numbers[1].number",
        "transfer_numbers[2].number",
        "transfer_numbers[3].number",
        "transfer_numbers[4].number",
        "transfer_numbers[5]",
    ]
    assert where["responsibilities"] == "4001 characters, at most 4000"
    assert "LF" in where["hours"]
    assert "emergency number" in where["transfer_numbers[1].number"]
    assert "letters" in where["transfer_numbers[2].number"]
    assert where["transfer_numbers[3].number"] == "missing"
    assert where["transfer_numbers[4].number"] == "12345 is already transfer_numbers[0].number"
    assert where["transfer_numbers[5]"] == "expected an object, got str"
    assert "only http:// and https://" in where["kb_links[0].url"]
    assert where["kb_links[1].title"] == "missing"
    assert "user name or password" in where["kb_links[2].url"]
    assert "spaces" in where["kb_links[3].url"]
    assert "at most 500" in where["kb_links[4].url"]
    with pytest.raises(CardRejected, match=r"transfer_numbers\[0\]: expected an object"):
        card_content({"transfer_numbers": [1]})


def test_limits_on_list_lengths_and_types() -> None:
    _, errors = validate_card({"transfer_numbers": [{"number": "12345"}] * 21, "hours": 9})
    assert [(e.column, e.reason) for e in errors] == [
        ("hours", "expected text, got int"),
        ("transfer_numbers", "21 items, at most 20"),
    ]


def test_url_rules() -> None:
    assert url_problem("https://zsk.example.gov.cn:8443/kb/1#a") is None
    assert url_problem("HTTP://Example.com") is None
    assert url_problem("https://") is not None
    assert url_problem("https://kb.example:port/") is not None
    assert url_problem("/kb/1") is not None


def test_fold_makes_widths_and_cases_alike() -> None:
    assert fold("ＫＢ．Ｅｘａｍｐｌｅ　住建局") == "kb.example 住建局"
    assert fold("  Straße\n\t物业\u200b管理 ") == "strasse 物业管理"
    assert fold("a\x00b\x03c") == "abc"


def test_grams_start_at_every_character_of_every_field() -> None:
    fields = ["住建局", "ab"]
    assert grams(fields) == {"住建局", "建局" + END, "局" + END * 2, "ab" + END, "b" + END * 2}
    assert search_text(fields) == "住建局\nab"
    card = CardContent("负责 住房", "全天", (TransferNumber("12345", "热线"),), ())
    assert card_fields("U1", "住建局", "市本级", card) == [
        "u1",
        "住建局",
        "市本级",
        "负责 住房",
        "全天",
        "12345",
        "热线",
    ]


def test_queries() -> None:
    q = parse_query("公租房申请")
    assert (q.text, q.trigrams, q.prefix) == ("公租房申请", ("公租房", "租房申", "房申请"), None)
    assert q.probes() == q.trigrams
    long = parse_query("负责全市住房保障和公租房申请")
    assert long.probes() == ("负责全", "住房保", "障和公", "房申请")  # first, last, spread
    assert parse_query("重复重复重复").trigrams == ("重复重", "复重复")
    short = parse_query("Ｋb")
    assert (short.text, short.trigrams, short.prefix) == ("kb", (), "kb")
    assert short.upper == "kb\U0010ffff"
    assert parse_query("0432-6234").text == "04326234"
    assert parse_query("(0432) 62").text == "043262"
    assert parse_query("住建 局").text == "住建 局"  # not a number: spaces kept
    with pytest.raises(QueryError, match="nothing to search"):
        parse_query(" \u200b ")
    with pytest.raises(QueryError, match="at most"):
        parse_query("长" * (QUERY_MAX + 1))


def test_files_read_back_what_export_wrote() -> None:
    cards = [
        ("U001", card_content(GOOD)),
        ("U002", CardContent("=不是公式", "", (TransferNumber("12345", "a|b"),), ())),
    ]
    for form in ("json", "csv"):
        data = card_files.write(cards, form)
        parsed = card_files.read(data, form)
        assert parsed.ok, parsed.errors
        assert [(code, content) for _, code, content in parsed.cards] == cards


def test_file_errors_have_lines() -> None:
    text = json.dumps(
        [
            {"unit_code": "U001", "hours": "全天"},
            {"unit_code": "U001"},
            {"unit_code": "U 3", "transfer_numbers": [{"number": "12345"}, {"number": "x"}]},
        ],
        ensure_ascii=False,
        indent=1,
    )
    parsed = card_files.read(text.encode(), "json")
    assert [(e.line, e.column) for e in parsed.errors] == [
        (6, "unit_code"),
        (9, "unit_code"),
        (9, "transfer_numbers[1].number"),
    ]
    assert "also on line 2" in parsed.errors[0].reason
    assert [e.line for e in card_files.read(b"[{}, 3]", "json").errors] == [1, 1]
    assert card_files.read(b"[{} {}]", "json").errors[0].reason == "expected , or ] after a card"
    csv_text = (
        "unit_code,responsibilities,hours,transfer_numbers,kb_links\r\n"
        'U001,"两行\r\n职责",全天,"值班室|0432-62345678\r\n12345",标题|ftp://x\r\n'
    )
    parsed = card_files.read(csv_text.encode("gb18030"), "csv")
    assert parsed.encoding == "gb18030"
    assert [(e.line, e.column) for e in parsed.errors] == [(2, "kb_links[0].url")]
    fixed = card_files.read(csv_text.replace("ftp", "https").encode(), "csv")
    assert fixed.ok
    ((_, _, content),) = fixed.cards
    assert content.transfer_numbers == (
        TransferNumber("043262345678", "值班室"),
        TransferNumber("12345", ""),
    )
    bad_header = card_files.read(b"unit_code,hours\r\n", "csv")
    assert {e.column for e in bad_header.errors} == {
        "responsibilities",
        "transfer_numbers",
        "kb_links",
    }

"""Hand-typed numbers → directory form; the queue catalog vs the Asterisk config."""

from __future__ import annotations

import configparser

import pytest

from callcenter.legacy.normalize import NumberError, normalize_dialed, normalize_number
from callcenter.legacy.queues import ASTERISK_PREFIX, QueueCatalog
from tests.conftest import REPO


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("0432-62345678", "043262345678"),
        ("(0432) 62 345678", "043262345678"),
        ("（０４３２）６２３４５６７８", "043262345678"),  # full-width digits and brackets
        ("+86 432 6234 5678", "043262345678"),
        ("+86 (0)432-62345678", "043262345678"),
        ("0086 432 62345678", "043262345678"),
        ("+86 138 0000 1234", "13800001234"),  # mobile: no trunk 0
        ("12333", "12333"),
        (" 1 2 3 1 9 ", "12319"),
        ("400-810-1234", "4008101234"),
        ("0432\u300062345678", "043262345678"),  # ideographic space
    ],
)
def test_normalizes_hand_typed_numbers(raw: str, expected: str) -> None:
    assert normalize_number(raw) == expected


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("0432-6234ABCD", "letters"),
        ("０４３２-六二", "letters"),
        ("110", "emergency"),
        ("1 1 9", "emergency"),
        ("１２０", "emergency"),
        ("122", "emergency"),
        ("62345678", "area code"),
        ("0432-6234", "10 to 12 digits"),
        ("", "empty"),
        ("0432#6234567", "unexpected"),
        ("+1 212 555 0100", r"\+86"),
    ],
)
def test_rejects_with_a_reason(raw: str, reason: str) -> None:
    with pytest.raises(NumberError, match=reason):
        normalize_number(raw)
    assert normalize_dialed(raw) is None


def test_queue_catalog_matches_asterisk_conf() -> None:
    """The default catalogue (the demo's) names exactly the queues the committed
    queues.conf (the one the bundled simulator reads) defines."""
    conf = configparser.ConfigParser(strict=False, inline_comment_prefixes=(";",))
    conf.read(REPO / "asterisk-conf" / "queues.conf", encoding="utf-8")
    defined = {
        s.removeprefix(ASTERISK_PREFIX)
        for s in conf.sections()
        if s.startswith(ASTERISK_PREFIX) and not s.endswith("(!)")
    }
    assert defined == set(QueueCatalog.default().names)

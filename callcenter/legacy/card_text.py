"""How unit cards are found by any part of their text, Chinese included.

Chinese has no spaces between words, so a word index does not work: a card is indexed
by every character trigram of its text (`unit_card_grams`, written in the card's own
transaction), the same table and the same queries on SQLite and PostgreSQL.

- Text and query are folded alike (`fold`): NFKC (full-width letters and digits become
  ASCII, the ideographic space a space), case-folded, every run of white space one
  space, control and format characters dropped.
- Each field is indexed on its own, padded at its end with two `END` marks, so each
  character of a field starts exactly one gram: "热线" gives "热线·", "线··".
- A query of 3 characters or more looks up each of its trigrams and keeps the cards
  that have them all; a query of 1 or 2 characters is a prefix range over the same
  index (the grams from `q` up to `q` + the last code point), so every substring of
  every field is found without a second index. The range needs the gram column to
  compare by code point: SQLite's BINARY does, PostgreSQL's column gets COLLATE "C".
- The candidates are then checked by substring against the card's `search_text`, its
  folded fields one per line. A query never holds a line break (folding made it a
  space), so it matches within one field only: "热线" + "值班" across two fields is
  no match, as an agent expects.
- A query made only of digits and phone separators ("0432-6234") drops the
  separators: numbers are stored as digits.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

from callcenter.legacy.cards import CardContent

GRAM = 3
#: pads each field's end so its last characters start grams too (a control character:
#: folding removes those from every text and query, so it never matches anything)
END = "\x03"
#: above every character folded text can hold (folding drops noncharacters)
LAST = "\U0010ffff"
QUERY_MAX = 100
#: the trigrams of one query the index is asked for (`Query.probes`)
PROBES = 4
FIELD_SEPARATOR = "\n"
_DROPPED = frozenset({"Cc", "Cf", "Cs", "Co", "Cn"})
_SPACES = re.compile(r"\s+")
_PHONE_LIKE = re.compile(r"\+?[\d\s\-().]+")
_PHONE_SEPARATORS = re.compile(r"[\s\-().+]")


def fold(text: str) -> str:
    """The form text is compared in: NFKC, case-folded, white space runs as one space,
    control/format characters and noncharacters gone, trimmed."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    folded = _SPACES.sub(" ", folded)
    kept = "".join(c for c in folded if unicodedata.category(c) not in _DROPPED)
    return _SPACES.sub(" ", kept).strip()


def card_fields(unit_code: str, unit: str, district: str, content: CardContent) -> list[str]:
    """Every text of a card an agent may search by, folded, one entry per field."""
    raw = [unit_code, unit, district, content.responsibilities, content.hours]
    for t in content.transfer_numbers:
        raw += [t.number, t.label]
    for k in content.kb_links:
        raw += [k.title, k.url]
    return [f for f in (fold(r) for r in raw) if f]


def search_text(fields: Iterable[str]) -> str:
    """The folded fields as one text, one field per line (the substring check)."""
    return FIELD_SEPARATOR.join(fields)


def grams(fields: Iterable[str]) -> set[str]:
    """The index entries of a card: each position of each field starts one gram."""
    out: set[str] = set()
    for text in fields:
        padded = text + END * (GRAM - 1)
        out.update(padded[i : i + GRAM] for i in range(len(text)))
    return out


class QueryError(ValueError):
    """A query that cannot be searched for; the message says why."""


@dataclass(frozen=True, slots=True)
class Query:
    """A folded query and how the index is asked: its trigrams in the order they
    occur, or (1-2 characters) the prefix of the grams to range over."""

    text: str
    trigrams: tuple[str, ...]
    prefix: str | None

    def probes(self, most: int = PROBES) -> tuple[str, ...]:
        """Up to `most` trigrams spread over the query (its first and last among them):
        enough to narrow the candidates to a few, few enough that the database joins
        them cheaply; the substring check does the rest."""
        if len(self.trigrams) <= most:
            return self.trigrams
        last = len(self.trigrams) - 1
        return tuple(self.trigrams[round(i * last / (most - 1))] for i in range(most))

    @property
    def upper(self) -> str:
        """The end of the prefix range (exclusive)."""
        assert self.prefix is not None
        return self.prefix + LAST


def parse_query(raw: str) -> Query:
    if len(raw) > QUERY_MAX:
        raise QueryError(f"{len(raw)} characters, at most {QUERY_MAX}")
    text = fold(raw)
    if _PHONE_LIKE.fullmatch(text) and sum(c.isdigit() for c in text) >= GRAM:
        text = _PHONE_SEPARATORS.sub("", text)
    if not text:
        raise QueryError("nothing to search for (only spaces or control characters)")
    if len(text) < GRAM:
        return Query(text, (), text)
    found = dict.fromkeys(text[i : i + GRAM] for i in range(len(text) - GRAM + 1))
    return Query(text, tuple(found), None)

"""Unit cards over HTTP: what the agent's screen pop shows about the unit a call is
for, edited by admins, searched by any part of their text (Chinese included).

`GET /units/{code}/card` answers for every unit of the legacy directory: a unit nobody
wrote a card for yet is an empty card at version 0 (a 404 means no such unit).
`PUT` is optimistic: the body names the `version` it was read at, and a card changed
meanwhile is a 409 (nothing written; read it again). The rules of a card live in the
domain (callcenter/legacy/cards.py): a rejected card is a 422 naming each field and
item (`transfer_numbers[2].number: ...`). The audit middleware records every PUT.

`GET /unit-cards?q=` pages the written cards of units in the directory by unit code;
how `q` matches (any part of one field, width and case folded) is
callcenter/legacy/card_text.py.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field

from api.auth import require_roles
from api.city import City, OptionalStamp, written
from api.desk_pop import CardLookup
from api.pagination import Page, Paging, bad_query
from api.services import unit_cards
from callcenter.clock import CityTime
from callcenter.legacy.card_store import StaleVersion, UnitCards, UnknownUnit
from callcenter.legacy.card_text import QUERY_MAX, QueryError, parse_query
from callcenter.legacy.cards import (
    HOURS_MAX,
    KB_LINKS_MAX,
    LABEL_MAX,
    RESPONSIBILITIES_MAX,
    TITLE_MAX,
    TRANSFER_NUMBERS_MAX,
    URL_MAX,
    UnitCard,
    validate_card,
)
from callcenter.legacy.records import UNIT_CODE
from callcenter.tokens import Principal, Role

_TRANSFER: dict[str, Any] = {"number": "057187001234", "label": "住房保障科（工作日）"}
_LINK: dict[str, Any] = {
    "title": "公租房申请条件",
    "url": "https://zsk.example.gov.cn/kb/housing/101",
}
_CONTENT: dict[str, Any] = {
    "responsibilities": "负责全市住房保障、房地产市场监管、物业管理和建筑市场监管；"
    "受理公租房申请、物业纠纷投诉。",
    "hours": "工作日 8:30-12:00, 13:30-17:00",
    "transfer_numbers": [_TRANSFER],
    "kb_links": [_LINK],
}
_CARD: dict[str, Any] = {
    "unit_code": "U017",
    "unit": "市住房和城乡建设局",
    "district": "市本级",
    **_CONTENT,
    "version": 3,
    "updated_at": "2026-12-02T09:15:03+08:00",
    "updated_by": "ops",
}


class TransferNumberIn(BaseModel):
    number: str = Field(
        "",
        description="as people write it (`0571-8700 1234`); stored as the directory "
        "stores numbers (national digits); not an emergency number",
        json_schema_extra={"maxLength": LABEL_MAX},
    )
    label: str = Field("", json_schema_extra={"maxLength": LABEL_MAX})

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [_TRANSFER]})


class KbLinkIn(BaseModel):
    title: str = Field("", json_schema_extra={"maxLength": TITLE_MAX})
    url: str = Field(
        "", description="http:// or https:// only", json_schema_extra={"maxLength": URL_MAX}
    )

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [_LINK]})


class UnitCardIn(BaseModel):
    """A card's editable fields and the version they were read at."""

    responsibilities: str = Field("", json_schema_extra={"maxLength": RESPONSIBILITIES_MAX})
    hours: str = Field("", json_schema_extra={"maxLength": HOURS_MAX})
    transfer_numbers: list[TransferNumberIn] = Field(
        default_factory=list, json_schema_extra={"maxItems": TRANSFER_NUMBERS_MAX}
    )
    kb_links: list[KbLinkIn] = Field(
        default_factory=list, json_schema_extra={"maxItems": KB_LINKS_MAX}
    )
    version: int = Field(
        ge=0,
        le=2**31 - 1,
        description="the card's version as read (0: the unit has no card yet); another "
        "version is a 409 and nothing is written",
    )

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [_CONTENT | {"version": 3}]}
    )


class TransferNumberOut(BaseModel):
    number: str = Field(description="national digits, as the directory stores numbers")
    label: str

    model_config = ConfigDict(json_schema_extra={"examples": [_TRANSFER]})


class KbLinkOut(BaseModel):
    title: str
    url: str

    model_config = ConfigDict(json_schema_extra={"examples": [_LINK]})


class UnitCardOut(BaseModel):
    unit_code: str
    unit: str = Field(description="the unit's name in the legacy directory")
    district: str
    responsibilities: str
    hours: str
    transfer_numbers: list[TransferNumberOut]
    kb_links: list[KbLinkOut]
    version: int = Field(description="0: nobody wrote this unit's card yet")
    updated_at: OptionalStamp
    updated_by: str | None = Field(description="the token that wrote it; null: version 0")

    model_config = ConfigDict(json_schema_extra={"examples": [_CARD]})

    @classmethod
    def of(cls, card: UnitCard, city: CityTime) -> UnitCardOut:
        fields = card.as_dict() | {"updated_at": card.updated_at}
        return written(cls, fields, city)


router = APIRouter(prefix="/api/v1", tags=["unit cards"])

Reader = Annotated[Principal, Depends(require_roles(Role.SUPERVISOR, Role.AGENT))]
Admin = Annotated[Principal, Depends(require_roles())]
Cards = Annotated[UnitCards, Depends(unit_cards)]
UnitCode = Annotated[
    str,
    Path(max_length=32, description="the unit's code in the legacy directory", examples=["U017"]),
]


def _no_unit(code: str) -> HTTPException:
    return HTTPException(404, f"unit {code!r} is not in the legacy directory")


def _known_shape(code: str) -> str:
    """`code` if it can be a unit code at all (the directory's rule), else the 404
    at once: a NUL or a stray character never reaches the database."""
    if not UNIT_CODE.fullmatch(code):
        raise _no_unit(code)
    return code


@router.get(
    "/units/{code}/card",
    response_model=UnitCardOut,
    summary="A unit's card (an empty one at version 0 if nobody wrote it yet)",
)
async def get_card(code: UnitCode, _who: Reader, cards: Cards, city: City) -> UnitCardOut:
    card = await cards.get(_known_shape(code))
    if card is None:
        raise _no_unit(code)
    return UnitCardOut.of(card, city)


@router.put(
    "/units/{code}/card",
    response_model=UnitCardOut,
    summary="Write a unit's card over the version read (admin)",
    responses={409: {"description": "the card changed since that version; nothing written"}},
)
async def put_card(
    code: UnitCode, body: UnitCardIn, who: Admin, cards: Cards, city: City
) -> UnitCardOut:
    content, errors = validate_card(body.model_dump(exclude={"version"}))
    if content is None:
        raise RequestValidationError(
            [{"loc": ("body", e.column), "msg": e.reason, "type": "value_error"} for e in errors]
        )
    try:
        card = await cards.put(_known_shape(code), content, version=body.version, actor=who.name)
    except UnknownUnit:
        raise _no_unit(code) from None
    except StaleVersion as stale:
        raise HTTPException(409, str(stale)) from None
    return UnitCardOut.of(card, city)


@router.get(
    "/unit-cards",
    response_model=Page[UnitCardOut],
    summary="Search the units' cards by any part of their text; by unit code",
)
async def search_cards(
    _who: Reader,
    page: Paging,
    cards: Cards,
    city: City,
    q: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=QUERY_MAX,
            description="text to find in one field of a card (name, district, "
            "responsibilities, hours, a transfer number or its label, a link's title or "
            "address); full- and half-width, upper and lower case alike; absent: every card",
            examples=["公租房"],
        ),
    ] = None,
) -> Page[UnitCardOut]:
    try:
        query = None if q is None else parse_query(q)
    except QueryError as exc:
        raise bad_query("q", str(exc)) from None
    after = page.after(str)
    found = await cards.search(query, after=str(after[0]) if after else None, limit=page.fetch)
    return page.of(
        found, key=lambda card: (card.unit_code,), item=lambda card: UnitCardOut.of(card, city)
    )


def card_lookup(cards: UnitCards, city: CityTime) -> CardLookup:
    """The screen pop's unit card: the same JSON `GET /units/{code}/card` answers."""

    async def lookup(unit_code: str) -> dict[str, Any] | None:
        card = await cards.get(unit_code)
        return None if card is None else UnitCardOut.of(card, city).model_dump(mode="json")

    return lookup

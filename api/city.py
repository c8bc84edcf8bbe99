"""City time at the API's edge: how a time someone gives is read, and how a time the API
returns is written (callcenter/clock.py `CityTime` holds both rules; this module is the
one place routes reach them through).

In: every date/time query parameter is declared with `time_query(...)`: a string read
by `CityTime.read` (a bare date is city midnight, a date-time without an offset is city
time, one with an offset is taken as given), or a 422 naming the parameter and what it
accepts. Out: a response field typed `Stamp` (or `OptionalStamp`) is written by
`CityTime.iso` when the model is built with `written(...)`, so no route chooses a
format of its own.
"""

# No `from __future__ import annotations`: the dependencies `time_query` makes carry
# annotations built per parameter (its name, description, example), which FastAPI
# must see as objects, not as strings it cannot resolve.

from collections.abc import Mapping
from datetime import datetime
from functools import cache
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Query
from pydantic import BaseModel, Field

from api.pagination import bad_query
from api.services import city_time
from callcenter.clock import CityTime, CityTimeError

ACCEPTED = (
    "YYYY-MM-DD (city midnight), YYYY-MM-DDTHH:MM[:SS] (city time) or a date-time with "
    "an offset (2026-12-02T09:00:00+08:00)"
)
STAMP_DOC = "ISO 8601, city time with offset"
#: the longest time a query may give (`2026-12-02T09:00:00.123456+08:00` is 32)
MAX_LENGTH = 40
STAMP_EXAMPLE = "2026-12-02T09:15:03+08:00"


class _CityStamp:
    """Marks a response field as a point in time `written` formats with `CityTime.iso`."""

    def __repr__(self) -> str:
        return "CityStamp"


_STAMP = _CityStamp()

#: a point in time the API returns: `2026-12-02T09:15:03+08:00`
Stamp = Annotated[str, _STAMP, Field(description=STAMP_DOC, examples=[STAMP_EXAMPLE])]
OptionalStamp = Annotated[
    str | None, _STAMP, Field(description=f"{STAMP_DOC}; null: none", examples=[STAMP_EXAMPLE])
]

City = Annotated[CityTime, Depends(city_time)]
M = TypeVar("M", bound=BaseModel)


@cache
def _stamp_fields(model: type[BaseModel]) -> frozenset[str]:
    return frozenset(name for name, info in model.model_fields.items() if _STAMP in info.metadata)


def written(model: type[M], source: Mapping[str, Any] | object, city: CityTime) -> M:
    """`model` from a mapping or an object's attributes (an ORM row), its `Stamp` fields
    written by `city.iso` from the epoch seconds or datetime (naive: UTC) they hold."""
    if isinstance(source, Mapping):
        data = {name: source[name] for name in model.model_fields if name in source}
    else:
        data = {name: getattr(source, name) for name in model.model_fields if hasattr(source, name)}
    for name in _stamp_fields(model):
        value = data.get(name)
        if value is not None and not isinstance(value, (int, float, datetime)):
            raise TypeError(f"{model.__name__}.{name}: a time to write, got {value!r}")
        data[name] = city.iso_or_none(value)
    return model.model_validate(data)


def read_time(city: CityTime, name: str, value: str) -> datetime:
    """`value` of the query parameter `name` as an aware datetime; a 422 naming it."""
    try:
        moment = city.read(value)
        moment.timestamp()  # years 1 and 9999 read, but are no instant the records know
    except CityTimeError as exc:
        raise bad_query(name, f"{exc}; accepted: {ACCEPTED}") from None
    except (OverflowError, OSError, ValueError):
        raise bad_query(name, f"{value!r} is out of range") from None
    return moment


def _described(description: str) -> str:
    return f"{description}. {ACCEPTED}"


def time_query(name: str, description: str, example: str, *, required: bool = False) -> Any:
    """A dependency giving the query parameter `name` read in city time (None when an
    optional one is absent); OpenAPI documents it as a string with `example`."""
    if required:

        async def read_required(
            city: City,
            value: Annotated[
                str,
                Query(
                    alias=name,
                    max_length=MAX_LENGTH,
                    description=_described(description),
                    examples=[example],
                ),
            ],
        ) -> datetime:
            return read_time(city, name, value)

        return Depends(read_required)

    async def read_optional(
        city: City,
        value: Annotated[
            str | None,
            Query(
                alias=name,
                max_length=MAX_LENGTH,
                description=_described(description),
                examples=[example],
            ),
        ] = None,
    ) -> datetime | None:
        return None if value is None else read_time(city, name, value)

    return Depends(read_optional)

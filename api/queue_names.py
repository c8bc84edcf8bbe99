"""Queue names at the API's boundary: what a client may ask for, and the one error for a
queue the service does not know.

The database and the live model keep Asterisk's names (`hotline-general`: what Asterisk
logged); the API speaks the directory's (`general`). A filter or a path takes the
directory name (or the Asterisk one, for operators) and becomes the Asterisk name for the
query here; an unknown name is a 422 listing the known ones, never an empty answer. The
translation itself is the catalogue's in force (callcenter/legacy/queues.py).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Query
from fastapi.exceptions import RequestValidationError

from api.services import queue_catalog
from callcenter.legacy.queues import QueueCatalog, UnknownQueue

_DESCRIBE = "directory queue name (general, housing, ...), or the Asterisk one"


def _asterisk(catalog: QueueCatalog, place: str, field: str, name: str) -> str:
    try:
        return catalog.asterisk_name(name)
    except UnknownQueue as exc:
        raise RequestValidationError(
            [{"loc": (place, field), "msg": str(exc), "type": "value_error"}]
        ) from None


async def queue_filter(
    queue: Annotated[
        str | None, Query(max_length=64, description=_DESCRIBE, examples=["general"])
    ] = None,
    *,
    catalog: Annotated[QueueCatalog, Depends(queue_catalog)],
) -> str | None:
    """`?queue=`: the Asterisk name to filter on (None: any queue)."""
    return None if queue is None else _asterisk(catalog, "query", "queue", queue)


async def queue_path(
    name: Annotated[str, Path(max_length=64, description=_DESCRIBE, examples=["housing"])],
    catalog: Annotated[QueueCatalog, Depends(queue_catalog)],
) -> str:
    """`/queues/{name}`: the Asterisk name of the queue asked for."""
    return _asterisk(catalog, "path", "name", name)

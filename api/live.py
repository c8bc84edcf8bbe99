"""`WS /api/v1/live`: the live stream of queue and seat rows (protocol, authentication
and close codes: api/live_ws.py). Admin, supervisors and agents; the token comes in the
`Authorization` header or as the first frame, so it is checked on the socket, not here.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, WebSocket

from api.live_ws import LiveStream, serve_socket
from api.services import live_stream_if_any, token_store_if_any
from callcenter.tokens import TokenStore

router = APIRouter(prefix="/api/v1", tags=["live"])


@router.websocket("/live")
async def live_stream(
    websocket: WebSocket,
    stream: Annotated[LiveStream | None, Depends(live_stream_if_any)],
    tokens: Annotated[TokenStore | None, Depends(token_store_if_any)],
    since: int | None = Query(None, ge=0, description="last seq seen: resume after it"),
    epoch: str | None = Query(None, description="the epoch of the stream `since` is from"),
) -> None:
    await serve_socket(websocket, stream, tokens, since, epoch)

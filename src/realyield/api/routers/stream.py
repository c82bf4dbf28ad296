"""``/v1/stream`` (Server-Sent Events) and ``/v1/ws`` (WebSocket): alerts as they fire,
data refreshes and job progress, from the process's event bus (``core.events``).

Both are read-only and open like ``GET /v1/alerts``; the server's guard
(``presentation.security``) checks Host on both and Origin on the WebSocket handshake
(a page on another origin cannot open it). Job events carry the job's id, kind and
status only, never its parameters, result or key.

Resuming: SSE clients send ``Last-Event-ID`` (browsers do it themselves on reconnect);
WebSocket clients pass ``?last_event_id=``. Missed events still in the replay buffer
are sent first; when some are gone a ``gap`` event says so (re-read ``/v1/alerts``).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Annotated

import anyio
from fastapi import APIRouter, Header, Query, WebSocket
from fastapi.responses import StreamingResponse
from starlette.websockets import WebSocketDisconnect

from realyield.core.events import BUS, Event

router = APIRouter(tags=["stream"])

HEARTBEAT_S = 15.0
RETRY_MS = 3000
_MAX_ID = 64


def _sse(event: Event | None) -> str:
    if event is None:
        return ": keep-alive\n\n"
    data = json.dumps(event.as_dict(), separators=(",", ":"), default=str)
    return f"id: {event.id}\nevent: {event.kind}\ndata: {data}\n\n"


# Left out of the OpenAPI document: an endless stream has no response to check (the
# schema test would wait out its timeout on every call); docs/mcp.md documents it.
@router.get("/v1/stream", response_class=StreamingResponse, include_in_schema=False)
async def stream(
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID", max_length=_MAX_ID)] = None,
) -> StreamingResponse:
    """Server-Sent Events: ``alert`` (an alert opened or escalated), ``data`` (the served
    data and indices were rebuilt), ``job`` (a job's status), ``gap`` (events were
    missed). Each event's ``data`` is JSON ``{id, kind, time, data}``."""

    events = BUS.subscribe(last_event_id, heartbeat_s=HEARTBEAT_S)  # from now on

    async def body() -> AsyncIterator[str]:
        try:
            yield f"retry: {RETRY_MS}\n\n"
            async for event in events:
                yield _sse(event)
        finally:
            await events.aclose()

    return StreamingResponse(
        body(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


@router.websocket("/v1/ws")
async def websocket(
    ws: WebSocket,
    last_event_id: Annotated[str | None, Query(max_length=_MAX_ID)] = None,
) -> None:
    """The same events as ``/v1/stream``, one JSON message each; heartbeats are
    ``{"kind": "ping"}``. Messages from the client are ignored."""
    events = BUS.subscribe(last_event_id, heartbeat_s=HEARTBEAT_S)
    await ws.accept()
    async with anyio.create_task_group() as tg:

        async def until_closed() -> None:
            try:
                while True:
                    await ws.receive_text()
            except (WebSocketDisconnect, RuntimeError):
                pass
            tg.cancel_scope.cancel()

        tg.start_soon(until_closed)
        try:
            async for event in events:
                await ws.send_json({"kind": "ping"} if event is None else event.as_dict())
        except (WebSocketDisconnect, RuntimeError):
            pass
        finally:
            await events.aclose()
        tg.cancel_scope.cancel()

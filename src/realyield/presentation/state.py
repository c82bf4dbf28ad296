"""What every web interface of one server shares, kept on ``app.state.realyield``: the
settings, the store, the cached data and the dashboard's token.

The API extends this with its own services (``api.state.AppState``: keys, jobs,
metrics); the dashboard reads only what is here, so it never imports the API.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import Engine

from realyield.core.settings import Settings
from realyield.presentation.data import DataService, DataSnapshot


@dataclass
class SharedState:
    """The services of one server process that the API and the dashboard both use.

    ``dashboard_token`` is the per-process secret the dashboard's pages carry so that
    their forms may run the dashboard's own jobs (never ledger, key or trading routes).
    """

    settings: Settings
    engine: Engine
    data: DataService
    dashboard_token: str


def shared_state(request: Request) -> SharedState:
    """The server's shared state (set by the app that serves ``request``)."""
    state: SharedState = request.app.state.realyield
    return state


async def snapshot(request: Request) -> DataSnapshot:
    """The data to answer from; the first build runs off the event loop.

    Raises:
        NoDataError: the store holds no data yet.
    """
    data = shared_state(request).data
    if data.ready:
        return data.current()
    return await run_in_threadpool(data.current)

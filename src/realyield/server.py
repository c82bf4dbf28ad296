"""The composition root of the HTTP server: the API app with the dashboard's pages
mounted on it, and the MCP server's streamable HTTP transport at ``/mcp``.
``realyield serve`` runs ``create_server`` in each uvicorn worker.

It lives here, above the interfaces, because the API, the dashboard and the MCP server
do not import each other (DESIGN.md: what they share is in ``realyield.presentation``
and the public Python API). Kept tiny and free of the CLI so a worker process imports
only what it serves.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from realyield.api.app import create_app
from realyield.web.pages import install

#: where the MCP server answers (streamable HTTP)
MCP_PATH = "/mcp"


def create_server(*args: Any, **kwargs: Any) -> FastAPI:
    """The API with the dashboard: ``api.create_app`` (same arguments) plus the pages of
    ``realyield.web``, and the MCP server at ``/mcp``.

    Raises:
        StoreError, ConfigError: as ``api.create_app``.
    """
    app = create_app(*args, pages=install, **kwargs)
    mount_mcp(app)
    return app


def mount_mcp(app: FastAPI) -> None:
    """Serve the MCP server over ``app``'s store at ``/mcp`` (stateless streamable HTTP,
    JSON answers), inside the app's middleware: the Host and Origin checks, the body
    limit and the security headers of ``presentation.security`` apply to it as to every
    route (the SDK's own DNS-rebinding check is therefore off: it would only repeat the
    Host check with a list of its own). Every tool call over HTTP needs an API key,
    checked by the API's cached verifier. Its session manager runs in the app's lifespan.
    """
    from mcp.server.transport_security import TransportSecuritySettings

    from realyield.agents.server import build_server

    state = app.state.realyield
    server = build_server(state.engine, verify=state.gate.verifier.verify)
    sub = server.streamable_http_app(
        streamable_http_path=MCP_PATH,
        stateless_http=True,
        json_response=True,
        transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
    )
    app.router.routes.extend(sub.routes)
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(a: FastAPI) -> AsyncIterator[Any]:
        async with inner(a) as state, server.session_manager.run():
            yield state

    app.router.lifespan_context = lifespan

"""``realyield mcp``: the MCP server (``realyield.agents.server``) over stdio, for an
AI agent that starts it as a subprocess. Stdout carries the protocol only: notes go to
stderr."""

from __future__ import annotations

from realyield.cli.common import err, session


def mcp() -> None:
    """Serve the MCP tools, resources and prompts over stdio (read-only, except
    acknowledge_alert, which needs an API key)."""
    from realyield.agents.server import build_server
    from realyield.library import ensure_data

    with session() as (_settings, engine):
        if ensure_data(engine):
            err.print("[yellow]store was empty: loaded the bundled snapshot[/]")
        build_server(engine).run("stdio")


__all__ = ["mcp"]

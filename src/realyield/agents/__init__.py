"""Interfaces for AI agents: the MCP server (``realyield mcp`` over stdio, ``/mcp`` over
streamable HTTP in ``realyield serve``). Named ``agents`` so it never shadows the
``mcp`` SDK it is built on."""

__all__ = ["models", "server"]

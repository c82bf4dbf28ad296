"""The composition root of the HTTP server: the API app with the dashboard's pages
mounted on it. ``realyield serve`` runs ``create_server`` in each uvicorn worker.

It lives here, above both interfaces, because the API and the dashboard do not import
each other (DESIGN.md: what they share is in ``realyield.presentation``). Kept tiny and
free of the CLI so a worker process imports only what it serves.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from realyield.api.app import create_app
from realyield.web.pages import install


def create_server(*args: Any, **kwargs: Any) -> FastAPI:
    """The API with the dashboard: ``api.create_app`` (same arguments) plus the pages of
    ``realyield.web``.

    Raises:
        StoreError, ConfigError: as ``api.create_app``.
    """
    return create_app(*args, pages=install, **kwargs)

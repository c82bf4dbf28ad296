"""The REST API (FastAPI): ``create_app`` builds it; ``realyield serve`` runs it."""

from realyield.api.app import create_app

__all__ = ["create_app"]

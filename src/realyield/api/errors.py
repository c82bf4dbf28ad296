"""Errors as HTTP answers: our exception family mapped to status codes, one body shape.

Validation errors (422) keep FastAPI's documented shape, a list of ``{loc, msg, type}``
naming the field (``["query", "limit"]``) and why, plus one readable ``message`` line.
Every other error is ``{"detail": "...", "type": "..."}``. Unexpected exceptions are
logged with their traceback and answered with a generic 500 that leaks nothing.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Iterator
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException

from realyield.core.errors import (
    AuthError,
    ConfigError,
    DataError,
    ForbiddenError,
    LimitError,
    NotFoundError,
    RealyieldError,
    StoreError,
)
from realyield.presentation.data import NoDataError

log = logging.getLogger(__name__)


def _body(
    status: int, kind: str, detail: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse({"detail": detail, "type": kind}, status_code=status, headers=headers)


def _where(loc: Any) -> str:
    return ".".join(str(p) for p in loc) if loc else "request"


async def validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = jsonable_encoder(exc.errors(), custom_encoder={float: _finite})
    for error in errors:  # inputs can be huge or binary: never echo them back
        error.pop("input", None)
        error.pop("url", None)
    message = "; ".join(f"{_where(e.get('loc'))}: {e.get('msg')}" for e in errors)
    return JSONResponse({"detail": errors, "message": message}, status_code=422)


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


async def realyield_error(_request: Request, exc: Exception) -> JSONResponse:
    if isinstance(exc, NotFoundError):
        return _body(404, "not_found", str(exc))
    if isinstance(exc, ForbiddenError):
        return _body(403, "forbidden", str(exc))
    if isinstance(exc, AuthError):
        return _body(401, "unauthorized", str(exc), {"WWW-Authenticate": "Bearer"})
    if isinstance(exc, LimitError):
        retry = exc.retry_after_s
        headers = {"Retry-After": str(max(1, math.ceil(retry)))} if retry is not None else None
        return _body(429, "rate_limited", str(exc), headers)
    if isinstance(exc, (NoDataError, StoreError)):
        return _body(503, "unavailable", str(exc), {"Retry-After": "5"})
    if isinstance(exc, (ConfigError, DataError)):
        errors = [{"loc": [], "msg": str(exc), "type": "value_error"}]
        return JSONResponse({"detail": errors, "message": str(exc)}, status_code=422)
    log.error("unhandled realyield error: %s", exc)
    return _body(500, "internal", "internal error: the server log has the details")


async def http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    kinds = {404: "not_found", 405: "method_not_allowed", 413: "too_large"}
    kind = kinds.get(exc.status_code, "http_error")
    headers = dict(getattr(exc, "headers", None) or {})
    allowed = _allowed_methods(request) if exc.status_code == 405 else []
    if allowed:  # every method of every route on this path, not just one
        headers["Allow"] = ", ".join(allowed)
    return _body(exc.status_code, kind, str(exc.detail), headers or None)


def _allowed_methods(request: Request) -> list[str]:
    path = request.url.path
    methods: set[str] = set()
    for route in _api_routes(request.app.routes):
        if route.path_regex.match(path):
            methods |= route.methods or set()
    return sorted(methods)


def _api_routes(routes: Iterable[Any]) -> Iterator[APIRoute]:
    """Every route, also those of included routers (FastAPI keeps them behind an
    ``_IncludedRouter`` whose ``original_router`` holds them; ours have no prefix)."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        elif getattr(route, "original_router", None) is not None:
            yield from _api_routes(route.original_router.routes)


async def unexpected_error(_request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error", exc_info=exc)
    return _body(500, "internal", "internal error: the server log has the details")


def install(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(RealyieldError, realyield_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(Exception, unexpected_error)


def documented(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries for these error codes (all share ``ErrorBody``)."""
    from realyield.presentation.models import ErrorBody

    text = {
        400: "The body is not valid JSON.",
        401: "Missing, wrong or revoked API key.",
        403: "The dashboard token on a route that needs an API key, or a browser "
        "request from another origin.",
        413: "The request body is larger than api_max_body_bytes.",
        404: "Not found.",
        429: "Rate or job limit reached; see Retry-After.",
        503: "No data yet, or the store is unavailable; see Retry-After.",
    }
    return {c: {"model": ErrorBody, "description": text.get(c, "Error.")} for c in codes}

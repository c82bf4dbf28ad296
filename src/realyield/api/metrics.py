"""Prometheus metrics of the API, served at ``/metrics``.

Each app has its own registry (several apps in one process, as in tests, do not
collide). Requests are labelled by route template (``/v1/indices/{name}``), never by
the raw path, so the number of series stays bounded. Pure ASGI middleware: no
per-request overhead beyond two clock reads and two metric updates.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

Scope = dict[str, Any]
ASGIApp = Callable[..., Any]

CONTENT_TYPE = CONTENT_TYPE_LATEST


class Metrics:
    """The API's metrics and their registry."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "realyield_http_requests",
            "HTTP requests handled, by method, route template and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "realyield_http_request_duration_seconds",
            "Time to answer a request, by route template.",
            ["route"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10),
            registry=self.registry,
        )
        self.responses_cached = Counter(
            "realyield_response_cache",
            "Responses served from the per-data-version cache (hit) or built (miss).",
            ["result"],
            registry=self.registry,
        )
        self.jobs = Gauge(
            "realyield_jobs", "Jobs in the runner, by state.", ["state"], registry=self.registry
        )
        self.data_ready = Gauge(
            "realyield_data_ready", "1 once the data snapshot is built.", registry=self.registry
        )
        self.data_build_seconds = Gauge(
            "realyield_data_build_seconds",
            "Seconds the current data snapshot took to build.",
            registry=self.registry,
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)


class MetricsMiddleware:
    """Counts and times every HTTP request by its route template."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def capture(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, capture)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            self.metrics.requests.labels(scope["method"], template, str(status)).inc()
            self.metrics.latency.labels(template).observe(time.perf_counter() - started)

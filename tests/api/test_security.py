"""The server's security policy (``presentation.security`` and ``api.auth``): trusted
Host (DNS rebinding), the Origin of state-changing requests, the dashboard token's
scope, security headers, the body-size limit and malformed headers.

In-process tests go through the whole ASGI stack (guard, middleware, error handlers)
with httpx; the last ones run against the real uvicorn server on 127.0.0.1 that the
other API and browser tests share. Each of these failed before the policy existed.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Iterable, Iterator
from typing import Any

import httpx
import pytest
from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute
from sqlalchemy import Engine
from typer.testing import CliRunner

from realyield.api.auth import require_key, require_key_or_dashboard
from realyield.api.keys import create_key
from realyield.core.errors import ConfigError
from realyield.core.settings import Settings, load_settings
from realyield.portfolio import service
from realyield.presentation.security import split_host
from realyield.server import create_server
from tests.conftest import LiveApi

LOOPBACK = ("127.0.0.1", 50000)
LEDGER_CSV = "time,kind,asset,amount,value,fiat\n2024-03-01T00:00:00Z,airdrop,EVIL,1000000,1,USD\n"
IMPORT = {"format": "generic", "text": LEDGER_CSV, "name": "evil.csv"}
#: every route the dashboard token may open: the submit and poll routes of the
#: dashboard's own jobs, nothing else
DASHBOARD_ROUTES = {
    (method, f"{path}{suffix}")
    for path in ("/v1/index-levels", "/v1/plan", "/v1/backtest", "/v1/review")
    for method, suffix in (("POST", ""), ("GET", "/{job_id}"))
}
#: routes that must refuse the dashboard token (a sample of each kind; the audit test
#: covers every route)
KEY_ONLY = [
    ("GET", "/v1/ledger/summary?year=2024", None),
    ("GET", "/v1/ledger/events", None),
    ("GET", "/v1/ledger/gains?year=2024", None),
    ("GET", "/v1/ledger/income?year=2024", None),
    ("GET", "/v1/ledger/export?format=generic", None),
    ("POST", "/v1/ledger/import", IMPORT),
    ("POST", "/v1/rebalance-plan", {"index": "balanced", "cash": 1000}),
    ("GET", "/v1/rebalance-plan/abc", None),
    ("POST", "/v1/alerts/1/ack", None),
    ("GET", "/v1/jobs", None),
    ("GET", "/v1/jobs/abc", None),
    ("DELETE", "/v1/jobs/abc", None),
]


def call(
    app: FastAPI,
    method: str,
    path: str,
    *,
    host: str = "127.0.0.1",
    peer: tuple[str, int] = LOOPBACK,
    **kwargs: Any,
) -> httpx.Response:
    """One request through the whole ASGI app in-process, sent to ``host``."""

    async def run() -> httpx.Response:
        transport = httpx.ASGITransport(  # a 500 is answered, as a server would
            app=app,
            client=peer,
            raise_app_exceptions=False,
        )
        async with httpx.AsyncClient(transport=transport, base_url=f"http://{host}") as c:
            return await c.request(method, path, **kwargs)

    return asyncio.run(run())


@pytest.fixture
def app(settings: Settings, engine: Engine) -> FastAPI:
    return create_server(settings, engine=engine, warm=False)


@pytest.fixture
def key(engine: Engine) -> str:
    return create_key(engine, "owner", rate_per_min=6000, burst=500).token


def test_split_host_reads_names_addresses_and_ports() -> None:
    assert split_host("LocalHost:8000") == "localhost"
    assert split_host("[::1]:8000") == "::1" and split_host("[::1]") == "::1"
    assert split_host("127.0.0.1") == "127.0.0.1" and split_host("localhost.") == "localhost"
    for bad in ("", "::1", "a:b", "[::1]x", "host:80:80", ":80"):
        assert split_host(bad) is None, bad


def test_dns_rebinding_host_is_refused_before_any_route(
    app: FastAPI, key: str, engine: Engine
) -> None:
    auth = {"Authorization": f"Bearer {key}"}
    for host in ("attacker.example", "attacker.example:8000", "127.0.0.1.nip.io", "0.0.0.0"):
        read = call(app, "GET", "/v1/ledger/events", host=host, headers=auth)
        assert read.status_code == 421, (host, read.text)
        assert read.json()["type"] == "untrusted_host" and "api_trusted_hosts" in read.text
        write = call(app, "POST", "/v1/ledger/import", host=host, headers=auth, json=IMPORT)
        assert write.status_code == 421
    assert service.list_events(engine) == []  # the import never ran
    for host in ("127.0.0.1:8000", "localhost", "localhost:8000", "[::1]:8000"):
        assert call(app, "GET", "/v1/ledger/events", host=host, headers=auth).status_code == 200


def test_trusted_hosts_are_configurable(settings: Settings, engine: Engine) -> None:
    env = {"REALYIELD_HOME": str(settings.home), "REALYIELD_API_TRUSTED_HOSTS": "ry.lan, *.ex.org"}
    configured = load_settings(env=env)
    assert configured.api_trusted_hosts == ("ry.lan", "*.ex.org")
    app = create_server(configured, engine=engine, warm=False)
    assert call(app, "GET", "/v1/jobs", host="ry.lan:8000").status_code == 401  # let in
    assert call(app, "GET", "/v1/jobs", host="api.ex.org").status_code == 401
    assert call(app, "GET", "/v1/jobs", host="ex.org").status_code == 421
    assert call(app, "GET", "/v1/jobs", host="127.0.0.1").status_code == 421  # replaced
    for bad in ({"api_trusted_hosts": ()}, {"api_max_body_bytes": 0}):
        with pytest.raises(ConfigError, match="api_"):
            create_server(load_settings(env=env, **bad), engine=engine, warm=False)


def api_routes(routes: Iterable[Any]) -> Iterator[APIRoute]:
    """Every route, also those of included routers (FastAPI keeps them in an
    ``_IncludedRouter`` whose ``original_router`` holds them)."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        elif getattr(route, "original_router", None) is not None:
            yield from api_routes(route.original_router.routes)


def test_every_route_names_its_dependency_and_the_dashboard_token_opens_only_its_jobs(
    app: FastAPI,
) -> None:
    by_dependency: dict[str, set[tuple[str, str]]] = {"key": set(), "dashboard": set()}
    every = list(api_routes(app.routes))
    assert len(every) > 30  # the walk found the included routers' routes
    for route in every:
        calls = {d.call for d in route.dependant.dependencies}
        for method in route.methods or ():
            if require_key_or_dashboard in calls:
                by_dependency["dashboard"].add((method, route.path))
            elif require_key in calls:
                by_dependency["key"].add((method, route.path))
    assert by_dependency["dashboard"] == DASHBOARD_ROUTES
    ledger = {r for r in by_dependency["key"] if r[1].startswith("/v1/ledger")}
    assert len(ledger) == 6  # summary, events, import, gains, income, export
    assert {("POST", "/v1/rebalance-plan"), ("POST", "/v1/alerts/{alert_id}/ack")} <= (
        by_dependency["key"]
    )
    assert not [r for r in every if "key" in r.path]  # API keys are managed by the CLI only


def test_dashboard_token_opens_no_ledger_trading_or_job_management_route(
    app: FastAPI, engine: Engine
) -> None:
    token = app.state.realyield.dashboard_token
    for method, path, body in KEY_ONLY:
        response = call(app, method, path, headers={"X-Dashboard-Token": token}, json=body)
        assert response.status_code == 403, (method, path, response.text)
        detail = response.json()["detail"]
        assert "need an API key" in detail and "api-key create" in detail
    assert service.list_events(engine) == []
    allowed = call(app, "GET", "/v1/plan/abc", headers={"X-Dashboard-Token": token})
    assert allowed.status_code == 404  # authenticated as the dashboard; no such job
    proxied = {"X-Dashboard-Token": token, "Forwarded": "for=198.51.100.4"}
    assert call(app, "GET", "/v1/plan/abc", headers=proxied).status_code == 401


def test_malformed_headers_are_answered_400_never_500(app: FastAPI) -> None:
    for name in ("X-Dashboard-Token", "X-API-Key", "Authorization", "Origin"):
        for value in ("tökén".encode(), b"ok\x01ctrl"):
            response = call(app, "POST", "/v1/plan", headers={name: value}, json={})
            assert response.status_code == 400, (name, value, response.text)
            assert name.lower() in response.json()["detail"]
    twice = [("X-API-Key", "ry_a_b"), ("X-API-Key", "ry_c_d")]
    assert call(app, "GET", "/v1/jobs", headers=twice).status_code == 400
    for length in ("12, 13", "-1", "ten"):
        bad = call(app, "POST", "/v1/plan", headers={"Content-Length": length}, content=b"{}")
        assert bad.status_code == 400 and "Content-Length" in bad.json()["detail"]


def test_state_changing_requests_from_other_origins_are_refused(
    settings: Settings, engine: Engine, key: str
) -> None:
    app = create_server(settings, engine=engine, warm=False)
    auth = {"X-API-Key": key}
    for origin in ("http://attacker.example", "null", "http://127.0.0.1:9999", "file://"):
        response = call(
            app, "POST", "/v1/ledger/import", headers={**auth, "Origin": origin}, json=IMPORT
        )
        assert response.status_code == 403, (origin, response.text)
        assert response.json()["type"] == "forbidden_origin"
        assert (
            call(app, "DELETE", "/v1/jobs/abc", headers={**auth, "Origin": origin}).status_code
            == 403
        )
    assert service.list_events(engine) == []
    own = call(
        app,
        "POST",
        "/v1/ledger/import",
        host="127.0.0.1:8000",
        headers={**auth, "Origin": "http://127.0.0.1:8000"},
        json=IMPORT,
    )
    assert own.status_code == 200, own.text  # the dashboard's own origin
    read = call(app, "GET", "/v1/ledger/events", headers={**auth, "Origin": "http://x.example"})
    assert read.status_code == 200  # reads are CORS's business, not refused
    no_origin = call(app, "POST", "/v1/jobs/abc", headers=auth)
    assert no_origin.status_code == 405 and no_origin.headers["allow"] == "DELETE, GET"
    opened = create_server(
        load_settings(
            env={"REALYIELD_HOME": str(settings.home)}, api_cors_origins=("https://app.example",)
        ),
        engine=engine,
        warm=False,
    )
    cors = call(opened, "DELETE", "/v1/jobs/abc", headers={**auth, "Origin": "https://app.example"})
    assert cors.status_code == 404  # let through to the route


def _headers_are_secure(response: httpx.Response, html: bool) -> None:
    h = response.headers
    assert h["x-content-type-options"] == "nosniff" and h["x-frame-options"] == "DENY"
    assert h["referrer-policy"] == "no-referrer"
    assert h["cross-origin-opener-policy"] == "same-origin"
    csp = h["content-security-policy"]
    assert "frame-ancestors 'none'" in csp
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
    if html:
        assert directives["script-src"] == "'self'"  # no inline script, no eval, no CDN
    else:
        assert directives["default-src"] == "'none'"


def test_security_headers_on_every_kind_of_response(settings: Settings, engine: Engine) -> None:
    boom = APIRouter()

    @boom.get("/boom")
    async def fail() -> None:
        raise RuntimeError("unexpected")

    app = create_server(settings, engine=engine, warm=False, routers=[boom])
    page = call(app, "GET", "/")  # the dashboard, here its "no data yet" page
    assert page.status_code == 503 and page.headers["content-type"].startswith("text/html")
    _headers_are_secure(page, html=True)
    for path, status in (("/v1/indices", 503), ("/nope", 404), ("/v1/jobs", 401), ("/boom", 500)):
        response = call(app, "GET", path)
        assert response.status_code == status, path
        _headers_are_secure(response, html=False)
    assert "unexpected" not in call(app, "GET", "/boom").text
    _headers_are_secure(call(app, "GET", "/", host="attacker.example"), html=False)
    docs = call(app, "GET", "/docs")
    assert (
        docs.status_code == 200
        and "script-src https://cdn.jsdelivr.net 'sha256-"
        in (docs.headers["content-security-policy"])
    )


def test_body_limit_413_on_declared_and_streamed_bodies(
    settings: Settings, engine: Engine, key: str
) -> None:
    small = load_settings(env={"REALYIELD_HOME": str(settings.home)}, api_max_body_bytes=4096)
    app = create_server(small, engine=engine, warm=False)
    auth = {"X-API-Key": key, "Content-Type": "application/json"}
    big = {**IMPORT, "text": LEDGER_CSV + "x" * 5000}
    declared = call(app, "POST", "/v1/ledger/import", headers=auth, json=big)
    assert declared.status_code == 413 and declared.json()["type"] == "too_large"
    assert "api_max_body_bytes" in declared.json()["detail"]

    async def stream() -> AsyncIterator[bytes]:
        for _ in range(100):  # 100 KiB in 1 KiB chunks, no Content-Length
            yield b" " * 1024

    streamed = call(app, "POST", "/v1/ledger/import", headers=auth, content=stream())
    assert streamed.status_code == 413 and streamed.json()["type"] == "too_large"
    assert service.list_events(engine) == []
    fits = call(app, "POST", "/v1/ledger/import", headers=auth, json=IMPORT)
    assert fits.status_code == 200 and len(service.list_events(engine)) == 1


def test_portfolio_page_shows_the_ledger_only_to_this_machine(
    settings: Settings, engine: Engine
) -> None:
    app = create_server(settings, engine=engine, warm=False)
    remote = call(app, "GET", "/portfolio", peer=("192.0.2.10", 4000))
    assert remote.status_code == 403 and "only in a browser on the machine" in remote.text
    assert call(app, "GET", "/portfolio").status_code == 503  # loopback: let in (no data yet)
    assert call(app, "GET", "/portfolio", host="localhost:8000").status_code == 503
    proxied = call(app, "GET", "/portfolio", headers={"X-Forwarded-For": "198.51.100.4"})
    assert proxied.status_code == 403  # a reverse proxy on this machine: not this machine
    lan = load_settings(env={"REALYIELD_HOME": str(settings.home)}, api_trusted_hosts=("ry.lan",))
    by_name = create_server(lan, engine=engine, warm=False)
    assert call(by_name, "GET", "/portfolio", host="ry.lan").status_code == 403
    off = load_settings(env={"REALYIELD_HOME": str(settings.home)}, api_dashboard_ledger=False)
    closed = create_server(off, engine=engine, warm=False)
    assert call(closed, "GET", "/portfolio").status_code == 403


def test_serve_on_another_address_says_to_configure_trusted_hosts(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    import uvicorn

    from realyield.cli import app as cli

    monkeypatch.setenv("REALYIELD_DASHBOARD_TOKEN", "test-token")
    monkeypatch.setattr(uvicorn, "run", lambda *a, **k: None)
    result = CliRunner().invoke(cli, ["serve", "--host", "192.168.1.20"])
    assert result.exit_code == 0, result.output
    said = " ".join(result.stderr.split())
    assert "REALYIELD_API_TRUSTED_HOSTS" in said and "192.168.1.20" in said


# --- against the real server on 127.0.0.1 ------------------------------------------------


@pytest.fixture(scope="module")
def live(live_api: LiveApi) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live_api.url, timeout=30) as client:
        yield client


def test_live_foreign_host_is_refused(live: httpx.Client, live_api: LiveApi) -> None:
    key = create_key(live_api.engine, "rebinding-victim").token
    headers = {"Host": "attacker.example", "X-API-Key": key}
    assert live.get("/v1/ledger/events", headers=headers).status_code == 421
    posted = live.post("/v1/ledger/import", headers=headers, json=IMPORT)
    assert posted.status_code == 421 and "EVIL" not in {
        e.asset for e in service.list_events(live_api.engine)
    }
    assert live.get("/", headers={"Host": "attacker.example"}).status_code == 421


def test_live_dashboard_token_opens_no_ledger_route(live: httpx.Client) -> None:
    page = live.get("/")
    match = re.search(r'name="dashboard-token" content="([^"]+)"', page.text)
    assert match, "the dashboard page carries its token"
    token = {"X-Dashboard-Token": match.group(1)}
    for method, path, body in KEY_ONLY:
        response = live.request(method, path, headers=token, json=body)
        assert response.status_code == 403, (method, path, response.text)
    assert live.get("/v1/index-levels/abc", headers=token).status_code == 404  # its own jobs


def test_live_security_headers_and_no_inline_script(live: httpx.Client) -> None:
    for path in ("/", "/screener", "/indices/defi-yield", "/planner"):
        page = live.get(path)
        assert page.status_code == 200
        _headers_are_secure(page, html=True)
        scripts = re.findall(r"<script\b([^>]*)>", page.text)
        assert scripts and all("src=" in a or 'type="application/json"' in a for a in scripts)
        assert not re.search(r"\son[a-z]+\s*=", page.text)  # no inline event handlers
    _headers_are_secure(live.get("/v1/indices"), html=False)
    _headers_are_secure(live.get("/v1/indices/nope"), html=False)


def test_live_30_mb_body_gets_413(live: httpx.Client) -> None:
    size = 30 * 2**20
    declared = live.post(
        "/v1/ledger/import", content=b"x" * size, headers={"Content-Type": "application/json"}
    )
    assert declared.status_code == 413 and declared.json()["type"] == "too_large"

    def chunks() -> Iterator[bytes]:
        block = b" " * 2**20
        for _ in range(30):
            yield block

    streamed = live.post(
        "/v1/ledger/import", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert streamed.status_code == 413 and "api_max_body_bytes" in streamed.json()["detail"]
    assert live.get("/healthz").status_code == 200  # the server is still serving

"""API keys (hashed at rest), authentication, per-key rate limits, and a real job run
through HTTP."""

from __future__ import annotations

import asyncio
import hashlib
import time

import httpx
import pytest
from sqlalchemy import Engine, select

from realyield.api import create_app
from realyield.api.keys import KeyVerifier, create_key, list_keys, revoke_key, verify_token
from realyield.backtest.service import index_history
from realyield.core.errors import AuthError, ConfigError, LimitError
from realyield.core.settings import Settings, load_settings
from realyield.indices.service import load_history_data
from realyield.server import create_server
from realyield.store import schema
from tests.conftest import LiveApi


def asgi(
    app: object,
    method: str,
    path: str,
    headers: dict[str, str] | None = None,
    peer: tuple[str, int] = ("127.0.0.1", 50000),
) -> httpx.Response:
    """One request through the ASGI app in-process (no lifespan: nothing is warmed)."""

    async def call() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, client=peer)  # type: ignore[arg-type]
        base = "http://127.0.0.1"  # a trusted Host (others are refused: test_security)
        async with httpx.AsyncClient(transport=transport, base_url=base) as client:
            return await client.request(method, path, headers=headers)

    return asyncio.run(call())


def test_keys_are_stored_as_salted_scrypt_hashes(engine: Engine, settings: Settings) -> None:
    new = create_key(engine, "bot")
    prefix, key_id, secret = new.token.split("_", 2)
    assert prefix == "ry" and key_id == new.key.key_id and len(secret) >= 40
    assert new.token not in repr(new) and secret not in repr(new.key)
    with engine.connect() as conn:
        row = conn.execute(select(schema.api_keys)).one()
    assert row.scheme == "scrypt:n=16384,r=8,p=1"
    expected = hashlib.scrypt(
        secret.encode(), salt=bytes.fromhex(row.salt), n=2**14, r=8, p=1, dklen=32
    ).hex()
    assert row.key_hash == expected
    other = create_key(engine, "bot")  # same name, different salt and secret
    assert other.token != new.token
    engine.dispose()
    raw = (settings.home / "realyield.db").read_bytes()
    wal = settings.home / "realyield.db-wal"
    raw += wal.read_bytes() if wal.exists() else b""
    assert secret.encode() not in raw


def test_verify_accepts_the_key_and_refuses_wrong_revoked_or_malformed(engine: Engine) -> None:
    new = create_key(engine, "app", rate_per_min=5, burst=2)
    assert verify_token(engine, new.token).name == "app"
    with pytest.raises(AuthError, match="wrong secret") as wrong:
        verify_token(engine, new.token[:-2] + "xx")
    assert new.token[-10:] not in str(wrong.value)
    with pytest.raises(AuthError, match="unknown API key"):
        verify_token(engine, "ry_000000000000_abc")
    with pytest.raises(AuthError, match="expected ry_"):
        verify_token(engine, "Bearer something")
    revoked = revoke_key(engine, new.key.key_id)
    assert revoked.revoked_at is not None and not revoked.active
    assert revoke_key(engine, new.key.key_id).revoked_at == revoked.revoked_at  # idempotent
    with pytest.raises(AuthError, match="revoked"):
        verify_token(engine, new.token)
    assert [k.key_id for k in list_keys(engine)] == [new.key.key_id]
    with pytest.raises(ConfigError, match="no API key"):
        revoke_key(engine, "nope")
    with pytest.raises(ConfigError, match="name"):
        create_key(engine, "  ")


def test_verifier_caches_and_meters_unverified_tokens(engine: Engine) -> None:
    new = create_key(engine, "cached")
    verifier = KeyVerifier(engine, verify_rate_per_s=0.01, verify_burst=2)
    started = time.perf_counter()
    verifier.verify(new.token)
    first = time.perf_counter() - started
    started = time.perf_counter()
    for _ in range(50):
        assert verifier.verify(new.token).key_id == new.key.key_id
    assert (time.perf_counter() - started) / 50 < first / 10  # cached: no scrypt
    with pytest.raises(AuthError):
        verifier.verify(new.token + "x")
    with pytest.raises(LimitError) as limited:  # the scrypt budget of 2 is spent
        verifier.verify(new.token + "y")
    assert limited.value.retry_after_s is not None and limited.value.retry_after_s > 1
    with pytest.raises(AuthError, match="expected ry_"):  # malformed costs no budget
        verifier.verify("garbage")


def test_protected_routes_need_a_key(live_api: LiveApi) -> None:
    client = httpx.Client(base_url=live_api.url)
    response = client.post("/v1/index-levels", json={"index": "balanced", "start": "2024-01-01"})
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert "api-key create" in response.json()["detail"]
    bad = client.get("/v1/jobs", headers={"Authorization": "Bearer ry_abc_def"})
    assert bad.status_code == 401 and bad.json()["type"] == "unauthorized"
    assert "ry_abc_def" not in bad.text.replace("'abc'", "")


def test_rate_limit_answers_429_with_retry_after(live_api: LiveApi) -> None:
    new = create_key(live_api.engine, "slow", rate_per_min=6, burst=2)
    client = httpx.Client(base_url=live_api.url, headers={"X-API-Key": new.token})
    statuses = [client.get("/v1/jobs").status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    limited = client.get("/v1/jobs")
    assert limited.status_code == 429 and limited.json()["type"] == "rate_limited"
    retry = int(limited.headers["retry-after"])
    assert 1 <= retry <= 10  # 6/min: a token every 10 s
    other = create_key(live_api.engine, "fast")  # limits are per key
    assert (
        httpx.get(
            f"{live_api.url}/v1/jobs", headers={"Authorization": f"Bearer {other.token}"}
        ).status_code
        == 200
    )


def test_index_levels_job_runs_and_matches_the_library(live_api: LiveApi) -> None:
    new = create_key(live_api.engine, "jobs")
    headers = {"Authorization": f"Bearer {new.token}"}
    client = httpx.Client(base_url=live_api.url, headers=headers, timeout=30)
    bad = client.post(
        "/v1/index-levels", json={"index": "balanced", "start": "2025-06-01", "end": "2025-01-01"}
    )
    assert bad.status_code == 422 and "start must be before end" in bad.json()["message"]
    unknown = client.post("/v1/index-levels", json={"index": "nope", "start": "2024-01-01"})
    assert unknown.status_code == 404
    late = client.post("/v1/index-levels", json={"index": "balanced", "start": "2030-01-01"})
    assert late.status_code == 422 and "before the data's date" in late.json()["message"]

    submitted = client.post(
        "/v1/index-levels",
        json={"index": "large-cap-staking", "start": "2024-06-30", "end": "2025-06-30"},
    )
    assert submitted.status_code == 202, submitted.text
    job = submitted.json()
    assert job["status"] in ("queued", "running", "succeeded")
    assert submitted.headers["location"] == f"/v1/index-levels/{job['id']}"
    for _ in range(600):
        job = client.get(f"/v1/index-levels/{job['id']}").json()
        if job["status"] in ("succeeded", "failed"):
            break
        time.sleep(0.1)
    assert job["status"] == "succeeded", job
    levels = job["result"]["history"]["levels"]
    assert levels[0]["date"] == "2024-06-30" and levels[-1]["date"] == "2025-06-30"

    from datetime import date

    reference = index_history(
        "large-cap-staking",
        load_history_data(live_api.engine),
        start=date(2024, 6, 30),
        end=date(2025, 6, 30),
    )
    assert [p["level_total"] for p in levels] == pytest.approx(
        reference.frame["level_total"].to_list()
    )
    generic = client.get(f"/v1/jobs/{job['id']}").json()
    assert generic["status"] == "succeeded" and generic["kind"] == "index-levels"
    assert job["id"] in [j["id"] for j in client.get("/v1/jobs").json()["data"]]
    stranger = create_key(live_api.engine, "stranger")
    hidden = httpx.get(f"{live_api.url}/v1/jobs/{job['id']}", headers={"X-API-Key": stranger.token})
    assert hidden.status_code == 404  # jobs are private to their key


def test_dashboard_token_is_refused_from_other_hosts(settings: Settings) -> None:
    app = create_app(settings, warm=False)
    token = app.state.realyield.gate.dashboard_token
    poll = "/v1/index-levels/abc123"  # a dashboard job's poll route
    remote = asgi(app, "GET", poll, {"X-Dashboard-Token": token}, ("203.0.113.7", 5000))
    assert remote.status_code == 401 and "only from this machine" in remote.json()["detail"]
    stale = asgi(app, "GET", poll, {"X-Dashboard-Token": token + "x"})
    assert stale.status_code == 401 and "reload the page" in stale.json()["detail"]
    local = asgi(app, "GET", poll, {"X-Dashboard-Token": token})
    assert local.status_code == 404 and "no job" in local.json()["detail"]  # let in
    off = create_app(load_settings(api_dashboard_jobs=False), warm=False)
    token = off.state.realyield.gate.dashboard_token
    refused = asgi(off, "GET", poll, {"X-Dashboard-Token": token})
    assert refused.status_code == 401 and "api_dashboard_jobs" in refused.json()["detail"]


def test_cors_only_for_configured_origins(settings: Settings) -> None:
    preflight = {
        "Origin": "http://app.example",
        "Access-Control-Request-Method": "GET",
    }
    closed = create_app(settings, warm=False)
    response = asgi(closed, "OPTIONS", "/v1/indices", preflight)
    assert "access-control-allow-origin" not in response.headers
    opened = create_app(load_settings(api_cors_origins=("http://app.example",)), warm=False)
    response = asgi(opened, "OPTIONS", "/v1/indices", preflight)
    assert response.headers["access-control-allow-origin"] == "http://app.example"
    other = asgi(opened, "OPTIONS", "/v1/indices", {**preflight, "Origin": "http://evil.test"})
    assert "access-control-allow-origin" not in other.headers


def test_no_data_yet_is_503_with_retry_after(settings: Settings) -> None:
    app = create_server(settings, warm=False)
    response = asgi(app, "GET", "/v1/indices")
    assert response.status_code == 503 and response.headers["retry-after"] == "5"
    assert "realyield demo" in response.json()["detail"]
    assert asgi(app, "GET", "/healthz").status_code == 503
    page = asgi(app, "GET", "/")
    assert page.status_code == 503 and "realyield demo" in page.text

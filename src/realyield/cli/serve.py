"""``realyield serve`` (the REST API and dashboard, composed by
``realyield.server.create_server``) and ``realyield api-key``."""

from __future__ import annotations

import os
import secrets
from typing import Annotated

import typer

from realyield.cli.common import JsonOpt, console, emit_json, err, fail, session
from realyield.core.errors import ConfigError, RealyieldError
from realyield.core.settings import load_settings
from realyield.store.engine import open_store
from realyield.universe import build
from realyield.universe.repository import stored_sources

key_app = typer.Typer(help="Create, list and revoke API keys.", no_args_is_help=True)
#: what uvicorn imports in each worker process
SERVER_FACTORY = "realyield.server:create_server"
_LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")


def serve(
    host: Annotated[
        str | None, typer.Option(help="Address to bind (default 127.0.0.1: this machine only).")
    ] = None,
    port: Annotated[int | None, typer.Option(help="Port (default 8000).")] = None,
    workers: Annotated[
        int, typer.Option(help="Worker processes (each builds its own data cache).")
    ] = 1,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "info",
) -> None:
    """Serve the REST API and the dashboard on the stored data (offline-capable)."""
    import uvicorn

    from realyield.api.app import DASHBOARD_TOKEN_ENV

    try:
        settings = load_settings()
        engine = open_store(settings)
        if not stored_sources(engine):
            build.load_snapshot(engine)
            err.print("[yellow]store was empty: loaded the bundled snapshot[/]")
        engine.dispose()
    except RealyieldError as exc:
        raise fail(exc) from exc
    if workers < 1:
        raise fail(ConfigError(f"--workers must be at least 1, not {workers}"))
    host = host or settings.api_host
    port = port or settings.api_port
    # every worker process must accept the dashboard token the others put in their pages
    os.environ.setdefault(DASHBOARD_TOKEN_ENV, secrets.token_urlsafe(24))
    if host not in _LOOPBACK_NAMES:
        err.print(
            f"[yellow]binding to {host}: the API and dashboard are reachable from other "
            "machines; reads need no key. Requests are answered only for the Host names in "
            f"api_trusted_hosts (now {', '.join(settings.api_trusted_hosts)}): set "
            "REALYIELD_API_TRUSTED_HOSTS to the names or addresses clients use, e.g. "
            f"127.0.0.1,localhost,{host if host not in ('0.0.0.0', '::') else 'my-host.lan'}[/]"
        )
    console.print(f"realyield API and dashboard on http://{host}:{port}", highlight=False)
    uvicorn.run(
        SERVER_FACTORY,
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=log_level,
        proxy_headers=False,
        server_header=False,  # no "server: uvicorn" on every answer
    )


@key_app.command("create")
def key_create(
    name: Annotated[str, typer.Argument(help="Who or what the key is for.")],
    rate_per_min: Annotated[
        float | None, typer.Option(help="This key's request limit a minute (default: settings).")
    ] = None,
    burst: Annotated[int | None, typer.Option(help="This key's burst (default: settings).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Create an API key and print it once: only its hash is stored."""
    from realyield.api.keys import create_key

    with session() as (_settings, engine):
        new = create_key(engine, name, rate_per_min=rate_per_min, burst=burst)
    if as_json:
        emit_json({**new.key.as_dict(), "token": new.token})
        return
    console.print(f"API key {new.key.key_id} ({new.key.name}) created. Store it now: it is")
    console.print("not shown again and cannot be recovered (revoke and create a new one).")
    console.print(new.token, highlight=False, soft_wrap=True)


@key_app.command("list")
def key_list(as_json: JsonOpt = False) -> None:
    """List API keys (ids, names, dates; never secrets)."""
    from realyield.api.keys import list_keys

    with session() as (_settings, engine):
        keys = list_keys(engine)
    if as_json:
        emit_json([k.as_dict() for k in keys])
        return
    for k in keys:
        state = f"revoked {k.revoked_at}" if k.revoked_at else "active"
        console.print(f"{k.key_id}  {k.name}  created {k.created_at}  {state}", highlight=False)
    if not keys:
        console.print("no API keys: create one with `realyield api-key create NAME`")


@key_app.command("revoke")
def key_revoke(
    key_id: Annotated[str, typer.Argument(help="The key's id (see `api-key list`).")],
    as_json: JsonOpt = False,
) -> None:
    """Revoke an API key (running servers stop accepting it within 30 seconds)."""
    from realyield.api.keys import revoke_key

    with session() as (_settings, engine):
        key = revoke_key(engine, key_id)
    if as_json:
        emit_json(key.as_dict())
        return
    console.print(f"API key {key.key_id} ({key.name}) revoked at {key.revoked_at}")

"""Shared fixtures: an isolated REALYIELD_HOME, an open store, the shared real data."""

from __future__ import annotations

import csv
import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from realyield.core.settings import Settings, load_settings
from realyield.store.engine import open_store

_CSV_DEFAULT_FIELD_LIMIT = csv.field_size_limit()


@pytest.fixture(autouse=True)
def _csv_field_limit() -> Iterator[None]:
    """Each test starts from the csv module's default field limit: the importers raise
    this process-wide limit to read long fields, and a test of the default limit must
    not depend on which tests ran before it."""
    csv.field_size_limit(_CSV_DEFAULT_FIELD_LIMIT)
    yield
    csv.field_size_limit(_CSV_DEFAULT_FIELD_LIMIT)


CONTRACT = Path(__file__).parent / "contract"
SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def contract(name: str) -> Any:
    """A recorded API response (real public schema) from tests/contract/."""
    return json.loads((CONTRACT / name).read_text(encoding="utf-8"))


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real public data not found at {SHARED_DATA} (../shared/data beside the repo)")
    return SHARED_DATA


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    home = tmp_path / "home"
    monkeypatch.setenv("REALYIELD_HOME", str(home))
    for key in list(__import__("os").environ):
        if key.startswith("REALYIELD_") and key != "REALYIELD_HOME":
            monkeypatch.delenv(key)
    return load_settings()


@pytest.fixture
def engine(settings: Settings) -> Iterator[Engine]:
    eng = open_store(settings)
    yield eng
    eng.dispose()


@dataclass
class LiveApi:
    """A real uvicorn server running the API and dashboard on the bundled snapshot."""

    url: str
    settings: Settings
    engine: Engine
    app: Any


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def live_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveApi]:
    """One server for the API, schema and browser tests (its data takes seconds to
    build, so it is built once). Tests may add keys and jobs; none changes the data."""
    import httpx
    import uvicorn

    from realyield.server import create_server as create_app  # the API and dashboard
    from realyield.universe.build import load_snapshot

    home = tmp_path_factory.mktemp("live-home")
    live_settings = load_settings(env={"REALYIELD_HOME": str(home)})
    eng = open_store(live_settings)
    load_snapshot(eng)
    app = create_app(live_settings, engine=eng)
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, name="live-api", daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while True:
        try:
            if httpx.get(f"{url}/healthz", timeout=5).status_code == 200:
                break
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline or not thread.is_alive():
            server.should_exit = True
            raise RuntimeError("the live API did not become ready within 180 s")
        time.sleep(0.2)
    try:
        yield LiveApi(url, live_settings, eng, app)
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        eng.dispose()


@pytest.fixture(scope="session")
def test_output() -> Path:
    """Where tests leave artefacts to look at (screenshots, reports): ``test-output/``
    beside the repository's tests (gitignored), or ``$REALYIELD_TEST_OUTPUT``."""
    import os

    out = Path(os.environ.get("REALYIELD_TEST_OUTPUT", Path(__file__).parents[1] / "test-output"))
    out.mkdir(parents=True, exist_ok=True)
    return out

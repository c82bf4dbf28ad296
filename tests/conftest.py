"""Shared fixtures: an isolated REALYIELD_HOME, an open store, the shared real data."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from realyield.core.settings import Settings, load_settings
from realyield.store.engine import open_store

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

"""The ledger suite runs against SQLite and against a real PostgreSQL server.

The PostgreSQL leg needs ``REALYIELD_TEST_POSTGRES_URL`` (``.ci/run`` installs and
starts a server and sets it); without it that leg skips, saying so. Each PostgreSQL test
gets a schema of its own (dropped afterwards), so tests never see each other's rows.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from urllib.parse import quote

import pytest
from sqlalchemy import Engine, create_engine, text

from realyield.core.settings import Settings
from realyield.store.engine import open_store

PG_URL_VAR = "REALYIELD_TEST_POSTGRES_URL"
# Read once at import: the ``settings`` fixture clears REALYIELD_* variables per test.
_PG_URL = os.environ.get(PG_URL_VAR) or None


def postgres_url() -> str | None:
    return _PG_URL


@pytest.fixture
def pg_schema_url() -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a fresh schema (dropped after the test)."""
    base = postgres_url()
    if base is None:
        pytest.skip(f"{PG_URL_VAR} is not set: no PostgreSQL server (.ci/run starts one)")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    sep = "&" if "?" in base else "?"
    yield f"{base}{sep}options={quote(f'-csearch_path={schema}')}"
    with admin.begin() as conn:
        conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, settings: Settings) -> str:
    """The URL of an empty store of each backend."""
    if request.param == "sqlite":
        settings.home.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{settings.home / 'realyield.db'}"
    url: str = request.getfixturevalue("pg_schema_url")
    return url


@pytest.fixture
def db(store_url: str) -> Iterator[Engine]:
    """An open, migrated store on each backend."""
    engine = open_store(url=store_url)
    yield engine
    engine.dispose()

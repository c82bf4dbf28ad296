"""The store: migrations with backups, WAL, idempotent upserts."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select, text

from realyield.core.errors import StoreError
from realyield.core.model import Opportunity
from realyield.core.settings import Settings
from realyield.store import migrations, records, schema
from realyield.store.engine import open_store


def make_opp(apy: float, day: int = 1) -> Opportunity:
    return Opportunity(
        id="p1",
        kind="lending",
        chain="Ethereum",
        protocol="aave-v3",
        symbol="USDC",
        apy=apy,
        apy_base=apy,
        apy_reward=0.0,
        tvl_usd=1e6,
        as_of=datetime(2024, 1, day, 12, tzinfo=UTC),
        source="test",
        meta={"note": "x"},
    )


def test_fresh_store_is_latest_version_and_wal(settings: Settings) -> None:
    engine = open_store(settings)
    assert migrations.current_version(engine) == migrations.LATEST_VERSION
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
    assert (settings.home / "realyield.db").is_file()


def test_migration_from_version_1_keeps_data_and_backs_up_first(settings: Settings) -> None:
    settings.home.mkdir(parents=True)
    db = settings.home / "realyield.db"
    old = create_engine(f"sqlite:///{db}")
    with old.begin() as conn:  # build a version-1 database as the first release did
        migrations.MIGRATIONS[0][2](conn)
        conn.execute(schema.store_meta.insert().values(key="schema_version", value="1"))
        records.save_opportunities(conn, [make_opp(4.0)])
    old.dispose()
    raw = sqlite3.connect(db)
    tables_before = {r[0] for r in raw.execute("select name from sqlite_master where type='table'")}
    raw.close()
    assert "series_info" not in tables_before

    engine = open_store(settings)
    assert migrations.current_version(engine) == migrations.LATEST_VERSION
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(schema.series_info)).scalar() == 0
        assert conn.execute(select(schema.opportunities.c.apy)).scalar() == 4.0
    backups = list((settings.home / "backups").glob("realyield-v1-*.db"))
    assert len(backups) == 1
    copy = sqlite3.connect(backups[0])
    assert copy.execute("select value from store_meta").fetchone() == ("1",)
    assert copy.execute("select apy from opportunities").fetchone() == (4.0,)
    copy.close()
    assert migrations.migrate(engine) == []  # nothing pending: no second backup
    assert len(list((settings.home / "backups").glob("*.db"))) == 1


def test_database_newer_than_the_code_is_refused(settings: Settings) -> None:
    engine = open_store(settings)
    with engine.begin() as conn:
        records.set_meta(conn, "schema_version", "99")
    with pytest.raises(StoreError, match="upgrade realyield"):
        open_store(settings)


def test_failed_migration_step_rolls_back_and_says_so(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = open_store(settings)

    def broken(conn: object) -> None:
        raise RuntimeError("disk full")

    latest = migrations.LATEST_VERSION
    monkeypatch.setattr(
        migrations, "MIGRATIONS", (*migrations.MIGRATIONS, (latest + 1, "broken step", broken))
    )
    monkeypatch.setattr(migrations, "LATEST_VERSION", latest + 1)
    with pytest.raises(StoreError, match=rf"schema version {latest + 1}.*disk full"):
        migrations.migrate(engine)
    assert migrations.current_version(engine) == latest


def test_upserts_are_idempotent_and_update_values(settings: Settings) -> None:
    engine = open_store(settings)
    for apy in (4.0, 4.0, 5.5):
        with engine.begin() as conn:
            records.save_opportunities(conn, [make_opp(apy), make_opp(3.0, day=2)])
    with engine.connect() as conn:
        rows = conn.execute(
            select(schema.opportunities.c.as_of_date, schema.opportunities.c.apy).order_by(
                schema.opportunities.c.as_of_date
            )
        ).all()
        back = records.row_to_opportunity(
            conn.execute(select(schema.opportunities)).mappings().first()
        )  # type: ignore[arg-type]
    assert [r[1] for r in rows] == [5.5, 3.0]
    assert back.meta == {"note": "x"} and back.as_of.tzinfo is not None


def test_unwritable_home_is_a_store_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StoreError, match="REALYIELD_HOME"):
        open_store(Settings(home=blocker / "sub"))

"""Migrations are frozen per version and upgrade every earlier database to the latest.

* Each released step is a module of its own that never imports the live schema
  (``realyield.store.schema`` / ``ledger_tables``): an AST scan of every module under
  ``store/migrations`` fails the suite if one does.
* For every earlier version k, a database built by the steps 1..k with a row in every
  table is upgraded (through ``open_store``, so with a backup) and compared with a new
  database: same tables, columns (type, nullability), primary keys and indexes, and
  every row kept.
* The latest database matches the live table definitions the code queries, so editing
  ``schema.py`` without a new step fails here, not at a user's first query.
"""

from __future__ import annotations

import ast
import datetime as dt
import os
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from sqlalchemy import Connection, Engine, MetaData, Table, create_engine, inspect, text

from realyield.core.settings import Settings
from realyield.store import ledger_tables, migrations, schema
from realyield.store.engine import open_store

MIGRATIONS_DIR = Path(migrations.__file__).parent
_PG_URL = os.environ.get("REALYIELD_TEST_POSTGRES_URL") or None


def _imports(path: Path) -> set[str]:
    """Every module a file imports (``from a.b import c`` gives ``a.b`` and ``a.b.c``)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def test_no_migration_module_imports_the_live_schema() -> None:
    modules = sorted(MIGRATIONS_DIR.glob("*.py"))
    assert len(modules) >= 7
    for path in modules:
        bad = {
            name
            for name in _imports(path)
            if name.startswith(("realyield.store.schema", "realyield.store.ledger_tables"))
            or name in {"realyield.store", "realyield.store.records"}
        }
        assert not bad, f"{path.name} imports the live schema: {sorted(bad)}"
        if path.name.startswith("v"):  # a step: SQLAlchemy and the standard library only
            ours = {n for n in _imports(path) if n.startswith("realyield")}
            assert not ours, f"{path.name} imports project code: {sorted(ours)}"


def test_the_scan_would_catch_an_import_of_the_live_schema(tmp_path: Path) -> None:
    step = tmp_path / "v999_bad.py"
    step.write_text("from realyield.store import schema\nimport realyield.store.ledger_tables\n")
    assert {"realyield.store.schema", "realyield.store.ledger_tables"} <= _imports(step)


def test_every_step_module_is_registered_in_order() -> None:
    files = sorted(p.stem for p in MIGRATIONS_DIR.glob("v[0-9][0-9][0-9]_*.py"))
    assert files == [m.__name__.rsplit(".", 1)[1] for m in migrations._STEPS]
    versions = [number for number, _, _ in migrations.MIGRATIONS]
    assert versions == list(range(1, len(versions) + 1))
    assert [int(name[1:4]) for name in files] == versions


def _build(conn: Connection, version: int) -> None:
    """A database as version ``version`` of realyield left it."""
    for _number, _, step in migrations.MIGRATIONS[:version]:
        step(conn)
    if version:
        migrations._record_version(conn, version)


def _value(column: Any, table: str, i: int) -> Any:
    """A distinct value of the column's type (row ``i`` of the seeded data)."""
    py = column.type.python_type
    if py is bool:
        return True
    if py is int:
        return 1000 + i
    if py is float:
        return 1.25 + i
    if py is Decimal:
        return Decimal("12345678901234567890.123456789") + i
    if py is dt.date:
        return dt.date(2024, 1, 2) + dt.timedelta(days=i)
    if table == "ledger_events" and column.name in {"amount", "counter_amount", "value"}:
        return str(Decimal("0.000000012345678901") + i)  # exact text on SQLite
    length = getattr(column.type, "length", None) or 40
    return f"{table[:6]}-{column.name[:6]}-{i}"[:length]


def _seed(conn: Connection) -> dict[str, list[dict[str, Any]]]:
    """Two rows in every table the database has (store_meta keeps its own)."""
    seeded: dict[str, list[dict[str, Any]]] = {}
    for name in inspect(conn).get_table_names():
        if name == "store_meta":
            continue
        table = Table(name, MetaData(), autoload_with=conn)
        rows = [{c.name: _value(c, name, i) for c in table.columns} for i in range(2)]
        conn.execute(table.insert(), rows)
        seeded[name] = rows
    return seeded


def _describe(conn: Connection) -> dict[str, Any]:
    insp = inspect(conn)
    out: dict[str, Any] = {}
    for name in sorted(insp.get_table_names()):
        out[name] = {
            "columns": {
                c["name"]: (str(c["type"]).split("(")[0], c["nullable"])
                for c in insp.get_columns(name)
            },
            "pk": tuple(insp.get_pk_constraint(name)["constrained_columns"]),
            "indexes": {
                (i["name"], tuple(i["column_names"]), bool(i["unique"]))
                for i in insp.get_indexes(name)
            },
            "unique": {
                (u["name"], tuple(u["column_names"])) for u in insp.get_unique_constraints(name)
            },
        }
    return out


def _check_upgrade(make_engine: Any, version: int) -> Engine:
    old = make_engine()
    with old.begin() as conn:
        _build(conn, version)
        seeded = _seed(conn) if version else {}
    old.dispose()
    engine = make_engine(migrate=True)
    assert migrations.current_version(engine) == migrations.LATEST_VERSION
    with engine.connect() as conn:
        for name, rows in seeded.items():
            table = Table(name, MetaData(), autoload_with=conn)
            stored = [dict(r._mapping) for r in conn.execute(table.select())]
            kept = [{k: r[k] for k in rows[0]} for r in stored]
            expected = [{k: _norm(v) for k, v in r.items()} for r in rows]
            assert sorted(map(repr, ({k: _norm(v) for k, v in r.items()} for r in kept))) == (
                sorted(map(repr, expected))
            ), f"rows of {name} changed upgrading from version {version}"
    return engine


def _norm(value: Any) -> Any:
    return str(value) if isinstance(value, Decimal) else value


@pytest.fixture
def sqlite_factory(settings: Settings, tmp_path: Path) -> Iterator[Any]:
    engines: list[Engine] = []

    def make(db: Path) -> Any:
        def factory(*, migrate: bool = False) -> Engine:
            url = f"sqlite:///{db}"
            eng = open_store(url=url) if migrate else create_engine(url)
            engines.append(eng)
            return eng

        return factory

    yield make
    for eng in engines:
        eng.dispose()


@pytest.mark.parametrize("version", range(migrations.LATEST_VERSION))
def test_sqlite_upgrade_from_every_version_matches_a_new_database(
    version: int, sqlite_factory: Any, tmp_path: Path
) -> None:
    upgraded = _check_upgrade(sqlite_factory(tmp_path / "old.db"), version)
    fresh = sqlite_factory(tmp_path / "new.db")(migrate=True)
    with upgraded.connect() as a, fresh.connect() as b:
        assert _describe(a) == _describe(b)
    backups = list((tmp_path / "backups").glob(f"old-v{version}-*.db")) if version else []
    assert len(backups) == (1 if version else 0)  # backup first (none for an empty file)


def test_a_v5_database_made_by_the_v6_code_upgrades(sqlite_factory: Any, tmp_path: Path) -> None:
    """The v6 release created v5 databases with the v6 columns already present."""
    make = sqlite_factory(tmp_path / "old.db")
    with make().begin() as conn:
        _build(conn, 4)
        schema.metadata.create_all(conn, tables=list(ledger_tables.LEDGER_TABLES))
        migrations._record_version(conn, 5)
    engine = make(migrate=True)
    fresh = sqlite_factory(tmp_path / "new.db")(migrate=True)
    with engine.connect() as a, fresh.connect() as b:
        assert set(_describe(a)["ledger_imports"]["columns"]) == set(
            _describe(b)["ledger_imports"]["columns"]
        )


def test_the_latest_database_matches_the_live_schema(engine: Engine) -> None:
    """What the code queries (schema.py, ledger_tables.py) is what the steps build."""
    with engine.connect() as conn:
        built = _describe(conn)
    live = MetaData()
    for table in schema.metadata.sorted_tables:
        table.to_metadata(live)
    mem = create_engine("sqlite://")
    with mem.begin() as conn:
        live.create_all(conn)
        expected = _describe(conn)
    mem.dispose()
    assert built.keys() == expected.keys(), "a table differs: add a migration step"
    for name in built:
        assert built[name] == expected[name], f"{name} differs from schema.py: add a step"


@pytest.fixture
def pg_factory() -> Iterator[Any]:
    if _PG_URL is None:
        pytest.skip("REALYIELD_TEST_POSTGRES_URL is not set: no PostgreSQL server")
    admin = create_engine(_PG_URL)
    names: list[str] = []
    engines: list[Engine] = []

    def make() -> Any:
        name = f"t_{uuid.uuid4().hex[:12]}"
        names.append(name)
        with admin.begin() as conn:
            conn.execute(text(f"CREATE SCHEMA {name}"))
        sep = "&" if "?" in str(_PG_URL) else "?"
        url = f"{_PG_URL}{sep}options={quote(f'-csearch_path={name}')}"

        def factory(*, migrate: bool = False) -> Engine:
            eng = open_store(url=url) if migrate else create_engine(url)
            engines.append(eng)
            return eng

        return factory

    yield make
    for eng in engines:
        eng.dispose()
    with admin.begin() as conn:
        for name in names:
            conn.execute(text(f"DROP SCHEMA {name} CASCADE"))
    admin.dispose()


@pytest.mark.parametrize("version", range(migrations.LATEST_VERSION))
def test_postgresql_upgrade_from_every_version_matches_a_new_database(
    version: int, pg_factory: Any
) -> None:
    upgraded = _check_upgrade(pg_factory(), version)
    fresh = pg_factory()(migrate=True)
    with upgraded.connect() as a, fresh.connect() as b:
        assert _describe(a) == _describe(b)

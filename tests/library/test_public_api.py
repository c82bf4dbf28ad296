"""The public Python API (``import realyield as ry``): docs/python.md's example runs,
the functions give what the CLI's commands give, and ``import realyield`` stays light."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

import realyield as ry
from realyield.cli import app
from realyield.core.errors import ConfigError, DataError
from realyield.core.settings import Settings

DOC = Path(__file__).resolve().parents[2] / "docs" / "python.md"


def _example() -> str:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
    assert len(blocks) == 1, "docs/python.md should hold exactly one runnable example"
    return str(blocks[0])


def test_docs_example_runs(settings: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    exec(compile(_example(), str(DOC), "exec"), {"__name__": "__docs__"})
    out = capsys.readouterr().out
    # $50k of $1M is a 5% required yield, whatever the verdict
    assert "needs 5.0%: " in out
    assert re.search(r"needs 5\.0%: (sustainable|stretch|unsustainable)\n", out)
    assert "stablecoin-income" in out
    assert out.rstrip().endswith("None")


def test_screen_equals_cli_json(settings: Settings, engine: Engine) -> None:
    ry.ensure_data(engine)
    rows = ry.screen(kind="lending", store=engine)
    result = CliRunner().invoke(app, ["screen", "--kind", "lending", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == json.loads(json.dumps(rows))
    assert rows and all(r["kind"] == "lending" and not r["excluded"] for r in rows)


def test_errors_are_the_library_errors(settings: Settings, engine: Engine) -> None:
    ry.ensure_data(engine)
    with pytest.raises(ConfigError, match="sort"):
        ry.screen(sort="nonsense", store=engine)
    with pytest.raises(DataError):
        ry.explain("no-such:pool:here", store=engine)
    with pytest.raises(ConfigError, match="YYYY-MM-DD"):
        ry.indices(as_of="yesterday", store=engine)
    with pytest.raises(ConfigError, match="unknown index"):
        ry.backtest("no-such-index", store=engine)
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = ry.nope


def test_every_public_name_exists() -> None:
    for name in ry.__all__:
        assert getattr(ry, name) is not None, name
    assert set(dir(ry)) >= set(ry.__all__)


def test_import_is_light() -> None:
    code = (
        "import sys, realyield; "
        "heavy = [m for m in ('sqlalchemy', 'polars', 'numpy', 'typing', 'realyield.library') "
        "if m in sys.modules]; print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_every_package_declares_all_of_names_that_exist() -> None:
    """Each package's ``__all__`` names its own attributes or submodules (checked
    without importing the submodules, some of which load heavy libraries)."""
    import importlib
    import importlib.util
    import pkgutil

    root = Path(ry.__file__).parent
    packages = ["realyield"] + [
        m.name
        for m in pkgutil.walk_packages([str(root)], prefix="realyield.")
        if m.ispkg and ".data." not in m.name and m.name != "realyield.store.migrations"
    ]
    assert "realyield.scoring" in packages and "realyield.agents" in packages
    for name in packages:
        package = importlib.import_module(name)
        names = getattr(package, "__all__", None)
        assert names, f"{name} declares no __all__"
        for item in names:
            assert hasattr(package, item) or importlib.util.find_spec(f"{name}.{item}"), (
                f"{name}.__all__ names {item!r}, which does not exist"
            )

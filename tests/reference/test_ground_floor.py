"""reference/ is ground floor: it imports only core (and itself), so any stage may use it."""

from __future__ import annotations

import ast
from pathlib import Path

import realyield.reference

PACKAGE = Path(realyield.reference.__file__).parent


def _imported(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_reference_imports_only_core() -> None:
    modules = sorted(PACKAGE.glob("*.py"))
    assert len(modules) >= 7
    for path in modules:
        ours = {n for n in _imported(path) if n.split(".")[0] == "realyield"}
        stray = {n for n in ours if not n.startswith(("realyield.core", "realyield.reference"))}
        assert not stray, f"{path.name} imports {sorted(stray)}"

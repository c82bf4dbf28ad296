"""realyield: sustainable crypto income, with data and code anyone can check.

The public Python API (``docs/python.md``)::

    import realyield as ry
    rows = ry.screen(kind="lending")
    plan = ry.plan(1_000_000, 50_000)
    ry.ledger.income(2024)

The names load on first use (``realyield.library``), so ``import realyield`` stays fast
and a CLI command pays only for what it runs.

``ry.indices`` and ``ry.backtest`` share their names with subpackages: each is a
``_Dual`` that runs the function when called and reads the subpackage's attributes
(``realyield.indices.service`` still resolves, for imports, ``mock`` and ``monkeypatch``
alike); the import system's ``setattr`` of the subpackage on this module is declined so
the function stays reachable.
"""

from __future__ import annotations

import sys
import types

TYPE_CHECKING = False  # typing itself costs more to import than the rest of this module
__version__ = "0.1.0"

__all__ = [
    "__version__",
    "acknowledge",
    "alerts",
    "backtest",
    "ensure_data",
    "explain",
    "index_definitions",
    "indices",
    "ledger",
    "open_store",
    "plan",
    "screen",
]
_LIBRARY = frozenset(__all__) - {"__version__", "ledger"}
_DUAL = frozenset({"indices", "backtest"})  # functions named like subpackages

if TYPE_CHECKING:
    from typing import Any

    from realyield.library import (
        acknowledge,
        alerts,
        backtest,
        ensure_data,
        explain,
        index_definitions,
        indices,
        ledger,
        open_store,
        plan,
        screen,
    )


class _Dual:
    """``ry.indices`` / ``ry.backtest``: call it for the library function; its other
    attributes are the subpackage's (``ry.indices.service`` is ``realyield.indices.service``)."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        import realyield.library as library

        return getattr(library, self._name)(*args, **kwargs)

    def __getattr__(self, attr: str) -> Any:
        import importlib

        return getattr(importlib.import_module(f"realyield.{self._name}"), attr)

    def __repr__(self) -> str:
        return f"<realyield.{self._name}: the library function; attributes of the subpackage>"


class _Package(types.ModuleType):
    def __setattr__(self, name: str, value: Any) -> None:
        if name in _DUAL and isinstance(value, types.ModuleType):
            return  # the subpackage is in sys.modules and reached through the _Dual
        super().__setattr__(name, value)


if not TYPE_CHECKING:
    indices = _Dual("indices")
    backtest = _Dual("backtest")
    sys.modules[__name__].__class__ = _Package


def __getattr__(name: str) -> Any:
    """Load a public name from ``realyield.library`` on first access (PEP 562)."""
    if name in _LIBRARY:
        import realyield.library as library

        return getattr(library, name)
    if name == "ledger":
        from realyield.library import ledger as ledger_module

        return ledger_module
    raise AttributeError(f"module 'realyield' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})

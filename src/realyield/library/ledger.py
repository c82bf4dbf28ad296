"""``ry.ledger``: the tax ledger's reports (``realyield ledger ...``) as functions.

Amounts are ``Decimal`` in the ledger's fiat (``REALYIELD_LEDGER_FIAT``, default USD).
Each function takes an optional ``store`` like the rest of ``realyield.library``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from realyield.library import _engine

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from realyield.portfolio.service import LedgerSummary


def _fiat() -> str:
    from realyield.core.settings import load_settings

    return load_settings().ledger_fiat


def income(year: int, *, store: Engine | None = None) -> Any:
    """The year's income (staking, interest, rewards...) valued at receipt
    (``realyield ledger income --year``); ``.as_dict()`` is its JSON.

    Raises:
        StoreError: the store cannot be read.
    """
    from realyield.portfolio import service

    with _engine(store) as engine:
        return service.income(engine, year, fiat=_fiat())


def gains(year: int, method: str | None = None, *, store: Engine | None = None) -> Any:
    """The year's realised gains by lot (``realyield ledger gains``).

    Raises:
        ConfigError: an unknown lot method.
    """
    from realyield.portfolio import service

    with _engine(store) as engine:
        return service.gains(engine, year, method, fiat=_fiat())


def summary(year: int | None = None, *, store: Engine | None = None) -> LedgerSummary | None:
    """Holdings, income and gains of ``year`` (default: the newest year with events);
    None when the ledger is empty."""
    from realyield.portfolio import service

    with _engine(store) as engine:
        year = year if year is not None else service.latest_year(engine)
        if year is None:
            return None
        return service.ledger_summary(engine, year, fiat=_fiat())


def events(*, store: Engine | None = None, **filters: Any) -> list[Any]:
    """Stored ledger events (``realyield ledger list``); ``filters`` as
    ``portfolio.service.list_events``."""
    from realyield.portfolio import service

    with _engine(store) as engine:
        return list(service.list_events(engine, **filters))


__all__ = ["events", "gains", "income", "summary"]

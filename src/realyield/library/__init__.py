"""The public Python API: ``import realyield as ry`` then ``ry.screen()``, ``ry.plan(...)``.

Thin functions over the library's services (``scoring.service``, ``indices.service``,
``planning.service``, ``backtest.service``, ``monitor.alerts``, ``portfolio.service``),
doing what the CLI's commands do between parsing and printing, so a script, the CLI and
the MCP server get the same answers. Every function takes an optional ``store`` (an
engine from ``open_store()``); without one it opens the configured store
(``REALYIELD_HOME`` / ``REALYIELD_DATABASE_URL``) for the call and closes it after.

Functions that read the market (``screen``, ``explain``, ``indices``, ``backtest``) load
the bundled, illustrative snapshot into an empty store first, as the CLI does.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import date
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from realyield.backtest.engine import BacktestResult
    from realyield.indices.composition import IndexComposition
    from realyield.monitor.alerts import Alert
    from realyield.planning.plan import Plan
    from realyield.scoring.score import Explanation


def open_store(url: str | None = None) -> Engine:
    """The store's engine: the configured one (settings from the environment), or the
    database at ``url``. Created and migrated if needed; call ``.dispose()`` when done.

    Raises:
        ConfigError: the settings are invalid.
        StoreError: the database cannot be opened or migrated.
    """
    from realyield.core.settings import load_settings
    from realyield.store.engine import open_store as _open

    return _open(None, url=url) if url else _open(load_settings())


@contextmanager
def _engine(store: Engine | None) -> Iterator[Engine]:
    if store is not None:
        yield store
        return
    engine = open_store()
    try:
        yield engine
    finally:
        engine.dispose()


def ensure_data(store: Engine) -> bool:
    """Load the bundled snapshot when the store holds no market data; True if it did."""
    from realyield.universe import build
    from realyield.universe.repository import stored_sources

    if stored_sources(store):
        return False
    build.load_snapshot(store)
    return True


def _day(as_of: date | str | None) -> date | None:
    from realyield.core.errors import ConfigError

    if as_of is None or isinstance(as_of, date):
        return as_of
    try:
        return date.fromisoformat(as_of)
    except ValueError as exc:
        raise ConfigError(f"as_of {as_of!r} is not a YYYY-MM-DD date") from exc


def _universe_query(source: str | None, as_of: date | str | None) -> Any:
    from realyield.universe.repository import UniverseQuery

    return UniverseQuery(as_of=_day(as_of), sources=(source,) if source else None)


def screen(
    *,
    kind: str | None = None,
    chain: str | None = None,
    protocol: str | None = None,
    min_sustainability: float | None = None,
    max_risk: float | None = None,
    min_tvl_usd: float | None = None,
    include_excluded: bool = False,
    sort: str = "sustainable",
    source: str | None = None,
    as_of: date | str | None = None,
    store: Engine | None = None,
) -> list[dict[str, Any]]:
    """The screener's rows (the same as ``realyield screen --json``): every opportunity
    that passes the screens (or all, with ``include_excluded``), scored and sorted.

    The screens run on the whole universe; the filters then select among the rows.

    Raises:
        ConfigError: an unknown kind or sort, a bound out of range, a bad date.
        DataError: the query selects nothing.
    """
    from realyield.core.settings import load_settings
    from realyield.scoring.screener import ScreenerQuery, apply_screener, screener_rows
    from realyield.scoring.service import score_stored

    screener = ScreenerQuery(
        kind=kind,
        chain=chain,
        protocol=protocol,
        min_sustainability=min_sustainability,
        max_risk=max_risk,
        min_tvl_usd=min_tvl_usd,
        include_excluded=include_excluded,
        sort=sort,
    )
    query = _universe_query(source, as_of)
    with _engine(store) as engine:
        ensure_data(engine)
        scored, _note = score_stored(engine, query, home=load_settings().home)
    return screener_rows(apply_screener(scored.table(readable=True), screener))


def explain(
    opportunity_id: str,
    *,
    source: str | None = None,
    as_of: date | str | None = None,
    store: Engine | None = None,
) -> Explanation:
    """Every factor behind one opportunity's scores, its screens, dependencies and
    forecast (``.as_dict()`` is ``realyield explain --json``). An opportunity that left
    the universe (stale) is still explained.

    Raises:
        DataError: no opportunity has that id.
        ConfigError: a bad date.
    """
    from realyield.core.errors import DataError
    from realyield.scoring.service import score_stored

    query = _universe_query(source, as_of)
    with _engine(store) as engine:
        ensure_data(engine)
        scored, _note = score_stored(engine, query)
        try:
            return scored.explain(opportunity_id)
        except DataError:
            scored, _note = score_stored(engine, replace(query, max_age_days=None))
            return scored.explain(opportunity_id)


def indices(
    *,
    source: str | None = None,
    as_of: date | str | None = None,
    store: Engine | None = None,
) -> dict[str, IndexComposition | Exception]:
    """Every published index built from the store as of ``as_of`` (default: the newest
    data): name -> its composition (``.as_dict()`` is one entry of ``realyield indices
    --json``), or the error that kept it from being built.

    Raises:
        ConfigError: a bad date.
        DataError: the store selects nothing at that date.
    """
    from realyield.core.settings import load_settings
    from realyield.indices.service import indices_at

    with _engine(store) as engine:
        ensure_data(engine)
        results, _note = indices_at(
            engine,
            as_of=_day(as_of),
            sources=(source,) if source else None,
            home=load_settings().home,
        )
    return dict(results)


def index_definitions() -> dict[str, Any]:
    """The published index definitions (methodology), by name."""
    from realyield.indices.methodology import packaged_definitions

    return dict(packaged_definitions())


def plan(
    capital: float | str,
    income: float | str,
    *,
    risk: str = "moderate",
    as_of: date | str | None = None,
    store: Engine | None = None,
    **options: Any,
) -> Plan:
    """Plan an income goal (``realyield plan``): the required yield, the verdict, the
    allocation, the Monte Carlo outcomes and the cash flow.

    ``capital`` and ``income`` (dollars a year) are numbers or the CLI's texts ("$1M",
    "50k/year", "4000/month"); ``options`` are ``PlanRequest`` fields (``horizon``,
    ``paths``, ``seed``, ``withdrawal``, ``allocation``...): texts are read as the CLI
    reads them ("25%"), numbers are taken as the field's unit (fractions for rates).

    Raises:
        ConfigError: an option that cannot be read, or an impossible goal.
        DataError, InsufficientDataError: the indices cannot be built.
    """
    from realyield.planning.parse import request_options
    from realyield.planning.service import PlanRequest, plan_stored

    given = {"capital": capital, "income_per_year": income, "risk": risk}
    aliases = {"horizon": "horizon_years", "start_in": "start_in_years"}
    for key, value in options.items():
        given[aliases.get(key, key)] = value
    # texts go through the CLI's parser; numbers and mappings are already fields
    opts = request_options(**{k: v for k, v in given.items() if isinstance(v, str)})
    opts.update({k: v for k, v in given.items() if not isinstance(v, str)})
    request = PlanRequest(**opts)
    with _engine(store) as engine:
        return plan_stored(engine, request, as_of=_day(as_of))


def backtest(
    index: str,
    *,
    start: date | str | None = None,
    end: date | str | None = None,
    source: str | None = None,
    store: Engine | None = None,
    **overrides: Any,
) -> BacktestResult:
    """Backtest a published index rebuilt point in time (``realyield backtest NAME``);
    ``overrides`` are ``BacktestConfig`` fields (``rebalance``, ``fee_bps``...).

    Raises:
        ConfigError: an unknown index or option.
        InsufficientDataError: the stored history does not cover the window.
    """
    from realyield.backtest.service import backtest_index

    config = {"start": _day(start), "end": _day(end), **overrides}
    with _engine(store) as engine:
        ensure_data(engine)
        return backtest_index(
            engine,
            index,
            {k: v for k, v in config.items() if v is not None},
            sources=(source,) if source else None,
        )


def alerts(
    *, status: str | None = None, limit: int | None = 50, store: Engine | None = None
) -> list[Alert]:
    """Stored alerts, newest first (``realyield alerts``); ``status`` open|acknowledged.

    Raises:
        ConfigError: an unknown status.
    """
    from realyield.monitor.alerts import list_alerts

    with _engine(store) as engine:
        return list_alerts(engine, status=status, limit=limit)


def acknowledge(alert_id: int, note: str | None = None, *, store: Engine | None = None) -> Alert:
    """Acknowledge an alert (``realyield alerts --ack ID``); idempotent.

    Raises:
        ConfigError: no alert has that id.
    """
    from realyield.monitor.alerts import acknowledge as _ack

    with _engine(store) as engine:
        return _ack(engine, alert_id, note)


__all__ = [
    "acknowledge",
    "alerts",
    "backtest",
    "ensure_data",
    "explain",
    "index_definitions",
    "indices",
    "open_store",
    "plan",
    "screen",
]

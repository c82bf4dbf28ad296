"""Indices over what the store holds: the functions the CLI, API and planner call.

``indices_at`` scores the stored universe as of a date and builds every index from it;
``HistoryData`` holds what a point-in-time replay reads (at each rebalance only data up
to that date: the universe as it stood, assets' market caps of that day, no forecast
re-run). The replay itself, levels and backtest alike, is ``backtest.service``'s: one
schedule, one simulation (``index_history`` for the levels).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from functools import cached_property
from pathlib import Path

import numpy as np
import polars as pl
from sqlalchemy import Engine

from realyield.core.errors import ConfigError, InsufficientDataError
from realyield.core.model import Asset, Opportunity
from realyield.indices.composition import IndexComposition
from realyield.indices.construct import IndexInputs, build_all
from realyield.indices.methodology import IndexDefinition, packaged_definitions
from realyield.indices.weights import InfeasibleWeightsError
from realyield.scoring.history_stats import HistoryStatsIndex
from realyield.scoring.record_facts import FactsCache
from realyield.scoring.score import ScoredUniverse, score_universe
from realyield.scoring.service import score_stored
from realyield.universe.point_in_time import (
    SortedHistory,
    assets_at,
    day_number,
    opportunities_at,
    standing_routes_at,
)
from realyield.universe.repository import (
    UniverseQuery,
    apy_history_frame,
    load_assets,
    load_universe,
    price_history_frame,
    stored_sources,
)


def indices_at(
    engine: Engine,
    *,
    as_of: date | None = None,
    sources: tuple[str, ...] | None = None,
    definitions: Mapping[str, IndexDefinition] | None = None,
    home: Path | None = None,
    scored: ScoredUniverse | None = None,
) -> tuple[dict[str, IndexComposition | InfeasibleWeightsError], str | None]:
    """Every index built from the stored universe (or an already ``scored`` one); also
    the forecast note, if any."""
    definitions = definitions or packaged_definitions()
    note = None
    if scored is None:
        scored, note = score_stored(engine, UniverseQuery(as_of=as_of, sources=sources), home=home)
    day = as_of or scored.inputs.as_of
    assets = {a.id: a for a in load_assets(engine, as_of=day)}
    prices = price_history_frame(engine, list(assets), start=day - timedelta(days=400), end=day)
    inputs = IndexInputs(day, scored, assets, prices)
    return build_all(definitions, inputs), note


class _PriceLookup:
    """The price table sorted once: by asset for as-of prices and trends, by date for
    each rebalance date's prefix (a slice, no copy)."""

    def __init__(self, prices: pl.DataFrame) -> None:
        self.by_asset = SortedHistory(prices, "asset_id")
        self._by_date = prices.sort("date", maintain_order=True)
        self._dates = self._by_date["date"].cast(pl.Int32).to_numpy()

    def up_to(self, day: date) -> pl.DataFrame:
        """The prices dated up to ``day``."""
        return self._by_date.slice(0, int(np.searchsorted(self._dates, day_number(day), "right")))


class _HistoryLookup:
    """The APY history sorted once (latest rows, history statistics) and each record's
    date-independent scoring facts: what scoring a new date reads."""

    def __init__(self, history: pl.DataFrame) -> None:
        self.latest = SortedHistory(history, "id")
        self.stats = HistoryStatsIndex(history)
        self.facts = FactsCache()


@dataclass
class HistoryData:
    """Everything a point-in-time replay reads, loaded once; the universe scored at each
    rebalance date and the indices built from it (or why they could not be) are cached,
    so replaying several indices (or a composite and its parts) scores each date once
    and builds each index once a date."""

    opportunities: list[Opportunity]
    history: pl.DataFrame
    assets: list[Asset]
    prices: pl.DataFrame
    _inputs: dict[date, IndexInputs] = field(default_factory=dict)
    _built: dict[date, dict[str, IndexComposition]] = field(default_factory=dict)
    _failed: dict[date, dict[str, InfeasibleWeightsError | InsufficientDataError]] = field(
        default_factory=dict
    )

    @cached_property
    def _prices_sorted(self) -> _PriceLookup:
        return _PriceLookup(self.prices)

    @cached_property
    def _history_sorted(self) -> _HistoryLookup:
        return _HistoryLookup(self.history)

    def inputs_at(self, day: date) -> IndexInputs:
        """The scored universe as it stood on ``day`` (data up to that day only).

        Raises:
            InsufficientDataError: no opportunity has history on that day.
        """
        if day not in self._inputs:
            sorted_prices, sorted_history = self._prices_sorted, self._history_sorted
            opps = opportunities_at(self.opportunities, sorted_history.latest, day)
            if not opps:
                raise InsufficientDataError(f"no opportunity has history on {day}")
            assets = assets_at(self.assets, sorted_prices.by_asset, day)
            # the staking table's routes have no APY history: they stand, with their
            # network's market cap of the day
            known = {o.id for o in opps}
            opps += [
                o
                for o in standing_routes_at(self.opportunities, assets, sorted_prices.by_asset, day)
                if o.id not in known
            ]
            scored = score_universe(
                opps,
                as_of=day,
                stats=sorted_history.stats.at(day),
                facts_cache=sorted_history.facts,
                assets=list(assets.values()),
                prices=sorted_prices.by_asset,
            )
            self._inputs[day] = IndexInputs(
                day,
                scored,
                assets,
                sorted_prices.up_to(day),
                price_history=sorted_prices.by_asset,
            )
        return self._inputs[day]

    def __getstate__(self) -> dict[str, object]:
        """Pickled without each date's price frame (a prefix of ``prices``, rebuilt on
        unpickling) and without the sorted lookups (rebuilt on first use): a methodology
        sweep sends this to every worker, and the copies were three quarters of its
        size."""
        state = dict(self.__dict__)
        state["_inputs"] = {
            d: replace(i, prices=None, price_history=None) for d, i in self._inputs.items()
        }
        state.pop("_prices_sorted", None)
        state.pop("_history_sorted", None)
        return state

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__dict__.update(state)
        for day, inputs in self._inputs.items():  # the APY history is sorted only if asked
            inputs.prices = self._prices_sorted.up_to(day)
            inputs.price_history = self._prices_sorted.by_asset

    def sharing_scores(self) -> HistoryData:
        """A view over the same histories and the same scored universe per date, with
        index caches of its own: for replaying a different definition under a name
        already cached (a methodology sweep's variants)."""
        return HistoryData(self.opportunities, self.history, self.assets, self.prices, self._inputs)

    def built_at(self, day: date) -> dict[str, IndexComposition]:
        return self._built.setdefault(day, {})

    def failed_at(self, day: date) -> dict[str, InfeasibleWeightsError | InsufficientDataError]:
        """Why indices could not be built on ``day`` (not attempted twice)."""
        return self._failed.setdefault(day, {})


def load_history_data(engine: Engine, sources: tuple[str, ...] | None = None) -> HistoryData:
    sources = sources or tuple(stored_sources(engine))
    opps = load_universe(engine, UniverseQuery(sources=sources, max_age_days=None))
    return HistoryData(
        opps,
        apy_history_frame(engine, [o.id for o in opps]),
        load_assets(engine),
        price_history_frame(engine),
    )


def index_named(
    engine: Engine, name: str, *, as_of: date | None = None, home: Path | None = None
) -> IndexComposition:
    """Index ``name`` built from the stored universe (as of ``as_of``, else the newest).

    Raises:
        ConfigError: an unknown index, or one the data cannot build.
    """
    built, _ = indices_at(engine, as_of=as_of, home=home)
    comp = built.get(name)
    if not isinstance(comp, IndexComposition):
        known = sorted(built)
        raise ConfigError(f"index {name!r} cannot be built: {comp}; known: {known}")
    return comp

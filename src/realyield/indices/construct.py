"""One constructor for every index family: eligibility, weighting, caps, composites.

Given an ``IndexDefinition`` (rules as data) and the scored universe at a date, build
the index's composition:

* opportunity indices (DeFi Yield, Stablecoin Income, custom): eligible opportunities
  -> target weights from the weighting rule (per sleeve) -> the LP in
  ``indices.weights`` enforcing the single-holding cap, every dependency cap and the
  sleeve weights exactly;
* Large-Cap Staking: PoS assets above a market-cap floor, cap-weighted with a
  single-asset cap; for each asset the staking route with the best net yield after
  lock-up and risk penalties;
* asset baskets (growth assets) cap-weighted, with an optional trend filter that moves
  into a fallback index when risk is off;
* composites (Balanced): fixed shares of other indices and baskets.

When the constraints cannot be met, the previous composition is kept and the reason is
recorded in ``notes``; without a previous composition ``InfeasibleWeightsError`` is
raised.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

import numpy as np
import polars as pl

from realyield.core.errors import ConfigError, InsufficientDataError
from realyield.core.model import Asset
from realyield.indices.candidates import (
    CandidateColumns,
    Rows,
    dependency_groups,
    underlying_assets,
)
from realyield.indices.composition import IndexComposition, merge
from realyield.indices.methodology import Component, IndexDefinition
from realyield.indices.weights import (
    CapGroup,
    InfeasibleWeightsError,
    capped_weights,
)
from realyield.reference.staking import StakingParams
from realyield.scoring.score import ScoredUniverse
from realyield.universe.point_in_time import SortedHistory


@dataclass
class IndexInputs:
    """Everything index construction reads, as of one date (no look-ahead)."""

    as_of: date
    scored: ScoredUniverse
    assets: Mapping[str, Asset] = field(default_factory=dict)
    prices: pl.DataFrame | None = None  # asset_id, date, price_usd (up to as_of)
    # the same prices sorted for as-of lookups (may run past as_of: readers stop there)
    price_history: SortedHistory | None = None
    staking: Sequence[StakingParams] | None = None
    _candidates: pl.DataFrame | None = None
    _columns: CandidateColumns | None = None

    def candidates(self) -> pl.DataFrame:
        """The scored table plus dependency keys and underlying asset ids per row: a view
        for reading what a build saw (builds themselves read :meth:`columns`)."""
        if self._candidates is None:
            x = self.scored.inputs
            self._candidates = self.scored.table().with_columns(
                string_lists("dependencies", [d.keys() for d in x.dependencies]),
                string_lists(
                    "underlying",
                    [underlying_assets(o.underlying, o.symbol) for o in x.opportunities],
                ),
                pl.Series("stablecoin", [bool(o.stablecoin) for o in x.opportunities]),
            )
        return self._candidates

    def columns(self) -> CandidateColumns:
        """The scored universe's fields as arrays (built once per date)."""
        if self._columns is None:
            self._columns = CandidateColumns.of(self.scored)
        return self._columns


_SEPARATOR = "\x1f"  # ASCII unit separator


def string_lists(name: str, values: Sequence[Collection[str]]) -> pl.Series:
    """A ``List(Utf8)`` column from Python collections of strings.

    Polars converts nested Python lists one element at a time; joining each row and
    splitting it in Polars builds the same column several times faster (the candidate
    table of a 20,000-pool universe). Should a string hold the separator, the slow path
    is taken.
    """
    joined = [_SEPARATOR.join(v) if v else None for v in values]
    pairs = zip(values, joined, strict=True)
    if any(j is not None and j.count(_SEPARATOR) != len(v) - 1 for v, j in pairs):
        return pl.Series(name, [list(v) for v in values], dtype=pl.List(pl.Utf8))
    return (
        pl.Series(name, joined, dtype=pl.Utf8)
        .str.split(_SEPARATOR)
        .fill_null(pl.lit([], dtype=pl.List(pl.Utf8)))
    )


def _target_yield(cols: CandidateColumns, rows: Rows, defn: IndexDefinition) -> np.ndarray:
    w = defn.weighting
    if w.method == "equal":
        return np.ones(rows.size)
    if w.method == "market_cap":
        return np.nan_to_num(cols.tvl_usd[rows], nan=0.0)
    base = cols.apy_sustainable[rows]
    if w.yield_field == "forecast_apy_30d" and cols.forecast_apy_30d is not None:
        forecast = cols.forecast_apy_30d[rows]
        base = np.where(np.isnan(forecast), base, forecast)
    value = base * (1.0 - w.risk_aversion * cols.risk[rows] / 100.0)
    return np.clip(value, 0.0, None)


def _cap_groups(
    cols: CandidateColumns,
    rows: Rows,
    defn: IndexDefinition,
    sleeves: Sequence[tuple[str, float, np.ndarray]],
) -> list[CapGroup]:
    """Cap groups over positions in ``rows``: every capped dependency, and each sleeve's
    share when there are several sleeves."""
    groups = dependency_groups(
        [cols.dependencies[i] for i in rows], defn.caps.dependency, single_cap=defn.caps.single
    )
    groups += [
        CapGroup(f"sleeve:{name}", idx, share) for name, share, idx in sleeves if len(sleeves) > 1
    ]
    return groups


def build_opportunity_index(defn: IndexDefinition, inputs: IndexInputs) -> IndexComposition:
    """An index of opportunities (DeFi Yield, Stablecoin Income, custom definitions).

    Candidates whose target share is far below the minimum weight are left out first (the
    solver would only drop them as dust and solve again); if the caps then cannot be met,
    the weighting is repeated with them.

    Raises:
        InfeasibleWeightsError: the caps, sleeves and minimum count cannot all hold.
    """
    ranked, notes = _ranked_sleeves(defn, inputs)
    try:
        comp = _opportunity_index(defn, inputs, ranked, skip_dust=True)
    except InfeasibleWeightsError:
        try:
            comp = _opportunity_index(defn, inputs, ranked, skip_dust=False)
        except InfeasibleWeightsError as exc:
            extra = "; ".join([*notes, *_too_few_groups(defn, inputs.columns(), ranked)])
            if not extra:
                raise
            raise InfeasibleWeightsError(f"{exc.reason} ({extra})") from exc
    comp.notes.extend(notes)
    return comp


def _too_few_groups(
    defn: IndexDefinition, cols: CandidateColumns, ranked: Sequence[_Sleeve]
) -> list[str]:
    """For each capped dependency kind that every candidate has (protocol, chain), the
    distinct values the candidates span when fewer than the cap needs
    (``ceil(1 / cap)``), in words: why the caps cannot all hold."""
    rows = [int(i) for part in ranked for i in part.rows]
    out = []
    for kind, cap in defn.caps.dependency.items():
        held = [
            {k.split(":", 1)[1] for k in cols.dependencies[i] if k.startswith(f"{kind}:")}
            for i in rows
        ]
        if not rows or not all(held):
            continue  # a candidate outside every group of this kind is not bound by it
        values = sorted(set().union(*held))
        needed = math.ceil(1.0 / cap - 1e-9)
        if len(values) < needed:
            out.append(
                f"the {_pct(cap)} {kind} cap needs at least {needed} {kind}s; the eligible "
                f"candidates span {len(values)} ({', '.join(values)})"
            )
    return out


def _pct(x: float) -> str:
    return f"{x * 100:g}%"


@dataclass(frozen=True)
class _Sleeve:
    """One sleeve's candidates (positions in the candidate table), best first, with
    target shares summing to ``share``."""

    name: str | None
    share: float
    rows: Rows
    target: np.ndarray


def _ranked_sleeves(defn: IndexDefinition, inputs: IndexInputs) -> tuple[list[_Sleeve], list[str]]:
    """Each sleeve's eligible candidates (an opportunity goes to the first sleeve it fits),
    ranked by target and cut to the constituent limit; also the notes of empty sleeves.

    A sleeve with no eligible opportunity on the date is left out and its share re-spread
    pro rata over the others (methodology 3.6), said in a note, never silently.

    Raises:
        InfeasibleWeightsError: no sleeve (or the index) has an eligible opportunity.
    """
    cols = inputs.columns()
    table = cols.eligible(defn.eligibility)
    sleeves_rules = defn.sleeves or ()
    parts: list[Rows] = []
    if sleeves_rules:
        free = table
        for sleeve in sleeves_rules:
            rows = cols.eligible(sleeve.eligibility, among=free)
            free = np.setdiff1d(free, rows, assume_unique=True)
            parts.append(rows)
    else:
        parts.append(table)
    limit = defn.caps.max_constituents
    shares = [s.weight for s in sleeves_rules] or [1.0]
    names: list[str | None] = [s.name for s in sleeves_rules] or [None]
    shares, notes = respread_empty(names, shares, [rows.size for rows in parts], inputs.as_of)
    if not any(share > 0 for share in shares):
        empty = ", ".join(str(n or "main") for n in names)
        raise InfeasibleWeightsError(f"{defn.name}: no eligible opportunity for sleeve {empty}")
    out: list[_Sleeve] = []
    for rows, share, name in zip(parts, shares, names, strict=True):
        if rows.size == 0:
            continue
        score = _target_yield(cols, rows, defn)
        order = np.argsort(-score, kind="stable")
        if limit:  # keep the best candidates: 2x the sleeve's share of the count, at least
            keep = max(int(np.ceil(2 * limit * share)), defn.caps.min_constituents)
            order = order[:keep]
        rows, score = rows[order], score[order]
        total = score.sum()
        score = (score / total if total > 0 else np.full(len(score), 1.0 / len(score))) * share
        out.append(_Sleeve(name, share, rows, score))
    return out, notes


def respread_empty(
    names: Sequence[str | None], shares: Sequence[float], sizes: Sequence[int], day: date
) -> tuple[list[float], list[str]]:
    """Sleeve shares with each empty sleeve's (``sizes`` 0) share re-spread pro rata over
    the sleeves that have candidates, and a note per empty sleeve. Shares are returned
    unchanged (the same floats) when no sleeve is empty; all 0 when every one is."""
    if all(size > 0 for size in sizes):
        return list(shares), []
    kept = sum(share for share, size in zip(shares, sizes, strict=True) if size > 0)
    if kept <= 0:
        return [0.0] * len(shares), []
    notes = [
        f"sleeve {name or 'main'} empty on {day.isoformat()}: its {share:.0%} re-spread "
        "pro rata over the other sleeves"
        for name, share, size in zip(names, shares, sizes, strict=True)
        if size == 0
    ]
    out = [share / kept if size > 0 else 0.0 for share, size in zip(shares, sizes, strict=True)]
    return out, notes


def _opportunity_index(
    defn: IndexDefinition, inputs: IndexInputs, ranked: Sequence[_Sleeve], *, skip_dust: bool
) -> IndexComposition:
    cols = inputs.columns()
    limit = defn.caps.max_constituents
    positions: list[Rows] = []
    targets: list[np.ndarray] = []
    sleeves: list[tuple[str, float, np.ndarray]] = []
    sleeve_of: list[str | None] = []
    offset = 0
    for part in ranked:
        rows, score, share = part.rows, part.target, part.share
        # targets far below the minimum weight would only become dust to drop and re-solve
        floor = 0.5 * defn.weighting.min_weight if skip_dust else 0.0
        enough = max(defn.caps.min_constituents, int(np.ceil(1.0 / defn.caps.single)))
        dust = score < floor
        if floor > 0 and dust.any() and int((~dust).sum()) >= enough:
            rows, score = rows[~dust], score[~dust] * share / score[~dust].sum()
        positions.append(rows)
        targets.append(score)
        sleeves.append(
            (str(part.name), share, np.arange(offset, offset + rows.size, dtype=np.intp))
        )
        sleeve_of += [part.name] * rows.size
        offset += rows.size
    rows = np.concatenate(positions)
    target = np.concatenate(targets)
    weights = capped_weights(
        target,
        single_cap=defn.caps.single,
        groups=_cap_groups(cols, rows, defn, sleeves),
        min_constituents=defn.caps.min_constituents,
        min_weight=defn.weighting.min_weight,
    )
    if limit and int((weights > 1e-9).sum()) > limit:
        keep_idx = np.argsort(-weights, kind="stable")[:limit]
        mask = np.zeros(len(weights), dtype=bool)
        mask[keep_idx] = True
        rows, target = rows[mask], target[mask]
        sleeve_of = [s for s, m in zip(sleeve_of, mask.tolist(), strict=True) if m]
        positions_now = np.cumsum(mask) - 1
        sleeves = [(n, s, positions_now[idx[mask[idx]]]) for n, s, idx in sleeves]
        weights = capped_weights(
            target,
            single_cap=defn.caps.single,
            groups=_cap_groups(cols, rows, defn, sleeves),
            min_constituents=defn.caps.min_constituents,
            min_weight=defn.weighting.min_weight,
        )
    held = np.flatnonzero(weights > 1e-9).tolist()
    constituents = [cols.constituent(int(rows[k]), float(weights[k]), sleeve_of[k]) for k in held]
    return IndexComposition(defn.name, defn.title, inputs.as_of, constituents)


def build_index(
    defn: IndexDefinition,
    inputs: IndexInputs,
    *,
    registry: Mapping[str, IndexDefinition] | None = None,
    built: dict[str, IndexComposition] | None = None,
    previous: IndexComposition | None = None,
    failed: dict[str, InfeasibleWeightsError | InsufficientDataError] | None = None,
) -> IndexComposition:
    """Build one index of any family from the scored universe at ``inputs.as_of``.

    ``registry`` resolves the indices a composite or a regime fallback refers to;
    ``built`` caches compositions already made at this date and ``failed`` the reasons
    indices could not be built at this date (so an index that fails inside a composite is
    not attempted again on its own). With ``previous``, an infeasible weighting keeps the
    previous weights and records why.

    Raises:
        InfeasibleWeightsError: the rules cannot be met and there is no ``previous``.
        ConfigError: a composite refers to an index the registry does not hold.
    """
    built = {} if built is None else built
    registry = registry or {}
    failed = {} if failed is None else failed
    if defn.name in built:
        return built[defn.name]
    try:
        if defn.name in failed:
            raise failed[defn.name]
        comp = _build(defn, inputs, registry, built, failed)
    except (InfeasibleWeightsError, InsufficientDataError) as exc:
        failed[defn.name] = exc
        if previous is None:
            raise
        comp = IndexComposition(
            defn.name,
            defn.title,
            inputs.as_of,
            list(previous.constituents),
            [f"kept the previous weights: {exc}"],
            list(previous.components),
        )
    built[defn.name] = comp
    return comp


def _resolve(
    name: str,
    inputs: IndexInputs,
    registry: Mapping[str, IndexDefinition],
    built: dict[str, IndexComposition],
    failed: dict[str, InfeasibleWeightsError | InsufficientDataError],
) -> IndexComposition:
    if name not in registry:
        raise ConfigError(f"index {name!r} is not defined; known: {sorted(registry)}")
    return build_index(registry[name], inputs, registry=registry, built=built, failed=failed)


def _build(
    defn: IndexDefinition,
    inputs: IndexInputs,
    registry: Mapping[str, IndexDefinition],
    built: dict[str, IndexComposition],
    failed: dict[str, InfeasibleWeightsError | InsufficientDataError],
) -> IndexComposition:
    from realyield.indices.families import build_basket, build_staking_index, risk_on

    if defn.components:
        parts = [
            (comp.weight, _component(defn, comp, inputs, registry, built, failed))
            for comp in defn.components
        ]
        return merge(
            parts,
            name=defn.name,
            title=defn.title,
            as_of=inputs.as_of,
            names=[comp.name for comp in defn.components],
        )
    if defn.staking is not None:
        s = defn.staking
        return build_staking_index(
            defn.name,
            defn.title,
            inputs.columns(),
            inputs.assets,
            as_of=inputs.as_of,
            single_cap=defn.caps.single,
            min_market_cap_usd=s.min_market_cap_usd,
            routes=s.routes,
            lockup_penalty_pp_per_30d=s.lockup_penalty_pp_per_30d,
            risk_penalty=s.risk_penalty,
            min_constituents=defn.caps.min_constituents,
            staking=inputs.staking,
            dependency_caps=defn.caps.dependency,
            min_weight=defn.weighting.min_weight,
        )
    if defn.basket is not None:
        basket = build_basket(
            defn.name,
            defn.title,
            defn.basket.assets,
            inputs.assets,
            as_of=inputs.as_of,
            single_cap=defn.caps.single,
            min_constituents=defn.caps.min_constituents,
            min_weight=defn.weighting.min_weight,
        )
        if defn.regime is None:
            return basket
        history = inputs.price_history if inputs.price_history is not None else inputs.prices
        on, evidence = risk_on(
            basket, history, as_of=inputs.as_of, window_days=defn.regime.window_days
        )
        if on:
            basket.notes.append(evidence)
            return basket
        fallback = _resolve(defn.regime.fallback, inputs, registry, built, failed)
        return IndexComposition(
            defn.name,
            defn.title,
            inputs.as_of,
            list(fallback.constituents),
            [evidence + f": holding {defn.regime.fallback}"],
        )
    return build_opportunity_index(defn, inputs)


def _component(
    defn: IndexDefinition,
    comp: Component,
    inputs: IndexInputs,
    registry: Mapping[str, IndexDefinition],
    built: dict[str, IndexComposition],
    failed: dict[str, InfeasibleWeightsError | InsufficientDataError],
) -> IndexComposition:
    """One component of composite ``defn``, weighted inside itself.

    The composite's minimum weight, as a share of the component (1% of the index is 5%
    of a 20% component), is the component's own minimum: its smaller holdings are
    dropped and their weight re-spread under the component's own caps, so the merged
    index has no holding below the minimum and every component cap still holds
    exactly. An index component whose own minimum is lower is built as a variant under
    the name ``<composite>-<component>``, needing only the holdings its single cap
    requires (the composite's minimum count covers the whole). A basket with
    ``staking_routes`` holds each proof-of-stake asset through the route that index's
    ``[staking]`` rules choose.
    """
    from realyield.indices.families import best_routes, build_basket

    floor = defn.weighting.min_weight / comp.weight
    if comp.index is not None:
        if comp.index not in registry:
            raise ConfigError(f"index {comp.index!r} is not defined; known: {sorted(registry)}")
        part = registry[comp.index]
        if floor > part.weighting.min_weight + 1e-12:
            # the composite's own minimum count stands for the whole; inside, the
            # component needs only the holdings its single cap requires
            least = min(part.caps.min_constituents, math.ceil(1.0 / part.caps.single - 1e-9))
            part = dataclasses.replace(
                part,
                name=f"{defn.name}-{comp.name}",
                weighting=dataclasses.replace(part.weighting, min_weight=floor),
                caps=dataclasses.replace(part.caps, min_constituents=least),
            )
        return build_index(part, inputs, registry=registry, built=built, failed=failed)
    basket = build_basket(
        f"{defn.name}:{comp.name}",
        comp.name,
        comp.assets,
        inputs.assets,
        as_of=inputs.as_of,
        single_cap=comp.max_single,
        min_constituents=1,
        min_weight=floor,
    )
    if comp.staking_routes is None:
        return basket
    rules = registry[comp.staking_routes].staking if comp.staking_routes in registry else None
    if rules is None:
        raise ConfigError(
            f"{defn.name}: components {comp.name}: staking_routes {comp.staking_routes!r} "
            "names no index with [staking] rules"
        )
    cols = inputs.columns()
    routes = best_routes(
        cols,
        [c.underlying[0] for c in basket.constituents],
        routes=rules.routes,
        lockup_penalty_pp_per_30d=rules.lockup_penalty_pp_per_30d,
        risk_penalty=rules.risk_penalty,
        staking=inputs.staking,
    )
    held = [
        cols.constituent(routes[c.underlying[0]], c.weight, None, underlying=c.underlying)
        if c.underlying[0] in routes
        else c
        for c in basket.constituents
    ]
    return IndexComposition(basket.name, basket.title, basket.as_of, held, basket.notes)


def build_all(
    definitions: Mapping[str, IndexDefinition], inputs: IndexInputs
) -> dict[str, IndexComposition | InfeasibleWeightsError]:
    """Every index at ``inputs.as_of``; an index whose rules cannot be met maps to the
    error saying why (the others are still built)."""
    built: dict[str, IndexComposition] = {}
    failed: dict[str, InfeasibleWeightsError | InsufficientDataError] = {}
    out: dict[str, IndexComposition | InfeasibleWeightsError] = {}
    for name, defn in definitions.items():
        try:
            out[name] = build_index(defn, inputs, registry=definitions, built=built, failed=failed)
        except (InfeasibleWeightsError, InsufficientDataError) as exc:
            out[name] = (
                exc if isinstance(exc, InfeasibleWeightsError) else InfeasibleWeightsError(str(exc))
            )
    return out

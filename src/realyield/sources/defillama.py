"""DeFiLlama yields: ``/pools`` (the universe) and ``/chart/{pool}`` (a pool's history).

The parser accepts the whole public schema in its served camelCase form and in the
snake_case form of common dumps, the ``{"status", "data"}`` wrapper or a bare list, and
the third-party exporter wrapper ``{"pools": [...]}`` with ``poolId``. Guards follow the
public ingestion: numbers sent as strings are read, NaN/Infinity become missing,
negative APYs are clipped to 0, implausible TVL/APY are rejected; every rejection and
repair is counted by reason in an ``IngestReport``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from realyield.core.errors import (
    DataError,
    FieldError,
    RecordError,
    SourceError,
    TemporarySourceError,
)
from realyield.core.model import ApyPoint, Opportunity
from realyield.core.parsing import APY_BOUNDS, TVL_BOUNDS, Bounds, is_missing, parse_timestamp
from realyield.sources.classify import classify_project
from realyield.sources.http import HttpSource
from realyield.sources.sanitize import (
    GuardError,
    IngestReport,
    clip_negative,
    guard_error,
    parse_structured,
    to_bool,
    to_list,
    to_number,
    to_text,
)

SOURCE = "defillama"

#: Canonical (served camelCase) name for every alias seen in dumps of the schema.
POOL_FIELD_ALIASES: dict[str, str] = {
    "pool_id": "pool",
    "poolid": "pool",
    "pool": "pool",
    "id": "pool",
    "protocol_slug": "project",
    "project": "project",
    "chain": "chain",
    "symbol": "symbol",
    "tvl_usd": "tvlUsd",
    "tvlusd": "tvlUsd",
    "apy": "apy",
    "apy_base": "apyBase",
    "apybase": "apyBase",
    "apy_reward": "apyReward",
    "apyreward": "apyReward",
    "reward_tokens": "rewardTokens",
    "rewardtokens": "rewardTokens",
    "underlying_tokens": "underlyingTokens",
    "underlyingtokens": "underlyingTokens",
    "stablecoin": "stablecoin",
    "il_risk": "ilRisk",
    "ilrisk": "ilRisk",
    "exposure": "exposure",
    "pool_meta": "poolMeta",
    "poolmeta": "poolMeta",
    "mu": "mu",
    "sigma": "sigma",
    "count": "count",
    "outlier": "outlier",
    "apy_mean_30d": "apyMean30d",
    "apymean30d": "apyMean30d",
    "apy_pct_1d": "apyPct1D",
    "apypct1d": "apyPct1D",
    "apy_pct_7d": "apyPct7D",
    "apypct7d": "apyPct7D",
    "apy_pct_30d": "apyPct30D",
    "apypct30d": "apyPct30D",
    "il_7d": "il7d",
    "il7d": "il7d",
    "apy_base_7d": "apyBase7d",
    "apybase7d": "apyBase7d",
    "volume_usd_1d": "volumeUsd1d",
    "volumeusd1d": "volumeUsd1d",
    "volume_usd_7d": "volumeUsd7d",
    "volumeusd7d": "volumeUsd7d",
    "apy_base_inception": "apyBaseInception",
    "apybaseinception": "apyBaseInception",
    "predictions": "predictions",
    "timestamp": "timestamp",
    "url": "url",
}

#: Optional numeric fields kept in ``Opportunity.meta`` under snake_case names.
_META_NUMBERS = {
    "mu": "mu",
    "sigma": "sigma",
    "count": "count",
    "apyMean30d": "apy_mean_30d",
    "apyPct1D": "apy_pct_1d",
    "apyPct7D": "apy_pct_7d",
    "apyPct30D": "apy_pct_30d",
    "il7d": "il_7d",
    "apyBase7d": "apy_base_7d",
    "volumeUsd1d": "volume_usd_1d",
    "volumeUsd7d": "volume_usd_7d",
    "apyBaseInception": "apy_base_inception",
}


@dataclass(frozen=True)
class Limits:
    """Plausibility bounds: a value beyond them is a data bug, not an opportunity."""

    max_apy: float = 1_000_000.0
    max_tvl_usd: float = 500e9


DEFAULT_LIMITS = Limits()
#: Pool statistics kept in meta (volumes, sigma, counts): finite and below any market.
_STATISTIC_BOUNDS = Bounds(-1e14, 1e14, "pool statistic", "statistic")


def canonical_key(key: str) -> str:
    """Map a served or dumped column name to its canonical camelCase name."""
    return POOL_FIELD_ALIASES.get(key.strip().lower(), key.strip())


def pool_records(payload: Any) -> list[Mapping[str, Any]]:
    """Extract the list of pool objects from any of the accepted wrappers.

    Raises:
        DataError: when the payload holds no list of pools.
    """
    if isinstance(payload, Mapping):
        if payload.get("status") not in (None, "success", "ok"):
            raise DataError(f"DeFiLlama answered status={payload.get('status')!r}, not success")
        for key in ("data", "pools"):
            if isinstance(payload.get(key), list):
                return list(payload[key])
        raise DataError("DeFiLlama payload has no 'data' or 'pools' list of pools")
    if isinstance(payload, list):
        return payload
    raise DataError(f"DeFiLlama payload is a {type(payload).__name__}, not a list of pools")


def _predictions(raw: Any) -> dict[str, Any]:
    if raw is None or raw == "":
        return {}
    value = parse_structured(raw, "predictions") if isinstance(raw, str) else raw
    if not isinstance(value, Mapping):
        raise GuardError("bad_structure", f"predictions={raw!r} is not an object")
    return {
        "predicted_class": to_text(value.get("predictedClass"), "predictedClass"),
        "predicted_probability": to_number(
            value.get("predictedProbability"), "predictedProbability"
        ),
        "binned_confidence": to_number(value.get("binnedConfidence"), "binnedConfidence"),
    }


def pool_to_opportunity(
    raw: Mapping[str, Any],
    *,
    as_of: datetime,
    report: IngestReport,
    where: str,
    source: str = SOURCE,
    limits: Limits = DEFAULT_LIMITS,
    apy_scale: float = 1.0,
    decimal_comma: bool = False,
) -> Opportunity | None:
    """Turn one raw pool into an Opportunity, or count why not and return None.

    Every value goes through ``core.parsing`` (via ``sanitize``): a thousands separator
    or decimal comma, NaN, an APY outside ``APY_BOUNDS`` or a TVL outside ``TVL_BOUNDS``
    rejects the pool with its reason. ``apy_scale`` multiplies APY fields (100 for
    dumps that store fractions); ``decimal_comma`` reads ``1.234,56`` as 1234.56.
    """
    pool = {canonical_key(k): v for k, v in raw.items()}
    try:
        opp = _pool(pool, as_of, report, source, limits, apy_scale, decimal_comma)
    except GuardError as exc:
        report.reject(where, exc.reason, exc.detail)
        return None
    except RecordError as exc:
        report.reject(where, f"invalid_{exc.field}", str(exc))
        return None
    return opp


def _numbers(
    pool: Mapping[str, Any], apy_scale: float, decimal_comma: bool
) -> dict[str, float | None]:
    numbers = {
        name: to_number(pool.get(name), name, decimal_comma=decimal_comma)
        for name in ("apy", "apyBase", "apyReward", "tvlUsd", *_META_NUMBERS)
    }
    for name in ("apy", "apyBase", "apyReward", "apyMean30d", "apyBase7d", "mu"):
        value = numbers[name]
        if value is not None:
            numbers[name] = value = value * apy_scale
            _check(APY_BOUNDS, value, name, pool.get(name))
    for name in _META_NUMBERS:
        if numbers[name] is not None:
            _check(_STATISTIC_BOUNDS, numbers[name], name, pool.get(name))  # type: ignore[arg-type]
    tvl = numbers["tvlUsd"]
    if tvl is not None and tvl < 0:
        raise GuardError("negative_tvl", f"tvlUsd={tvl}")
    if tvl is not None:
        _check(TVL_BOUNDS, tvl, "tvlUsd", pool.get("tvlUsd"))
    return numbers


def _check(bounds: Bounds, value: float, column: str, raw: object) -> None:
    try:
        bounds.check(value, column=column, raw=raw)
    except FieldError as exc:
        raise guard_error(exc) from None


def _pool(
    pool: Mapping[str, Any],
    as_of: datetime,
    report: IngestReport,
    source: str,
    limits: Limits,
    apy_scale: float,
    decimal_comma: bool,
) -> Opportunity:
    pool_id = to_text(pool.get("pool"), "pool", max_len=200)
    if pool_id is None:
        raise GuardError("missing_id", "no pool id (pool/poolId column)")
    numbers = _numbers(pool, apy_scale, decimal_comma)
    tvl = numbers["tvlUsd"]
    if tvl is not None and tvl > limits.max_tvl_usd:
        raise GuardError("implausible_tvl", f"tvlUsd={tvl:.4g} above {limits.max_tvl_usd:.3g}")
    base = clip_negative(numbers["apyBase"], "apy_base", report)
    reward = clip_negative(numbers["apyReward"], "apy_reward", report)
    apy = clip_negative(numbers["apy"], "apy", report)
    if (base, reward) != (numbers["apyBase"], numbers["apyReward"]):
        apy = (base or 0.0) + (reward or 0.0)  # a part was clipped: rebuild the total
    if apy is not None and apy > limits.max_apy:
        raise GuardError("implausible_apy", f"apy={apy:.6g} above {limits.max_apy:.3g}")
    exposure = to_text(pool.get("exposure"), "exposure")
    exposure = exposure.lower() if exposure else None
    if exposure not in (None, "single", "multi"):
        raise GuardError("bad_exposure", f"exposure={exposure!r}")
    project = to_text(pool.get("project"), "project", max_len=128) or "unknown"
    symbol = to_text(pool.get("symbol"), "symbol", max_len=200) or "UNKNOWN"
    kind, basis = classify_project(project, exposure, symbol)
    meta: dict[str, Any] = {snake: numbers[camel] for camel, snake in _META_NUMBERS.items()}
    meta["outlier"] = to_bool(pool.get("outlier"), "outlier")
    meta["pool_meta"] = _note_text(pool.get("poolMeta"), "poolMeta", report)
    meta["url"] = _note_text(pool.get("url"), "url", report, max_len=2048)
    meta["kind_basis"] = basis
    meta.update(_predictions(pool.get("predictions")))
    stamp = pool.get("timestamp")
    observed = None if is_missing(stamp) else _parse_time(stamp)
    meta["observed_at"] = observed.isoformat() if observed else None
    return Opportunity(
        id=pool_id,
        kind=kind,
        chain=to_text(pool.get("chain"), "chain", max_len=64) or "unknown",
        protocol=project,
        symbol=symbol,
        apy=apy,
        apy_base=base,
        apy_reward=reward,
        tvl_usd=tvl,
        as_of=as_of,
        source=source,
        underlying=to_list(pool.get("underlyingTokens"), "underlyingTokens"),
        reward_tokens=to_list(pool.get("rewardTokens"), "rewardTokens"),
        exposure=exposure,
        stablecoin=to_bool(pool.get("stablecoin"), "stablecoin"),
        il_risk=to_bool(pool.get("ilRisk"), "ilRisk"),
        meta={k: v for k, v in meta.items() if v is not None},
    )


def _note_text(raw: object, name: str, report: IngestReport, max_len: int = 512) -> str | None:
    """A descriptive text (poolMeta, url): a control character drops the note, counted
    as a repair, instead of losing the pool (names and ids reject the pool)."""
    try:
        return to_text(raw, name, max_len=max_len)
    except GuardError as exc:
        report.repair(f"{exc.reason}_{name}_dropped")
        return None


def _parse_time(raw: object) -> datetime:
    """A pool's or chart point's timestamp (ISO 8601 or epoch) through ``core.parsing``.

    Raises:
        GuardError: ``bad_date``/``date_out_of_range``/... with the parser's message.
    """
    try:
        return parse_timestamp(raw, column="timestamp")
    except FieldError as exc:
        raise guard_error(exc) from None


def parse_pools(
    payload: Any,
    *,
    as_of: datetime,
    report: IngestReport,
    limits: Limits = DEFAULT_LIMITS,
    stale_after_hours: float | None = None,
    source: str = SOURCE,
    decimal_comma: bool = False,
) -> list[Opportunity]:
    """Parse a ``/pools`` payload into opportunities, deduplicating pool ids (last wins).

    A pool whose own ``timestamp`` is older than ``stale_after_hours`` before ``as_of``
    is kept but counted as stale.

    Raises:
        DataError: when the payload is not a pools payload at all.
    """
    found: dict[str, Opportunity] = {}
    for index, raw in enumerate(pool_records(payload)):
        report.rows_seen += 1
        where = f"pool #{index + 1}"
        if not isinstance(raw, Mapping):
            report.reject(where, "not_an_object", f"{type(raw).__name__} instead of an object")
            continue
        opp = pool_to_opportunity(
            raw,
            as_of=as_of,
            report=report,
            where=where,
            limits=limits,
            source=source,
            decimal_comma=decimal_comma,
        )
        if opp is None:
            continue
        if opp.id in found:
            report.duplicates += 1
        found[opp.id] = opp
        observed = opp.meta.get("observed_at")
        if stale_after_hours is not None and observed:
            age_h = (as_of - datetime.fromisoformat(observed)).total_seconds() / 3600
            if age_h > stale_after_hours:
                report.stale += 1
    report.accepted += len(found)
    return list(found.values())


def parse_chart(payload: Any, pool_id: str, *, report: IngestReport) -> list[ApyPoint]:
    """Parse a ``/chart/{pool}`` payload into one ApyPoint per UTC day (last point wins).

    Raises:
        DataError: when the payload holds no list of points.
    """
    points = pool_records(payload)
    by_day: dict[date, ApyPoint] = {}
    for index, raw in enumerate(points):
        report.rows_seen += 1
        where = f"{pool_id} point #{index + 1}"
        try:
            if not isinstance(raw, Mapping):
                raise GuardError("not_an_object", f"{type(raw).__name__} instead of an object")
            stamp = raw.get("timestamp")
            if is_missing(stamp):
                raise GuardError("missing_timestamp", "no timestamp")
            day = _parse_time(stamp).date()
            base = clip_negative(to_number(raw.get("apyBase"), "apyBase"), "apy_base", report)
            reward = clip_negative(
                to_number(raw.get("apyReward"), "apyReward"), "apy_reward", report
            )
            apy = clip_negative(to_number(raw.get("apy"), "apy"), "apy", report)
            if base is not None or reward is not None:
                apy = (base or 0.0) + (reward or 0.0) if apy is None else apy
            for name, value in (("apy", apy), ("apyBase", base), ("apyReward", reward)):
                if value is not None:
                    _check(APY_BOUNDS, value, name, raw.get(name))
            tvl = to_number(raw.get("tvlUsd"), "tvlUsd")
            if tvl is not None and tvl < 0:
                raise GuardError("negative_tvl", f"tvlUsd={tvl}")
            if tvl is not None:
                _check(TVL_BOUNDS, tvl, "tvlUsd", raw.get("tvlUsd"))
            point = ApyPoint(pool_id, day, apy, base, reward, tvl)
        except GuardError as exc:
            report.reject(where, exc.reason, exc.detail)
            continue
        except RecordError as exc:
            report.reject(where, f"invalid_{exc.field}", str(exc))
            continue
        if day in by_day:
            report.duplicates += 1
        by_day[day] = point
    report.accepted += len(by_day)
    return [by_day[d] for d in sorted(by_day)]


class DefiLlamaClient:
    """Fetches DeFiLlama's public yields API through a protected ``HttpSource``."""

    def __init__(self, http: HttpSource, *, limits: Limits = DEFAULT_LIMITS) -> None:
        self.http = http
        self.limits = limits

    def fetch_pools(
        self, *, as_of: datetime, report: IngestReport, stale_after_hours: float | None = None
    ) -> list[Opportunity]:
        """GET ``/pools`` and parse it. Raises what ``HttpSource.get_json`` raises."""
        payload = self.http.get_json("/pools")
        return parse_pools(
            payload,
            as_of=as_of,
            report=report,
            limits=self.limits,
            stale_after_hours=stale_after_hours,
        )

    def fetch_chart(self, pool_id: str, *, report: IngestReport) -> list[ApyPoint]:
        """GET ``/chart/{pool}`` and parse it into daily points."""
        return parse_chart(self.http.get_json(f"/chart/{pool_id}"), pool_id, report=report)

    def fetch_chart_or_skip(self, pool_id: str, *, report: IngestReport) -> list[ApyPoint]:
        """One pool's history; a pool-specific failure is counted and skipped.

        A 404 or a malformed payload concerns that pool only, so it is recorded as a
        rejection (``chart_failed``) and the refresh goes on.

        Raises:
            SourceUnavailableError: the source itself went away (offline, circuit
                open): the caller should abandon the whole refresh.
            TemporarySourceError: timeouts/429/5xx persisted through every retry.
        """
        try:
            return self.fetch_chart(pool_id, report=report)
        except TemporarySourceError:
            raise
        except (SourceError, DataError) as exc:
            report.reject(f"/chart/{pool_id}", "chart_failed", str(exc))
            return []

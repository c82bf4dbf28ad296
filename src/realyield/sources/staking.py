"""Chain staking parameters: reward rate, supply inflation, unbonding, minimums, slashing.

Why a table: a staking reward paid in newly issued tokens is only partly income. If a
network pays 7% to stakers while its supply grows 4.5% a year, a staker's share of the
network grows by only (1.07 / 1.045) - 1, about 2.4%; the rest is dilution of those who
do not stake. Scoring needs the reward rate *and* the inflation side by side, dated and
sourced, so that anyone can check and update them. They ship as package data
(``realyield/data/staking_params.csv``), one row per network and staking route:

* ``native``: running a validator yourself (e.g. 32 ETH solo staking);
* ``delegated``: delegating to a validator or pool that you choose;
* ``liquid``: depositing with a liquid-staking protocol that returns a token (stETH).

Units: ``*_pct`` columns are percent per year. ``nominal_apr_pct`` is the gross reward
rate on stake *before* the provider's cut; ``protocol_fee_pct`` is that cut (validator
commission or the liquid-staking protocol's fee), in percent of rewards.
``supply_inflation_pct`` is the net annual supply growth of the network's native token,
so it may be negative for a deflationary token (BNB). ``unbonding_days`` is the time to
get the base asset back at par through the protocol itself (a liquid token can usually
be sold sooner, at market price). Every figure is an approximation as of its ``as_of``
date; ``notes`` say how variable it is.
"""

from __future__ import annotations

import csv
import functools
import io
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from importlib import resources
from pathlib import Path
from typing import Final

from realyield.core.errors import DataError, RecordError
from realyield.core.model import Opportunity

STAKING_ROUTES: Final = ("native", "delegated", "liquid")
COLUMNS: Final = (
    "network",
    "asset_id",
    "symbol",
    "route",
    "provider",
    "nominal_apr_pct",
    "supply_inflation_pct",
    "unbonding_days",
    "min_stake",
    "min_stake_unit",
    "slashing",
    "protocol_fee_pct",
    "as_of",
    "source_name",
    "source_url",
    "notes",
)
PACKAGED_FILE: Final = "staking_params.csv"
#: A reward or inflation rate above this (percent a year) is a data error, not a network.
MAX_RATE_PCT: Final = 100.0
_TRUE: Final = frozenset({"true", "yes", "1"})
_FALSE: Final = frozenset({"false", "no", "0"})


@dataclass(frozen=True, slots=True)
class StakingParams:
    """One staking route of one network, with its economics and where they come from.

    Raises:
        RecordError: on an unknown route, a NaN/infinite/negative rate, fee, unbonding
            period or minimum, a fee above 100%, inflation at or below -100%, an empty
            text field, a non-date ``as_of`` or a source URL that is not http(s).
    """

    network: str
    asset_id: str
    symbol: str
    route: str
    provider: str
    nominal_apr_pct: float
    supply_inflation_pct: float
    unbonding_days: float
    min_stake: float
    min_stake_unit: str
    slashing: bool
    protocol_fee_pct: float
    as_of: date
    source_name: str
    source_url: str
    notes: str = ""

    def __post_init__(self) -> None:
        rec = f"StakingParams[{self.network}/{self.asset_id}/{self.route}]"
        for name in ("network", "asset_id", "symbol", "provider", "min_stake_unit", "source_name"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value.strip():
                raise RecordError(rec, name, value, "must be a non-empty string")
        if self.route not in STAKING_ROUTES:
            raise RecordError(
                rec, "route", self.route, f"unknown route; use one of {STAKING_ROUTES}"
            )
        for name, low, high in (
            ("nominal_apr_pct", 0.0, MAX_RATE_PCT),
            ("unbonding_days", 0.0, None),
            ("min_stake", 0.0, None),
            ("protocol_fee_pct", 0.0, 100.0),
        ):
            _check_number(rec, name, getattr(self, name), low, high)
        _check_number(rec, "supply_inflation_pct", self.supply_inflation_pct, None, MAX_RATE_PCT)
        if self.supply_inflation_pct <= -100.0:
            raise RecordError(
                rec, "supply_inflation_pct", self.supply_inflation_pct, "must be above -100%"
            )
        if not isinstance(self.slashing, bool):
            raise RecordError(rec, "slashing", self.slashing, "must be true or false")
        if not isinstance(self.as_of, date):
            raise RecordError(rec, "as_of", self.as_of, "must be a date")
        if not self.source_url.startswith(("https://", "http://")):
            raise RecordError(rec, "source_url", self.source_url, "must be an http(s) URL")

    @property
    def net_apr_pct(self) -> float:
        """Reward rate a staker keeps after the provider's cut, percent a year."""
        return self.nominal_apr_pct * (1.0 - self.protocol_fee_pct / 100.0)

    @property
    def real_reward_rate(self) -> float:
        """Inflation-adjusted reward rate as a fraction: ``(1 + r) / (1 + i) - 1``.

        ``r`` is the nominal (gross) reward rate and ``i`` the supply inflation, both
        as fractions: the growth of a staker's share of the network, before fees.
        """
        growth = 1.0 + self.nominal_apr_pct / 100.0
        return growth / (1.0 + self.supply_inflation_pct / 100.0) - 1.0

    @property
    def real_net_reward_rate(self) -> float:
        """Like ``real_reward_rate`` but after the provider's fee, as a fraction."""
        return (1.0 + self.net_apr_pct / 100.0) / (1.0 + self.supply_inflation_pct / 100.0) - 1.0


def _check_number(
    rec: str, name: str, value: object, low: float | None, high: float | None
) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise RecordError(rec, name, value, "must be a number")
    if not math.isfinite(value):
        raise RecordError(rec, name, value, "must be finite (NaN/Infinity are not values)")
    if low is not None and value < low:
        raise RecordError(rec, name, value, f"must be >= {low:g} (negative values are refused)")
    if high is not None and value > high:
        raise RecordError(rec, name, value, f"must be <= {high:g}")


def _parse_float(rec: str, name: str, raw: str) -> float:
    text = raw.strip()
    if not text:
        raise RecordError(rec, name, raw, "is empty; a number is required")
    try:
        return float(text)
    except ValueError:
        raise RecordError(rec, name, raw, "is not a number") from None


def _parse_bool(rec: str, name: str, raw: str) -> bool:
    text = raw.strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise RecordError(rec, name, raw, "must be true or false")


def _parse_date(rec: str, name: str, raw: str) -> date:
    try:
        return date.fromisoformat(raw.strip())
    except ValueError:
        raise RecordError(rec, name, raw, "must be an ISO date (YYYY-MM-DD)") from None


def _row_to_params(where: str, row: Mapping[str, str]) -> StakingParams:
    def text(name: str) -> str:
        return row[name].strip()

    params = StakingParams(
        network=text("network"),
        asset_id=text("asset_id"),
        symbol=text("symbol"),
        route=text("route"),
        provider=text("provider"),
        nominal_apr_pct=_parse_float(where, "nominal_apr_pct", row["nominal_apr_pct"]),
        supply_inflation_pct=_parse_float(
            where, "supply_inflation_pct", row["supply_inflation_pct"]
        ),
        unbonding_days=_parse_float(where, "unbonding_days", row["unbonding_days"]),
        min_stake=_parse_float(where, "min_stake", row["min_stake"]),
        min_stake_unit=text("min_stake_unit"),
        slashing=_parse_bool(where, "slashing", row["slashing"]),
        protocol_fee_pct=_parse_float(where, "protocol_fee_pct", row["protocol_fee_pct"]),
        as_of=_parse_date(where, "as_of", row["as_of"]),
        source_name=text("source_name"),
        source_url=text("source_url"),
        notes=text("notes"),
    )
    return params


def parse_staking_params(lines: Iterable[str], *, name: str = PACKAGED_FILE) -> list[StakingParams]:
    """Parse the staking table from CSV text lines; ``name`` labels errors.

    Rows are numbered as in a spreadsheet: the header is row 1, the first network row 2.

    Raises:
        DataError: when the header lacks a column, or the table is empty or has two
            rows for the same network, asset and provider.
        RecordError: (a DataError) naming the file, the row and the field, for a value
            that does not parse or is out of range (NaN, negative, unknown route...).
    """
    reader = csv.DictReader(lines)
    header = tuple(h.strip() for h in (reader.fieldnames or ()))
    reader.fieldnames = list(header)
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        raise DataError(f"{name}: header lacks column(s) {missing}; expected {list(COLUMNS)}")
    out: list[StakingParams] = []
    seen: dict[tuple[str, str, str], int] = {}
    for row_number, row in enumerate(reader, start=2):
        where = f"{name} row {row_number}"
        if any(row.get(c) is None for c in COLUMNS):
            raise DataError(f"{where}: too few values ({len(row)} for {len(COLUMNS)} columns)")
        try:
            params = _row_to_params(where, row)
        except RecordError as exc:
            if exc.record == where:
                raise
            raise RecordError(where, exc.field, exc.value, exc.problem) from exc
        key = (params.network, params.asset_id, params.provider)
        if key in seen:
            raise DataError(f"{where}: duplicates row {seen[key]} for {key}")
        seen[key] = row_number
        out.append(params)
    if not out:
        raise DataError(f"{name}: no staking rows")
    return out


@functools.lru_cache(maxsize=1)
def _packaged() -> tuple[StakingParams, ...]:
    resource = resources.files("realyield").joinpath("data", PACKAGED_FILE)
    try:
        text = resource.read_text(encoding="utf-8")
    except OSError as exc:
        raise DataError(
            f"packaged {PACKAGED_FILE} is missing ({exc}); reinstall realyield"
        ) from exc
    return tuple(parse_staking_params(io.StringIO(text, newline=""), name=PACKAGED_FILE))


def load_staking_params(path: Path | None = None) -> list[StakingParams]:
    """Load the staking table: ``path``, or the table shipped with the package.

    The packaged table is parsed once and cached; each call returns a new list.

    Raises:
        DataError: when the file is missing or unreadable, or any row is malformed
            (``RecordError`` names the file, the row and the field).
    """
    if path is None:
        return list(_packaged())
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot read the staking table ({exc})") from exc
    return parse_staking_params(io.StringIO(text, newline=""), name=path.name)


def staking_params_for(asset_id: str) -> list[StakingParams]:
    """Every packaged staking route whose token is ``asset_id`` (a CoinGecko id).

    ``"ethereum"`` gives the native route; liquid tokens have their own ids
    (``"staked-ether"``). An unknown id gives an empty list, not an error.

    Raises:
        DataError: when the packaged table is missing or malformed.
    """
    return [p for p in _packaged() if p.asset_id == asset_id]


#: Chain names as DeFiLlama spells them, for the networks in the table.
CHAIN_NAMES: Final = {
    "ethereum": "Ethereum",
    "solana": "Solana",
    "cardano": "Cardano",
    "polkadot": "Polkadot",
    "cosmos": "Cosmos",
    "avalanche": "Avalanche",
    "near": "Near",
    "tron": "Tron",
    "polygon": "Polygon",
    "bnb-chain": "BSC",
}


def staking_opportunities(params: Iterable[StakingParams], *, as_of: datetime) -> list[Opportunity]:
    """Native and delegated staking routes as opportunities (DeFiLlama lists none).

    The APY is the rate after the provider's fee, all of it base (a security reward,
    not a farm emission: its dilution is the network's inflation, kept in ``meta`` for
    scoring). TVL is left missing: the table holds rates, not stake sizes.
    ``meta.parameters_as_of`` says how old the figures are; ``as_of`` is when they
    were put into the universe.
    """
    out: list[Opportunity] = []
    for p in params:
        if p.route == "liquid":
            continue  # liquid staking tokens are listed by DeFiLlama with live rates
        chain = CHAIN_NAMES.get(p.network, p.network.title())
        out.append(
            Opportunity(
                id=f"native-staking:{chain.lower()}:{p.symbol.lower()}",
                kind="staking",
                chain=chain,
                protocol="native-staking",
                symbol=p.symbol,
                apy=round(p.net_apr_pct, 6),
                apy_base=round(p.net_apr_pct, 6),
                apy_reward=0.0,
                tvl_usd=None,
                as_of=as_of,
                source="staking",
                underlying=(p.asset_id,),
                exposure="single",
                stablecoin=False,
                il_risk=False,
                lockup_days=p.unbonding_days,
                meta={
                    "route": p.route,
                    "provider": p.provider,
                    "nominal_apr_pct": p.nominal_apr_pct,
                    "protocol_fee_pct": p.protocol_fee_pct,
                    "supply_inflation_pct": p.supply_inflation_pct,
                    "real_net_reward_pct": 100 * p.real_net_reward_rate,
                    "slashing": p.slashing,
                    "min_stake": p.min_stake,
                    "parameters_as_of": p.as_of.isoformat(),
                    "parameters_source": p.source_url,
                },
            )
        )
    return out

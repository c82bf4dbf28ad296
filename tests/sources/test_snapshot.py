"""The bundled offline snapshot: coverage, consistency, determinism and the loader's guards."""

from __future__ import annotations

import gzip
import importlib.util
import sys
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from importlib import resources
from pathlib import Path
from types import ModuleType

import pytest

from realyield.core.errors import DataError
from realyield.core.model import OPPORTUNITY_KINDS, ApyPoint, Opportunity, PricePoint
from realyield.reference.staking import load_staking_params
from realyield.sources import snapshot as snap_mod
from realyield.sources.snapshot import (
    DATA_FILES,
    SNAPSHOT_AS_OF,
    Snapshot,
    load_snapshot,
    parse_apy_history,
    parse_assets,
    parse_opportunities,
    parse_prices,
    snapshot_version,
)

HIST_START = date(2022, 7, 1)
AS_OF = SNAPSHOT_AS_OF.date()
FULL_DAYS = (AS_OF - HIST_START).days + 1
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def snap() -> Snapshot:
    return load_snapshot()


@pytest.fixture(scope="module")
def history(snap: Snapshot) -> dict[str, list[ApyPoint]]:
    out: dict[str, list[ApyPoint]] = defaultdict(list)
    for p in snap.apy_history:
        out[p.opportunity_id].append(p)
    return out


@pytest.fixture(scope="module")
def prices(snap: Snapshot) -> dict[str, dict[date, PricePoint]]:
    out: dict[str, dict[date, PricePoint]] = defaultdict(dict)
    for p in snap.prices:
        out[p.asset_id][p.date] = p
    return out


def load_builder() -> ModuleType:
    path = REPO / "tools" / "build_snapshot.py"
    spec = importlib.util.spec_from_file_location("build_snapshot_under_test", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


# --- what the snapshot holds -------------------------------------------------------------------


def test_snapshot_is_labelled_illustrative(snap: Snapshot) -> None:
    assert snap.as_of == datetime(2025, 6, 30, tzinfo=UTC)
    assert snap.illustrative_history is True
    assert "ILLUSTRATIVE" in snap.note
    readme = resources.files("realyield").joinpath("data", "snapshot", "README.md").read_text()
    assert "All histories are illustrative" in readme
    assert "2025-06-30" in readme


def test_universe_size_chains_and_kinds(snap: Snapshot) -> None:
    opps = snap.opportunities
    assert len(opps) >= 150
    assert len({o.chain for o in opps}) >= 10
    assert {o.kind for o in opps} == set(OPPORTUNITY_KINDS)
    assert len({o.id for o in opps}) == len(opps)
    assert all(o.source == "snapshot" and o.as_of == SNAPSHOT_AS_OF for o in opps)


def test_stablecoin_lending_on_aave_and_compound(snap: Snapshot) -> None:
    stable_lending = [
        o
        for o in snap.opportunities
        if o.kind == "lending" and o.stablecoin and o.protocol.startswith(("aave", "compound"))
    ]
    assert len({o.chain for o in stable_lending}) >= 5
    assert {o.protocol for o in stable_lending} >= {"aave-v3", "compound-v3"}
    symbols = {o.symbol for o in stable_lending}
    assert {"USDC", "USDT", "DAI"} <= symbols


def test_stable_and_volatile_amm_pairs(snap: Snapshot) -> None:
    amm = [o for o in snap.opportunities if o.kind == "liquidity" and o.exposure == "multi"]
    stable = [o for o in amm if o.stablecoin]
    volatile = [o for o in amm if not o.stablecoin]
    assert len(stable) >= 5 and len(volatile) >= 20
    assert all(o.il_risk is False for o in stable)
    assert all(o.il_risk is True for o in volatile)
    assert {o.protocol for o in volatile} >= {"uniswap-v3", "aerodrome-v1", "velodrome-v2"}


def test_staking_rows_follow_the_staking_table(snap: Snapshot) -> None:
    by_id = {o.id: o for o in snap.opportunities}
    table = load_staking_params()
    direct = [p for p in table if p.route in ("native", "delegated")]
    staking = [o for o in snap.opportunities if o.kind == "staking"]
    assert len(staking) == len(direct)
    for p in table:
        match = [
            o
            for o in snap.opportunities
            if o.underlying == (p.asset_id,) and o.kind in ("staking", "liquid_staking")
        ]
        assert len(match) == 1, p.asset_id
        opp = match[0]
        assert opp.kind == ("liquid_staking" if p.route == "liquid" else "staking")
        assert opp.apy_base == pytest.approx(p.net_apr_pct, abs=1e-3)
        assert opp.lockup_days == p.unbonding_days
    assert by_id["native-staking:ethereum:eth"].apy_reward == 0


def test_high_emission_farms_and_small_pools(snap: Snapshot) -> None:
    farms = [
        o
        for o in snap.opportunities
        if o.apy is not None and o.apy >= 30 and (o.reward_share or 0) > 0.5
    ]
    assert len(farms) >= 10
    assert sum(1 for o in snap.opportunities if (o.apy or 0) > 100) >= 3
    assert sum(1 for o in snap.opportunities if (o.tvl_usd or 0) < 1e6) >= 3


def test_apy_is_base_plus_reward_everywhere(snap: Snapshot) -> None:
    for o in [*snap.opportunities, *snap.delisted]:
        assert o.apy is not None and o.apy_base is not None and o.apy_reward is not None
        assert round(o.apy_base + o.apy_reward, 4) == round(o.apy, 4), o.id
    bad = [
        p
        for p in snap.apy_history
        if round((p.apy_base or 0) + (p.apy_reward or 0), 4) != round(p.apy or 0, 4)
    ]
    assert bad == []


def test_every_asset_used_is_described(snap: Snapshot) -> None:
    asset_ids = {a.id for a in snap.assets}
    used = {
        a for o in [*snap.opportunities, *snap.delisted] for a in (*o.underlying, *o.reward_tokens)
    }
    assert used <= asset_ids
    stables = {a.id for a in snap.assets if a.category == "stablecoin"}
    assert {"usd-coin", "tether", "dai"} <= stables


# --- histories ---------------------------------------------------------------------------------


def _first_day(o: Opportunity) -> date:
    return max(HIST_START, o.launched) if o.launched else HIST_START


def test_histories_cover_three_years_or_a_documented_late_start(
    snap: Snapshot, history: dict[str, list[ApyPoint]]
) -> None:
    full = 0
    for o in snap.opportunities:
        days = [p.date for p in history[o.id]]
        assert days, o.id
        assert days[0] == _first_day(o), o.id  # starts at launch when that is later
        assert days[-1] == AS_OF, o.id
        assert len(days) == (days[-1] - days[0]).days + 1, f"{o.id}: gaps"
        full += len(days) == FULL_DAYS
    assert FULL_DAYS >= 3 * 365
    assert full >= 60  # most established pools have the full three years


def test_delisted_pools_die_early(snap: Snapshot, history: dict[str, list[ApyPoint]]) -> None:
    assert len(snap.delisted) >= 3
    for o in snap.delisted:
        points = history[o.id]
        last_day = date.fromisoformat(o.meta["delisted"])
        assert points[-1].date == last_day < AS_OF
        assert o.as_of.date() == last_day
        assert o.meta["reason"]
        peak = max(p.tvl_usd or 0 for p in points)
        assert (points[-1].tvl_usd or 0) < 0.05 * peak, o.id  # TVL went to ~0
    assert not {o.id for o in snap.delisted} & {o.id for o in snap.opportunities}


def test_last_history_row_matches_the_universe(
    snap: Snapshot, history: dict[str, list[ApyPoint]]
) -> None:
    for o in [*snap.opportunities, *snap.delisted]:
        last = history[o.id][-1]
        assert (last.apy, last.apy_base, last.apy_reward) == (o.apy, o.apy_base, o.apy_reward)
        assert last.tvl_usd == o.tvl_usd, o.id


def test_prices_cover_every_underlying_over_its_history(
    snap: Snapshot,
    history: dict[str, list[ApyPoint]],
    prices: dict[str, dict[date, PricePoint]],
) -> None:
    for o in [*snap.opportunities, *snap.delisted]:
        start, end = history[o.id][0].date, history[o.id][-1].date
        for asset_id in o.underlying:
            series = prices[asset_id]
            missing = [
                start + timedelta(days=i)
                for i in range((end - start).days + 1)
                if start + timedelta(days=i) not in series
            ]
            assert missing == [], f"{o.id}: no {asset_id} price on {missing[:3]}"


def test_prices_end_at_the_asset_figures(
    snap: Snapshot, prices: dict[str, dict[date, PricePoint]]
) -> None:
    for a in snap.assets:
        last = prices[a.id][AS_OF]
        assert last.price_usd == a.price_usd, a.id
        assert last.market_cap_usd == a.market_cap_usd, a.id


def test_usdc_depeg_is_visible(prices: dict[str, dict[date, PricePoint]]) -> None:
    usdc = prices["usd-coin"]
    window = [usdc[date(2023, 3, d)].price_usd for d in range(10, 15)]
    assert 0.85 <= min(window) <= 0.97
    assert usdc[date(2023, 3, 14)].price_usd > 0.995  # recovered within days
    calm = [p.price_usd for d, p in usdc.items() if not date(2023, 3, 5) <= d <= date(2023, 3, 20)]
    assert min(calm) > 0.99 and max(calm) < 1.01


def test_steth_discount_after_june_2022(prices: dict[str, dict[date, PricePoint]]) -> None:
    def ratio(day: date) -> float:
        return prices["staked-ether"][day].price_usd / prices["ethereum"][day].price_usd

    assert ratio(HIST_START) < 0.97
    assert all(abs(ratio(date(2024, m, 1)) - 1) < 0.01 for m in range(1, 13))


def test_stable_pool_fees_spike_in_the_depeg(history: dict[str, list[ApyPoint]]) -> None:
    pool = {p.date: p for p in history["curve-dex:ethereum:dai-usdc-usdt"]}
    before = pool[date(2023, 3, 1)].apy_base or 0
    assert (pool[date(2023, 3, 11)].apy_base or 0) > 5 * before


def test_reward_apy_decays_for_emission_farms(
    snap: Snapshot, history: dict[str, list[ApyPoint]]
) -> None:
    farms = [o for o in snap.opportunities if (o.apy_reward or 0) > 20]
    decayed = 0
    for o in farms:
        rewards = [p.apy_reward or 0 for p in history[o.id]]
        first_quarter = rewards[: max(len(rewards) // 4, 1)]
        decayed += sum(first_quarter) / len(first_quarter) > rewards[-1]
    assert decayed >= 0.7 * len(farms)


# --- determinism and version ---------------------------------------------------------------


def test_histories_are_reproducible(tmp_path: Path) -> None:
    builder = load_builder()
    builder.build(tmp_path)
    shipped = resources.files("realyield").joinpath("data", "snapshot")
    for name in (*DATA_FILES, "README.md"):
        rebuilt = (tmp_path / name).read_bytes()
        original = shipped.joinpath(name).read_bytes()
        if name.endswith(".gz"):  # compare content: gzip framing may differ across zlibs
            rebuilt, original = gzip.decompress(rebuilt), gzip.decompress(original)
        assert rebuilt == original, f"{name} differs from a fresh build: rerun the builder"


def test_snapshot_files_stay_small() -> None:
    shipped = resources.files("realyield").joinpath("data", "snapshot")
    total = sum(len(shipped.joinpath(n).read_bytes()) for n in DATA_FILES if n.endswith(".gz"))
    assert total < 3_000_000


def test_snapshot_version_is_stable_and_tracks_content(monkeypatch: pytest.MonkeyPatch) -> None:
    version = snapshot_version()
    assert len(version) == 12 and int(version, 16) >= 0
    assert snapshot_version() == version

    real_read = snap_mod._read_bytes

    def altered(name: str) -> bytes:
        data = real_read(name)
        return data + b"x,1\n" if name == "assets.csv" else data

    snapshot_version.cache_clear()
    try:
        monkeypatch.setattr(snap_mod, "_read_bytes", altered)
        assert snapshot_version() != version
    finally:
        monkeypatch.undo()
        snapshot_version.cache_clear()
    assert snapshot_version() == version


def test_each_load_returns_fresh_lists() -> None:
    first = load_snapshot()
    first.opportunities.clear()
    first.apy_history.clear()
    second = load_snapshot()
    assert second.opportunities and second.apy_history


# --- the loader's guards ---------------------------------------------------------------------

OPP_HEADER = ",".join(snap_mod.OPPORTUNITY_COLUMNS)
OPP_ROW = (
    "aave-v3:ethereum:usdc,lending,Ethereum,aave-v3,USDC,4.1,0,4.1,1850000000,usd-coin,,"
    "single,true,false,0,6,2023-01-27"
)


def _opp_with(column: str, value: str) -> str:
    values = OPP_ROW.split(",")
    values[snap_mod.OPPORTUNITY_COLUMNS.index(column)] = value
    return ",".join(values)


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("apy_base", "abc"),
        ("apy", "9.9"),
        ("tvl_usd", "nan"),
        ("tvl_usd", "-5"),
        ("kind", "farming"),
        ("stablecoin", "yes"),
        ("launched", "2023-13-01"),
        ("audits", "many"),
    ],
)
def test_malformed_opportunity_names_file_row_and_field(column: str, value: str) -> None:
    text = "\n".join([OPP_HEADER, OPP_ROW.replace("usdc", "usdt"), _opp_with(column, value)])
    with pytest.raises(DataError) as info:
        parse_opportunities("opportunities.csv", text)
    message = str(info.value)
    assert "opportunities.csv row 3" in message
    assert column in message


def test_good_opportunity_row_parses() -> None:
    (opp,) = parse_opportunities("opportunities.csv", f"{OPP_HEADER}\n{OPP_ROW}\n")
    assert opp.apy == 4.1 and opp.stablecoin is True and opp.launched == date(2023, 1, 27)
    assert opp.source == "snapshot" and opp.underlying == ("usd-coin",)


def test_wrong_header_or_width_is_refused() -> None:
    with pytest.raises(DataError, match="header"):
        parse_opportunities("opportunities.csv", "id,kind\nx,lending\n")
    with pytest.raises(DataError, match="row 2"):
        parse_opportunities("opportunities.csv", f"{OPP_HEADER}\n{OPP_ROW},extra\n")
    with pytest.raises(DataError, match="appears twice"):
        parse_opportunities("opportunities.csv", f"{OPP_HEADER}\n{OPP_ROW}\n{OPP_ROW}\n")


HIST_HEADER = "opportunity_id,date,apy,apy_base,apy_reward,tvl_usd"


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        ("a,2024-01-02,nan,,,", "field apy"),
        ("a,2024-01-02,5,5,0,-1", "field tvl_usd"),
        ("a,2024-01-02,9,5,1,100", "field apy"),
        ("a,2024-01-02,5,x,0,100", "field apy_base"),
        ("a,2024-13-02,5,5,0,100", "field date"),
        ("a,2024-01-01,5,5,0,100", "repeats a day"),
        ("a,2023-12-31,5,5,0,100", "out of order"),
        ("zzz,2024-01-02,5,5,0,100", "not in opportunities"),
    ],
)
def test_malformed_history_row_is_named(row: str, expected: str) -> None:
    text = f"{HIST_HEADER}\na,2024-01-01,5,5,0,100\n{row}\n"
    with pytest.raises(DataError, match=expected) as info:
        parse_apy_history("apy_history.csv.gz", text, known_ids={"a"})
    assert "apy_history.csv.gz row 3" in str(info.value)


def test_malformed_price_and_asset_rows_are_named() -> None:
    header = "asset_id,date,price_usd,market_cap_usd,volume_usd"
    with pytest.raises(DataError, match=r"prices\.csv\.gz row 2, field price_usd"):
        parse_prices("prices.csv.gz", f"{header}\nusd-coin,2024-01-01,0,,\n")
    asset_header = ",".join(snap_mod.ASSET_COLUMNS)
    with pytest.raises(DataError, match=r"assets\.csv row 2, field category"):
        parse_assets("assets.csv", f"{asset_header}\nx,X,Ex,memecoin,1,,,,\n")

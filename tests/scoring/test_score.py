"""Scoring a whole universe: sums, screens on real data, real yield by hand, dependencies."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import polars as pl
import pytest

from realyield.core.model import Opportunity
from realyield.scoring.score import ScoredUniverse, score_universe
from realyield.sources import files
from realyield.sources.snapshot import SNAPSHOT_AS_OF, load_snapshot


@pytest.fixture(scope="module")
def scored_snapshot() -> ScoredUniverse:
    snap = load_snapshot()
    history = pl.DataFrame(
        [
            (p.opportunity_id, p.date, p.apy, p.apy_base, p.apy_reward, p.tvl_usd)
            for p in snap.apy_history
        ],
        schema=["id", "date", "apy", "apy_base", "apy_reward", "tvl_usd"],
        orient="row",
    )
    prices = pl.DataFrame(
        [(p.asset_id, p.date, p.price_usd) for p in snap.prices],
        schema=["asset_id", "date", "price_usd"],
        orient="row",
    )
    return score_universe(
        snap.opportunities,
        as_of=SNAPSHOT_AS_OF.date(),
        history=history,
        assets=snap.assets,
        prices=prices,
    )


def test_every_score_is_the_sum_of_its_factor_effects(scored_snapshot: ScoredUniverse) -> None:
    table = scored_snapshot.table()
    for row in table.iter_rows(named=True):
        e = scored_snapshot.explain(row["id"])
        for score, column in ((e.sustainability, "sustainability"), (e.risk, "risk")):
            assert score.total == pytest.approx(sum(f.effect for f in score.factors), abs=1e-9)
            assert score.total == pytest.approx(row[column], abs=1e-9)
            assert 0.0 <= score.total <= 100.0
            assert all(f.explanation for f in score.factors)
        assert e.apy_sustainable == pytest.approx(row["apy_sustainable"])


def test_staking_real_rate_and_reward_dilution_by_hand(scored_snapshot: ScoredUniverse) -> None:
    atom = scored_snapshot.explain("native-staking:cosmos:atom")
    apy = atom.opportunity.apy_base or 0.0
    # staking table: ATOM supply inflation 10%/yr
    assert atom.apy_real_base == pytest.approx(((1 + apy / 100) / 1.10 - 1) * 100)
    assert atom.apy_sustainable < apy
    snap = load_snapshot()
    farm = next(
        o
        for o in snap.opportunities
        if o.reward_tokens == ("aerodrome-finance",) and (o.apy_reward or 0) > 50
    )
    aero = next(a for a in snap.assets if a.id == "aerodrome-finance")
    prices = {p.date: p.price_usd for p in snap.prices if p.asset_id == "aerodrome-finance"}
    end = SNAPSHOT_AS_OF.date()
    window = sorted(d for d in prices if (end - d).days < 90)
    days = (window[-1] - window[0]).days
    trend = (prices[window[-1]] / prices[window[0]]) ** (365 / days) - 1
    competition = 1 / (1 + (farm.apy_reward or 0) / 100)
    retention = (
        1 / (1 + (aero.supply_inflation or 0)) * (1 + min(0.0, max(-1.0, trend))) * competition
    )
    e = scored_snapshot.explain(farm.id)
    assert e.apy_reward_retained == pytest.approx((farm.apy_reward or 0) * retention)
    # a volatile pair: its fees count net of the expected impermanent loss
    assert e.apy_impermanent_loss < 0 and e.impermanent_loss is not None
    assert e.apy_real_base == pytest.approx((farm.apy_base or 0) + e.apy_impermanent_loss)
    assert e.apy_sustainable == pytest.approx(
        (farm.apy_base or 0) + e.apy_impermanent_loss + e.apy_reward_retained
    )


def test_dependencies_name_issuers(scored_snapshot: ScoredUniverse) -> None:
    usdc = scored_snapshot.explain("aave-v3:ethereum:usdc").dependencies
    assert usdc["protocol"] == "aave" and usdc["issuers"] == ["circle"]
    ids = [o.id for o in scored_snapshot.inputs.opportunities]
    steth = next(i for i in ids if i.startswith("lido:"))
    assert "lido" in scored_snapshot.explain(steth).dependencies["issuers"]


def test_screens_exclude_high_apy_and_keep_reasons(scored_snapshot: ScoredUniverse) -> None:
    table = scored_snapshot.table()
    high = table.filter(pl.col("apy") > 100)
    assert high.height >= 1
    assert all("above 100%" in r for r in high["excluded_reason"].to_list())
    passing = table.filter(~pl.col("excluded"))
    assert passing.height > 100 and passing["excluded_reason"].null_count() == passing.height


def test_unknown_split_is_not_counted_as_real() -> None:
    at = datetime(2024, 1, 1, tzinfo=UTC)
    opps = [
        Opportunity(
            id=i,
            kind="lending",
            chain="Ethereum",
            protocol="aave-v3",
            symbol="USDC",
            apy=5.0,
            apy_base=base,
            apy_reward=reward,
            tvl_usd=1e8,
            as_of=at,
            source="t",
        )
        for i, base, reward in (("known", 5.0, 0.0), ("unknown", None, None))
    ]
    scored = score_universe(opps, as_of=at.date())
    known, unknown = scored.explain("known"), scored.explain("unknown")
    assert known.apy_sustainable == 5.0
    # all emissions: default retention 0.5, competition 1 / 1.05
    assert unknown.apy_sustainable == pytest.approx(5.0 * 0.5 / 1.05)
    assert unknown.sustainability.total < known.sustainability.total
    assert "history unknown" in "; ".join(unknown.excluded_reasons)


def test_screening_covers_the_whole_2023_universe(shared_data: Path) -> None:
    opps, _ = files.import_pools(shared_data / "defillama/pools_2023-07-26.csv")
    scored = score_universe(opps, as_of=date(2023, 7, 26))
    table = scored.table()
    assert table.height == 11_977
    high = table.filter(pl.col("apy") > 100)
    assert high.height == 423
    assert high["excluded"].all()
    assert all("above 100%" in r for r in high["excluded_reason"].to_list())
    low = table.filter(pl.col("apy") <= 100)
    assert not any("above 100%" in (r or "") for r in low["excluded_reason"].to_list())
    assert table["sustainability"].is_between(0, 100).all()
    assert table["risk"].is_between(0, 100).all()


def test_volatile_pair_on_the_snapshot_shows_its_deduction(scored_snapshot: ScoredUniverse) -> None:
    e = scored_snapshot.explain("uniswap-v3:arbitrum:arb-weth")
    assert e.impermanent_loss is not None and e.apy_impermanent_loss < 0
    assert e.apy_real_base == pytest.approx((e.opportunity.apy_base or 0) + e.apy_impermanent_loss)
    assert "ARB" in e.impermanent_loss.describe()
    stable = scored_snapshot.explain("marginfi:solana:usdc")
    assert stable.impermanent_loss is None and stable.apy_impermanent_loss == 0.0
    assert stable.apy_sustainable == pytest.approx(
        stable.apy_real_base + stable.apy_reward_retained
    )

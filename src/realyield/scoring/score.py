"""Scoring a universe: screens, sustainable APY, both scores, dependencies, forecast.

``score_universe`` is the one entry point the CLI, API and indices call. It returns a
``ScoredUniverse``: a columnar table (one row per opportunity, fast to filter and sort)
and, on demand, the full explanation of one opportunity (``explain``), with every
factor's input value, effect and one-line reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np
import polars as pl

from realyield.core.model import Asset, Opportunity
from realyield.reference.staking import StakingParams
from realyield.scoring import labels, risk, signals, sustainability
from realyield.scoring.explain import risk_factors, sustainability_factors
from realyield.scoring.factors import Score, make_score, risk_grade, sustainability_grade
from realyield.scoring.history_stats import history_stats
from realyield.scoring.inputs import ScoringInputs, build_inputs
from realyield.scoring.pair_risk import PairLoss, expected_losses
from realyield.scoring.realyield import reward_retention, sustainable_apy
from realyield.scoring.record_facts import FactsCache
from realyield.scoring.screens import ScreenConfig, screen_reasons
from realyield.scoring.sustainability import FactorColumns
from realyield.universe.point_in_time import SortedHistory

#: Reasons counted by the text before their first colon (their details vary).
_KEYED_REASONS = ("APY spike", "outlier", "defunct issuer", "no trading volume")


@dataclass
class Explanation:
    """Everything behind one opportunity's numbers."""

    opportunity: Opportunity
    apy_real_base: float
    apy_reward_retained: float
    apy_sustainable: float
    sustainability: Score
    risk: Score
    excluded_reasons: list[str]
    dependencies: dict[str, Any]
    forecast: dict[str, Any] | None = None
    label: str = ""
    #: expected impermanent loss over a year, percent (<= 0), already in apy_real_base
    apy_impermanent_loss: float = 0.0
    impermanent_loss: PairLoss | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            **self.opportunity.to_dict(),
            "label": self.label,
            "apy_impermanent_loss": self.apy_impermanent_loss,
            "impermanent_loss_basis": (
                self.impermanent_loss.describe() if self.impermanent_loss else None
            ),
            "apy_real_base": self.apy_real_base,
            "apy_reward_retained": self.apy_reward_retained,
            "apy_sustainable": self.apy_sustainable,
            "sustainability": self.sustainability.as_dict(),
            "risk": self.risk.as_dict(),
            "excluded": bool(self.excluded_reasons),
            "excluded_reason": "; ".join(self.excluded_reasons) or None,
            "dependencies": self.dependencies,
            "forecast": self.forecast,
        }


@dataclass
class ScoredUniverse:
    """Scores of a set of opportunities: a table plus per-opportunity explanations."""

    inputs: ScoringInputs
    sustainability_columns: FactorColumns
    risk_columns: FactorColumns
    real_base: np.ndarray
    retained: np.ndarray
    sustainable: np.ndarray
    reasons: list[list[str]]
    forecast: pl.DataFrame | None = None
    il_loss: np.ndarray | None = None  # expected impermanent loss, percent a year (<= 0)
    il_detail: list[PairLoss | None] = field(default_factory=list)
    _index: dict[str, int] = field(default_factory=dict)
    _labels: list[str] | None = None

    def __post_init__(self) -> None:
        self._index = {o.id: i for i, o in enumerate(self.inputs.opportunities)}
        self.sustainability_total = np.sum(
            [e for _, e in self.sustainability_columns.values()], axis=0
        )
        self.risk_total = np.sum([e for _, e in self.risk_columns.values()], axis=0)

    def __len__(self) -> int:
        return len(self.inputs)

    def __contains__(self, opportunity_id: object) -> bool:
        return opportunity_id in self._index

    def labels(self) -> list[str]:
        """Readable ids (``protocol:chain:symbol``, disambiguated), one per opportunity."""
        if self._labels is None:
            self._labels = labels.readable_ids(self.inputs.opportunities)
        return self._labels

    def impermanent_loss(self) -> np.ndarray:
        """Expected impermanent loss per opportunity, percent a year (<= 0, 0 for none)."""
        return np.zeros(len(self)) if self.il_loss is None else self.il_loss

    def table(self, *, readable: bool = False) -> pl.DataFrame:
        """One row per opportunity: APYs, scores, grades, exclusion reason, forecast.

        ``readable`` adds ``label`` (the readable id) and ``apy_impermanent_loss`` (the
        expected loss already netted out of ``apy_real_base``, percent, <= 0).
        """
        opps = self.inputs.opportunities
        extra = (
            {"label": self.labels(), "apy_impermanent_loss": self.impermanent_loss()}
            if readable
            else {}
        )
        frame = pl.DataFrame(
            {
                "id": [o.id for o in opps],
                **extra,
                "kind": [o.kind for o in opps],
                "chain": [o.chain for o in opps],
                "protocol": [o.protocol for o in opps],
                "symbol": [o.symbol for o in opps],
                "apy": self.inputs.apy,
                "apy_base": [o.apy_base for o in opps],
                "apy_reward": [o.apy_reward for o in opps],
                "apy_real_base": self.real_base,
                "apy_sustainable": self.sustainable,
                "tvl_usd": self.inputs.tvl_usd,
                "sustainability": self.sustainability_total,
                "sustainability_grade": [
                    sustainability_grade(t) for t in self.sustainability_total
                ],
                "risk": self.risk_total,
                "risk_grade": [risk_grade(t) for t in self.risk_total],
                "excluded": [bool(r) for r in self.reasons],
                "excluded_reason": ["; ".join(r) if r else None for r in self.reasons],
            },
            nan_to_null=True,
        )
        if self.forecast is not None:
            frame = frame.join(
                self.forecast.select(
                    "id",
                    "forecast_apy_30d",
                    "p_down",
                    "confidence",
                    pl.col("reason").alias("forecast_note"),
                ),
                on="id",
                how="left",
            )
        return frame

    def top_per_kind(self, n: int = 3) -> pl.DataFrame:
        """The ``n`` highest sustainable APYs of each kind among those passing the screens
        (with readable ids, ``table(readable=True)``)."""
        return (
            self.table(readable=True)
            .filter(~pl.col("excluded"))
            .sort("apy_sustainable", descending=True, nulls_last=True)
            .group_by("kind", maintain_order=True)
            .head(n)
            .sort("kind", "apy_sustainable", descending=[False, True])
        )

    def exclusion_counts(self) -> dict[str, int]:
        """How many opportunities each screen excluded (one may fail several)."""
        counts: dict[str, int] = {}
        for reasons in self.reasons:
            for reason in reasons:
                key = (
                    reason.split(":")[0]
                    if reason.startswith(_KEYED_REASONS)
                    else (
                        "APY above the cap"
                        if "above" in reason and reason.startswith("APY")
                        else "TVL"
                        if reason.startswith("TVL")
                        else "history"
                        if "history" in reason
                        else reason
                    )
                )
                counts[key] = counts.get(key, 0) + 1
        return dict(sorted(counts.items(), key=lambda kv: -kv[1]))

    def resolve(self, reference: str) -> str:
        """The id of the opportunity ``reference`` names: an id (a DeFiLlama UUID), a
        readable id, or a ``protocol:chain:symbol`` or id prefix only it has.

        Raises:
            DataError: nothing or several opportunities match (what to type is said).
        """
        if reference in self._index:
            return reference
        ids = [o.id for o in self.inputs.opportunities]
        return ids[labels.resolve(reference, ids, self.labels())]

    def explain(self, opportunity_id: str) -> Explanation:
        """Every factor behind one opportunity's scores; ``opportunity_id`` may be any
        reference ``resolve`` accepts.

        Raises:
            DataError: the reference names no opportunity, or several.
        """
        opportunity_id = self.resolve(opportunity_id)
        i = self._index[opportunity_id]
        x = self.inputs
        forecast = None
        if self.forecast is not None:
            rows = self.forecast.filter(pl.col("id") == opportunity_id).to_dicts()
            forecast = rows[0] if rows else None
        return Explanation(
            opportunity=x.opportunities[i],
            apy_real_base=float(self.real_base[i]),
            apy_reward_retained=float(self.retained[i]),
            apy_sustainable=float(self.sustainable[i]),
            sustainability=make_score(
                "sustainability", sustainability_factors(self.sustainability_columns, i)
            ),
            risk=make_score("risk", risk_factors(x, self.risk_columns, i)),
            excluded_reasons=list(self.reasons[i]),
            dependencies=x.dependencies[i].as_dict(),
            forecast=forecast,
            label=self.labels()[i],
            apy_impermanent_loss=float(self.impermanent_loss()[i]),
            impermanent_loss=self.il_detail[i] if self.il_detail else None,
        )


def score_universe(
    opportunities: Sequence[Opportunity],
    *,
    as_of: date,
    history: pl.DataFrame | None = None,
    assets: Sequence[Asset] = (),
    prices: pl.DataFrame | SortedHistory | None = None,
    staking: Sequence[StakingParams] | None = None,
    screens: ScreenConfig | None = None,
    forecast: pl.DataFrame | None = None,
    stats: pl.DataFrame | None = None,
    facts_cache: FactsCache | None = None,
) -> ScoredUniverse:
    """Screen and score ``opportunities`` as of ``as_of`` (history after it is ignored).

    ``forecast`` is the output of ``scoring.forecast.predict`` when a model is used.
    ``stats`` is ``history_stats(history, as_of=as_of)`` when the caller already has it
    (a replay over many dates answers it from one ``HistoryStatsIndex``); it takes the
    place of ``history``. ``facts_cache`` keeps each record's date-independent facts
    between calls.
    """
    if stats is None and history is not None:
        stats = history_stats(history, as_of=as_of)
    x = build_inputs(
        opportunities,
        as_of=as_of,
        stats=stats,
        assets=assets,
        prices=prices,
        staking=staking,
        facts_cache=facts_cache,
    )
    is_staking_like = x.is_staking | x.is_lst
    il_loss, il_detail = expected_losses(
        opportunities, x.pair_tokens, x.volatile, as_of=as_of, assets=assets, prices=prices
    )
    real_base, retained, sustainable = sustainable_apy(
        x.apy_base,
        x.apy_reward,
        is_staking_like,
        x.staking_inflation,
        x.reward_dilution,
        x.reward_trend,
        impermanent_loss=il_loss,
    )
    implied = signals.implied_fee_apy(x.volume_1d, x.volume_7d, x.fee_tier, x.tvl_usd)
    s_cols = sustainability.sustainability_kernel(
        x.apy,
        real_base,
        x.apy_reward,
        x.split_known,
        reward_retention(x.reward_dilution, x.reward_trend, x.apy_reward),
        x.mu,
        x.sigma,
        x.mean_30d,
        x.std_30d,
        x.tvl_usd,
        x.tvl_change_30d,
        frozen=x.frozen,
        fee_applies=x.is_amm & (np.nan_to_num(x.apy_base) > 0),
        fee_coverage=signals.fee_coverage(x.apy_base, implied),
        p_down=x.p_down,
    )
    r_cols = risk.risk_kernel(
        protocol_age_years=x.protocol_age_years,
        audits=x.audits,
        tvl_usd=x.tvl_usd,
        exploits=x.exploits,
        years_since_exploit=x.years_since_exploit,
        layers=x.layers,
        collateral=x.collateral,
        custodial=x.custodial,
        exposure_multi=x.exposure_multi,
        correlated=x.correlated,
        il_7d=x.il_7d,
        depeg_points=x.depeg_points,
        lockup_days=x.lockup_days,
        is_staking=x.is_staking,
        is_lst=x.is_lst,
        slashing=x.slashing,
        chain_age_years=x.chain_age_years,
        chain_kind=x.chain_kind,
        chain_bridge=x.chain_bridge,
        chain_incidents=x.chain_incidents,
    )
    reasons = screen_reasons(
        screens or ScreenConfig(),
        apy=x.apy,
        tvl_usd=x.tvl_usd,
        n_obs=x.n_obs,
        mean_30d=x.mean_30d,
        mu=x.mu,
        sigma=x.sigma,
        flagged_outlier=x.source_outlier,
        zero_volume=signals.zero_volume(x.volume_1d, x.volume_7d),
        volume_7d_known=~np.isnan(x.volume_7d),
        defunct=x.defunct,
    )
    return ScoredUniverse(
        x,
        s_cols,
        r_cols,
        real_base,
        retained,
        sustainable,
        reasons,
        forecast,
        il_loss=il_loss,
        il_detail=il_detail,
    )

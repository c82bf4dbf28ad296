"""The quarterly review: per holding, the yield earned against what was expected, how its
scores moved, which alerts it raised, and what to rebalance; and the income against the
plan.

Figures and their basis:

* **expected**: the value held times the APY on the quarter's first day, pro rata for
  the quarter's days (what the holding promised when the quarter began);
* **earned**: the realised income the ledger recorded for the quarter, when the caller
  passes it (``realised_income``: holding id -> USD), else an estimate from the stored
  daily APYs (value times the quarter's mean APY, pro rata). The review says which;
* **scores**: sustainability and risk rebuilt point in time at the quarter's start and
  end from stored history (``indices.service.HistoryData``), so a change is the data's,
  not a methodology change's;
* **alerts**: stored alerts whose episode overlaps the quarter, on the holding or one of
  its underlying assets;
* **rebalance**: the gap between current weights and targets, and the weights after the
  no-trade band (``indices.rebalance.apply_band``); holdings now screened out are to be
  sold.

Values are held constant through the quarter (the ledger, when merged, gives the real
path); the review is a report on yields, not a performance attribution.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl
from sqlalchemy import Engine

from realyield.core import clock
from realyield.core.errors import ConfigError, InsufficientDataError
from realyield.indices.composition import Constituent
from realyield.indices.rebalance import apply_band
from realyield.monitor.alerts import Alert, list_alerts
from realyield.universe.repository import apy_history_frame

_QUARTER = re.compile(r"^\s*(\d{4})\s*-?\s*[Qq]([1-4])\s*$")


def parse_quarter(text: str) -> tuple[date, date]:
    """``2025Q3`` (or ``2025-Q3``) -> (2025-07-01, 2025-09-30).

    Raises:
        ConfigError: anything else.
    """
    match = _QUARTER.match(text)
    if not match:
        raise ConfigError(f"quarter {text!r}: write it as YYYYQn, e.g. 2025Q3")
    year, q = int(match.group(1)), int(match.group(2))
    if not 1970 <= year <= 2200:
        raise ConfigError(f"quarter {text!r}: the year must be between 1970 and 2200")
    start = date(year, 3 * q - 2, 1)
    end = (date(year + 1, 1, 1) if q == 4 else date(year, 3 * q + 1, 1)) - timedelta(days=1)
    return start, end


_GONE = "not in the stored universe at the end"


@dataclass(frozen=True)
class HoldingReview:
    id: str
    label: str
    value_usd: float
    weight: float
    target_weight: float | None
    apy_start: float | None
    apy_mean: float | None
    apy_end: float | None
    expected_usd: float | None
    earned_usd: float | None
    sustainability_start: float | None
    sustainability_end: float | None
    risk_start: float | None
    risk_end: float | None
    excluded_end: list[str]
    alerts: list[Alert]

    @property
    def shortfall_pct(self) -> float | None:
        if not self.expected_usd or self.earned_usd is None:
            return None
        return (self.expected_usd - self.earned_usd) / self.expected_usd * 100

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "label": self.label,
            "value_usd": self.value_usd,
            "weight": self.weight,
            "target_weight": self.target_weight,
            "apy_start": self.apy_start,
            "apy_mean": self.apy_mean,
            "apy_end": self.apy_end,
            "expected_usd": self.expected_usd,
            "earned_usd": self.earned_usd,
            "shortfall_pct": self.shortfall_pct,
            "sustainability": [self.sustainability_start, self.sustainability_end],
            "risk": [self.risk_start, self.risk_end],
            "excluded_at_end": self.excluded_end,
            "alerts": [a.as_dict() for a in self.alerts],
        }


@dataclass
class QuarterlyReview:
    quarter: str
    start: date
    end: date
    days: int
    earned_basis: str  # "ledger" | "estimated from stored APY"
    holdings: list[HoldingReview]
    planned_income_usd: float | None  # for this quarter
    suggested_weights: dict[str, float] = field(default_factory=dict)
    sell: list[str] = field(default_factory=list)
    history: pl.DataFrame | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def earned_usd(self) -> float:
        return sum(h.earned_usd or 0.0 for h in self.holdings)

    @property
    def expected_usd(self) -> float:
        return sum(h.expected_usd or 0.0 for h in self.holdings)

    @property
    def income_vs_plan_pct(self) -> float | None:
        if not self.planned_income_usd:
            return None
        return self.earned_usd / self.planned_income_usd * 100

    def as_dict(self) -> dict[str, Any]:
        return {
            "quarter": self.quarter,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "days": self.days,
            "earned_basis": self.earned_basis,
            "expected_usd": self.expected_usd,
            "earned_usd": self.earned_usd,
            "planned_income_usd": self.planned_income_usd,
            "income_vs_plan_pct": self.income_vs_plan_pct,
            "holdings": [h.as_dict() for h in self.holdings],
            "suggested_weights": self.suggested_weights,
            "sell": self.sell,
            "notes": self.notes,
        }


def _scores_at(engine: Engine, day: date) -> dict[str, tuple[float, float, list[str]]]:
    """Per opportunity: (sustainability, risk, exclusion reasons) rebuilt as of ``day``."""
    from realyield.indices.service import load_history_data

    data = load_history_data(engine)
    try:
        scored = data.inputs_at(day).scored
    except InsufficientDataError:
        return {}
    table = scored.table()
    return {
        r["id"]: (
            float(r["sustainability"]),
            float(r["risk"]),
            r["excluded_reason"].split("; ") if r["excluded_reason"] else [],
        )
        for r in table.select("id", "sustainability", "risk", "excluded_reason").iter_rows(
            named=True
        )
    }


def _apy_on(frame: pl.DataFrame, day: date, *, before: bool) -> float | None:
    rows = frame.filter(pl.col("date") <= day) if before else frame.filter(pl.col("date") >= day)
    rows = rows.filter(pl.col("apy").is_not_null()).sort("date")
    if rows.is_empty():
        return None
    return float(rows["apy"][-1] if before else rows["apy"][0])


def quarterly_review(
    engine: Engine,
    quarter: str,
    holdings_usd: Mapping[str, float],
    *,
    targets: Mapping[str, float] | None = None,
    income_per_year_usd: float | None = None,
    realised_income: Mapping[str, Decimal] | None = None,
    band_pp: float = 5.0,
    labels: Mapping[str, str] | None = None,
) -> QuarterlyReview:
    """The review of ``quarter`` (``2025Q3``) for ``holdings_usd`` (id -> USD held).

    ``realised_income`` (holding id -> USD earned in the quarter, from the ledger)
    replaces the estimate from stored APYs where given.

    Raises:
        ConfigError: a bad quarter or no holdings.
        InsufficientDataError: the quarter has not started yet.
    """
    start, end = parse_quarter(quarter)
    if not holdings_usd:
        raise ConfigError(
            "the review needs holdings: add [holdings] to monitor.toml, or review an index "
            "with --index NAME --capital AMOUNT"
        )
    today = clock.today()
    if start > today:
        raise InsufficientDataError(f"{quarter} has not started yet (today is {today})")
    notes: list[str] = []
    ids = sorted(holdings_usd)
    history = apy_history_frame(engine, ids, start=start - timedelta(days=30), end=end)
    newest = history["date"].max() if not history.is_empty() else None
    last_day = min(end, today)
    if isinstance(newest, date) and newest < last_day:
        notes.append(f"stored APYs end on {newest}: the quarter is reviewed up to that day")
        last_day = max(newest, start)
    days = (last_day - start).days + 1
    scores_start = _scores_at(engine, start)
    scores_end = _scores_at(engine, last_day)
    if not scores_start:
        notes.append(f"no stored history on {start}: scores at the start are unknown")
    alerts = list_alerts(engine, since=start, until=end)
    total = sum(holdings_usd.values())
    basis = "ledger" if realised_income is not None else "estimated from stored APY"
    reviews: list[HoldingReview] = []
    for opp_id in ids:
        value = float(holdings_usd[opp_id])
        series = history.filter(pl.col("id") == opp_id)
        inside = series.filter((pl.col("date") >= start) & (pl.col("date") <= last_day))
        apy_start = _apy_on(series, start, before=True) or _apy_on(inside, start, before=False)
        apy_mean = float(inside["apy"].mean()) if inside["apy"].drop_nulls().len() else None  # type: ignore[arg-type]
        apy_end = _apy_on(inside, last_day, before=True)
        expected = value * apy_start / 100 * days / 365 if apy_start is not None else None
        if realised_income is not None:
            earned: float | None = float(realised_income.get(opp_id, Decimal(0)))
        else:
            earned = value * apy_mean / 100 * days / 365 if apy_mean is not None else None
        s0 = scores_start.get(opp_id)
        s1 = scores_end.get(opp_id)
        reviews.append(
            HoldingReview(
                id=opp_id,
                label=(labels or {}).get(opp_id, opp_id),
                value_usd=value,
                weight=value / total if total else 0.0,
                target_weight=None if targets is None else float(targets.get(opp_id, 0.0)),
                apy_start=apy_start,
                apy_mean=apy_mean,
                apy_end=apy_end,
                expected_usd=expected,
                earned_usd=earned,
                sustainability_start=s0[0] if s0 else None,
                sustainability_end=s1[0] if s1 else None,
                risk_start=s0[1] if s0 else None,
                risk_end=s1[1] if s1 else None,
                excluded_end=list(s1[2]) if s1 else [_GONE],
                alerts=[a for a in alerts if a.subject == opp_id],
            )
        )
    # Never "sell" what the target holds: an index's constituents passed the index's own
    # rules, and a plain asset (asset:bitcoin in a growth sleeve) is not an opportunity
    # the screens know. Only a holding gone from the stored universe altogether is sold.
    held_by_target = {k for k, w in (targets or {}).items() if w > 0}

    def protected(h: HoldingReview) -> bool:
        vanished = h.excluded_end == [_GONE] and not h.id.startswith("asset:")
        return h.id in held_by_target and not vanished

    sell = [h.id for h in reviews if h.excluded_end and not protected(h)]
    kept = [h.label for h in reviews if h.excluded_end and protected(h)]
    if kept:
        notes.append(
            f"{', '.join(kept)}: outside the opportunity screens but held by the target, "
            "so kept (the target's own rules chose them)"
        )
    suggested: dict[str, float] = {}
    if targets:
        current = {h.id: h.weight for h in reviews}
        goal = {k: v for k, v in targets.items() if k not in sell}
        scale = sum(goal.values())
        goal = {k: v / scale for k, v in goal.items()} if scale else {}
        suggested = apply_band(current, goal, band_pp / 100)
    planned = income_per_year_usd * days / 365 if income_per_year_usd is not None else None
    return QuarterlyReview(
        quarter=quarter.strip().upper().replace("-", ""),
        start=start,
        end=last_day,
        days=days,
        earned_basis=basis,
        holdings=reviews,
        planned_income_usd=planned,
        suggested_weights=suggested,
        sell=sell,
        history=history.filter((pl.col("date") >= start) & (pl.col("date") <= last_day)),
        notes=notes,
    )


def index_holdings(
    engine: Engine, name: str, capital: float, *, home: Path | None = None
) -> tuple[dict[str, float], dict[str, float], dict[str, str]]:
    """Holdings (id -> USD), target weights and labels of index ``name`` as if
    ``capital`` were invested at its weights today: to review an index not yet held.

    Raises:
        ConfigError: a non-positive capital, or an index that cannot be built.
    """
    from realyield.indices.service import index_named

    if not capital > 0:
        raise ConfigError(f"capital {capital!r}: give a positive amount in USD")
    comp = index_named(engine, name, home=home)
    weights = comp.weights()
    return {k: capital * w for k, w in weights.items()}, weights, unique_labels(comp.constituents)


def unique_labels(constituents: Iterable[Constituent]) -> dict[str, str]:
    """id -> label, a label shared by several holdings (``aave-v3 USDC`` on three chains)
    followed by its chain, so a reader can tell the lines apart."""
    items = list(constituents)
    counts = Counter(c.label for c in items)
    return {
        c.id: f"{c.label} ({c.chain})" if counts[c.label] > 1 and c.chain else c.label
        for c in items
    }


def write_review(review: QuarterlyReview, folder: Path) -> tuple[Path, Path]:
    """Write ``review-<quarter>.html`` (with ``plotly.min.js`` beside it) and
    ``review-<quarter>.md`` into ``folder``; return both paths.

    Raises:
        ConfigError: the folder does not exist or cannot be written.
    """
    from realyield.monitor.review_report import render_html, render_markdown

    folder = Path(folder)
    if not folder.is_dir():
        raise ConfigError(f"review folder {folder} does not exist")
    stem = f"review-{review.quarter}"
    html_path, md_path = folder / f"{stem}.html", folder / f"{stem}.md"
    try:
        html_path.write_text(render_html(review), encoding="utf-8")
        md_path.write_text(render_markdown(review), encoding="utf-8")
        js = folder / "plotly.min.js"
        if not js.exists():
            from plotly.offline import get_plotlyjs

            js.write_text(get_plotlyjs(), encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot write the review to {folder}: {exc.strerror}") from exc
    return html_path, md_path

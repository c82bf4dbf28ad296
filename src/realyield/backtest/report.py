"""A self-contained HTML report of a backtest: metrics, attribution, stress replays and
four interactive charts (equity curve, drawdowns, income against price contribution,
allocation over time).

Self-contained because the machines it is read on may be offline: plotly.js comes from
the installed ``plotly`` package and is written inline, once; each figure is stored as
plotly JSON in a ``<script type="application/json" id="fig-...">`` block and drawn by a
few lines of script, so the numbers can also be read back from the file (the tests do).
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import plotly.graph_objects as go
from plotly.offline import get_plotlyjs

from realyield.backtest.engine import BacktestResult
from realyield.backtest.stress import EpisodeResult
from realyield.core.errors import DataError

FIGURES = ("equity", "drawdown", "contribution", "allocation")
MAX_AREAS = 12


def _layout(title: str, yaxis: str, percent: bool = False) -> dict[str, Any]:
    return {
        "title": {"text": title},
        "height": 420,
        "margin": {"l": 60, "r": 20, "t": 50, "b": 40},
        "hovermode": "x unified",
        "yaxis": {"title": {"text": yaxis}, **({"tickformat": ".0%"} if percent else {})},
        "legend": {"orientation": "h", "y": -0.15},
        "template": "plotly_white",
    }


def _y(values: Any) -> list[float]:
    """Plain JSON numbers (plotly would otherwise write numpy arrays as base64)."""
    return [float(v) for v in np.asarray(values, dtype=float)]


def _dates(result: BacktestResult) -> list[str]:
    return [d.isoformat() for d in result.daily["date"].to_list()]


def equity_figure(result: BacktestResult) -> go.Figure:
    x = _dates(result)
    fig = go.Figure(layout=_layout("Value (USD)", "USD"))
    fig.add_scatter(
        x=x, y=_y(result.daily["value"].to_numpy()), name=result.name, line={"width": 2.5}
    )
    for b in result.benchmarks:
        fig.add_scatter(x=x, y=_y(b.daily["value"].to_numpy()), name=b.name, line={"width": 1})
    return fig


def drawdown_figure(result: BacktestResult) -> go.Figure:
    x = _dates(result)
    fig = go.Figure(layout=_layout("Drawdown from the running peak", "drawdown", percent=True))
    fig.add_scatter(
        x=x,
        y=_y(result.daily["drawdown"].to_numpy()),
        name=result.name,
        fill="tozeroy",
        line={"width": 1.5},
    )
    for b in result.benchmarks:
        fig.add_scatter(x=x, y=_y(b.daily["drawdown"].to_numpy()), name=b.name, line={"width": 1})
    return fig


def contribution_figure(result: BacktestResult) -> go.Figure:
    """Cumulative USD contributions: price (ex impermanent loss), impermanent loss,
    income and costs; they add up to the value's change."""
    d = result.daily
    x = _dates(result)
    il_path = d["impermanent_loss"].to_numpy()
    price = np.cumsum(d["price_pnl"].to_numpy()) - il_path
    fig = go.Figure(layout=_layout("Where the return came from (cumulative USD)", "USD"))
    fig.add_scatter(x=x, y=_y(price), name="price (ex impermanent loss)")
    fig.add_scatter(x=x, y=_y(np.cumsum(d["income_pnl"].to_numpy())), name="income")
    fig.add_scatter(x=x, y=_y(il_path), name="impermanent loss")
    fig.add_scatter(x=x, y=_y(-np.cumsum(d["cost"].to_numpy())), name="costs")
    fig.add_scatter(
        x=x,
        y=_y(d["value"].to_numpy() - result.config.capital_usd),
        name="total",
        line={"dash": "dot", "color": "black"},
    )
    return fig


def allocation_figure(result: BacktestResult) -> go.Figure:
    a = result.allocation
    x = _dates(result)
    holdings = [c for c in a.columns if c not in ("date", "cash", "unbonding")]
    mean = {c: float(np.nanmean(a[c].to_numpy())) for c in holdings}
    top = sorted(holdings, key=lambda c: -mean[c])[:MAX_AREAS]
    fig = go.Figure(layout=_layout("Allocation over time", "weight", percent=True))
    for c in top:
        fig.add_scatter(
            x=x, y=_y(a[c].to_numpy()), name=result.labels.get(c, c), stackgroup="w", mode="none"
        )
    rest = [c for c in holdings if c not in top]
    if rest:
        other = np.sum([a[c].to_numpy() for c in rest], axis=0)
        fig.add_scatter(x=x, y=_y(other), name=f"{len(rest)} others", stackgroup="w", mode="none")
    for c in ("cash", "unbonding"):
        if float(np.nanmax(a[c].to_numpy())) > 0:
            fig.add_scatter(x=x, y=_y(a[c].to_numpy()), name=c, stackgroup="w", mode="none")
    return fig


def _fmt(value: Any, kind: str) -> str:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return "-"
    if kind == "pct":
        return f"{value:+.2%}"
    if kind == "ratio":
        return f"{value:.2f}"
    if kind == "usd":
        return f"${value:,.0f}"
    return html.escape(str(value))


METRIC_ROWS = (
    ("total return", "total_return", "pct"),
    ("CAGR", "cagr", "pct"),
    ("volatility (annual)", "volatility", "pct"),
    ("Sharpe", "sharpe", "ratio"),
    ("Sortino", "sortino", "ratio"),
    ("Calmar", "calmar", "ratio"),
    ("max drawdown", "max_drawdown", "pct"),
    ("max drawdown duration (days)", "max_drawdown_days", "int"),
    ("longest drawdown (days)", "longest_drawdown_days", "int"),
)
ATTRIBUTION_ROWS = (
    ("price return", "price_return", "pct"),
    ("income return", "income_return", "pct"),
    ("costs", "costs", "pct"),
    ("impermanent loss", "impermanent_loss", "pct"),
    ("write-downs", "writedowns", "pct"),
    ("realised yield (annual)", "realised_yield", "pct"),
    ("turnover (annual)", "turnover_annual", "ratio"),
    ("rebalances", "rebalances", "int"),
    ("end value", "end_value_usd", "usd"),
)


def _metrics_table(result: BacktestResult) -> str:
    heads = [result.name, *[b.name for b in result.benchmarks]]
    rows = []
    for label, key, kind in METRIC_ROWS:
        cells = [
            result.metrics.as_dict()[key],
            *[b.metrics.as_dict()[key] for b in result.benchmarks],
        ]
        rows.append(
            f"<tr><th>{label}</th>" + "".join(f"<td>{_fmt(c, kind)}</td>" for c in cells) + "</tr>"
        )
    head = "".join(f"<th>{html.escape(h)}</th>" for h in heads)
    return f'<table id="metrics"><tr><th></th>{head}</tr>{"".join(rows)}</table>'


def _attribution_table(result: BacktestResult) -> str:
    rows = "".join(
        f"<tr><th>{label}</th><td>{_fmt(result.attribution[key], kind)}</td></tr>"
        for label, key, kind in ATTRIBUTION_ROWS
    )
    return f'<table id="attribution">{rows}</table>'


def _stress_table(stress: Sequence[EpisodeResult]) -> str:
    if not stress:
        return ""
    rows = []
    for e in stress:
        detail = []
        if e.missing:
            detail.append("not covered: " + ", ".join(e.missing))
        if e.key_missing:
            detail.append("series not stored: " + ", ".join(e.key_missing))
        if e.proxies:
            detail.append("proxies: " + ", ".join(f"{k} -> {v}" for k, v in e.proxies.items()))
        if e.illustrative:
            detail.append("ILLUSTRATIVE series: " + ", ".join(e.illustrative))
        rows.append(
            "<tr>"
            f"<td>{html.escape(e.episode.title)}</td>"
            f"<td>{e.episode.start} to {e.episode.end}</td>"
            f"<td>{_fmt(e.loss, 'pct')}</td>"
            f"<td>{html.escape(e.recovery_text)}</td>"
            f"<td>{e.covered_weight:.0%}</td>"
            f"<td>{html.escape(e.status)}</td>"
            f"<td>{html.escape('; '.join(detail))}</td>"
            "</tr>"
        )
    return (
        "<h2>Stress episodes replayed on today's weights</h2>"
        '<table id="stress"><tr><th>episode</th><th>window</th><th>peak loss</th>'
        "<th>recovery</th><th>covered</th><th>status</th><th>notes</th></tr>"
        + "".join(rows)
        + "</table>"
    )


CSS = """
body{font-family:system-ui,sans-serif;margin:24px auto;max-width:1100px;color:#222}
table{border-collapse:collapse;margin:8px 0 20px}th,td{padding:4px 10px;text-align:right;
border-bottom:1px solid #ddd}th:first-child{text-align:left}.warn{background:#fff3cd;
padding:8px 12px;border-left:4px solid #e0a800}.notes{font-size:13px;color:#555}
#stress td{text-align:left}
"""


def render_html(result: BacktestResult, stress: Sequence[EpisodeResult] = ()) -> str:
    """The report as one HTML string."""
    figures = {
        "equity": equity_figure(result),
        "drawdown": drawdown_figure(result),
        "contribution": contribution_figure(result),
        "allocation": allocation_figure(result),
    }
    blocks = []
    for key, fig in figures.items():
        spec = fig.to_json().replace("</", "<\\/")
        blocks.append(
            f'<div id="plot-{key}" class="plot"></div>'
            f'<script type="application/json" id="fig-{key}">{spec}</script>'
        )
    warn = ""
    if result.illustrative:
        warn = (
            '<p class="warn"><b>Illustrative data.</b> Some histories come from the bundled '
            "offline snapshot, which is generated, not market history: "
            + html.escape(", ".join(result.illustrative[:20]))
            + "</p>"
        )
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in result.notes)
    c = result.config
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>Backtest: {html.escape(result.name)}</title>
<style>{CSS}</style>
<script>{get_plotlyjs()}</script>
</head><body>
<h1>Backtest: {html.escape(result.name)}</h1>
<p>{html.escape(result.source)}; {result.start} to {result.end}; rebalance {c.rebalance};
income {c.income}; costs {c.fee_bps:g} bps fee + {c.slippage_bps:g} bps slippage + gas;
capital ${c.capital_usd:,.0f}. Generated {when} by realyield.</p>
{warn}
<h2>Metrics</h2>{_metrics_table(result)}
<h2>Attribution (fractions of the starting capital)</h2>{_attribution_table(result)}
{"".join(blocks)}
{_stress_table(stress)}
<h2>Notes</h2><ul class="notes">{notes}</ul>
<p class="notes">Conventions: 365 periods a year, risk-free rate 0, Sortino with the
downside deviation over all days; drawdown durations in days from the peak to the
recovery (or the last day). See docs/backtest.md.</p>
<script>
for (const el of document.querySelectorAll('script[type="application/json"][id^="fig-"]')) {{
  const spec = JSON.parse(el.textContent);
  Plotly.newPlot('plot-' + el.id.slice(4), spec.data, spec.layout, {{responsive: true}});
}}
</script>
</body></html>
"""


def write_html(path: Path, text: str) -> Path:
    """Write a report's HTML to ``path`` (folders created).

    Raises:
        DataError: the file cannot be written.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise DataError(f"cannot write the report to {path}: {exc}") from exc
    return path


def write_report(path: Path, result: BacktestResult, stress: Sequence[EpisodeResult] = ()) -> Path:
    """Write the report to ``path`` (folders created).

    Raises:
        DataError: the file cannot be written.
    """
    return write_html(path, render_html(result, stress))


def read_figures(text: str) -> dict[str, dict[str, Any]]:
    """The figures' plotly JSON back from a report (for tests and tools)."""
    out = {}
    for m in re.finditer(
        r'<script type="application/json" id="fig-([a-z]+)">(.*?)</script>', text, re.S
    ):
        out[m.group(1)] = json.loads(m.group(2))
    return out

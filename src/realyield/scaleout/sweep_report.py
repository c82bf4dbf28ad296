"""The HTML report of a methodology sweep: income against drawdown for every variant
with the Pareto front drawn, the front and the best variants with their parameters.

Self-contained (plotly.js inline from the installed package) because it is read offline,
like the backtest report, whose page layout and figure blocks it reuses.
"""

from __future__ import annotations

import html
from pathlib import Path

import plotly.graph_objects as go
import polars as pl
from plotly.offline import get_plotlyjs

from realyield.backtest.report import CSS, write_html
from realyield.scaleout.sweep import PERCENT_METRICS, SweepResult


def front_figure(result: SweepResult) -> go.Figure:
    ok = result.ok
    params = result.parameters()

    def hover(frame: pl.DataFrame) -> list[str]:
        return [
            f"variant {r['variant']}<br>"
            + "<br>".join(f"{p} = {r[p]}" for p in params)
            + f"<br>Sharpe {r['sharpe']:.2f}"
            for r in frame.iter_rows(named=True)
        ]

    front = result.front().sort("max_drawdown")
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=ok["max_drawdown"].to_list(),
            y=ok["income_return"].to_list(),
            mode="markers",
            name="variants",
            marker={
                "color": ok["sharpe"].to_list(),
                "colorscale": "Viridis",
                "showscale": True,
                "colorbar": {"title": "Sharpe"},
                "size": 7,
                "opacity": 0.7,
            },
            text=hover(ok),
            hoverinfo="text",
        )
    )
    fig.add_trace(
        go.Scatter(
            x=front["max_drawdown"].to_list(),
            y=front["income_return"].to_list(),
            mode="lines+markers",
            name="Pareto front",
            line={"color": "#d62728"},
            text=hover(front),
            hoverinfo="text",
        )
    )
    fig.update_layout(
        title="Income return against maximum drawdown",
        xaxis={"title": "maximum drawdown", "tickformat": ".0%"},
        yaxis={"title": "income return over the window", "tickformat": ".1%"},
        template="plotly_white",
        height=520,
    )
    return fig


def _cell(column: str, value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:+.2%}" if column in PERCENT_METRICS else f"{value:.3g}"
    return html.escape(str(value))


def _table(frame: pl.DataFrame, columns: list[str]) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{_cell(c, row[c])}</td>" for c in columns) + "</tr>"
        for row in frame.iter_rows(named=True)
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def render_html(result: SweepResult, top: int = 10) -> str:
    cols = [
        "variant",
        *result.parameters(),
        "income_return",
        "max_drawdown",
        "cagr",
        "sharpe",
        "sortino",
        "turnover_annual",
    ]
    failed = result.table.filter(pl.col("status") == "failed")
    failures = ""
    if failed.height:
        failures = f"<h2>Variants that could not be run ({failed.height})</h2>" + _table(
            failed.head(50), ["variant", *result.parameters(), "error"]
        )
    spec = front_figure(result).to_json().replace("</", "<\\/")
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in result.notes)
    s = result.spec
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>Sweep: {html.escape(s.index)}</title>
<style>{CSS}</style>
<script>{get_plotlyjs()}</script>
</head><body>
<h1>Methodology sweep: {html.escape(s.index)}</h1>
<p>{result.table.height:,} variants ({s.search} search, seed {s.seed}) of
{html.escape(", ".join(result.parameters()))}; each rebuilt point in time and backtested
{result.start} to {result.end} (income {s.income}); {result.ok.height:,} ran,
{failed.height:,} could not. Executor: {result.executor} ({result.workers} worker(s)),
{result.seconds:.1f} s.</p>
<div id="plot-front" class="plot"></div>
<script type="application/json" id="fig-front">{spec}</script>
<h2>Pareto front: no other variant pays more income with a shallower drawdown</h2>
{_table(result.front(), cols)}
<h2>Best {top} by Sharpe ratio</h2>
{_table(result.best(top), cols)}
{failures}
<h2>Notes</h2><ul class="notes">{notes}</ul>
<script>
const el = document.getElementById('fig-front');
const fig = JSON.parse(el.textContent);
Plotly.newPlot('plot-front', fig.data, fig.layout, {{responsive: true}});
</script>
</body></html>
"""


def write_report(path: Path, result: SweepResult, top: int = 10) -> Path:
    """Write the report to ``path``.

    Raises:
        DataError: the file cannot be written.
    """
    return write_html(path, render_html(result, top))

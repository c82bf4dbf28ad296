"""The plan as a self-contained HTML page: verdict, allocation, fan chart of capital,
income by year (from yield against from principal), and the cash-flow schedule.

No CDN (the machine may be offline): Plotly's JavaScript is written next to the report
as ``plotly.min.js`` from the installed ``plotly`` package and referenced relatively.
"""

from __future__ import annotations

import html
from pathlib import Path

import plotly.graph_objects as go
from plotly.offline import get_plotlyjs

from realyield.core.errors import ConfigError
from realyield.planning.goal import mix_words, verdict_sentence
from realyield.planning.outcomes import PERCENTILES, chart_top, cvar_words
from realyield.planning.plan import Plan


def fan_chart(plan: Plan) -> go.Figure:
    o = plan.outcomes
    x = o.years.tolist()
    c = o.capital_real_pct
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=x, y=c[4], line={"width": 0}, showlegend=False, hoverinfo="skip"))
    fig.add_trace(
        go.Scatter(
            x=x,
            y=c[0],
            fill="tonexty",
            name="5th-95th percentile",
            line={"width": 0},
            fillcolor="rgba(31,119,180,0.15)",
        )
    )
    fig.add_trace(go.Scatter(x=x, y=c[3], line={"width": 0}, showlegend=False, hoverinfo="skip"))
    fig.add_trace(
        go.Scatter(
            x=x,
            y=c[1],
            fill="tonexty",
            name="25th-75th percentile",
            line={"width": 0},
            fillcolor="rgba(31,119,180,0.35)",
        )
    )
    fig.add_trace(go.Scatter(x=x, y=c[2], name="median", line={"color": "#1f77b4"}))
    fig.add_trace(
        go.Scatter(
            x=x,
            y=o.worst5_capital_real,
            name="worst 5% (mean)",
            line={"color": "#d62728", "dash": "dot"},
        )
    )
    fig.update_layout(
        title="Capital in today's dollars (scaled so the median shows; the 95th percentile "
        "may run off the top)",
        xaxis_title="year",
        yaxis_title="USD (today's)",
        yaxis={"range": [0.0, chart_top(o)]},
        template="plotly_white",
    )
    return fig


def income_chart(plan: Plan) -> go.Figure:
    o = plan.outcomes
    x = o.years.tolist()
    fig = go.Figure()
    fig.add_trace(go.Bar(x=x, y=o.from_yield, name="from yield (mean)"))
    fig.add_trace(go.Bar(x=x, y=o.from_principal, name="from principal (mean)"))
    fig.add_trace(go.Scatter(x=x, y=o.goal_by_year, name="goal", line={"color": "black"}))
    p50 = PERCENTILES.index(50)
    fig.add_trace(
        go.Scatter(
            x=x,
            y=o.income_real_pct[p50],
            name="median income, today's dollars",
            line={"color": "#2ca02c", "dash": "dash"},
        )
    )
    fig.update_layout(
        barmode="stack",
        title="Income a year: mean by source (nominal USD) and the median in today's dollars",
        xaxis_title="year",
        template="plotly_white",
    )
    return fig


def allocation_chart(plan: Plan) -> go.Figure:
    labels = list(plan.allocation)
    fig = go.Figure(go.Pie(labels=labels, values=[plan.allocation[k] for k in labels], hole=0.5))
    fig.update_layout(title="Allocation", template="plotly_white")
    return fig


def render(plan: Plan) -> str:
    """The report's HTML (expects ``plotly.min.js`` beside it)."""
    v = plan.verdict
    b = plan.blended
    figs = [fan_chart(plan), income_chart(plan), allocation_chart(plan)]
    charts = "\n".join(
        f.to_html(full_html=False, include_plotlyjs=False, div_id=f"chart-{i}")
        for i, f in enumerate(figs)
    )
    rows = "".join(
        "<tr>"
        + "".join(
            f"<td>{html.escape(str(c))}</td>"
            for c in (
                r.period,
                f"{r.yield_income:,.0f}",
                f"{r.withdrawal:,.0f}",
                f"{r.paid_from_yield:,.0f}",
                f"{sum(r.paid_from_principal.values()):,.0f}",
                f"{r.tax_reserve:,.0f}",
                f"{r.reinvested:,.0f}",
                f"{r.capital_end:,.0f}",
            )
        )
        + "</tr>"
        for r in plan.schedule[:40]
    )
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in plan.notes)
    optimizer = ""
    if plan.optimized is not None:
        best = plan.optimized.best
        optimizer = (
            f"<p>Optimizer: recommends {html.escape(mix_words(best.weights))}, success "
            f"{best.success:.1%} on {plan.optimized.screening_paths:,} screening paths; 12-month "
            f"CVaR95 {html.escape(cvar_words(best.cvar))} (budget: a loss of at most "
            f"{plan.optimized.budget:.0%}).</p>"
        )
    tr = plan.tail_risks
    risks = html.escape(
        "Tail risks simulated as jumps: "
        + "; ".join(tr.get("modelled", []))
        + ". Not modelled: "
        + "; ".join(tr.get("not_modelled", []))
        + "."
    )
    reasons = "".join(f"<li>{html.escape(n)}</li>" for n in v.reasons)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>realyield plan</title>
<script src="plotly.min.js"></script>
<style>body{{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;color:#222}}
td,th{{padding:2px 8px;text-align:right}} .verdict{{font-size:1.3em}}</style></head>
<body>
<h1>Income plan</h1>
<p>Data as of {plan.as_of.isoformat()}; {plan.history_months} months of price history
({plan.history_span[0]:%Y-%m} to {plan.history_span[1]:%Y-%m}); {plan.outcomes.paths:,}
simulated paths (seed {plan.request.seed}).</p>
<p class="verdict">{html.escape(verdict_sentence(v))}</p>
<ul>{reasons}</ul>
{optimizer}
<p>{risks}</p>
<p>Blended expected yield {b.apy:.2f}% (real {b.real:.2f}%, emissions {b.emission:.2f}%,
sustainable {b.sustainable:.2f}%).</p>
{charts}
<h2>Cash flow (expected, prices flat)</h2>
<table><tr><th>period</th><th>yield</th><th>withdrawal</th><th>from yield</th>
<th>from principal</th><th>tax reserve</th><th>reinvested</th><th>capital</th></tr>{rows}</table>
<h2>Notes</h2><ul>{notes}</ul>
</body></html>"""


def write_report(plan: Plan, path: Path) -> Path:
    """Write the report and ``plotly.min.js`` beside it; return the report's path.

    Raises:
        ConfigError: the folder does not exist or cannot be written.
    """
    path = Path(path)
    if not path.parent.is_dir():
        raise ConfigError(f"report folder {path.parent} does not exist")
    try:
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(render(plan), encoding="utf-8")
        tmp.replace(path)
        js = path.parent / "plotly.min.js"
        if not js.exists():
            js.write_text(get_plotlyjs(), encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot write the report to {path}: {exc.strerror}") from exc
    return path

"""The quarterly review as Markdown and as a self-contained HTML page with charts.

No CDN (the machine may be offline): the page loads ``plotly.min.js`` from beside it,
which ``review.write_review`` writes from the installed plotly package.
"""

from __future__ import annotations

import html

import plotly.graph_objects as go

from realyield.monitor.review import HoldingReview, QuarterlyReview


def _f(value: float | None, fmt: str = "{:,.2f}") -> str:
    return "-" if value is None else fmt.format(value)


def _change(a: float | None, b: float | None) -> str:
    if a is None or b is None:
        return "-"
    return f"{a:.0f} -> {b:.0f} ({b - a:+.0f})"


def _row(h: HoldingReview) -> list[str]:
    return [
        h.label,
        f"${h.value_usd:,.0f}",
        f"{h.weight:.1%}",
        "-" if h.target_weight is None else f"{h.target_weight:.1%}",
        _f(h.apy_start, "{:.2f}%"),
        _f(h.apy_mean, "{:.2f}%"),
        _f(h.expected_usd, "${:,.2f}"),
        _f(h.earned_usd, "${:,.2f}"),
        _change(h.sustainability_start, h.sustainability_end),
        _change(h.risk_start, h.risk_end),
        str(len(h.alerts)),
    ]


HEADERS = [
    "holding",
    "value",
    "weight",
    "target",
    "APY start",
    "APY mean",
    "expected",
    "earned",
    "sustainability",
    "risk",
    "alerts",
]


def _summary(review: QuarterlyReview) -> list[str]:
    lines = [
        f"{review.quarter}: {review.start} to {review.end} ({review.days} days).",
        f"Expected income ${review.expected_usd:,.2f}; earned ${review.earned_usd:,.2f} "
        f"({review.earned_basis}).",
    ]
    if review.planned_income_usd is not None:
        lines.append(
            f"Plan for these days: ${review.planned_income_usd:,.2f}; earned "
            f"{_f(review.income_vs_plan_pct, '{:.1f}%')} of it."
        )
    return lines


def render_markdown(review: QuarterlyReview) -> str:
    out = [f"# Quarterly review {review.quarter}", "", *_summary(review), ""]
    out += ["## Holdings", "", "| " + " | ".join(HEADERS) + " |"]
    out.append("|" + "---|" * len(HEADERS))
    out += ["| " + " | ".join(_row(h)) + " |" for h in review.holdings]
    out += ["", "## Alerts in the quarter", ""]
    alerts = [(h.label, a) for h in review.holdings for a in h.alerts]
    if not alerts:
        out.append("None.")
    for label, a in alerts:
        out.append(
            f"- **{a.severity}** {label}: {a.title} ({a.first_day} to {a.last_day}). "
            f"Action: {a.action}"
        )
    out += ["", "## Suggested rebalance", ""]
    if review.sell:
        out.append("Sell (no longer pass the screens): " + ", ".join(review.sell) + ".")
    if review.suggested_weights:
        for k, w in sorted(review.suggested_weights.items(), key=lambda kv: -kv[1]):
            out.append(f"- {k}: {w:.1%}")
        out.append("")
        out.append("`realyield rebalance --dry-run` turns weights into orders.")
    elif not review.sell:
        out.append("No targets given: nothing to compare the weights with.")
    for h in review.holdings:
        if h.excluded_end:
            out.append(f"- {h.label} screened out: {'; '.join(h.excluded_end)}")
    if review.notes:
        out += ["", "## Notes", "", *(f"- {n}" for n in review.notes)]
    return "\n".join(out) + "\n"


def charts(review: QuarterlyReview) -> list[go.Figure]:
    labels = [h.label for h in review.holdings]
    income = go.Figure()
    income.add_trace(
        go.Bar(x=labels, y=[h.expected_usd or 0 for h in review.holdings], name="expected")
    )
    income.add_trace(
        go.Bar(x=labels, y=[h.earned_usd or 0 for h in review.holdings], name="earned")
    )
    income.update_layout(
        title="Income in the quarter, USD", barmode="group", template="plotly_white"
    )
    apy = go.Figure()
    if review.history is not None and not review.history.is_empty():
        names = {h.id: h.label for h in review.holdings}
        for key, part in review.history.sort("date").group_by("id", maintain_order=True):
            opp = str(key[0])
            apy.add_trace(
                go.Scatter(
                    x=part["date"].to_list(), y=part["apy"].to_list(), name=names.get(opp, opp)
                )
            )
    apy.update_layout(title="Daily APY, percent", template="plotly_white")
    weights = go.Figure()
    weights.add_trace(go.Bar(x=labels, y=[h.weight for h in review.holdings], name="current"))
    if any(h.target_weight is not None for h in review.holdings):
        weights.add_trace(
            go.Bar(x=labels, y=[h.target_weight or 0 for h in review.holdings], name="target")
        )
    weights.update_layout(
        title="Weights", barmode="group", template="plotly_white", yaxis_tickformat=".0%"
    )
    return [income, apy, weights]


def render_html(review: QuarterlyReview) -> str:
    figs = "\n".join(
        f.to_html(full_html=False, include_plotlyjs=False, div_id=f"chart-{i}")
        for i, f in enumerate(charts(review))
    )
    head = "".join(f"<th>{html.escape(h)}</th>" for h in HEADERS)
    rows = "".join(
        "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in _row(h)) + "</tr>"
        for h in review.holdings
    )
    alerts = (
        "".join(
            f"<li><b>{html.escape(a.severity)}</b> {html.escape(h.label)}: {html.escape(a.title)} "
            f"({a.first_day} to {a.last_day}). {html.escape(a.action)}</li>"
            for h in review.holdings
            for a in h.alerts
        )
        or "<li>None.</li>"
    )
    suggestion = "".join(
        f"<li>{html.escape(k)}: {w:.1%}</li>"
        for k, w in sorted(review.suggested_weights.items(), key=lambda kv: -kv[1])
    )
    sell = (
        f"<p>Sell (screened out): {html.escape(', '.join(review.sell))}</p>" if review.sell else ""
    )
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in review.notes)
    summary = "".join(f"<p>{html.escape(line)}</p>" for line in _summary(review))
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>realyield review {review.quarter}</title>
<script src="plotly.min.js"></script>
<style>body{{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;color:#222}}
td,th{{padding:2px 8px;text-align:right}} td:first-child,th:first-child{{text-align:left}}</style>
</head><body>
<h1>Quarterly review {review.quarter}</h1>
{summary}
<table><tr>{head}</tr>{rows}</table>
{figs}
<h2>Alerts in the quarter</h2><ul>{alerts}</ul>
<h2>Suggested rebalance</h2>{sell}<ul>{suggestion}</ul>
<h2>Notes</h2><ul>{notes}</ul>
</body></html>"""

"""The quarterly review for the terminal: rich tables and text, not Markdown source.

``review --out`` still writes the Markdown and HTML files; the console gets the same
content as a title rule, the summary, a holdings table (printed uncut by the report
console: it folds on a narrow terminal and keeps its natural width in a pipe) and the
alert and rebalance sections as plain lines.
"""

from __future__ import annotations

from rich.console import Console
from rich.rule import Rule
from rich.table import Table
from rich.text import Text

from realyield.monitor.review import QuarterlyReview
from realyield.monitor.review_report import HEADERS, _row, _summary

_NUMERIC = set(HEADERS) - {"holding"}


def holdings_table(review: QuarterlyReview) -> Table:
    """One row per holding: value, weights, APY, expected and earned income, scores."""
    table = Table(title="Holdings", title_justify="left")
    for header in HEADERS:
        table.add_column(header, justify="right" if header in _NUMERIC else "left")
    for holding in review.holdings:
        table.add_row(*_row(holding))
    return table


def print_review(console: Console, review: QuarterlyReview) -> None:
    """Print ``review`` to ``console`` (no Markdown markup reaches the reader)."""
    console.print(Rule(f"Quarterly review {review.quarter}"))
    for line in _summary(review):
        console.print(Text(line))
    console.print(holdings_table(review))
    alerts = [(h.label, a) for h in review.holdings for a in h.alerts]
    console.print(Text("Alerts in the quarter", style="bold"))
    if not alerts:
        console.print(Text("  none"))
    for label, a in alerts:
        console.print(
            Text(f"  {a.severity} {label}: {a.title} ({a.first_day} to {a.last_day}). ")
            + Text(f"Action: {a.action}")
        )
    console.print(Text("Suggested rebalance", style="bold"))
    if review.sell:
        console.print(Text("  Sell (no longer pass the screens): " + ", ".join(review.sell)))
    if review.suggested_weights:
        for key, weight in sorted(review.suggested_weights.items(), key=lambda kv: -kv[1]):
            console.print(Text(f"  {key}: {weight:.1%}"))
        console.print(Text("  realyield rebalance --dry-run turns weights into orders."))
    elif not review.sell:
        console.print(Text("  no targets given: nothing to compare the weights with"))
    for h in review.holdings:
        if h.excluded_end:
            console.print(Text(f"  {h.label} screened out: {'; '.join(h.excluded_end)}"))
    if review.notes:
        console.print(Text("Notes", style="bold"))
        for note in review.notes:
            console.print(Text(f"  - {note}"))


__all__ = ["holdings_table", "print_review"]

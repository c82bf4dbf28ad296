"""Tax exports: a Form 8949-style CSV of disposals, the income summary, an HTML summary.

Form 8949 lists each disposal with its dates, proceeds, cost basis and gain, short
term (Part I) before long term (Part II). Amounts are rounded to cents here (and only
here): the ledger keeps them exact. A disposal whose acquisition is missing shows
``UNKNOWN`` as its acquisition date and a zero basis, so it cannot go unnoticed.
"""

from __future__ import annotations

import html
from decimal import Decimal

from realyield.core.money import round_usd
from realyield.portfolio.events import dec_text
from realyield.portfolio.exports.csvtext import write_csv
from realyield.portfolio.reports import GainsReport, IncomeReport

FORM_8949_COLUMNS = (
    "Part",
    "Description of property",
    "Date acquired",
    "Date sold or disposed of",
    "Proceeds",
    "Cost or other basis",
    "Gain or (loss)",
    "Term",
    "Method",
    "Ledger event",
)


def _money(value: Decimal) -> str:
    return f"{round_usd(value):.2f}"


def form_8949_csv(report: GainsReport) -> str:
    rows = []
    ordered = sorted(report.disposals, key=lambda d: (d.term != "short", d.disposed, d.seq))
    for d in ordered:
        if d.missing:
            acquired = "UNKNOWN"
        elif d.acquired is None:
            acquired = "VARIOUS"
        else:
            acquired = d.acquired.strftime("%m/%d/%Y")
        rows.append(
            [
                "I" if d.term == "short" else "II",
                f"{dec_text(d.quantity)} {d.asset}",
                acquired,
                d.disposed.strftime("%m/%d/%Y"),
                _money(d.proceeds),
                _money(d.basis),
                _money(d.proceeds - d.basis),
                d.term,
                d.method,
                d.seq,
            ]
        )
    return write_csv(FORM_8949_COLUMNS, rows)


def income_csv(report: IncomeReport) -> str:
    rows: list[list[object]] = []
    for kind, entry in report.by_category().items():
        rows.append(
            [
                report.year,
                kind,
                entry["events"],
                entry["value"],
                entry["unpriced_events"],
                report.fiat,
            ]
        )
    rows.append(
        [
            report.year,
            "total",
            len(report.lines),
            report.total,
            sum(1 for x in report.lines if x.value is None),
            report.fiat,
        ]
    )
    rows.append(
        [report.year, "fee_expenses", len(report.fees), report.fee_expenses, "", report.fiat]
    )
    return write_csv(("year", "category", "events", "value", "unpriced_events", "fiat"), rows)


_STYLE = """
body{font-family:system-ui,sans-serif;margin:2rem;max-width:60rem;color:#222}
table{border-collapse:collapse;margin:1rem 0}td,th{padding:.25rem .6rem;border-bottom:1px
solid #ddd;text-align:right}th:first-child,td:first-child{text-align:left}
.warn{color:#a40}
"""


def tax_summary_html(gains: GainsReport, income: IncomeReport, *, max_lines: int = 200) -> str:
    """A self-contained HTML page: totals, income by category, disposals, warnings."""
    e = html.escape
    fiat = e(gains.fiat)
    parts = [
        f"<!doctype html><html><head><meta charset='utf-8'><title>Tax summary {gains.year}"
        f"</title><style>{_STYLE}</style></head><body>",
        f"<h1>Tax summary {gains.year}</h1>",
        f"<p>Cost-basis method: <b>{e(gains.method.upper())}</b>. Amounts in {fiat}, "
        "rounded to cents for display (the ledger keeps them exact). Long term = held "
        "more than 365 days.</p>",
        "<h2>Capital gains</h2><table><tr><th></th><th>Proceeds</th><th>Basis</th>"
        "<th>Gain</th></tr>",
        f"<tr><td>All disposals ({len(gains.disposals)} lines)</td>"
        f"<td>{_money(gains.proceeds)}</td><td>{_money(gains.basis)}</td>"
        f"<td>{_money(gains.gain)}</td></tr>",
        f"<tr><td>Short term</td><td></td><td></td><td>{_money(gains.short_term_gain)}</td></tr>",
        f"<tr><td>Long term</td><td></td><td></td><td>{_money(gains.long_term_gain)}</td></tr>",
        "</table>",
        "<h2>Income</h2><table><tr><th>Category</th><th>Events</th><th>Value</th>"
        "<th>Unpriced</th></tr>",
    ]
    for kind, entry in income.by_category().items():
        parts.append(
            f"<tr><td>{e(kind.replace('_', ' '))}</td><td>{entry['events']}</td>"
            f"<td>{_money(entry['value'])}</td><td>{entry['unpriced_events']}</td></tr>"
        )
    parts.append(
        f"<tr><td><b>Total</b></td><td>{len(income.lines)}</td>"
        f"<td><b>{_money(income.total)}</b></td><td></td></tr></table>"
        f"<p>Fees paid outside swaps (expenses): {_money(income.fee_expenses)} {fiat}</p>"
    )
    parts.append(
        "<h2>Disposals</h2><table><tr><th>Asset</th><th>Quantity</th><th>Acquired</th>"
        "<th>Disposed</th><th>Proceeds</th><th>Basis</th><th>Gain</th><th>Term</th></tr>"
    )
    for d in gains.disposals[:max_lines]:
        acquired = (
            "UNKNOWN" if d.missing else (d.acquired.date().isoformat() if d.acquired else "VARIOUS")
        )
        parts.append(
            f"<tr><td>{e(d.asset)}</td><td>{e(dec_text(d.quantity))}</td><td>{acquired}</td>"
            f"<td>{d.disposed.date().isoformat()}</td><td>{_money(d.proceeds)}</td>"
            f"<td>{_money(d.basis)}</td><td>{_money(d.gain)}</td><td>{d.term}</td></tr>"
        )
    parts.append("</table>")
    if len(gains.disposals) > max_lines:
        parts.append(
            f"<p>... and {len(gains.disposals) - max_lines} more lines (see the "
            "Form 8949 export).</p>"
        )
    if gains.warning_count:
        parts.append(f"<h2 class='warn'>Warnings ({gains.warning_count})</h2><ul>")
        parts.extend(f"<li class='warn'>{e(w)}</li>" for w in gains.warnings)
        parts.append("</ul>")
    parts.append("</body></html>\n")
    return "\n".join(parts)

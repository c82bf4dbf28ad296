"""``realyield screen``, ``realyield explain`` and ``realyield model``."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import polars as pl
import typer
from rich.box import SIMPLE_HEAD
from rich.markup import escape
from rich.table import Table

from realyield.cli.common import JsonOpt, console, emit_json, err, fail, fmt_pct, session
from realyield.core.errors import ConfigError, DataError
from realyield.scoring.score import Explanation
from realyield.scoring.screener import SORTS as SCREENER_SORTS
from realyield.scoring.screener import ScreenerQuery, apply_screener, screener_rows
from realyield.scoring.service import score_stored
from realyield.universe import build
from realyield.universe.repository import UniverseQuery, stored_sources

if TYPE_CHECKING:
    from realyield.scoring.forecast.compare import Comparison

model_app = typer.Typer(help="Train and evaluate the forward-yield forecast.", no_args_is_help=True)
SORTS = tuple(SCREENER_SORTS)
KindOpt = Annotated[
    str | None, typer.Option(help="staking | liquid_staking | lending | liquidity | vault")
]


def _query(
    kind: str | None, chain: str | None, source: str | None, as_of: str | None
) -> UniverseQuery:
    try:
        day = date.fromisoformat(as_of) if as_of else None
    except ValueError as exc:
        raise fail(ConfigError(f"--as-of {as_of!r} is not a YYYY-MM-DD date")) from exc
    try:
        return UniverseQuery(
            as_of=day, kind=kind, chain=chain, sources=(source,) if source else None
        )
    except ConfigError as exc:
        raise fail(exc) from exc


def screen(
    kind: KindOpt = None,
    chain: Annotated[str | None, typer.Option()] = None,
    min_sustainability: Annotated[
        float | None, typer.Option(help="Keep scores at or above this (0-100).")
    ] = None,
    max_risk: Annotated[float | None, typer.Option(help="Keep risk at or below this.")] = None,
    show_all: Annotated[
        bool, typer.Option("--all", help="Also list excluded opportunities with their reasons.")
    ] = False,
    sort: Annotated[str, typer.Option(help=" | ".join(SORTS))] = "sustainable",
    limit: Annotated[int | None, typer.Option(help="Show at most this many (table).")] = 30,
    source: Annotated[str | None, typer.Option(help="Only this stored source.")] = None,
    as_of: Annotated[str | None, typer.Option(help="Point-in-time (YYYY-MM-DD).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Screen and score opportunities: APY, sustainable APY, forecast, scores and grades.

    The screens run on the whole universe; --kind and --chain then filter what passed,
    so a pool passes or fails the same way with or without them."""
    try:
        screener = ScreenerQuery(
            kind=kind,
            chain=chain,
            min_sustainability=min_sustainability,
            max_risk=max_risk,
            include_excluded=show_all,
            sort=sort,
        )
    except ConfigError as exc:
        raise fail(exc) from exc
    query = _query(None, None, source, as_of)
    with session() as (_settings, engine):
        if not stored_sources(engine):
            build.load_snapshot(engine)
            err.print("[yellow]store was empty: loaded the bundled snapshot[/]")
        scored, note = score_stored(engine, query, home=_settings.home)
    table = apply_screener(scored.table(readable=True), screener)
    if as_json:
        emit_json(screener_rows(table))
        return
    shown = table.head(limit or table.height)
    view = Table(
        title=f"{shown.height} of {table.height} opportunities"
        + (" (incl. excluded)" if show_all else " passing the screens")
        + f" shown (universe of {len(scored)})",
        title_justify="left",
        box=SIMPLE_HEAD,
        pad_edge=False,
    )
    view.add_column("id (for explain)", overflow="fold")
    for name in ("APY", "IL/yr", "sustain.", "forecast", "S", "R"):
        view.add_column(name, justify="right", no_wrap=True)
    if show_all:
        view.add_column("excluded because", overflow="fold")
    for row in shown.iter_rows(named=True):
        loss = row["apy_impermanent_loss"]
        cells = [
            row["label"],
            fmt_pct(row["apy"]),
            fmt_pct(loss) if loss else "-",
            fmt_pct(row["apy_sustainable"]),
            fmt_pct(row.get("forecast_apy_30d")),
            f"{row['sustainability']:.0f}{row['sustainability_grade']}",
            f"{row['risk']:.0f}{row['risk_grade']}",
        ]
        if show_all:
            cells.append(row["excluded_reason"] or "")
        view.add_row(*cells)
    console.print(view)
    if note:
        console.print(f"[dim]forecast: {note}[/]")
    console.print(
        "[dim]IL/yr = expected impermanent loss a year, already netted out of the sustainable "
        "APY; S = sustainability (0-100, A best); R = risk (0-100, A lowest). "
        "`realyield explain ID` shows every factor.[/]"
    )


def _print_explanation(e: Explanation) -> None:
    o = e.opportunity
    console.rule(f"[bold]{o.protocol} {o.symbol} on {o.chain} ({o.kind})")
    console.print(f"id {o.id}  as of {o.as_of:%Y-%m-%d}  source {o.source}", highlight=False)
    console.print(f"readable id {e.label}", highlight=False)
    for key, what in (
        ("tvl_basis", "TVL"),
        ("parameters_as_of", "rates of the staking table as of"),
    ):
        if o.meta.get(key):
            console.print(f"{what} {escape(str(o.meta[key]))}", highlight=False)
    console.print(
        f"APY {fmt_pct(o.apy)} = base {fmt_pct(o.apy_base)} + reward {fmt_pct(o.apy_reward)}; "
        f"real base {fmt_pct(e.apy_real_base)} + emissions kept "
        f"{fmt_pct(e.apy_reward_retained)} = [bold]sustainable {fmt_pct(e.apy_sustainable)}[/]",
        highlight=False,
    )
    if e.impermanent_loss is not None:
        console.print(
            f"impermanent loss: real base = fees {fmt_pct(o.apy_base)} less expected loss "
            f"{fmt_pct(-e.apy_impermanent_loss)} a year ({e.impermanent_loss.describe()})",
            highlight=False,
        )
    for score in (e.sustainability, e.risk):
        table = Table(
            title=f"{score.kind}: {score.total:.1f} / 100, grade {score.grade}",
            title_justify="left",
            box=SIMPLE_HEAD,
        )
        table.add_column("factor")
        table.add_column("value", justify="right")
        table.add_column("effect", justify="right")
        table.add_column("why", overflow="fold")
        for factor in score.factors:
            value = factor.value
            shown = (
                "-" if value is None else f"{value:.4g}" if isinstance(value, float) else str(value)
            )
            table.add_row(factor.name, shown, f"{factor.effect:+.2f}", factor.explanation)
        console.print(table)
    reasons = "; ".join(e.excluded_reasons) or "passes every screen"
    console.print(f"screens: {reasons}", highlight=False)
    deps = e.dependencies
    console.print(
        f"depends on: protocol {deps['protocol']}, chain {deps['chain']}, issuers "
        f"{', '.join(deps['issuers']) or '-'}, rewards "
        f"{', '.join(deps['reward_tokens']) or '-'}, bridge {deps['bridge'] or '-'}",
        highlight=False,
    )
    f = e.forecast
    if f is None or f.get("forecast_apy_30d") is None:
        why = (f or {}).get("reason") or "no forecast model or history"
        console.print(f"forecast: none ({why})", highlight=False)
    else:
        console.print(
            f"forecast: median APY over the next 30 days {fmt_pct(f['forecast_apy_30d'])}, "
            f"P(falls > 20%) {f['p_down']:.0%}, confidence {f['confidence']} "
            f"({f['n_obs']} observations)",
            highlight=False,
        )


def explain(
    opportunity_id: Annotated[
        str,
        typer.Argument(
            help="Readable id from `screen` (protocol:chain:symbol) or the source's id "
            "(a DeFiLlama UUID)."
        ),
    ],
    source: Annotated[str | None, typer.Option(help="Only this stored source.")] = None,
    as_of: Annotated[str | None, typer.Option(help="Point-in-time (YYYY-MM-DD).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Every factor behind one opportunity's scores, its screens, dependencies and forecast."""
    query = _query(None, None, source, as_of)
    with session() as (_settings, engine):
        if not stored_sources(engine):
            build.load_snapshot(engine)
        # the universe `screen` scores, so that the screens and readable ids agree
        scored, _note = score_stored(engine, query)
        try:
            explanation = scored.explain(opportunity_id)
        except DataError:
            # explaining a pool that left the universe is still useful: include stale ones
            scored, _note = score_stored(engine, replace(query, max_age_days=None))
            try:
                explanation = scored.explain(opportunity_id)
            except DataError as exc:
                raise fail(exc) from exc
    if as_json:
        emit_json(explanation.as_dict())
    else:
        _print_explanation(explanation)


HistoryOpt = Annotated[
    list[Path] | None,
    typer.Option(
        "--history",
        help="APY history file(s) in the import format (repeatable); default: the stored history.",
    ),
]
ApyUnitOpt = Annotated[str, typer.Option(help="percent | fraction (for --history files)")]
SeriesIdOpt = Annotated[
    str | None,
    typer.Option("--id", help="Series id for a one-pool --history file without an id column."),
]
SeriesKindOpt = Annotated[
    str | None,
    typer.Option("--kind", help="Kind of the series in --history files (lending, liquidity...)."),
]


def _history_from_files(
    paths: list[Path], apy_unit: str, kind: str | None, series_id: str | None = None
) -> tuple[pl.DataFrame, pl.DataFrame]:
    from realyield.scoring.features import attrs_from_pool_info, history_from_points
    from realyield.sources.files import import_apy_history

    histories, attrs = [], []
    for path in paths:
        imported, report = import_apy_history(path, apy_unit=apy_unit, opportunity_id=series_id)
        if report.rejected_total:
            err.print(f"[yellow]{path.name}: skipped {report.rejected_total} bad row(s)[/]")
        histories.append(history_from_points(imported.points, source=path.name))
        attrs.append(
            attrs_from_pool_info(
                imported.pool_info, kind=kind, ids={p.opportunity_id for p in imported.points}
            )
        )
    return (
        pl.concat(histories, how="vertical_relaxed"),
        pl.concat(attrs, how="vertical_relaxed").unique(subset=["id"], keep="first"),
    )


@model_app.command("train")
def model_train(
    history_files: HistoryOpt = None,
    apy_unit: ApyUnitOpt = "percent",
    kind: SeriesKindOpt = None,
    series_id: SeriesIdOpt = None,
    include_snapshot: Annotated[
        bool,
        typer.Option(
            "--include-snapshot", help="Also learn from the bundled (illustrative) history."
        ),
    ] = False,
    seed: Annotated[int, typer.Option(help="Random seed (same data + seed = same model).")] = 0,
    until: Annotated[
        str | None,
        typer.Option(help="Train only on history up to this YYYY-MM-DD (no label past it)."),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Train the forecast walk-forward-evaluated, and save it as the model to use."""
    from realyield.scoring import forecast
    from realyield.scoring.service import stored_training_data, user_model_path

    with session() as (settings, engine):
        if history_files:
            history, attrs = _history_from_files(history_files, apy_unit, kind, series_id)
            sources = [p.name for p in history_files]
        else:
            history, attrs = stored_training_data(engine, include_snapshot=include_snapshot)
            sources = sorted(history["source"].unique().to_list())
        with console.status("training and evaluating walk-forward..."):
            model = forecast.train_model(
                history, attrs, sources=sources, seed=seed, until=_day(until, "--until")
            )
        path = forecast.save_model(model, user_model_path(settings.home))
    if as_json:
        emit_json({"path": str(path), **model.metadata()})
        return
    console.print(f"saved {path}", highlight=False)
    console.print(
        f"trained on {', '.join(sources)}: {model.train_first_date} to {model.train_last_date}",
        highlight=False,
    )
    for scope, m in [
        *model.metrics.get("by_group", {}).items(),
        ("overall", model.metrics.get("overall")),
    ]:
        if m:
            console.print(
                f"walk-forward {scope}: MAE model {m['mae_model']:.3f} vs naive "
                f"{m['mae_naive']:.3f} vs 30-day mean {m['mae_rolling']:.3f}; "
                f"AUC {m['auc'] if m['auc'] is None else round(m['auc'], 3)} "
                f"(n={m['n']})",
                highlight=False,
            )


@model_app.command("evaluate")
def model_evaluate(
    history_files: HistoryOpt = None,
    apy_unit: ApyUnitOpt = "percent",
    kind: SeriesKindOpt = None,
    series_id: SeriesIdOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Evaluate the saved model, as it is, on a history it may never have seen."""
    from realyield.scoring import forecast
    from realyield.scoring.service import current_model_path, stored_training_data

    with session() as (settings, engine):
        model = forecast.load_model(current_model_path(settings.home))
        if history_files:
            history, attrs = _history_from_files(history_files, apy_unit, kind, series_id)
        else:
            history, attrs = stored_training_data(engine, include_snapshot=True)
        evaluation = forecast.evaluate_model(model, history, attrs)
        names = [p.name for p in history_files] if history_files else []
        overlap = forecast.training_overlap(model, history, names)
        if overlap:
            err.print(f"[yellow]warning: {overlap}[/]", highlight=False)
    if as_json:
        emit_json({"model": model.metadata(), "evaluation": evaluation.as_dict()})
        return
    console.print(
        f"model {model.version} trained {model.trained_at:%Y-%m-%d} on "
        f"{', '.join(model.sources)} ({model.train_first_date} to "
        f"{model.train_last_date})",
        highlight=False,
    )
    console.print(evaluation.table(), highlight=False, markup=False, soft_wrap=True)
    console.print(
        "[dim]MAE in APY percentage points; naive = today's APY persists; 30d = "
        "the 30-day mean; skill = 1 - MAE model / MAE naive.[/]"
    )


def _day(text: str | None, option: str) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError as exc:
        raise fail(ConfigError(f"{option} {text!r} is not a YYYY-MM-DD date")) from exc


@model_app.command("compare")
def model_compare(
    dump: Annotated[
        Path, typer.Option("--defillama", help="DeFiLlama /pools dump (CSV or JSON) of the day.")
    ],
    history_files: Annotated[
        list[Path], typer.Option("--history", help="Realised APY history file(s) (repeatable).")
    ],
    as_of: Annotated[str, typer.Option(help="The dump's day (YYYY-MM-DD).")],
    apy_unit: ApyUnitOpt = "percent",
    kind: SeriesKindOpt = "liquidity",
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    as_json: JsonOpt = False,
) -> None:
    """Retrain up to --as-of and score realyield against DeFiLlama's own predictions."""
    from realyield.scoring.features.records import record_frame
    from realyield.scoring.forecast.compare import compare_with_defillama
    from realyield.sources.files import import_pools

    day = _day(as_of, "--as-of")
    assert day is not None
    try:
        opps, _report = import_pools(dump)
        history, attrs = _history_from_files(history_files, apy_unit, kind)
        with console.status("training up to the date and comparing..."):
            result = compare_with_defillama(
                record_frame(opps), history, attrs, as_of=day, seed=seed
            )
    except (DataError, ConfigError) as exc:
        raise fail(exc) from exc
    if as_json:
        emit_json(result.as_dict())
        return
    _print_comparison(result)


def _print_comparison(result: Comparison) -> None:
    table = Table(box=SIMPLE_HEAD, title=f"P(down) as of {result.as_of}, n={result.n} pools")
    for name in ("predictor", "accuracy", "AUC", "Brier", "MAE 30d median", "median error"):
        table.add_column(name, justify="left" if name == "predictor" else "right")

    def num(value: float | None, digits: int = 3) -> str:
        return "-" if value is None else f"{value:.{digits}f}"

    for label, card in (
        ("realyield", result.realyield),
        ("DeFiLlama", result.defillama),
        ("naive: always Stable/Up, APY persists", result.naive),
        ("APY vs its 30-day mean", result.mean_30d),
    ):
        table.add_row(
            label,
            num(card.accuracy),
            num(card.auc),
            num(card.brier),
            num(card.mae, 1),
            num(card.median_error, 1),
        )
    console.print(table)
    console.print(
        f"down rate {result.down_rate:.3f}; model trained on labels up to "
        f"{result.model_trained_until}; {result.n_dump} pools in the dump",
        highlight=False,
    )
    calib = Table(box=SIMPLE_HEAD, title="calibration of P(down) (rows: predicted bin)")
    for name in ("bin", "ours n", "predicted", "observed", "DeFiLlama n", "predicted", "observed"):
        calib.add_column(name, justify="right")
    pairs = zip(result.realyield.calibration, result.defillama.calibration, strict=True)
    for ours, theirs in pairs:
        if ours.n or theirs.n:
            calib.add_row(
                f"{ours.lower:.1f}-{ours.upper:.1f}",
                str(ours.n),
                num(ours.mean_predicted, 2),
                num(ours.observed_rate, 2),
                str(theirs.n),
                num(theirs.mean_predicted, 2),
                num(theirs.observed_rate, 2),
            )
    console.print(calib)


__all__ = ["explain", "model_app", "screen"]

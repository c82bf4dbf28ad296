"""Train the shipped forward-yield forecast on real public data and evaluate it.

Usage::

    python tools/train_forecast.py [--data ../shared/data] [--out src/realyield/data/models]
                                   [--seed 0] [--folds 5] [--variants] [--json]

Reads four real histories from ``--data`` (never copied into the repository):

* ``yields/defillama_dex_pool_history.csv.gz`` - DeFiLlama ``/chart`` histories of 492
  DEX pools (percent, base/reward split), kind ``liquidity``;
* ``yields/lending_markets_history.csv.gz`` + ``yields/lending_markets.csv`` - 82
  Ethereum lending markets (supply APY, percent), kind ``lending``;
* ``yields/lending_staking_apy_history.csv`` - a tracker's daily APYs (a **fraction**),
  id ``protocol:chain:asset``; kind from the project (Lido is liquid staking, Pendle a
  vault, the rest lending);
* ``defillama/chart_4399e512_balancer.csv`` - one Balancer v2 pool (a **fraction**).

Runs the walk-forward evaluation, trains on every labelled row, and writes
``forecast_model.joblib`` and ``forecast_model.json`` (metadata and metrics) to
``--out``. With ``--variants`` it instead evaluates the candidate recipes side by side, and with
``--unseen-ids`` the shipped recipe on pools it never trained on (what docs/forecast.md
reports); both write nothing.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path

import polars as pl

from realyield.scoring.features import (
    attrs_from_pool_info,
    exposure_from_symbol,
    history_from_points,
    stablecoin_from_symbol,
)
from realyield.scoring.forecast import (
    ForecastParams,
    evaluate_walk_forward,
    save_model,
    train_model,
)
from realyield.sources.classify import classify_project
from realyield.sources.files import import_apy_history

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data"
DEFAULT_OUT = ROOT / "src" / "realyield" / "data" / "models"

DEX = "yields/defillama_dex_pool_history.csv.gz"
LENDING = "yields/lending_markets_history.csv.gz"
LENDING_LIST = "yields/lending_markets.csv"
TRACKER = "yields/lending_staking_apy_history.csv"
BALANCER = "defillama/chart_4399e512_balancer.csv"
BALANCER_ID = "balancer-v2:ethereum:4399e512"

#: The tracker's protocol names as DeFiLlama project slugs (so they share categories).
TRACKER_PROJECTS = {
    "aavev3": "aave-v3",
    "lido": "lido",
    "maker": "makerdao",
    "sky": "sky-lending",
    "pendlev2": "pendle",
}

#: The recipes compared with ``--variants``; the first is the one that ships.
_FIRST = ForecastParams(
    max_iter=300,
    max_leaf_nodes=31,
    min_samples_leaf=100,
    classifier_max_iter=200,
    classifier_min_samples_leaf=100,
)
_CATEGORICALS = ("chain", "project", "kind", "exposure", "stablecoin")
_EXTRA_WINDOWS = (
    "std_7obs",
    "mean_30obs",
    "std_30obs",
    "median_30d",
    "min_30d",
    "max_30d",
    "rel_median_30d",
    "cv_30d",
    "apy_change_1obs",
    "apy_change_7d",
    "apy_change_30d",
    "obs_30d",
    "days_since_prev",
    "mean_7d",
)

#: The recipes compared with ``--variants``; the first is the one that ships.
VARIANTS: dict[str, ForecastParams] = {
    "shipped: log-ratio, MAE loss, 15 leaves x 100": ForecastParams(),
    "first try: log-ratio, MAE loss, 31 leaves x 300": _FIRST,
    "squared-error loss": replace(_FIRST, loss="squared_error"),
    "target log-ratio to 30d mean": replace(_FIRST, target="log_ratio_mean30"),
    "target log1p(median)": replace(_FIRST, target="log"),
    "target raw median": replace(_FIRST, target="raw"),
    "63 leaves x 500, leaf 50": replace(
        _FIRST, max_leaf_nodes=63, max_iter=500, min_samples_leaf=50
    ),
    "7 leaves x 200, leaf 300": ForecastParams(
        max_leaf_nodes=7,
        max_iter=200,
        min_samples_leaf=300,
        classifier_max_iter=200,
        classifier_min_samples_leaf=300,
    ),
    "15 leaves x 300, lr 0.025, l2 5": ForecastParams(
        max_iter=300,
        learning_rate=0.025,
        l2_regularization=5.0,
        classifier_max_iter=300,
        classifier_min_samples_leaf=300,
    ),
    "shipped without categorical attributes": ForecastParams(exclude_features=_CATEGORICALS),
    "shipped with only the basic windows": ForecastParams(exclude_features=_EXTRA_WINDOWS),
}


def _frames(
    path: Path, *, source: str, apy_unit: str = "percent", opportunity_id: str | None = None
) -> tuple[pl.DataFrame, dict[str, dict[str, str]]]:
    imported, report = import_apy_history(path, apy_unit=apy_unit, opportunity_id=opportunity_id)
    if report.rejected_total:
        print(f"  {path.name}: {report.rejected_total} rows rejected", file=sys.stderr)
    return history_from_points(imported.points, source=source), imported.pool_info


def load_real_data(data: Path) -> tuple[pl.DataFrame, pl.DataFrame, list[str]]:
    """The four real histories as one history frame (``source`` = file name) + attrs."""
    histories: list[pl.DataFrame] = []
    attrs: list[pl.DataFrame] = []

    dex, info = _frames(data / DEX, source=Path(DEX).name)
    histories.append(dex)
    attrs.append(attrs_from_pool_info(info, kind="liquidity"))

    lending, info = _frames(data / LENDING, source=Path(LENDING).name)
    with (data / LENDING_LIST).open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            merged = dict(info.get(row["pool"], {}))
            merged.setdefault("chain", "Ethereum")
            merged["project"] = row["project"] or merged.get("project", "")
            merged["symbol"] = row["symbol"] or merged.get("symbol", "")
            info[row["pool"]] = merged
    histories.append(lending)
    attrs.append(
        attrs_from_pool_info(info, kind="lending").with_columns(pl.lit("single").alias("exposure"))
    )

    tracker, info = _frames(data / TRACKER, source=Path(TRACKER).name, apy_unit="fraction")
    rows = []
    for key, facts in info.items():
        project = TRACKER_PROJECTS.get(facts.get("project", "").lower(), facts.get("project"))
        kind, basis = classify_project(project or "", "single", facts.get("symbol", ""))
        rows.append(
            {
                "id": key,
                "chain": facts.get("chain"),
                "project": project,
                "kind": kind if basis == "project" else "lending",
                "stablecoin": stablecoin_from_symbol(facts.get("symbol")),
                "exposure": "single",
            }
        )
    histories.append(tracker)
    attrs.append(pl.DataFrame(rows, schema=attrs[0].schema))

    balancer, _ = _frames(
        data / BALANCER,
        source=Path(BALANCER).name,
        apy_unit="fraction",
        opportunity_id=BALANCER_ID,
    )
    symbol = "RAI-FLX-RETH-WETH-RPL"
    histories.append(balancer)
    attrs.append(
        pl.DataFrame(
            [
                {
                    "id": BALANCER_ID,
                    "chain": "Ethereum",
                    "project": "balancer-v2",
                    "kind": "liquidity",
                    "stablecoin": stablecoin_from_symbol(symbol),
                    "exposure": exposure_from_symbol(symbol),
                }
            ],
            schema=attrs[0].schema,
        )
    )
    sources = [Path(p).name for p in (DEX, LENDING, TRACKER, BALANCER)]
    return pl.concat(histories, how="vertical"), pl.concat(attrs, how="vertical"), sources


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--variants", action="store_true", help="compare recipes, save nothing")
    parser.add_argument(
        "--unseen-ids",
        action="store_true",
        help="evaluate on pools never trained on (train on a random half), save nothing",
    )
    parser.add_argument("--json", action="store_true", help="print the metrics as JSON")
    args = parser.parse_args(argv)
    if not args.data.is_dir():
        print(f"no data folder at {args.data}; pass --data", file=sys.stderr)
        return 2

    start = time.perf_counter()
    history, attrs, sources = load_real_data(args.data)
    print(
        f"loaded {history.height:,} rows, {history['id'].n_unique()} series from "
        f"{len(sources)} files in {time.perf_counter() - start:.1f} s",
        file=sys.stderr,
    )

    if args.variants:
        summary = {}
        for name, params in VARIANTS.items():
            began = time.perf_counter()
            evaluation = evaluate_walk_forward(
                history, attrs, n_folds=args.folds, params=params, seed=args.seed
            )
            took = time.perf_counter() - began
            summary[name] = {"seconds": round(took, 1), **evaluation.as_dict()}
            print(f"\n== {name} ({took:.1f} s)\n{evaluation.table()}")
        if args.json:
            print(json.dumps(summary, indent=2))
        return 0

    if args.unseen_ids:
        evaluation = evaluate_walk_forward(
            history, attrs, n_folds=args.folds, seed=args.seed, unseen_ids=True
        )
        print(json.dumps(evaluation.as_dict(), indent=2) if args.json else evaluation.table())
        return 0

    began = time.perf_counter()
    model = train_model(history, attrs, sources=sources, seed=args.seed, n_folds=args.folds)
    took = time.perf_counter() - began
    model.metrics["training_seconds"] = round(took, 1)
    path = save_model(model, args.out)
    size = path.stat().st_size
    if args.json:
        print(json.dumps(model.metadata(), indent=2))
    else:
        overall = model.metrics["overall"]
        print(
            f"trained on {model.n_train_rows:,} rows of {model.n_train_ids} series, "
            f"{model.train_first_date}..{model.train_last_date}, in {took:.1f} s "
            f"(walk-forward evaluation included); params {asdict(model.params)}"
        )
        print(
            f"walk-forward overall: MAE model {overall['mae_model']:.3f}, naive "
            f"{overall['mae_naive']:.3f}, 30d mean {overall['mae_rolling']:.3f}; "
            f"AUC {overall['auc']}"
        )
        print(f"wrote {path} ({size / 1024:.0f} KiB) and {path.with_suffix('.json').name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Writing a batch's results table (sweeps and batch plans alike)."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from realyield.core.errors import DataError


def write_results(table: pl.DataFrame, path: Path) -> Path:
    """Write a results table as Parquet (``.parquet``) or CSV (anything else), through a
    temporary file renamed into place, so an interrupted write never leaves half a file.

    Raises:
        DataError: the file cannot be written.
    """
    tmp = path.with_name(path.name + ".partial")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.suffix.lower() == ".parquet":
            table.write_parquet(tmp)
        else:
            table.write_csv(tmp)
        tmp.replace(path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise DataError(f"cannot write the results to {path}: {exc}") from exc
    return path

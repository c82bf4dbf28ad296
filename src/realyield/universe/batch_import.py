"""Importing several files and folders in one call (``realyield data import A B DIR``).

Each file is imported on its own (its own transaction and run record, as
``build.import_file``), so one bad file neither stops nor undoes the others; the caller
gets one outcome per file and decides the exit status.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from realyield.core.errors import ConfigError, RealyieldError
from realyield.universe import build

__all__ = ["FileOutcome", "expand_paths", "import_paths"]

#: File names a folder import reads (plain or gzipped); anything else is listed as skipped.
IMPORTABLE_SUFFIXES = (".csv", ".tsv", ".txt", ".json", ".csv.gz", ".tsv.gz", ".json.gz")


@dataclass
class FileOutcome:
    """One file's import: its result, or the error that stopped it."""

    path: Path
    result: build.LoadResult | None = None
    error: RealyieldError | None = None

    @property
    def failed(self) -> bool:
        return self.error is not None or (
            self.result is not None and self.result.status == "failed"
        )

    def as_dict(self) -> dict[str, Any]:
        if self.result is not None:
            return {"file": str(self.path), **self.result.as_dict()}
        return {"file": str(self.path), "status": "failed", "message": str(self.error)}


def expand_paths(paths: Iterable[Path]) -> list[Path]:
    """Files named directly, and each folder's importable files (sorted, not recursive).

    Raises:
        ConfigError: a path that does not exist, or a folder with no importable file.
    """
    out: list[Path] = []
    for path in paths:
        if path.is_dir():
            found = sorted(
                p
                for p in path.iterdir()
                if p.is_file() and p.name.lower().endswith(IMPORTABLE_SUFFIXES)
            )
            if not found:
                raise ConfigError(
                    f"{path}: no importable file in this folder (looked for "
                    f"{', '.join(IMPORTABLE_SUFFIXES)})"
                )
            out.extend(found)
        elif path.exists():
            out.append(path)
        else:
            raise ConfigError(f"{path}: no such file or folder")
    return list(dict.fromkeys(out))


def import_paths(
    engine: Engine,
    paths: Sequence[Path],
    *,
    asset_id: str | None = None,
    opportunity_id: str | None = None,
    **options: Any,
) -> list[FileOutcome]:
    """Import every file of ``paths`` (folders expanded) with the same options.

    ``asset_id`` and ``opportunity_id`` name the one series of a one-series file, so
    they are refused with more than one file.

    Raises:
        ConfigError: a missing path, an empty folder, or a one-file option with several.
    """
    files = expand_paths(paths)
    if len(files) > 1 and (asset_id or opportunity_id):
        raise ConfigError(
            f"--asset/--id name the series of ONE file, but {len(files)} files were given; "
            "import that file on its own"
        )
    outcomes = []
    for path in files:
        try:
            result = build.import_file(
                engine, path, asset_id=asset_id, opportunity_id=opportunity_id, **options
            )
        except RealyieldError as exc:
            outcomes.append(FileOutcome(path, error=exc))
        else:
            outcomes.append(FileOutcome(path, result=result))
    return outcomes

"""One snapshot store for the scale-out tests: loading and scoring it takes seconds, so
it is built once per session and only read by the tests."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine

from realyield.core.settings import load_settings
from realyield.indices.service import HistoryData, load_history_data
from realyield.scaleout.plan_batch import PlanBasis, stored_basis
from realyield.store.engine import open_store
from realyield.universe.build import load_snapshot


@dataclass
class ScaleoutStore:
    home: Path
    engine: Engine
    data: HistoryData
    basis: PlanBasis


@pytest.fixture(scope="session")
def scaleout_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ScaleoutStore]:
    home = tmp_path_factory.mktemp("scaleout-home")
    engine = open_store(load_settings({"REALYIELD_HOME": str(home)}))
    load_snapshot(engine)
    yield ScaleoutStore(
        home, engine, load_history_data(engine), stored_basis(engine, paths=300, seed=11)
    )
    engine.dispose()

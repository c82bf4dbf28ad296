"""Issue 19's Done-means: after importing the 2025-08-31 DEX dump alone (no stored
history), every pool that passes the screens has a forecast from the model's record
head, and its reason says so. The model is a small one trained here on the real DEX
history up to 2025-08-31 and saved where `realyield model train` saves it, so the test
does not depend on the packaged file."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from typer.testing import CliRunner

from realyield.cli import app
from realyield.core.settings import load_settings
from realyield.scoring.features import attrs_from_pool_info, history_from_points
from realyield.scoring.forecast import load_model, save_model, train_model
from realyield.scoring.service import score_stored, user_model_path
from realyield.sources.files import import_apy_history
from realyield.store.engine import open_store
from tests.conftest import SHARED_DATA
from tests.scoring.test_forecast_compare import TINY

DEX_FILE = SHARED_DATA / "defillama" / "pools_2025-08-31_dex_full_schema.csv"


def test_every_passing_pool_of_the_dump_alone_has_a_forecast(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not DEX_FILE.is_file():
        pytest.skip(f"real public data not found at {SHARED_DATA} (../shared/data beside the repo)")
    imported, _ = import_apy_history(
        SHARED_DATA / "yields" / "defillama_dex_pool_history.csv.gz", apy_unit="percent"
    )
    model = train_model(
        history_from_points(imported.points),
        attrs_from_pool_info(imported.pool_info, kind="liquidity"),
        sources=["defillama_dex_pool_history.csv.gz"],
        params=TINY,
        evaluate=False,
        until=date(2025, 8, 31),
    )
    save_model(model, user_model_path(tmp_path))
    assert load_model(user_model_path(tmp_path)).record_regressor is not None
    monkeypatch.setenv("REALYIELD_HOME", str(tmp_path))
    result = CliRunner().invoke(app, ["data", "import", str(DEX_FILE), "--json"])
    assert result.exit_code == 0, result.output
    assert "1134" in json.dumps(json.loads(result.stdout))
    engine = open_store(load_settings(env={"REALYIELD_HOME": str(tmp_path)}))
    try:
        scored, note = score_stored(engine, home=tmp_path)
    finally:
        engine.dispose()
    assert note is None
    rows = scored.forecast
    assert rows is not None
    ids = [scored.inputs.opportunities[i].id for i, r in enumerate(scored.reasons) if not r]
    assert len(ids) >= 150, len(ids)
    got = rows.filter(rows["id"].is_in(ids))
    assert got.height == len(ids)
    assert got["p_down"].null_count() == 0 and got["forecast_apy_30d"].null_count() == 0
    assert all(r.startswith("pool record features") for r in got["reason"].to_list())

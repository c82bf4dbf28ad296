from __future__ import annotations

from pathlib import Path

import pytest

from realyield.core import clock
from realyield.core.errors import ConfigError
from realyield.core.settings import load_settings


def test_precedence_defaults_toml_env(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text('http_timeout_s = 5\nexchange_symbols = ["BTC/USDT"]\n')
    env = {"REALYIELD_HOME": str(tmp_path), "REALYIELD_HTTP_MAX_ATTEMPTS": "7"}
    s = load_settings(env)
    assert s.home == tmp_path
    assert s.http_timeout_s == 5.0
    assert s.exchange_symbols == ("BTC/USDT",)
    assert s.http_max_attempts == 7
    assert load_settings({**env, "REALYIELD_HTTP_TIMEOUT_S": "9"}).http_timeout_s == 9.0


def test_bad_values_and_unknown_keys_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="REALYIELD_HTTP_TIMEOUT_S"):
        load_settings({"REALYIELD_HOME": str(tmp_path), "REALYIELD_HTTP_TIMEOUT_S": "fast"})
    (tmp_path / "config.toml").write_text("no_such_setting = 1\n")
    with pytest.raises(ConfigError, match="no_such_setting"):
        load_settings({"REALYIELD_HOME": str(tmp_path)})
    (tmp_path / "config.toml").write_text("this is = = not toml")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings({"REALYIELD_HOME": str(tmp_path)})


def test_secret_only_from_environment_and_never_in_repr(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text('coingecko_api_key = "CG-SECRET-1"\n')
    with pytest.raises(ConfigError) as info:
        load_settings({"REALYIELD_HOME": str(tmp_path)})
    assert "CG-SECRET-1" not in str(info.value)
    (tmp_path / "config.toml").unlink()
    s = load_settings(
        {"REALYIELD_HOME": str(tmp_path), "REALYIELD_COINGECKO_API_KEY": "CG-SECRET-2"}
    )
    assert s.coingecko_api_key == "CG-SECRET-2"
    assert "CG-SECRET-2" not in repr(s)
    assert "***" in repr(s)


def test_clock_freeze_requires_aware_time() -> None:
    from datetime import UTC, datetime

    at = datetime(2024, 3, 1, tzinfo=UTC)
    with clock.freeze(at):
        assert clock.now() == at
        assert clock.today().isoformat() == "2024-03-01"
    assert clock.now() != at
    with pytest.raises(ValueError, match="naive"), clock.freeze(datetime(2024, 3, 1)):
        pass


def test_database_password_is_masked_in_repr(tmp_path: Path) -> None:
    s = load_settings(
        {
            "REALYIELD_HOME": str(tmp_path),
            "REALYIELD_DATABASE_URL": "postgresql://ry:hunter2@db.local/ry",
        }
    )
    assert s.database_url.endswith("hunter2@db.local/ry")
    assert "hunter2" not in repr(s) and "postgresql://ry:***@db.local/ry" in repr(s)

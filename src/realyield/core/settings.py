"""Configuration: defaults in code, overrides from a TOML file, then ``REALYIELD_*`` env.

Precedence (last wins): the defaults below, ``$REALYIELD_HOME/config.toml`` (or the file
named by ``REALYIELD_CONFIG``), then environment variables named ``REALYIELD_`` + the
upper-cased field name. Secrets (API keys) are read only from the environment and are
never shown in ``repr`` or written to any file.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from platformdirs import user_data_dir

from realyield.core.errors import ConfigError

_SECRET_FIELDS = frozenset({"coingecko_api_key"})
_PASSWORD_IN_URL = re.compile(r"(://[^:/@]+:)[^@]*@")


@dataclass(frozen=True)
class Settings:
    """Every tunable of realyield, with its default. Construct with ``load_settings()``."""

    home: Path = field(default_factory=lambda: Path(user_data_dir("realyield", appauthor=False)))
    database_url: str = ""  # empty: sqlite file under home
    http_timeout_s: float = 20.0
    http_max_attempts: int = 4
    http_backoff_base_s: float = 1.0
    http_backoff_max_s: float = 30.0
    http_rate_per_s: float = 2.0
    http_burst: int = 4
    breaker_failure_threshold: int = 3
    breaker_cooldown_s: float = 300.0
    defillama_yields_url: str = "https://yields.llama.fi"
    coingecko_url: str = "https://api.coingecko.com/api/v3"
    coingecko_api_key: str = field(default="", repr=False)
    coingecko_ids: tuple[str, ...] = (
        "bitcoin",
        "ethereum",
        "solana",
        "cardano",
        "polkadot",
        "cosmos",
        "avalanche-2",
        "near",
        "tron",
        "binancecoin",
        "matic-network",
        "tether",
        "usd-coin",
        "dai",
        "staked-ether",
        "rocket-pool-eth",
    )
    price_history_days: int = 1100
    exchange_id: str = "kraken"
    exchange_symbols: tuple[str, ...] = ("BTC/USD", "ETH/USD", "SOL/USD")
    stale_after_hours: float = 48.0
    max_plausible_apy: float = 1_000_000.0  # percent; above this a value is a bug, not a yield
    max_plausible_tvl_usd: float = 500e9  # more than any protocol has ever held
    # --- REST API and dashboard (``realyield serve``) ---
    api_host: str = "127.0.0.1"  # loopback unless told otherwise
    api_port: int = 8000
    api_cors_origins: tuple[str, ...] = ()  # browser origins allowed to call the API
    api_key_rate_per_min: float = 60.0  # per API key: sustained requests a minute
    api_key_burst: int = 10  # per API key: requests allowed at once before throttling
    api_job_workers: int = 1  # jobs run at the same time (2 cores: keep it small)
    api_job_queue_limit: int = 16  # jobs waiting at most; more are refused with 503
    api_jobs_per_key: int = 4  # queued + running jobs one key may have
    api_job_timeout_s: float = 900.0  # a job still running after this is failed
    api_job_retention_days: float = 7.0  # finished jobs (and results) kept this long
    api_data_check_s: float = 2.0  # how often the API looks for new data in the store
    api_dashboard_jobs: bool = True  # the dashboard (loopback clients) may run jobs
    #: Host header values the server answers (anything else: 421, which stops DNS
    #: rebinding); add the name or address clients use when serving beyond loopback
    api_trusted_hosts: tuple[str, ...] = ("127.0.0.1", "localhost", "::1")
    api_max_body_bytes: int = 10 * 2**20  # request bodies past this are refused with 413
    api_dashboard_ledger: bool = True  # the Portfolio page shows the ledger (loopback only)
    # --- portfolio ledger ---
    ledger_fiat: str = "USD"  # the fiat of fair-market values (stored prices are USD)
    ledger_price_max_age_days: float = 3.0  # older prices are used but flagged on the event
    ledger_import_batch: int = 5000  # events per import transaction
    ledger_tax_rate: float = 0.30  # income tax rate of projected income, fraction

    @property
    def database_path(self) -> Path:
        """The SQLite file used when no ``database_url`` is configured."""
        return self.home / "realyield.db"

    def resolved_database_url(self) -> str:
        """The SQLAlchemy URL of the store."""
        return self.database_url or f"sqlite:///{self.database_path}"

    def __repr__(self) -> str:
        return f"Settings({', '.join(f'{f.name}={self._shown(f.name)}' for f in fields(self))})"

    def _shown(self, name: str) -> str:
        value = getattr(self, name)
        if name in _SECRET_FIELDS and value:
            return "'***'"
        if name == "database_url" and value:
            return repr(_PASSWORD_IN_URL.sub(r"\1***@", value))
        return repr(value)


def _coerce(name: str, current: Any, raw: Any, origin: str) -> Any:
    """Convert a TOML or environment value to the type of the field's default."""
    try:
        if isinstance(current, bool):
            if isinstance(raw, bool):
                return raw
            return str(raw).strip().lower() in {"1", "true", "yes", "on"}
        if isinstance(current, Path):
            return Path(str(raw)).expanduser()
        if isinstance(current, tuple):
            if isinstance(raw, (list, tuple)):
                return tuple(str(x) for x in raw)
            return tuple(x.strip() for x in str(raw).split(",") if x.strip())
        if isinstance(current, int):
            return int(raw)
        if isinstance(current, float):
            value = float(raw)
            if value != value:
                raise ValueError("NaN")
            return value
        return str(raw)
    except (TypeError, ValueError) as exc:
        raise ConfigError(
            f"{origin}: setting {name!r} = {raw!r} is not a valid {type(current).__name__}"
        ) from exc


def load_settings(env: dict[str, str] | None = None, **overrides: Any) -> Settings:
    """Build the settings from defaults, the TOML file, the environment and ``overrides``.

    Raises:
        ConfigError: unreadable TOML, unknown keys, or values of the wrong type.
    """
    environ = dict(os.environ if env is None else env)
    base = Settings()
    known = {f.name: f for f in fields(Settings)}
    values: dict[str, Any] = {}
    if "REALYIELD_HOME" in environ:
        values["home"] = Path(environ["REALYIELD_HOME"]).expanduser()
    home = values.get("home", base.home)
    config_path = Path(environ.get("REALYIELD_CONFIG", str(Path(home) / "config.toml")))
    if config_path.is_file():
        try:
            data = tomllib.loads(config_path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{config_path}: not valid TOML ({exc}); fix or remove it") from exc
        for key, raw in data.items():
            if key not in known:
                raise ConfigError(f"{config_path}: unknown setting {key!r}; known: {sorted(known)}")
            if key in _SECRET_FIELDS:
                raise ConfigError(
                    f"{config_path}: {key!r} is a secret; set REALYIELD_{key.upper()} in the "
                    "environment instead of writing it to a file"
                )
            values[key] = _coerce(key, getattr(base, key), raw, str(config_path))
    for name in known:
        env_key = f"REALYIELD_{name.upper()}"
        if env_key in environ and name != "home":
            values[name] = _coerce(name, getattr(base, name), environ[env_key], env_key)
    for key, raw in overrides.items():
        if key not in known:
            raise ConfigError(f"unknown setting {key!r}")
        values[key] = raw
    return replace(base, **values)

"""The monitor's configuration: what you hold, what you aim for, thresholds, channels.

Read from ``$REALYIELD_HOME/monitor.toml`` (or a path given on the command line); every
section is optional::

    [portfolio]
    index = "stablecoin-income"        # targets: this index's weights (or [targets])
    income_per_year_usd = 6000         # the plan's income, for "income below plan"

    [holdings]                         # opportunity id -> USD value held now
    "aave-v3:ethereum:usdc" = 25000

    [targets]                          # opportunity id -> target weight (fraction)
    "aave-v3:ethereum:usdc" = 0.5

    [rules]                            # any RuleConfig field, e.g.
    depeg_pct = 1.0
    disabled = ["apy_spike"]

    [notify]
    min_severity = "warning"
    webhook_flavor = "auto"            # the URL itself: REALYIELD_WEBHOOK_URL or keyring
    email_to = ["me@example.org"]
    email_from = "realyield@example.org"
    smtp_host = "smtp.example.org"
    smtp_port = 587
    smtp_security = "starttls"
    smtp_user = "me"                   # password: REALYIELD_SMTP_PASSWORD or keyring

    [schedule]
    every_minutes = 60
    refresh = ["defillama", "coingecko"]

Secrets are refused in the file: webhook URLs and passwords come only from the
environment or the OS keyring (``core.secrets``).
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from realyield.core.errors import ConfigError
from realyield.core.secrets import lookup_secret
from realyield.monitor.notify import Channel, EmailChannel, WebhookChannel
from realyield.monitor.rules import SEVERITIES, RuleConfig

CONFIG_FILE = "monitor.toml"
_SECTIONS = {"portfolio", "holdings", "targets", "rules", "notify", "schedule"}
_SECRET_KEYS = {"webhook_url", "smtp_password", "password", "url"}


@dataclass(frozen=True)
class NotifyConfig:
    min_severity: str = "warning"
    webhook_flavor: str = "auto"
    email_to: tuple[str, ...] = ()
    email_from: str = ""
    smtp_host: str = ""
    smtp_port: int = 587
    smtp_security: str = "starttls"
    smtp_user: str = ""


@dataclass(frozen=True)
class MonitorConfig:
    """Everything ``realyield monitor`` and the review read besides the store."""

    rules: RuleConfig = field(default_factory=RuleConfig)
    holdings_usd: Mapping[str, float] = field(default_factory=dict)
    targets: Mapping[str, float] = field(default_factory=dict)
    target_index: str | None = None
    income_per_year_usd: float | None = None
    notify: NotifyConfig = field(default_factory=NotifyConfig)
    every_minutes: float = 60.0
    refresh: tuple[str, ...] = ()

    def current_weights(self) -> dict[str, float]:
        total = sum(self.holdings_usd.values())
        return {k: v / total for k, v in self.holdings_usd.items()} if total > 0 else {}


def _amounts(table: Any, origin: str, *, weights: bool) -> dict[str, float]:
    if not isinstance(table, Mapping):
        raise ConfigError(f"{origin}: expected a table of id = number")
    out: dict[str, float] = {}
    for key, raw in table.items():
        if isinstance(raw, bool) or not isinstance(raw, (int, float)) or not math.isfinite(raw):
            raise ConfigError(f"{origin}.{key} = {raw!r}: give a number")
        if raw < 0:
            raise ConfigError(f"{origin}.{key} = {raw!r}: must be >= 0")
        out[str(key)] = float(raw)
    if weights and out and abs(sum(out.values()) - 1.0) > 1e-6:
        raise ConfigError(f"{origin}: weights sum to {sum(out.values()):.6g}, not 1")
    return out


def _notify(table: Mapping[str, Any], origin: str) -> NotifyConfig:
    known = set(NotifyConfig.__dataclass_fields__)
    for key in table:
        if key in _SECRET_KEYS:
            raise ConfigError(
                f"{origin}.{key}: secrets do not belong in a file; set REALYIELD_WEBHOOK_URL / "
                "REALYIELD_SMTP_PASSWORD in the environment or the OS keyring (service "
                "'realyield')"
            )
        if key not in known:
            raise ConfigError(f"{origin}: unknown key {key!r}; known: {sorted(known)}")
    values = dict(table)
    if "email_to" in values:
        raw = values["email_to"]
        values["email_to"] = (raw,) if isinstance(raw, str) else tuple(str(x) for x in raw)
    config = NotifyConfig(**values)
    if config.min_severity not in SEVERITIES:
        raise ConfigError(f"{origin}.min_severity: use one of {SEVERITIES}")
    return config


def parse_config(data: Mapping[str, Any], *, origin: str = CONFIG_FILE) -> MonitorConfig:
    """Build a ``MonitorConfig`` from parsed TOML.

    Raises:
        ConfigError: unknown sections or keys, bad numbers, secrets in the file.
    """
    unknown = set(data) - _SECTIONS
    if unknown:
        raise ConfigError(
            f"{origin}: unknown section(s) {sorted(unknown)}; known: {sorted(_SECTIONS)}"
        )
    portfolio = dict(data.get("portfolio", {}))
    index = portfolio.pop("index", None)
    income = portfolio.pop("income_per_year_usd", None)
    if portfolio:
        raise ConfigError(f"{origin}: unknown [portfolio] key(s) {sorted(portfolio)}")
    if income is not None and (
        isinstance(income, bool) or not isinstance(income, (int, float)) or income < 0
    ):
        raise ConfigError(f"{origin}: income_per_year_usd = {income!r}: give an amount >= 0")
    targets = _amounts(data.get("targets", {}), f"{origin} [targets]", weights=True)
    if targets and index:
        raise ConfigError(f"{origin}: give [targets] or portfolio.index, not both")
    schedule = dict(data.get("schedule", {}))
    every = schedule.pop("every_minutes", 60.0)
    refresh = schedule.pop("refresh", [])
    if schedule:
        raise ConfigError(f"{origin}: unknown [schedule] key(s) {sorted(schedule)}")
    if isinstance(every, bool) or not isinstance(every, (int, float)) or not every > 0:
        raise ConfigError(f"{origin}: every_minutes = {every!r}: give a positive number")
    return MonitorConfig(
        rules=RuleConfig.from_mapping(data.get("rules", {}), origin=f"{origin} [rules]"),
        holdings_usd=_amounts(data.get("holdings", {}), f"{origin} [holdings]", weights=False),
        targets=targets,
        target_index=str(index) if index else None,
        income_per_year_usd=float(income) if income is not None else None,
        notify=_notify(data.get("notify", {}), f"{origin} [notify]"),
        every_minutes=float(every),
        refresh=tuple(str(s) for s in refresh),
    )


def load_config(path: Path | None = None, *, home: Path | None = None) -> MonitorConfig:
    """The configuration at ``path`` (must exist), else ``home/monitor.toml`` if it
    exists, else the defaults.

    Raises:
        ConfigError: a given path that does not exist, unreadable or invalid TOML.
    """
    if path is None:
        if home is None or not (home / CONFIG_FILE).is_file():
            return MonitorConfig()
        path = home / CONFIG_FILE
    elif not path.is_file():
        raise ConfigError(f"monitor configuration {path} does not exist")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the monitor configuration ({exc})") from exc
    return parse_config(data, origin=str(path))


def channels_from_config(
    config: NotifyConfig, *, env: Mapping[str, str] | None = None, use_keyring: bool = True
) -> list[Channel]:
    """The channels that are configured: the webhook when ``REALYIELD_WEBHOOK_URL`` (or
    the keyring's ``webhook_url``) is set, email when an SMTP host and recipients are."""
    channels: list[Channel] = []
    url = lookup_secret("webhook_url", env=env, use_keyring=use_keyring)
    if url:
        channels.append(WebhookChannel(url, flavor=config.webhook_flavor))
    if config.smtp_host and config.email_to:
        channels.append(
            EmailChannel(
                host=config.smtp_host,
                sender=config.email_from or f"realyield@{config.smtp_host}",
                recipients=config.email_to,
                port=config.smtp_port,
                security=config.smtp_security,
                username=config.smtp_user or None,
                password=lookup_secret("smtp_password", env=env, use_keyring=use_keyring),
            )
        )
    return channels

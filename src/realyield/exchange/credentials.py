"""Exchange API credentials: read from the environment or the OS keyring, never shown.

Names, for exchange ``binance`` (any ccxt id, upper-cased in the environment):

* environment: ``REALYIELD_BINANCE_API_KEY``, ``REALYIELD_BINANCE_SECRET`` and, for
  exchanges that need one (OKX, KuCoin...), ``REALYIELD_BINANCE_PASSWORD``;
* keyring: service ``realyield``, usernames ``binance_api_key``, ``binance_secret``,
  ``binance_password`` (``keyring set realyield binance_api_key``).

The environment wins over the keyring. Values are ``Secret``s: printing the
credentials, an exchange client or an error shows ``***``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from realyield.core.errors import ConfigError
from realyield.core.secrets import Secret, lookup_secret


@dataclass(frozen=True)
class Credentials:
    """An API key pair (and passphrase, where the exchange has one)."""

    api_key: Secret
    secret: Secret
    password: Secret | None = None

    def __repr__(self) -> str:
        extra = ", password=***" if self.password else ""
        return f"Credentials(api_key=***, secret=***{extra})"

    def ccxt_config(self) -> dict[str, str]:
        """The fields ccxt takes in its constructor (this is where the values leave)."""
        config = {"apiKey": self.api_key.reveal(), "secret": self.secret.reveal()}
        if self.password:
            config["password"] = self.password.reveal()
        return config


def env_names(exchange_id: str) -> tuple[str, str, str]:
    """The environment variable names for ``exchange_id``'s key, secret and password."""
    stem = f"REALYIELD_{exchange_id.upper()}"
    return f"{stem}_API_KEY", f"{stem}_SECRET", f"{stem}_PASSWORD"


def load_credentials(
    exchange_id: str, *, env: Mapping[str, str] | None = None, use_keyring: bool = True
) -> Credentials:
    """The credentials for ``exchange_id`` from the environment or the keyring.

    Raises:
        ConfigError: no key or no secret found (the message names where to put them,
            never a value).
    """
    name = exchange_id.lower()
    key = lookup_secret(f"{name}_api_key", env=env, use_keyring=use_keyring)
    secret = lookup_secret(f"{name}_secret", env=env, use_keyring=use_keyring)
    password = lookup_secret(f"{name}_password", env=env, use_keyring=use_keyring)
    if key is None or secret is None:
        key_var, secret_var, _ = env_names(name)
        missing = [n for n, v in ((key_var, key), (secret_var, secret)) if v is None]
        raise ConfigError(
            f"no {exchange_id} API credentials: set {' and '.join(missing)} in the "
            f"environment, or store them in the OS keyring (service 'realyield', usernames "
            f"'{name}_api_key' and '{name}_secret'). Create a key with trading permission "
            "only: a key that can withdraw is refused."
        )
    return Credentials(key, secret, password)

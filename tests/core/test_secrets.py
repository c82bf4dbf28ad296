"""Secrets never show: reprs, strings, f-strings, pickles, log lines, errors."""

from __future__ import annotations

import logging
import pickle
from collections.abc import Iterator

import pytest

from realyield.core import secrets
from realyield.core.errors import ConfigError
from realyield.core.secrets import Secret, install_log_redaction, lookup_secret, redact
from realyield.exchange.credentials import load_credentials

VALUE = "sk-live-9f8e7d6c5b4a"


def test_secret_hides_its_value_everywhere() -> None:
    s = Secret(VALUE)
    for text in (repr(s), str(s), f"{s}", f"{s:>30}", "{}".format(s), repr([s]), repr({"k": s})):  # noqa: UP032
        assert VALUE not in text
    assert s.reveal() == VALUE and s == Secret(VALUE) and bool(s)
    with pytest.raises(TypeError):
        pickle.dumps(s)


def test_log_lines_and_exception_args_are_scrubbed(caplog: pytest.LogCaptureFixture) -> None:
    Secret(VALUE)  # registering happens on construction
    logger = logging.getLogger("realyield.test.secrets")
    install_log_redaction(logger)
    with caplog.at_level(logging.INFO, logger="realyield.test.secrets"):
        logger.info("posting to https://hooks.example/%s now", VALUE)
        try:
            raise RuntimeError(f"failed with key {VALUE}")
        except RuntimeError:
            logger.exception("request failed")
    assert VALUE not in caplog.text and "https://hooks.example/*** now" in caplog.text
    assert redact(f"a {VALUE} b") == "a *** b"
    assert redact("abc", extra=["abc"]) == "abc"  # too short to scrub safely


class MemoryKeyring:
    """A keyring backend in memory (the keyring package's own interface)."""

    priority = 1

    def __init__(self, values: dict[tuple[str, str], str]) -> None:
        self.values = values

    def get_password(self, service: str, username: str) -> str | None:
        return self.values.get((service, username))


@pytest.fixture
def memory_keyring(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[tuple[str, str], str]]:
    import keyring

    values: dict[tuple[str, str], str] = {}
    backend = MemoryKeyring(values)
    monkeypatch.setattr(keyring, "get_password", backend.get_password)
    yield values


def test_environment_first_then_keyring(memory_keyring: dict[tuple[str, str], str]) -> None:
    memory_keyring[("realyield", "binance_api_key")] = "from-keyring-key"
    memory_keyring[("realyield", "binance_secret")] = "from-keyring-secret"
    env = {"REALYIELD_BINANCE_API_KEY": "from-env-key-123"}
    creds = load_credentials("binance", env=env)
    assert creds.api_key.reveal() == "from-env-key-123"
    assert creds.secret.reveal() == "from-keyring-secret"
    assert "from-" not in repr(creds)
    assert lookup_secret("binance_secret", env={}, use_keyring=False) is None


def test_missing_credentials_name_where_to_put_them(
    memory_keyring: dict[tuple[str, str], str],
) -> None:
    with pytest.raises(ConfigError) as info:
        load_credentials("kraken", env={"REALYIELD_KRAKEN_API_KEY": "only-the-key-1234"})
    message = str(info.value)
    assert "REALYIELD_KRAKEN_SECRET" in message and "only-the-key" not in message
    assert "withdraw" in message


def test_no_keyring_backend_is_not_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import keyring
    from keyring.errors import NoKeyringError

    def broken(service: str, username: str) -> str:
        raise NoKeyringError("no backend")

    monkeypatch.setattr(keyring, "get_password", broken)
    assert secrets.lookup_secret("webhook_url", env={}) is None

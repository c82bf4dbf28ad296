"""Secrets (exchange keys, webhook URLs, SMTP passwords): where they come from and how
they stay out of output.

Why a type of its own: a secret held in a plain ``str`` ends up in a ``repr``, an
f-string, a traceback or a log line sooner or later. ``Secret`` prints as ``'***'``
everywhere (``str``, ``repr``, ``format``) and gives its value only through
``reveal()``, so every use of the real value is a visible, greppable call.

Secrets are read only from the environment or the OS keyring (``keyring`` package;
service ``realyield``), never from configuration files. Every value handed out is also
registered with the process-wide ``redact`` list that ``RedactingFilter`` applies to log
records, so a library that logs a URL or a request body cannot leak it either.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterable, Mapping
from typing import Final

REDACTED: Final = "***"
KEYRING_SERVICE: Final = "realyield"
#: Values shorter than this are not scrubbed from text (they would match everywhere).
MIN_SCRUB_LENGTH: Final = 4

_known: set[str] = set()
_lock = threading.Lock()


class Secret:
    """A secret string that never shows itself; ``reveal()`` returns the value.

    Two secrets compare equal when their values do (so tests and caches work), and
    hashing is by value; neither exposes it.
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        if not isinstance(value, str):
            raise TypeError("Secret holds a string")
        self._value = value
        remember(value)

    def reveal(self) -> str:
        """The secret's value. Call only where it is sent to the service it is for."""
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __repr__(self) -> str:
        return f"Secret({REDACTED!r})"

    def __str__(self) -> str:
        return REDACTED

    def __format__(self, spec: str) -> str:
        return REDACTED

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(("Secret", self._value))

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("a Secret is not pickled (it would be written out in clear)")


def remember(value: str) -> None:
    """Register ``value`` so ``redact`` and ``RedactingFilter`` scrub it from text."""
    if isinstance(value, str) and len(value) >= MIN_SCRUB_LENGTH:
        with _lock:
            _known.add(value)


def redact(text: str, extra: Iterable[str] = ()) -> str:
    """``text`` with every registered secret (and ``extra`` values) replaced by ``***``.

    Longer values are replaced first, so a secret that contains another is not left
    half visible.
    """
    with _lock:
        values = set(_known)
    values.update(v for v in extra if isinstance(v, str) and len(v) >= MIN_SCRUB_LENGTH)
    for value in sorted(values, key=len, reverse=True):
        if value in text:
            text = text.replace(value, REDACTED)
    return text


class RedactingFilter(logging.Filter):
    """A logging filter that scrubs registered secrets from each record's message.

    The message is rendered (``msg % args``) before scrubbing, so a secret passed as a
    format argument is caught too. Install it on handlers with ``install_log_redaction``.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record: leave it to logging's own error path
            return True
        clean = redact(message)
        if clean != message or record.args:
            record.msg = clean
            record.args = None
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            exc.args = tuple(redact(a) if isinstance(a, str) else a for a in exc.args)
            record.exc_text = None
        return True


def install_log_redaction(logger: logging.Logger | None = None) -> RedactingFilter:
    """Add a ``RedactingFilter`` to every handler of ``logger`` (the root logger by
    default) and to the logger itself; idempotent."""
    target = logger or logging.getLogger()
    existing = [f for f in target.filters if isinstance(f, RedactingFilter)]
    flt = existing[0] if existing else RedactingFilter()
    if not existing:
        target.addFilter(flt)
    for handler in target.handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(flt)
    return flt


def _keyring_get(name: str) -> str | None:
    """The keyring's value for ``name`` under service ``realyield``, or ``None``.

    Any keyring problem (package missing, no backend, locked store) means "not there":
    the environment remains the way to supply the secret.
    """
    try:
        import keyring
        from keyring.errors import KeyringError
    except ImportError:
        return None
    try:
        value = keyring.get_password(KEYRING_SERVICE, name)
    except (KeyringError, RuntimeError, OSError):
        return None
    return value or None


def lookup_secret(
    name: str, *, env: Mapping[str, str] | None = None, use_keyring: bool = True
) -> Secret | None:
    """A secret from ``REALYIELD_<NAME>`` in the environment, else the OS keyring.

    ``name`` is a lower-case key such as ``webhook_url`` or ``binance_api_key``; the
    keyring entry is ``(service="realyield", username=name)``, set for example with
    ``keyring set realyield binance_api_key``.
    """
    environ = os.environ if env is None else env
    value = environ.get(f"REALYIELD_{name.upper()}", "").strip()
    if not value and use_keyring:
        value = (_keyring_get(name) or "").strip()
    return Secret(value) if value else None

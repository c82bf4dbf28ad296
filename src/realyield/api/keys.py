"""API keys: created once (the secret is shown to its owner and never stored), kept
hashed with scrypt and a per-key salt in the store's ``api_keys`` table, revocable.

A key reads ``ry_<key_id>_<secret>``: ``key_id`` is public (it names the key in logs,
job records and rate limits), ``secret`` is 32 random bytes. Verifying costs one
scrypt (~tens of ms, by design), so ``KeyVerifier`` remembers recently verified keys
for ``cache_ttl_s`` (a revocation takes effect within that time) and meters the
scrypt work of unknown secrets so a flood of wrong keys cannot eat the CPU.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, select, update

from realyield.core import clock
from realyield.core.errors import AuthError, ConfigError, LimitError
from realyield.sources.http import TokenBucket
from realyield.store import schema

PREFIX = "ry"
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}
SCHEME = "scrypt:n=16384,r=8,p=1"
_MAX_NAME = 100


@dataclass(frozen=True)
class ApiKey:
    """A stored key's public facts (never its secret or hash)."""

    key_id: str
    name: str
    created_at: str
    revoked_at: str | None = None
    rate_per_min: float | None = None
    burst: int | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    def as_dict(self) -> dict[str, Any]:
        return {
            "key_id": self.key_id,
            "name": self.name,
            "created_at": self.created_at,
            "revoked_at": self.revoked_at,
            "rate_per_min": self.rate_per_min,
            "burst": self.burst,
        }


@dataclass(frozen=True)
class NewKey:
    """A freshly created key: ``token`` is what the client sends; show it once."""

    key: ApiKey
    token: str = field(repr=False)


def _hash(secret: str, salt: bytes, scheme: str = SCHEME) -> str:
    if scheme != SCHEME:
        raise AuthError(f"API key hashed with unknown scheme {scheme!r}; create a new key")
    return hashlib.scrypt(secret.encode(), salt=salt, dklen=32, maxmem=64 * 2**20, **_SCRYPT).hex()


def _row_to_key(row: Any) -> ApiKey:
    return ApiKey(
        key_id=row.key_id,
        name=row.name,
        created_at=row.created_at,
        revoked_at=row.revoked_at,
        rate_per_min=row.rate_per_min,
        burst=row.burst,
    )


def create_key(
    engine: Engine, name: str, *, rate_per_min: float | None = None, burst: int | None = None
) -> NewKey:
    """Create and store a key named ``name``; the returned token is the only copy.

    Raises:
        ConfigError: empty or overlong name, or a non-positive rate/burst.
    """
    name = name.strip()
    if not name or len(name) > _MAX_NAME:
        raise ConfigError(f"an API key needs a name of 1 to {_MAX_NAME} characters")
    if rate_per_min is not None and not rate_per_min > 0:
        raise ConfigError(f"rate per minute must be positive, not {rate_per_min}")
    if burst is not None and burst < 1:
        raise ConfigError(f"burst must be at least 1, not {burst}")
    key_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    salt = secrets.token_bytes(16)
    key = ApiKey(key_id, name, clock.now().isoformat(), None, rate_per_min, burst)
    with engine.begin() as conn:
        conn.execute(
            schema.api_keys.insert().values(
                key_id=key_id,
                name=name,
                scheme=SCHEME,
                salt=salt.hex(),
                key_hash=_hash(secret, salt),
                created_at=key.created_at,
                rate_per_min=rate_per_min,
                burst=burst,
            )
        )
    return NewKey(key, f"{PREFIX}_{key_id}_{secret}")


def list_keys(engine: Engine) -> list[ApiKey]:
    """Every key, oldest first (revoked ones too, marked)."""
    t = schema.api_keys
    with engine.connect() as conn:
        rows = conn.execute(select(t).order_by(t.c.created_at, t.c.key_id)).all()
    return [_row_to_key(r) for r in rows]


def revoke_key(engine: Engine, key_id: str) -> ApiKey:
    """Revoke a key (idempotent); running servers stop accepting it within their cache
    time.

    Raises:
        ConfigError: no key has this id.
    """
    t = schema.api_keys
    with engine.begin() as conn:
        row = conn.execute(select(t).where(t.c.key_id == key_id)).one_or_none()
        if row is None:
            raise ConfigError(f"no API key {key_id!r}; list them with `realyield api-key list`")
        if row.revoked_at is None:
            conn.execute(
                update(t).where(t.c.key_id == key_id).values(revoked_at=clock.now().isoformat())
            )
        row = conn.execute(select(t).where(t.c.key_id == key_id)).one()
    return _row_to_key(row)


def parse_token(token: str) -> tuple[str, str]:
    """Split ``ry_<key_id>_<secret>``.

    Raises:
        AuthError: not shaped like a realyield key.
    """
    parts = token.strip().split("_", 2)
    if len(parts) != 3 or parts[0] != PREFIX or not parts[1] or not parts[2]:
        raise AuthError("not a realyield API key (expected ry_<id>_<secret>)")
    return parts[1], parts[2]


def verify_token(engine: Engine, token: str) -> ApiKey:
    """The active key ``token`` belongs to.

    Raises:
        AuthError: malformed, unknown, wrong secret, or revoked (the message never
            contains the secret).
    """
    key_id, secret = parse_token(token)
    t = schema.api_keys
    with engine.connect() as conn:
        row = conn.execute(select(t).where(t.c.key_id == key_id)).one_or_none()
    if row is None:
        raise AuthError(f"unknown API key {key_id!r}")
    expected = _hash(secret, bytes.fromhex(row.salt), row.scheme)
    if not hmac.compare_digest(expected, row.key_hash):
        raise AuthError(f"wrong secret for API key {key_id!r}")
    if row.revoked_at is not None:
        raise AuthError(f"API key {key_id!r} was revoked at {row.revoked_at}")
    return _row_to_key(row)


class KeyVerifier:
    """Verifies tokens against the store, with a short positive cache and a budget on
    the scrypt work spent on tokens not in the cache.

    Thread-safe. The cache is keyed by a SHA-256 of the token (the token itself is not
    kept), bounded to ``max_cached`` entries.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        cache_ttl_s: float = 30.0,
        max_cached: int = 1024,
        verify_rate_per_s: float = 20.0,
        verify_burst: int = 20,
    ) -> None:
        self.engine = engine
        self.cache_ttl_s = cache_ttl_s
        self.max_cached = max_cached
        self._cache: dict[bytes, tuple[ApiKey, float]] = {}
        self._lock = threading.Lock()
        self._budget = TokenBucket(verify_rate_per_s, verify_burst)

    def verify(self, token: str) -> ApiKey:
        """The active key of ``token``.

        Raises:
            AuthError: the token is not a valid active key.
            LimitError: too many unverified tokens arrived at once (retry later).
        """
        digest = hashlib.sha256(token.encode()).digest()
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(digest)
        if hit is not None and hit[1] > now:
            return hit[0]
        parse_token(token)  # malformed tokens cost nothing
        wait = self._budget.try_acquire()
        if wait > 0:
            raise LimitError("too many API key verifications at once", retry_after_s=wait)
        key = verify_token(self.engine, token)
        with self._lock:
            if len(self._cache) >= self.max_cached:
                self._cache = {d: v for d, v in self._cache.items() if v[1] > now}
                if len(self._cache) >= self.max_cached:
                    self._cache.clear()
            self._cache[digest] = (key, now + self.cache_ttl_s)
        return key

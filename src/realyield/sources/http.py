"""A careful HTTP client for public APIs: timeouts, retries by error class, rate limits.

Why: public yield and price APIs throttle hard (CoinGecko's free tier answers 429 within
a few calls) and fail transiently. Retrying everything hammers a broken source;
retrying nothing makes every refresh fragile. So errors are classified:

* temporary (retried with exponential backoff): timeouts, connection errors, HTTP 429
  (honouring ``Retry-After``) and 5xx;
* permanent (raised at once): other 4xx, undecodable JSON.

A token bucket spaces requests and halves its rate on every 429 (recovering slowly on
success). A circuit breaker per source skips a source that failed repeatedly for a
cool-down period instead of waiting on it again and again.

Every httpx error is translated into ``realyield.core.errors`` here.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
)

from realyield.core import clock
from realyield.core.errors import (
    CircuitOpenError,
    SourceError,
    SourceUnavailableError,
    TemporarySourceError,
)
from realyield.core.retry import stop_policy

Sleep = Callable[[float], None]
Monotonic = Callable[[], float]


class TokenBucket:
    """Token-bucket rate limiter that slows down when the server says 429.

    ``rate_per_s`` tokens are added per second up to ``burst``; each request takes one.
    ``penalize()`` halves the rate (down to ``min_rate_per_s``); ``reward()`` grows it
    back by 10% toward the configured rate after each success.
    """

    def __init__(
        self,
        rate_per_s: float,
        burst: int,
        *,
        min_rate_per_s: float = 0.05,
        monotonic: Monotonic = time.monotonic,
        sleep: Sleep = time.sleep,
    ) -> None:
        if rate_per_s <= 0 or burst < 1:
            raise ValueError("rate_per_s must be > 0 and burst >= 1")
        self.max_rate_per_s = rate_per_s
        self.rate_per_s = rate_per_s
        self.min_rate_per_s = min(min_rate_per_s, rate_per_s)
        self.burst = burst
        self._tokens = float(burst)
        self._monotonic = monotonic
        self._sleep = sleep
        self._last = monotonic()
        self._lock = threading.Lock()

    def _refill(self) -> None:
        now = self._monotonic()
        self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate_per_s)
        self._last = now

    def try_acquire(self) -> float:
        """Take one token if there is one and return 0; else take nothing and return the
        seconds until one is available (for servers answering 429 + Retry-After)."""
        with self._lock:
            self._refill()
            if self._tokens >= 1.0:
                self._tokens -= 1.0
                return 0.0
            return (1.0 - self._tokens) / self.rate_per_s

    def acquire(self) -> float:
        """Take one token, sleeping until one is available. Returns seconds slept."""
        slept = 0.0
        with self._lock:
            self._refill()
            while self._tokens < 1.0:
                wait = (1.0 - self._tokens) / self.rate_per_s
                self._sleep(wait)
                slept += wait
                self._refill()
            self._tokens -= 1.0
        return slept

    def penalize(self) -> None:
        """Halve the rate after an HTTP 429 and drop the saved-up burst."""
        with self._lock:
            self.rate_per_s = max(self.min_rate_per_s, self.rate_per_s / 2)
            self._tokens = min(self._tokens, 0.0)

    def reward(self) -> None:
        """Recover 10% of the rate after a success, up to the configured maximum."""
        with self._lock:
            self.rate_per_s = min(self.max_rate_per_s, self.rate_per_s * 1.1)


@dataclass
class CircuitBreaker:
    """Skip a source after ``threshold`` consecutive failures, for ``cooldown_s`` seconds.

    After the cool-down one trial call is let through (half-open); success closes the
    circuit, failure opens it again.
    """

    threshold: int = 3
    cooldown_s: float = 300.0
    monotonic: Monotonic = time.monotonic
    failures: int = 0
    opened_at: float | None = None

    @property
    def is_open(self) -> bool:
        if self.opened_at is None:
            return False
        return self.monotonic() - self.opened_at < self.cooldown_s

    def check(self, source: str) -> None:
        """Raise ``CircuitOpenError`` while the circuit is open."""
        if self.is_open:
            assert self.opened_at is not None
            left = self.cooldown_s - (self.monotonic() - self.opened_at)
            raise CircuitOpenError(
                f"{source}: skipped for another {left:.0f}s after {self.failures} consecutive "
                "failures (circuit breaker); the last stored data stays in use",
                source=source,
            )

    def record_success(self) -> None:
        self.failures = 0
        self.opened_at = None

    def record_failure(self) -> None:
        self.failures += 1
        if self.failures >= self.threshold:
            self.opened_at = self.monotonic()


def _retry_after_seconds(value: str | None) -> float | None:
    """Parse a Retry-After header (seconds or an HTTP date) into seconds from now."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - clock.now()).total_seconds())


@dataclass
class HttpSource:
    """JSON-over-HTTP access to one public API, with all the protections above.

    Args:
        name: short source name used in errors ("defillama", "coingecko").
        base_url: API root; paths passed to ``get_json`` are relative to it.
        client: an ``httpx.Client`` (injected in tests; a transport can be mocked).
    """

    name: str
    base_url: str
    timeout_s: float = 20.0
    max_attempts: int = 4
    backoff_base_s: float = 1.0
    backoff_max_s: float = 30.0
    bucket: TokenBucket = field(default_factory=lambda: TokenBucket(2.0, 4))
    breaker: CircuitBreaker = field(default_factory=CircuitBreaker)
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    client: httpx.Client | None = None
    sleep: Sleep = time.sleep
    calls: int = 0

    def __post_init__(self) -> None:
        if self.client is None:
            self.client = httpx.Client(
                timeout=httpx.Timeout(self.timeout_s),
                headers={"User-Agent": "realyield/0.1"},
                follow_redirects=True,
            )

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        attempt = int(state.attempt_number)
        backoff = float(min(self.backoff_max_s, self.backoff_base_s * 2 ** (attempt - 1)))
        if isinstance(exc, TemporarySourceError) and exc.retry_after_s is not None:
            return float(min(self.backoff_max_s * 4, max(backoff, exc.retry_after_s)))
        return backoff

    def get_json(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        """GET ``base_url + path`` and decode JSON, retrying temporary failures.

        Raises:
            CircuitOpenError: the source failed repeatedly and is being skipped.
            SourceUnavailableError: the host cannot be reached (offline?) after retries.
            TemporarySourceError: timeouts, 429 or 5xx persisted through all attempts.
            SourceError: a permanent failure (4xx, invalid JSON).
        """
        self.breaker.check(self.name)
        retrying = Retrying(
            stop=stop_policy(self.max_attempts),
            retry=retry_if_exception_type(TemporarySourceError),
            wait=self._wait,
            sleep=self.sleep,
            reraise=True,
        )
        try:
            result = retrying(self._get_once, path, params)
        except TemporarySourceError:
            self.breaker.record_failure()
            raise
        self.breaker.record_success()
        return result

    def _get_once(self, path: str, params: Mapping[str, Any] | None) -> Any:
        assert self.client is not None
        url = self.base_url.rstrip("/") + "/" + path.lstrip("/")
        self.bucket.acquire()
        self.calls += 1
        try:
            response = self.client.get(url, params=params, headers=dict(self.headers))
        except httpx.TimeoutException as exc:
            raise TemporarySourceError(
                f"{self.name}: timed out after {self.timeout_s}s on {path}", source=self.name
            ) from exc
        except (httpx.ConnectError, httpx.NetworkError) as exc:
            raise SourceUnavailableError(
                f"{self.name}: cannot reach {self.base_url} ({type(exc).__name__}); "
                "check the network connection or use the stored data / bundled snapshot",
                source=self.name,
            ) from exc
        except httpx.HTTPError as exc:
            raise SourceError(
                f"{self.name}: HTTP error on {path}: {exc}", source=self.name
            ) from exc
        status = response.status_code
        if status == 429:
            self.bucket.penalize()
            raise TemporarySourceError(
                f"{self.name}: rate limited (HTTP 429) on {path}; slowing down",
                source=self.name,
                status=status,
                retry_after_s=_retry_after_seconds(response.headers.get("Retry-After")),
            )
        if status >= 500:
            raise TemporarySourceError(
                f"{self.name}: server error HTTP {status} on {path}",
                source=self.name,
                status=status,
            )
        if status >= 400:
            raise SourceError(
                f"{self.name}: HTTP {status} on {path}: {response.text[:200]!r}; "
                "this is not retried (check the id or parameters)",
                source=self.name,
                status=status,
            )
        self.bucket.reward()
        try:
            return response.json()
        except ValueError as exc:
            raise SourceError(
                f"{self.name}: {path} did not return valid JSON (first bytes: "
                f"{response.content[:80]!r})",
                source=self.name,
                status=status,
            ) from exc

    def close(self) -> None:
        if self.client is not None:
            self.client.close()

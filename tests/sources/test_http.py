"""Retries by error class, rate limiting and the circuit breaker (sleep patched out)."""

from __future__ import annotations

import httpx
import pytest
import respx

from realyield.core.errors import (
    CircuitOpenError,
    SourceError,
    SourceUnavailableError,
    TemporarySourceError,
)
from realyield.sources.http import CircuitBreaker, HttpSource, TokenBucket

BASE = "https://api.example.test"


class FakeTime:
    """A monotonic clock whose sleep just advances it, recording each sleep."""

    def __init__(self) -> None:
        self.t = 0.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.t += seconds


def make_source(fake: FakeTime, *, attempts: int = 4, threshold: int = 3) -> HttpSource:
    return HttpSource(
        name="example",
        base_url=BASE,
        max_attempts=attempts,
        backoff_base_s=1.0,
        backoff_max_s=30.0,
        bucket=TokenBucket(1000.0, 100, monotonic=fake.monotonic, sleep=fake.sleep),
        breaker=CircuitBreaker(threshold, 60.0, monotonic=fake.monotonic),
        client=httpx.Client(),
        sleep=fake.sleep,
    )


@respx.mock
def test_5xx_is_retried_with_exponential_backoff_then_succeeds() -> None:
    fake = FakeTime()
    route = respx.get(f"{BASE}/pools").mock(
        side_effect=[httpx.Response(503), httpx.Response(502), httpx.Response(200, json={"ok": 1})]
    )
    assert make_source(fake).get_json("/pools") == {"ok": 1}
    assert route.call_count == 3
    assert fake.sleeps == [1.0, 2.0]


@respx.mock
def test_5xx_exhausts_attempts_and_raises_temporary() -> None:
    fake = FakeTime()
    route = respx.get(f"{BASE}/pools").mock(return_value=httpx.Response(500))
    with pytest.raises(TemporarySourceError, match="HTTP 500"):
        make_source(fake, attempts=4).get_json("/pools")
    assert route.call_count == 4
    assert fake.sleeps == [1.0, 2.0, 4.0]


@respx.mock
def test_4xx_is_permanent_and_not_retried() -> None:
    fake = FakeTime()
    route = respx.get(f"{BASE}/chart/nope").mock(return_value=httpx.Response(404, text="nf"))
    with pytest.raises(SourceError, match="HTTP 404") as info:
        make_source(fake).get_json("/chart/nope")
    assert not isinstance(info.value, TemporarySourceError)
    assert route.call_count == 1
    assert fake.sleeps == []


@respx.mock
def test_timeout_is_retried() -> None:
    fake = FakeTime()
    route = respx.get(f"{BASE}/pools").mock(
        side_effect=[httpx.ReadTimeout("slow"), httpx.Response(200, json=[1])]
    )
    assert make_source(fake).get_json("/pools") == [1]
    assert route.call_count == 2


@respx.mock
def test_connect_error_becomes_source_unavailable_after_retries() -> None:
    fake = FakeTime()
    route = respx.get(f"{BASE}/pools").mock(side_effect=httpx.ConnectError("no route"))
    with pytest.raises(SourceUnavailableError, match="cannot reach"):
        make_source(fake, attempts=5).get_json("/pools")
    assert route.call_count == 2  # unreachable: tried twice, not five times
    assert fake.sleeps == [1.0]


@respx.mock
def test_invalid_json_is_permanent() -> None:
    fake = FakeTime()
    route = respx.get(f"{BASE}/pools").mock(return_value=httpx.Response(200, text="<html>"))
    with pytest.raises(SourceError, match="valid JSON"):
        make_source(fake).get_json("/pools")
    assert route.call_count == 1


@respx.mock
def test_429_honours_retry_after_and_halves_the_rate() -> None:
    fake = FakeTime()
    source = make_source(fake)
    respx.get(f"{BASE}/pools").mock(
        side_effect=[
            httpx.Response(429, headers={"Retry-After": "7"}),
            httpx.Response(200, json={}),
        ]
    )
    assert source.get_json("/pools") == {}
    assert 7.0 in fake.sleeps  # waited as told, not the 1 s backoff
    # halved once by the 429, then recovered 10% by the success
    assert source.bucket.rate_per_s == pytest.approx(1000.0 / 2 * 1.1)


def test_token_bucket_spaces_requests_after_the_burst() -> None:
    fake = FakeTime()
    bucket = TokenBucket(2.0, 3, monotonic=fake.monotonic, sleep=fake.sleep)
    for _ in range(3):
        assert bucket.acquire() == 0.0  # the burst passes at once
    waits = [bucket.acquire() for _ in range(4)]
    assert waits == pytest.approx([0.5, 0.5, 0.5, 0.5])  # then 2 per second
    bucket.penalize()
    assert bucket.rate_per_s == 1.0
    assert bucket.acquire() == pytest.approx(1.0)
    for _ in range(20):
        bucket.reward()
    assert bucket.rate_per_s == 2.0  # never above the configured rate


@respx.mock
def test_circuit_breaker_skips_a_failing_source_then_half_opens() -> None:
    fake = FakeTime()
    source = make_source(fake, attempts=1, threshold=2)
    route = respx.get(f"{BASE}/pools").mock(return_value=httpx.Response(503))
    for _ in range(2):
        with pytest.raises(TemporarySourceError):
            source.get_json("/pools")
    assert route.call_count == 2
    with pytest.raises(CircuitOpenError, match="circuit breaker"):
        source.get_json("/pools")
    assert route.call_count == 2  # skipped without a request
    fake.t += 61.0  # cool-down over: one trial call goes through
    route.mock(return_value=httpx.Response(200, json={"back": True}))
    assert source.get_json("/pools") == {"back": True}
    assert source.breaker.failures == 0 and not source.breaker.is_open


@respx.mock
def test_permanent_errors_do_not_trip_the_breaker() -> None:
    fake = FakeTime()
    source = make_source(fake, attempts=1, threshold=2)
    route = respx.get(f"{BASE}/chart/x").mock(return_value=httpx.Response(404))
    for _ in range(4):
        with pytest.raises(SourceError):
            source.get_json("/chart/x")
    assert route.call_count == 4  # a bad id is the caller's problem, not the source's
    assert not source.breaker.is_open

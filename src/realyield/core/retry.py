"""Retry policy shared by every network boundary (HTTP sources, exchanges).

Why one place: "retry only temporary failures, with backoff, and give up quickly on a
host that cannot be reached at all" must mean the same thing for DeFiLlama, CoinGecko
and every exchange.
"""

from __future__ import annotations

from tenacity import RetryCallState, stop_after_attempt
from tenacity.stop import stop_base

from realyield.core.errors import SourceUnavailableError

#: A host that cannot be reached at all is tried this many times, not ``max_attempts``:
#: offline, every further attempt is only a longer wait before the same answer.
UNREACHABLE_ATTEMPTS = 2


class _StopWhenUnreachable(stop_base):
    def __call__(self, retry_state: RetryCallState) -> bool:
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        return (
            isinstance(exc, SourceUnavailableError)
            and retry_state.attempt_number >= UNREACHABLE_ATTEMPTS
        )


def stop_policy(max_attempts: int) -> stop_base:
    """Stop after ``max_attempts``, or after ``UNREACHABLE_ATTEMPTS`` when unreachable."""
    return stop_after_attempt(max_attempts) | _StopWhenUnreachable()

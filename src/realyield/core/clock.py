"""Injectable "now": every piece of code asks this module for the time so tests can fix it.

Always timezone-aware UTC. ``freeze`` is a context manager for tests and for replaying
a computation "as of" a past moment.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import UTC, date, datetime

_frozen: datetime | None = None


def now() -> datetime:
    """The current time, UTC and timezone-aware (or the frozen time inside ``freeze``)."""
    return _frozen if _frozen is not None else datetime.now(UTC)


def today() -> date:
    """The current UTC calendar date."""
    return now().date()


@contextlib.contextmanager
def freeze(at: datetime) -> Iterator[datetime]:
    """Fix ``now()`` to ``at`` (must be timezone-aware) for the duration of the block.

    Raises:
        ValueError: if ``at`` is naive, since a naive time has no defined UTC instant.
    """
    global _frozen
    if at.tzinfo is None:
        raise ValueError(f"clock.freeze needs a timezone-aware datetime, got naive {at!r}")
    previous = _frozen
    _frozen = at.astimezone(UTC)
    try:
        yield _frozen
    finally:
        _frozen = previous

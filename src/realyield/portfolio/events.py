"""Ledger events: what happened to the user's holdings, one validated record each.

Why one record for every kind: imports, exports, storage and the lot engine then share
one shape. An event moves ``amount`` of ``asset``; what that means depends on ``kind``:

=================  =====================================================================
kind               meaning (``asset``/``amount`` and, for swaps, ``counter_*``)
=================  =====================================================================
deposit            ``asset`` enters the tracked holdings (a lot at its value)
withdrawal         ``asset`` leaves the tracked holdings (lots leave with it, no gain)
trade              ``asset`` received, ``counter_asset`` given (a disposal + a lot)
stake / unstake    ``asset`` moved into / out of staking: not taxable, lots stay
staking_reward     income received in ``asset`` (a lot at fair-market value)
lending_interest   income received in ``asset``
lp_fee             income received in ``asset``
airdrop            income received in ``asset``
income             other income received in ``asset`` (mining, payments; from imports)
lp_add             LP token ``asset`` received for ``counter_asset`` put into the pool
lp_remove          ``asset`` taken out of a pool for the LP token ``counter_asset``
gas_fee            ``asset`` paid as a network fee (the fee convention applies)
=================  =====================================================================

Every event has a UTC time, a positive Decimal amount, the fair-market ``value`` in
``fiat`` (with where the price came from, its date and age, and a ``warning`` when it
is old or missing), the ``opportunity`` it came from, and an idempotency ``key`` unique
within its ``(source, account)``. ``reverses`` marks a correction that cancels an
earlier event (by its store sequence number).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, Final

from realyield.core.errors import RecordError

KINDS: Final = (
    "deposit",
    "withdrawal",
    "trade",
    "stake",
    "unstake",
    "staking_reward",
    "lending_interest",
    "lp_fee",
    "lp_add",
    "lp_remove",
    "airdrop",
    "income",
    "gas_fee",
)
INCOME_KINDS: Final = frozenset(
    {"staking_reward", "lending_interest", "lp_fee", "airdrop", "income"}
)
SWAP_KINDS: Final = frozenset({"trade", "lp_add", "lp_remove"})
MOVE_KINDS: Final = frozenset({"stake", "unstake"})
FIATS: Final = frozenset({"USD", "EUR", "GBP", "CHF", "CAD", "AUD", "JPY", "NZD", "SGD"})
_KIND_SET: Final = frozenset(KINDS)
_FIAT_CODE = re.compile(r"^[A-Z]{3}$")
_TIME_FORMAT: Final = "%Y-%m-%dT%H:%M:%S.%fZ"


def is_fiat(symbol: str | None) -> bool:
    """Whether ``symbol`` is a fiat currency (its value is its amount in that fiat)."""
    return symbol is not None and symbol.upper() in FIATS


def format_time(when: datetime) -> str:
    """Fixed-width ISO 8601 UTC text (sorts as text the way times sort)."""
    return when.astimezone(UTC).strftime(_TIME_FORMAT)


def parse_time(text: str) -> datetime:
    """The inverse of ``format_time`` (also accepts any ISO 8601 with an offset)."""
    return datetime.fromisoformat(text).astimezone(UTC)


def dec_text(value: Decimal) -> str:
    """Exact plain text of a Decimal: no exponent, no trailing zeros (``3E+4`` -> 30000)."""
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def content_key(*parts: object) -> str:
    """A stable idempotency key from an event's economic fields (sha256, 32 hex chars).

    Used when a source gives no id: the same row imported twice gets the same key, so
    it is stored once. Two rows identical in every economic field are one event.
    Decimals enter in their plain form, so ``1.50`` and ``1.5`` (a spreadsheet that
    dropped a zero) give the same key.
    """
    text = "\x1f".join(
        "" if p is None else dec_text(p) if isinstance(p, Decimal) else str(p) for p in parts
    )
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def _fail(key: str, field: str, value: Any, problem: str) -> RecordError:
    return RecordError(f"LedgerEvent[{key!r}]", field, value, problem)


def _symbol(key: str, field: str, value: Any) -> None:
    if not isinstance(value, str) or not value.strip() or len(value) > 64:
        raise _fail(key, field, value, "give an asset symbol (1-64 characters)")


def _positive(key: str, field: str, value: Any, *, zero_ok: bool = False) -> None:
    if not isinstance(value, Decimal) or not value.is_finite():
        raise _fail(key, field, value, "must be a finite Decimal")
    if value < 0 or (value == 0 and not zero_ok):
        raise _fail(key, field, value, "must be >= 0" if zero_ok else "must be > 0")


@dataclass(frozen=True, slots=True)
class LedgerEvent:
    """One event of the ledger (see the module docstring for what each kind means).

    Raises:
        RecordError: unknown kind; naive time; amount not a positive Decimal; a swap
            without its counter leg or another kind with one; a fee without its asset
            (or the reverse); a negative value; an empty key, source or account; a
            fiat that is not a 3-letter code.
    """

    kind: str
    time: datetime
    asset: str
    amount: Decimal
    key: str
    source: str = "manual"
    account: str = "default"
    counter_asset: str | None = None
    counter_amount: Decimal | None = None
    fee_asset: str | None = None
    fee_amount: Decimal | None = None
    value: Decimal | None = None
    fee_value: Decimal | None = None
    fiat: str = "USD"
    price_source: str | None = None
    price_date: date | None = None
    price_age_s: int | None = None
    warning: str | None = None
    opportunity: str | None = None
    note: str | None = None
    asset_id: str | None = None
    counter_asset_id: str | None = None
    fee_asset_id: str | None = None
    reverses: int | None = None
    seq: int | None = None
    import_id: int | None = None

    def __post_init__(self) -> None:
        key = self.key
        if not isinstance(key, str) or not key.strip() or len(key) > 255:
            raise _fail(str(key), "key", key, "give a non-empty idempotency key (<= 255 chars)")
        if self.kind not in _KIND_SET:
            raise _fail(key, "kind", self.kind, f"unknown kind; use one of {', '.join(KINDS)}")
        if not isinstance(self.time, datetime) or self.time.tzinfo is None:
            raise _fail(key, "time", self.time, "must be a timezone-aware datetime (UTC)")
        if self.time.utcoffset():
            object.__setattr__(self, "time", self.time.astimezone(UTC))
        _symbol(key, "asset", self.asset)
        _positive(key, "amount", self.amount)
        for name, limit in (("source", 64), ("account", 128)):
            value = getattr(self, name)
            if not isinstance(value, str) or not value.strip() or len(value) > limit:
                raise _fail(key, name, value, f"give a non-empty name (<= {limit} chars)")
        if self.kind in SWAP_KINDS:
            _symbol(key, "counter_asset", self.counter_asset)
            _positive(key, "counter_amount", self.counter_amount)
            if self.counter_asset == self.asset:
                raise _fail(key, "counter_asset", self.counter_asset, "same as asset")
        elif self.counter_asset is not None or self.counter_amount is not None:
            raise _fail(
                key, "counter_asset", self.counter_asset, f"only swaps have one, not {self.kind}"
            )
        if (self.fee_asset is None) != (self.fee_amount is None):
            raise _fail(key, "fee_asset", self.fee_asset, "give both fee amount and asset")
        if self.fee_asset is not None:
            _symbol(key, "fee_asset", self.fee_asset)
            _positive(key, "fee_amount", self.fee_amount, zero_ok=True)
        for name in ("value", "fee_value"):
            if getattr(self, name) is not None:
                _positive(key, name, getattr(self, name), zero_ok=True)
        if not isinstance(self.fiat, str) or not _FIAT_CODE.match(self.fiat):
            raise _fail(key, "fiat", self.fiat, "give a 3-letter upper-case code like USD")

    @property
    def income(self) -> bool:
        """Whether the event is income (taxed at its fair-market value when received)."""
        return self.kind in INCOME_KINDS

    @property
    def year(self) -> int:
        """The tax year (calendar year, UTC)."""
        return self.time.year

    def with_value(self, **changes: Any) -> LedgerEvent:
        """A copy with valuation fields (or any others) changed, validated again."""
        return replace(self, **changes)

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-ready fields: Decimals as exact strings, times as ISO UTC text."""

        def dec(value: Decimal | None) -> str | None:
            return None if value is None else dec_text(value)

        return {
            "seq": self.seq,
            "kind": self.kind,
            "time": format_time(self.time),
            "asset": self.asset,
            "asset_id": self.asset_id,
            "amount": dec(self.amount),
            "counter_asset": self.counter_asset,
            "counter_asset_id": self.counter_asset_id,
            "counter_amount": dec(self.counter_amount),
            "fee_asset": self.fee_asset,
            "fee_asset_id": self.fee_asset_id,
            "fee_amount": dec(self.fee_amount),
            "value": dec(self.value),
            "fee_value": dec(self.fee_value),
            "fiat": self.fiat,
            "price_source": self.price_source,
            "price_date": None if self.price_date is None else self.price_date.isoformat(),
            "price_age_s": self.price_age_s,
            "warning": self.warning,
            "opportunity": self.opportunity,
            "note": self.note,
            "source": self.source,
            "account": self.account,
            "key": self.key,
            "reverses": self.reverses,
            "import_id": self.import_id,
        }

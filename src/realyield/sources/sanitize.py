"""Ingestion guards shared by every source and importer.

Public feeds are messy: numbers arrive as strings, ``NaN``/``Infinity`` appear in JSON,
APYs go negative for a day, a broken adapter reports a trillion-dollar pool. These
helpers turn raw values into clean Python values through ``core.parsing`` (the one
parser every importer uses) or a ``GuardError`` with a reason code,
and ``IngestReport`` counts every rejection and every repair by reason so a refresh or
an import can say exactly what it dropped and why.
"""

from __future__ import annotations

import ast
import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from realyield.core.errors import FieldError
from realyield.core.parsing import Bounds, check_text, parse_float

MISSING_TOKENS = frozenset(
    {
        "",
        "nan",
        "none",
        "null",
        "na",
        "n/a",
        "-",
        "inf",
        "-inf",
        "+inf",
        "infinity",
        "-infinity",
        "+infinity",
    }
)
TRUE_TOKENS = frozenset({"true", "t", "yes", "y", "1"})
FALSE_TOKENS = frozenset({"false", "f", "no", "n", "0"})
MAX_PROBLEMS_KEPT = 1000


class GuardError(ValueError):
    """A raw value failed a guard; ``reason`` is a short stable code for counting."""

    def __init__(self, reason: str, detail: str) -> None:
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason}: {detail}")


def to_number(
    raw: Any,
    field_name: str,
    *,
    decimal_comma: bool = False,
    bounds: Bounds | None = None,
) -> float | None:
    """A finite float through ``core.parsing.parse_float``; None for missing values.

    Missing means blank, NaN, +/-Infinity and the words null/none/n/a/- (public JSON
    feeds send them for "no value"). Thousands separators and decimal commas are refused
    unless ``decimal_comma`` (see ``core.parsing``).

    Raises:
        GuardError: with the parser's reason code (``not_a_number``, ``decimal_comma``,
            ``thousands_separator``, ``implausible_<bound>`` ...) and its message.
    """
    try:
        return parse_float(
            raw, column=field_name, decimal_comma=decimal_comma, bounds=bounds, nan_is_missing=True
        )
    except FieldError as exc:
        raise GuardError(exc.code, str(exc)) from None


def to_bool(raw: Any, field_name: str) -> bool | None:
    """True/False from booleans, 0/1 and the usual words; None when missing.

    Raises:
        GuardError: ``not_a_boolean`` for any other value.
    """
    if raw is None:
        return None
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, (int, float)) and raw in (0, 1):
        return bool(raw)
    text = str(raw).strip().lower()
    if text in MISSING_TOKENS:
        return None
    if text in TRUE_TOKENS:
        return True
    if text in FALSE_TOKENS:
        return False
    raise GuardError("not_a_boolean", f"{field_name}={raw!r} is not true/false")


def to_text(raw: Any, field_name: str = "text", *, max_len: int = 512) -> str | None:
    """Stripped text, or None when missing/blank (``core.parsing.check_text``).

    Raises:
        GuardError: ``control_character`` (a NUL, an escape, a bidi override) or
            ``text_too_long`` (over ``max_len`` characters).
    """
    try:
        return check_text(raw, column=field_name, max_len=max_len)
    except FieldError as exc:
        raise GuardError(exc.code, str(exc)) from None


def guard_error(exc: FieldError) -> GuardError:
    """A parser's ``FieldError`` as the ``GuardError`` importers count by reason."""
    return GuardError(exc.code, str(exc))


def to_list(raw: Any, field_name: str) -> tuple[str, ...]:
    """A tuple of strings from a list, a JSON list string, or a separated string.

    Raises:
        GuardError: ``bad_list`` when a bracketed string does not parse; what
            ``to_text`` raises for an item (control characters, over-long items).
    """
    if raw is None:
        return ()
    if isinstance(raw, (list, tuple)):
        items: Any = raw
    else:
        text = str(raw).strip()
        if text.lower() in MISSING_TOKENS or text == "[]":
            return ()
        if text.startswith("["):
            items = parse_structured(text, field_name)
            if not isinstance(items, list):
                raise GuardError("bad_list", f"{field_name}={text[:60]!r} is not a list")
        else:
            items = text.split(";" if ";" in text else ",")
    return tuple(t for x in items if (t := to_text(x, field_name)) is not None)


def parse_structured(text: str, field_name: str) -> Any:
    """Parse a JSON value, falling back to a Python literal (CSV dumps often hold repr()).

    ``ast.literal_eval`` only evaluates literals, never code.

    Raises:
        GuardError: ``bad_structure`` when neither parses.
    """
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        pass
    try:
        return ast.literal_eval(text)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        raise GuardError("bad_structure", f"{field_name}={text[:60]!r} is not JSON") from None


@dataclass(frozen=True, slots=True)
class RowProblem:
    """Where a row went wrong (row number is 1-based, counting the header as row 1)."""

    where: str
    reason: str
    detail: str


@dataclass
class IngestReport:
    """What a fetch or import accepted, repaired and rejected, counted by reason."""

    source: str
    rows_seen: int = 0
    accepted: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    repaired: Counter[str] = field(default_factory=Counter)
    stale: int = 0
    duplicates: int = 0
    problems: list[RowProblem] = field(default_factory=list)

    @property
    def rejected_total(self) -> int:
        return sum(self.rejected.values())

    def reject(self, where: str, reason: str, detail: str) -> None:
        self.rejected[reason] += 1
        if len(self.problems) < MAX_PROBLEMS_KEPT:
            self.problems.append(RowProblem(where, reason, detail))

    def repair(self, reason: str, count: int = 1) -> None:
        self.repaired[reason] += count

    def merge(self, other: IngestReport) -> None:
        """Add another report's counts into this one (for multi-file imports)."""
        self.rows_seen += other.rows_seen
        self.accepted += other.accepted
        self.rejected.update(other.rejected)
        self.repaired.update(other.repaired)
        self.stale += other.stale
        self.duplicates += other.duplicates
        room = MAX_PROBLEMS_KEPT - len(self.problems)
        self.problems.extend(other.problems[: max(room, 0)])

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "rows_seen": self.rows_seen,
            "accepted": self.accepted,
            "rejected": dict(self.rejected),
            "rejected_total": self.rejected_total,
            "repaired": dict(self.repaired),
            "stale": self.stale,
            "duplicates": self.duplicates,
            "problems": [
                {"where": p.where, "reason": p.reason, "detail": p.detail}
                for p in self.problems[:50]
            ],
        }


def clip_negative(value: float | None, name: str, report: IngestReport) -> float | None:
    """Clip a negative APY to 0 (as DeFiLlama's ingestion does), counting the repair."""
    if value is not None and value < 0:
        report.repair(f"negative_{name}_clipped")
        return 0.0
    return value

"""Ingestion guards shared by every source and importer.

Public feeds are messy: numbers arrive as strings, ``NaN``/``Infinity`` appear in JSON,
APYs go negative for a day, a broken adapter reports a trillion-dollar pool. These
helpers turn raw values into clean Python values or a ``GuardError`` with a reason code,
and ``IngestReport`` counts every rejection and every repair by reason so a refresh or
an import can say exactly what it dropped and why.
"""

from __future__ import annotations

import ast
import json
import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

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


def to_number(raw: Any, field_name: str) -> float | None:
    """A finite float, or None for missing, NaN and +/-Infinity.

    Accepts numbers and numeric strings (``"1.5"``, ``" 2e3 "``, ``"1,234.5"``).

    Raises:
        GuardError: ``not_a_number`` for anything else (e.g. ``"abc"``, a list).
    """
    if raw is None:
        return None
    if isinstance(raw, bool):
        raise GuardError("not_a_number", f"{field_name}={raw!r} is a boolean, not a number")
    if isinstance(raw, (int, float)):
        value = float(raw)
    elif isinstance(raw, str):
        text = raw.strip()
        if text.lower() in MISSING_TOKENS:
            return None
        try:
            value = float(text.replace(",", "") if text.count(",") and "." in text else text)
        except ValueError:
            raise GuardError("not_a_number", f"{field_name}={raw!r} is not a number") from None
    else:
        raise GuardError("not_a_number", f"{field_name}={raw!r} is not a number")
    return value if math.isfinite(value) else None


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


def to_text(raw: Any) -> str | None:
    """Stripped text, or None when missing/blank."""
    if raw is None:
        return None
    if isinstance(raw, float) and not math.isfinite(raw):
        return None
    text = str(raw).strip()
    return text or None


def to_list(raw: Any, field_name: str) -> tuple[str, ...]:
    """A tuple of strings from a list, a JSON list string, or a separated string.

    Raises:
        GuardError: ``bad_list`` when a bracketed string does not parse.
    """
    if raw is None:
        return ()
    if isinstance(raw, (list, tuple)):
        return tuple(str(x) for x in raw if x is not None and str(x).strip())
    text = str(raw).strip()
    if text.lower() in MISSING_TOKENS or text == "[]":
        return ()
    if text.startswith("["):
        parsed = parse_structured(text, field_name)
        if not isinstance(parsed, list):
            raise GuardError("bad_list", f"{field_name}={raw!r} is not a list")
        return tuple(str(x) for x in parsed if x is not None)
    sep = ";" if ";" in text else ","
    return tuple(part.strip() for part in text.split(sep) if part.strip())


def parse_structured(text: str, field_name: str) -> Any:
    """Parse a JSON value, falling back to a Python literal (CSV dumps often hold repr()).

    ``ast.literal_eval`` only evaluates literals, never code.

    Raises:
        GuardError: ``bad_structure`` when neither parses.
    """
    try:
        return json.loads(text)
    except ValueError:
        pass
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
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

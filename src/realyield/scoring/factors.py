"""Scores that explain themselves: a score is the sum of its factors' effects.

Why: a user must be able to see *why* a pool scores 72 and not 40. Every factor keeps
its input value, its effect in points and a one-line explanation, and the total is
exactly the sum of the effects (no hidden clipping or rescaling): each factor's effect
is bounded so that the sum always lies in 0-100.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

SUSTAINABILITY_GRADES = ((80.0, "A"), (65.0, "B"), (50.0, "C"), (35.0, "D"))
RISK_GRADES = ((20.0, "A"), (35.0, "B"), (50.0, "C"), (65.0, "D"))


@dataclass(frozen=True, slots=True)
class Factor:
    """One reason behind a score: what went in, how many points it moved, and why."""

    name: str
    value: Any
    effect: float
    explanation: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "value": self.value,
            "effect": round(self.effect, 4),
            "explanation": self.explanation,
        }


@dataclass(frozen=True, slots=True)
class Score:
    """A 0-100 score, its letter grade and the factors whose effects sum to it."""

    kind: str  # "sustainability" (higher is better) or "risk" (higher is riskier)
    total: float
    grade: str
    factors: tuple[Factor, ...]

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "total": round(self.total, 4),
            "grade": self.grade,
            "factors": [f.as_dict() for f in self.factors],
        }


def sustainability_grade(total: float) -> str:
    """A (>= 80) to E (< 35): higher sustainability is better."""
    for floor, letter in SUSTAINABILITY_GRADES:
        if total >= floor:
            return letter
    return "E"


def risk_grade(total: float) -> str:
    """A (<= 20, lowest risk) to E (> 65)."""
    for ceiling, letter in RISK_GRADES:
        if total <= ceiling:
            return letter
    return "E"


def make_score(kind: str, factors: Sequence[Factor]) -> Score:
    """Total the factors (the sum of their effects) and grade it."""
    total = float(sum(f.effect for f in factors))
    grade = sustainability_grade(total) if kind == "sustainability" else risk_grade(total)
    return Score(kind, total, grade, tuple(factors))

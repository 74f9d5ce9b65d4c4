"""The gate a CLV model must pass before it may recommend a bet (pure).

A model earns the right to recommend only with out-of-sample evidence: walk-forward (grouped by game) skill
against no change, `1 - MSE / MSE(0)`, above 0 **and** the lower end of its 95 % bootstrap interval (games
resampled) above 0. With no walk-forward fold there is no evidence, so nothing is validated. The no-change
baseline never passes: it predicts no move, so it has nothing to recommend.

    >>> gate({"kind": "ols", "folds": 3, "skill_vs_no_change": 0.04, "skill_ci95": [0.01, 0.07]}).passed
    True
    >>> gate({"kind": "ols", "folds": 3, "skill_vs_no_change": 0.04, "skill_ci95": [-0.01, 0.07]}).reason
    '95 % interval of skill crosses 0 (-0.0100 to 0.0700)'

`choose_candidate` picks, among the kinds that pass, the one whose interval's lower end is highest (the most
certain improvement, not the lowest RMSE by any margin); when none passes it returns None: "no validated
model".
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["NO_VALIDATED_MODEL", "GateVerdict", "choose_candidate", "gate", "model_label"]

NO_VALIDATED_MODEL = "no validated model"


@dataclass(frozen=True)
class GateVerdict:
    """Whether a model may recommend, and why (one line)."""

    passed: bool
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {"passed": self.passed, "reason": self.reason}


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def gate(figures: Mapping[str, Any]) -> GateVerdict:
    """Judge one model's walk-forward figures: `kind`, `folds`, `skill_vs_no_change`, `skill_ci95`."""
    if figures.get("kind") == "no_change":
        return GateVerdict(False, "the no-change baseline predicts no move: nothing to recommend")
    folds = figures.get("folds") or 0
    if folds <= 0:
        return GateVerdict(False, "no walk-forward fold: no out-of-sample evidence")
    skill = _number(figures.get("skill_vs_no_change"))
    if skill is None:
        return GateVerdict(False, "no out-of-sample skill figure")
    ci = figures.get("skill_ci95") or [None, None]
    low, high = _number(ci[0]), _number(ci[1])
    if skill <= 0:
        return GateVerdict(False, f"skill vs no change {skill:.4f} is not above 0")
    if low is None or high is None:
        return GateVerdict(False, "no interval for the skill (too few games)")
    if low <= 0:
        return GateVerdict(False, f"95 % interval of skill crosses 0 ({low:.4f} to {high:.4f})")
    n = figures.get("n")
    return GateVerdict(
        True,
        f"skill {skill:.4f}, 95 % interval {low:.4f} to {high:.4f} above 0"
        + (f" (n={n}, {folds} folds)" if n is not None else f" ({folds} folds)"),
    )


def choose_candidate(by_kind: Mapping[str, Mapping[str, Any]]) -> str | None:
    """The kind to propose for promotion: among those passing the gate, the highest lower interval end."""
    passing = [
        (float(fig["skill_ci95"][0]), kind)
        for kind, fig in by_kind.items()
        if gate({"kind": kind, **fig}).passed
    ]
    if not passing:
        return None
    return max(passing)[1]


def model_label(info: Mapping[str, Any]) -> str:
    """One line naming a model: id, kind, data window, skill and its interval.

    `info`: id, kind, data_from, data_until, skill (or None), skill_ci95 ([low, high] or None).
    """

    def day(value: Any) -> str:
        return "?" if value is None else str(value)[:10]

    skill = _number(info.get("skill"))
    ci = info.get("skill_ci95") or [None, None]
    low, high = _number(ci[0]), _number(ci[1])
    figures = "skill -" if skill is None else f"skill {skill:+.4f}"
    if low is not None and high is not None:
        figures += f" [{low:+.4f}, {high:+.4f}]"
    return (
        f"model {info.get('id')} {info.get('kind')} (data {day(info.get('data_from'))} to "
        f"{day(info.get('data_until'))}, {figures})"
    )

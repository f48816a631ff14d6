"""The score a subspace fine-tune must reach, and whether the paper's definition means anything.

The paper's d90 threshold is ``ratio × full``. When the full fine-tune is weak,
that can fall below a constant predictor: on MRPC a small model's full fine-tune
at 0.738 gives 0.9 × 0.738 = 0.664, under the majority class's 0.684, so "d90"
would be reached by a model that learned nothing. Such a key is searched against
the relative threshold ``chance + ratio × (full − chance)`` instead, and its
result says so.
"""

from __future__ import annotations

from dataclasses import dataclass

PAPER_BELOW_CHANCE = "paper_threshold_below_chance"
BASELINE_AT_CHANCE = "baseline_not_above_chance"  # the full fine-tune learned nothing: no threshold means anything


@dataclass(frozen=True)
class Thresholds:
    """Both thresholds of one key, which one the search uses, and why (``flags``)."""

    baseline: float  # the full fine-tune's metric
    chance: float  # the trivial predictor's metric
    paper: float  # ratio × baseline
    relative: float  # chance + ratio × (baseline − chance)
    used: str  # "paper" or "relative": which of the two the search compares scores with
    flags: tuple[str, ...] = ()

    @property
    def value(self) -> float:
        return self.paper if self.used == "paper" else self.relative


def thresholds(baseline: float, chance: float, ratio: float, kind: str = "paper") -> Thresholds:
    """Both thresholds for one key; ``kind`` is the one asked for, overridden when the paper's is meaningless."""
    paper = ratio * baseline
    relative = chance + ratio * (baseline - chance)
    flags: tuple[str, ...] = ()
    used = kind
    if paper <= chance:
        flags = (PAPER_BELOW_CHANCE,)
        used = "relative"
    if baseline <= chance:
        flags += (BASELINE_AT_CHANCE,)
    return Thresholds(baseline=baseline, chance=chance, paper=paper, relative=relative, used=used, flags=flags)

"""Monotone fit of score against d: pool-adjacent-violators, and where it crosses a threshold.

The true score of a subspace fine-tune rises with d; measured scores do not,
because seeds are noisy. The isotonic (non-decreasing) least-squares fit pools
neighbouring d's whose scores are out of order, so every decision "does d reach
the threshold?" uses the evidence of its neighbours too, and the search can never
conclude that d fails while a smaller d passes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence


def isotonic_increasing(values: Sequence[float], weights: Sequence[float] | None = None) -> list[float]:
    """The weighted least-squares non-decreasing fit of ``values`` (ordered by d), by pool-adjacent-violators."""
    if weights is None:
        weights = [1.0] * len(values)
    if len(weights) != len(values):
        raise ValueError(f"got {len(weights)} weights for {len(values)} values")
    if any(w <= 0 for w in weights):
        raise ValueError(f"weights must be positive, got {list(weights)}")
    # Each block: [weighted mean, total weight, number of points]; merge while a block undercuts its left neighbour.
    blocks: list[list[float]] = []
    for value, weight in zip(values, weights):
        blocks.append([float(value), float(weight), 1])
        while len(blocks) > 1 and blocks[-2][0] > blocks[-1][0]:
            mean, weight_, count = blocks.pop()
            left = blocks[-1]
            total = left[1] + weight_
            left[0] = (left[0] * left[1] + mean * weight_) / total
            left[1] = total
            left[2] += count
    fit: list[float] = []
    for mean, _, count in blocks:
        fit.extend([mean] * int(count))
    return fit


def block_weights(fit: Sequence[float], weights: Sequence[float]) -> list[float]:
    """For each point, the total weight of the pooled block it belongs to: its fitted value's precision."""
    totals: list[float] = []
    start = 0
    for end in range(1, len(fit) + 1):
        if end == len(fit) or fit[end] != fit[start]:
            totals.extend([sum(weights[start:end])] * (end - start))
            start = end
    return totals


def log_crossing(d_lo: float, f_lo: float, d_hi: float, f_hi: float, threshold: float) -> float:
    """Where the fit crosses ``threshold`` between a failing ``d_lo`` and a passing ``d_hi``, linear in log d.

    Interpolating inside the final bracket gives a point estimate sharper than
    either end, which matters because the bracket's ends are noisy measurements.
    """
    if not (d_lo < d_hi and f_lo < threshold <= f_hi):
        raise ValueError(f"no crossing of {threshold} between ({d_lo}, {f_lo}) and ({d_hi}, {f_hi})")
    t = (threshold - f_lo) / (f_hi - f_lo)
    return math.exp(math.log(d_lo) + t * (math.log(d_hi) - math.log(d_lo)))

"""Monotone fit of score against d: pool-adjacent-violators.

The true score of a subspace fine-tune rises with d; measured scores do not,
because seeds are noisy. The isotonic (non-decreasing) least-squares fit pools
neighbouring d's whose scores are out of order, so every decision "does d reach
the threshold?" uses the evidence of its neighbours too, and the search can never
conclude that d fails while a smaller d passes.
"""

from __future__ import annotations

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

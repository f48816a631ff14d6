"""Where to put the next d's: grids of d, and k-section of the gaps left by what is known or running.

With k trials able to run at once, the fastest way to shrink a bracket is to cut
it into k + 1 equal parts in log d (k-section; bisection when k = 1). Trials
already running inside the bracket are cuts too, so new points go into the
widest remaining gaps and a key never proposes two trials the same answer.
"""

from __future__ import annotations

import math


def coarse_grid(d_min: int, d_max: int) -> list[int]:
    """``d_min × 2^i`` up to ``d_max``, which is always the last point: the bracketing grid."""
    grid = []
    d = d_min
    while d < d_max:
        grid.append(d)
        d *= 2
    return [*grid, d_max]


def log_grid(d_min: int, d_max: int, ratio: float) -> list[int]:
    """Integer d's from ``d_min`` to ``d_max``, each at most ``ratio`` times the one before (step 1 at small d)."""
    grid = [d_min]
    while grid[-1] < d_max:
        grid.append(min(max(grid[-1] + 1, math.floor(grid[-1] * ratio)), d_max))
    return grid


def split_gaps(edges: list[float], n: int, min_width: float) -> list[float]:
    """Up to ``n`` new positions between sorted ``edges``, making the widest sub-gap as narrow as possible.

    Positions go one by one into the gap whose sub-gaps would stay widest, and no
    gap is cut once its sub-gaps are no wider than ``min_width`` (the resolution
    asked for). With edges ``[lo, hi]`` this is k-section; returned in increasing order.
    """
    widths = [b - a for a, b in zip(edges, edges[1:])]
    cuts = [0] * len(widths)
    for _ in range(n):
        best = max(range(len(widths)), key=lambda i: widths[i] / (cuts[i] + 1), default=None)
        if best is None or widths[best] / (cuts[best] + 1) <= min_width:
            break
        cuts[best] += 1
    return [edges[i] + widths[i] * j / (cuts[i] + 1) for i in range(len(widths)) for j in range(1, cuts[i] + 1)]

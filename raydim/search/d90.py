"""The d90 strategy: bracket on a coarse log₂ grid, k-section the bracket in log d, confirm its ends.

With one trial at a time this is bisection in log d: from [10, 10⁵] to a bracket
with hi/lo <= 1.1 in about eight trials, where a uniform 1.1× grid needs ~100.
With k trials at once each round cuts the bracket into k + 1 parts.
"""

from __future__ import annotations

import math

import numpy as np

from raydim.search.confirm import extra_seeds, near_miss_lr
from raydim.search.fit import Fit, fit_outcome, fit_scores
from raydim.search.ksection import coarse_grid, split_gaps
from raydim.search.lr import carried_lr
from raydim.search.results import Outcome
from raydim.search.settings import SearchSettings
from raydim.search.trials import KeyHistory, Point


CONFIRM_RESERVE = 2  # trials the k-section leaves for another lr or seed at the bracket's ends (if it may add any)


class D90Search:
    """Given one key's history, the next d's to try: pure, so a restored search picks the same ones."""

    name = "d90"

    def __init__(self, settings: SearchSettings) -> None:
        self.settings = settings
        self.grid = coarse_grid(settings.d_min, settings.d_max)

    def next_trials(self, history: KeyHistory, threshold: float | None, n: int, key_id: str) -> list[Point]:
        """Up to ``n`` trials: another lr for a near miss first, then cuts of the bracket, then extra seeds.

        Cuts come from a plan for every slot of the round's k (see :meth:`_width`)
        not yet running, of which the first ``n`` are handed out: the cuts stay a
        true k-section even when slots free up one at a time.
        """
        s = self.settings
        lo: int | None = None
        hi: int | None = None
        extra_lr: list[Point] = []
        phase = "bracket"  # while the baseline runs, the first cuts of the grid need no threshold
        if threshold is not None:
            fit = self._fit(history, threshold)
            phase = self._phase(fit)
            lo, hi = (fit.lo.d if fit.lo else None), (fit.hi.d if fit.hi else None)
            extra_lr = near_miss_lr(history, fit, s, key_id)
            if phase == "confirm":
                return (extra_lr + extra_seeds(history, fit, s))[:n]
        free = self._width(history, lo or s.d_min, hi or s.d_max) - len(history.running()) - len(extra_lr)
        cuts = self._grid_cuts(lo, hi, history, free) if phase == "bracket" else self._refine_cuts(lo, hi, history, free)
        return (extra_lr + [Point(d, carried_lr(history, d, s), s.seed) for d in cuts])[:n]

    def outcome(self, history: KeyHistory, threshold: float) -> Outcome:
        fit = self._fit(history, threshold)
        phase = self._phase(fit)
        return fit_outcome(fit, self.settings, phase, converged=phase == "confirm")

    def _width(self, history: KeyHistory, lo: int, hi: int) -> int:
        """k for this round: ``parallelism``, unless the trials left could not finish a k-section that wide.

        Cutting (lo, hi) down to 1 + tolerance takes ⌈log(span) / log(k + 1)⌉
        rounds of k trials; with ``max_trials`` close, a narrower k-section gets
        there on fewer trials (two are kept for the bracket's ends, unless one lr
        and one seed per d leave nothing to confirm).
        """
        s = self.settings
        confirms = s.lrs_per_d > 1 or s.seeds_per_d > 1
        left = s.max_trials - len(history.records) - (CONFIRM_RESERVE if confirms else 0)
        span = max(math.log(hi / lo) / math.log(1 + s.tolerance), 2.0)
        for k in range(s.parallelism, 1, -1):
            if math.ceil(math.log(span) / math.log(k + 1)) * k <= left:
                return k
        return 1

    def _fit(self, history: KeyHistory, threshold: float) -> Fit:
        return fit_scores(history.scores(), threshold, history.noise_sd(self.settings.noise_sd))

    def _phase(self, fit: Fit) -> str:
        """"bracket" while no tested d fails below a passing one; "refine" until hi/lo <= 1 + tolerance."""
        s, lo, hi = self.settings, fit.lo, fit.hi
        if hi is None:
            return "confirm" if lo is not None and lo.d >= s.d_max else "bracket"
        if lo is None:
            return "confirm" if hi.d <= s.d_min else "bracket"
        return "confirm" if hi.d <= lo.d * (1 + s.tolerance) or hi.d - lo.d <= 1 else "refine"

    def _grid_cuts(self, lo: int | None, hi: int | None, history: KeyHistory, n: int) -> list[int]:
        """Grid points k-secting the open bracket, in grid-index space (−1 and len(grid) are virtual ends)."""
        grid = self.grid
        log_grid = np.log(grid)

        def position(d: int) -> float:
            return float(np.interp(math.log(d), log_grid, np.arange(len(grid))))

        left = -1.0 if lo is None else position(lo)
        right = float(len(grid)) if hi is None else position(hi)
        tried = history.tried_ds()
        inside = sorted(p for p in map(position, tried) if left < p < right)  # running or failed for good
        chosen: list[int] = []
        for cut in split_gaps([left, *inside, right], n, min_width=1.0):
            free = [i for i in range(len(grid)) if left < i < right and grid[i] not in tried and grid[i] not in chosen]
            if free:
                chosen.append(grid[min(free, key=lambda i: (abs(i - cut), i))])
        return chosen

    def _refine_cuts(self, lo: int, hi: int, history: KeyHistory, n: int) -> list[int]:
        """Integer d's k-secting (lo, hi) in log d around whatever is already running inside it."""
        tried = history.tried_ds()
        inside = sorted(math.log(d) for d in tried if lo < d < hi)
        chosen: list[int] = []
        for cut in split_gaps([math.log(lo), *inside, math.log(hi)], n, min_width=math.log(1 + self.settings.tolerance)):
            d = round(math.exp(cut))
            if lo < d < hi and d not in tried and d not in chosen:
                chosen.append(d)
        return chosen

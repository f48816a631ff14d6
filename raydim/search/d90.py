"""The d90 strategy: bracket on a coarse log₂ grid, then put each trial where it narrows the interval most.

1. **Bracket**: k-section a coarse grid (d_min · 2^i) in log d until a failing d
   lies below a passing one — about three rounds from [10, 10⁵].
2. **Refine**: fit every trial at once (:mod:`raydim.search.crossing`: a sigmoid
   in log d, profile-likelihood interval, the baseline's noise included) and ask,
   for each candidate — a new d inside the interval, another seed at a tested d,
   another seed of the full fine-tune — how much it would shrink var(ln d90)
   (c-optimal design at the fit). Greedy picks fill every free slot, each pick
   counted before the next, and trials still running count as if done, so
   parallel slots spread out instead of repeating one answer. While an end of the
   interval is open, one pick goes first to closing it — half the smallest tested d
   (twice the largest), clamped to the range, or another seed at a range end already
   tested — unless a trial already runs there or beyond; the design, being local to
   the fit, would otherwise keep refining between the tested d's (a real MRPC run
   spent ten trials with its low end open). On the MRPC-matched simulator
   (benchmarks/interval_budget.py, 150 draws) it raised the share of two-sided
   intervals at 16 trials from 65–71% to 73–81% and cut the median width from
   18–24× to 12–13×, coverage unchanged; at 24–32 trials it changed little. Half,
   not a quarter: probing 4× beyond left the 16-trial widths at 14–23×.
3. **Stop** once the interval is two-sided and high/low ≤ 1 + ``tolerance``, or at
   ``max_trials``.

This replaces the k-section of the bracket and the fixed confirmation seeds at its
ends: on the simulator those gave intervals that contained the true d90 far less
often than they claimed (docs/benchmarks.md).
"""

from __future__ import annotations

import math

import numpy as np

from raydim.search.near_miss import near_miss_lr
from raydim.search.crossing import Crossing, Design, Observation, Reference, fit_crossing
from raydim.search.fit import Fit, fit_scores
from raydim.search.ksection import coarse_grid, split_gaps
from raydim.search.lr import carried_lr
from raydim.search.results import BELOW_D_MIN, FOUND, INCOMPLETE, NOT_REACHED, Outcome
from raydim.search.settings import SearchSettings
from raydim.search.trials import RUNNING, KeyHistory, Point

SPREAD = (-1.0, -0.5, 0.0, 0.5, 1.0)  # new d's: the fitted d90 ± these fractions of the interval's half-width


def key_crossing(history: KeyHistory, reference: Reference, settings: SearchSettings) -> Crossing | None:
    """The crossing fit of the key's counted trials at each d's best lr; None before any has finished."""
    observations = [Observation(r.request.d, r.metric, r.censored) for r in history.best_lr_trials()]
    if not observations:
        return None
    return fit_crossing(observations, reference, settings.level, settings.d_min, settings.d_max)


def crossing_outcome(history: KeyHistory, reference: Reference, settings: SearchSettings, phase: str) -> Outcome:
    """Status, d90 and interval of a key from its crossing fit; the bracket (lo, hi) from the monotone fit."""
    bracket = fit_scores(history.scores(), reference.threshold())
    lo, hi = (bracket.lo.d if bracket.lo else None), (bracket.hi.d if bracket.hi else None)
    crossing = key_crossing(history, reference, settings)
    if crossing is None:
        return Outcome(phase=phase, status=INCOMPLETE)
    low, high = crossing.low, crossing.high
    if low is not None and low >= settings.d_max:
        status = NOT_REACHED
    elif high is not None and high <= settings.d_min:
        status = BELOW_D_MIN
    elif low is not None and high is not None:
        status = FOUND
    else:
        status = INCOMPLETE
    point = crossing.d90 if (low is not None or high is not None) and status not in (NOT_REACHED, BELOW_D_MIN) \
        else None
    return Outcome(phase=phase, status=status, d90=point,
                   d90_low=None if low is None else math.floor(low), d90_high=None if high is None else math.ceil(high),
                   lo=lo, hi=hi, level=settings.level)


def _seeds_at(history: KeyHistory, d: int, tested: dict[int, float]) -> int:
    """Seeds tried at ``d`` with its best learning rate so far: what ``seeds_per_d`` caps."""
    return len({req.seed for req in history.tried(d) if req.lr == tested.get(d)})


class D90Search:
    """Given one key's history, the next trials to run: pure, so a restored search picks the same ones."""

    name = "d90"

    def __init__(self, settings: SearchSettings) -> None:
        self.settings = settings
        self.grid = coarse_grid(settings.d_min, settings.d_max)

    def next_trials(self, history: KeyHistory, reference: Reference | None, n: int, key_id: str) -> list[Point]:
        """Up to ``n`` trials: grid cuts while the bracket is open, then the most informative ones."""
        s = self.settings
        if reference is None:  # the baseline still runs: the first cuts of the grid need no threshold
            return self._grid_points(None, None, history, n)
        bracket = fit_scores(history.scores(), reference.threshold())
        phase = self._phase(bracket, history, reference)
        if phase == "bracket":
            lo, hi = (bracket.lo.d if bracket.lo else None), (bracket.hi.d if bracket.hi else None)
            return self._grid_points(lo, hi, history, n)
        if phase == "done":
            return []
        extra_lr = near_miss_lr(history, bracket, s, key_id)
        return (extra_lr + self._allocate(history, reference, n - len(extra_lr)))[:n]

    def outcome(self, history: KeyHistory, reference: Reference) -> Outcome:
        phase = self._phase(fit_scores(history.scores(), reference.threshold()), history, reference)
        return crossing_outcome(history, reference, self.settings, phase)

    def _phase(self, bracket: Fit, history: KeyHistory, reference: Reference) -> str:
        """"bracket" until a failing d lies below a passing one (or a range end decides it), then "refine"
        until the interval is two-sided and narrow enough: "done"."""
        s = self.settings
        lo, hi = bracket.lo, bracket.hi
        at_end = (hi is None and lo is not None and lo.d >= s.d_max) or (lo is None and hi is not None
                                                                          and hi.d <= s.d_min)
        if (lo is None or hi is None) and not at_end:
            return "bracket"
        crossing = key_crossing(history, reference, s)
        if crossing is not None:
            if crossing.width <= 1 + s.tolerance:
                return "done"
            if (crossing.low is not None and crossing.low >= s.d_max) or (crossing.high is not None
                                                                          and crossing.high <= s.d_min):
                return "done"  # decided: d90 lies beyond the range searched
        return "refine"

    def _allocate(self, history: KeyHistory, reference: Reference, n: int) -> list[Point]:
        """``n`` trials chosen by :class:`Design`: new d's around the fit, more seeds, or a baseline seed."""
        s = self.settings
        if n <= 0:
            return []
        crossing = key_crossing(history, reference, s)
        tested = {sc.d: sc.best_lr for sc in history.scores()}
        done = [r.request.d for r in history.best_lr_trials()]
        running = [r.request.d for r in history.subspace() if r.status == RUNNING]
        probes = self._probes(crossing, history, tested, running)[:n]
        design = Design(crossing, reference, done + running + probes)
        low = crossing.low if crossing.low is not None else min(tested)
        high = crossing.high if crossing.high is not None else max(tested)
        half = (math.log(high) - math.log(low)) / 2
        centre = math.log(crossing.d90) if crossing.d90 is not None else math.log(low) + half
        candidates: list[float | None] = []
        for f in SPREAD:
            d = round(math.exp(min(max(centre + f * half, math.log(s.d_min)), math.log(s.d_max))))
            candidates.append(float(d))
        candidates += [float(d) for d in tested if low <= d <= high]
        if reference.full_sd > 0:
            candidates.append(None)  # one more full fine-tune
        candidates = list(dict.fromkeys(candidates))
        caps = [None if c is None else s.seeds_per_d - _seeds_at(history, int(c), tested) - probes.count(c)
                for c in candidates]
        points: list[Point] = []
        for pick in [*probes, *design.choose(candidates, n - len(probes), caps)]:
            points.append(self._point(pick, history, tested, points))
        return points

    def _probes(self, crossing: Crossing, history: KeyHistory, tested: dict[int, float],
                running: list[int]) -> list[float]:
        """A d beyond the tested range for each open end of the interval that no running trial probes yet.

        The design is local: at a steep fitted curve it sees no information far from
        the MLE, so it keeps refining between the tested d's while the open end is
        decided only by d's outside them. Half the smallest tested d (twice the
        largest), clamped to the range, is the trial that bounds it; at a range end
        already tested, another seed there, up to ``seeds_per_d``.
        """
        s = self.settings
        smallest, largest = min(tested), max(tested)
        ends = []
        if crossing.low is None:
            d = max(round(smallest / 2), s.d_min)
            ends.append((d, any(r < smallest or r == d for r in running)))
        if crossing.high is None:
            d = min(largest * 2, s.d_max)
            ends.append((d, any(r > largest or r == d for r in running)))
        return [float(d) for d, probed in ends if not probed and _seeds_at(history, d, tested) < s.seeds_per_d]

    def _point(self, pick: float | None, history: KeyHistory, tested: dict[int, float],
               chosen: list[Point]) -> Point:
        """The trial for a design pick: its lr (the d's best, or carried) and the first seed not yet used."""
        s = self.settings
        if pick is None:
            _, lr, _ = history.baseline_score()
            used = {r.request.seed for r in history.baseline() if r.request.lr == lr}
        else:
            d = int(pick)
            lr = tested.get(d) or carried_lr(history, d, s)
            used = {req.seed for req in history.tried(d) if req.lr == lr}
        used |= {p.seed for p in chosen if p.d == (None if pick is None else int(pick)) and p.lr == lr}
        seed = next(x for x in range(s.seed, s.seed + len(used) + 1) if x not in used)
        return Point(None if pick is None else int(pick), lr, seed)

    def _grid_points(self, lo: int | None, hi: int | None, history: KeyHistory, n: int) -> list[Point]:
        s = self.settings
        free = max(s.parallelism - len(history.running()), 1)
        return [Point(d, carried_lr(history, d, s), s.seed) for d in self._grid_cuts(lo, hi, history, free)][:n]

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

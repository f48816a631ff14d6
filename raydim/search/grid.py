"""The comparison strategy: sweep every d of a (1 + tolerance)× log grid, then confirm like d90.

It answers the same question at the same resolution with the same learning-rate
handling, so the benchmark's trial counts isolate what k-section saves.
"""

from __future__ import annotations

from raydim.search.confirm import extra_seeds, near_miss_lr
from raydim.search.fit import fit_outcome, fit_scores
from raydim.search.ksection import log_grid
from raydim.search.lr import carried_lr
from raydim.search.results import Outcome
from raydim.search.settings import SearchSettings
from raydim.search.trials import KeyHistory, Point


class GridSweep:
    name = "grid"

    def __init__(self, settings: SearchSettings) -> None:
        self.settings = settings
        self.points = log_grid(settings.d_min, settings.d_max, 1 + settings.tolerance)

    def next_trials(self, history: KeyHistory, threshold: float | None, n: int, key_id: str) -> list[Point]:
        s = self.settings
        tried = history.tried_ds()
        todo = [d for d in self.points if d not in tried]
        fit = None if threshold is None else fit_scores(history.scores(), threshold, history.noise_sd(s.noise_sd))
        extra_lr = [] if fit is None else near_miss_lr(history, fit, s, key_id)
        if todo:
            return (extra_lr + [Point(d, carried_lr(history, d, s), s.seed) for d in todo[:n]])[:n]
        return [] if fit is None else (extra_lr + extra_seeds(history, fit, s))[:n]

    def outcome(self, history: KeyHistory, threshold: float) -> Outcome:
        s = self.settings
        fit = fit_scores(history.scores(), threshold, history.noise_sd(s.noise_sd))
        swept = history.tried_ds() >= set(self.points)
        return fit_outcome(fit, s, phase="confirm" if swept else "sweep", converged=swept)

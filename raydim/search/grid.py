"""The comparison strategy: sweep every d of a (1 + tolerance)× log grid.

It answers the same question with the same learning-rate handling and the same
interval (the crossing fit of every trial), so the benchmark's trial counts and
widths isolate what choosing where to look saves.
"""

from __future__ import annotations

from raydim.search.crossing import Reference
from raydim.search.d90 import crossing_outcome
from raydim.search.fit import fit_scores
from raydim.search.ksection import log_grid
from raydim.search.lr import carried_lr
from raydim.search.near_miss import near_miss_lr
from raydim.search.results import Outcome
from raydim.search.settings import SearchSettings
from raydim.search.trials import KeyHistory, Point


class GridSweep:
    name = "grid"

    def __init__(self, settings: SearchSettings) -> None:
        self.settings = settings
        self.points = log_grid(settings.d_min, settings.d_max, 1 + settings.tolerance)

    def next_trials(self, history: KeyHistory, reference: Reference | None, n: int, key_id: str) -> list[Point]:
        s = self.settings
        tried = history.tried_ds()
        todo = [d for d in self.points if d not in tried]
        extra_lr = [] if reference is None else near_miss_lr(
            history, fit_scores(history.scores(), reference.threshold()), s, key_id)
        return (extra_lr + [Point(d, carried_lr(history, d, s), s.seed) for d in todo[:n]])[:n]

    def outcome(self, history: KeyHistory, reference: Reference) -> Outcome:
        swept = history.tried_ds() >= set(self.points)
        return crossing_outcome(history, reference, self.settings, phase="done" if swept else "sweep")

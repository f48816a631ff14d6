"""Where results straddle the threshold: another lr for a near miss, more seeds for an undecided end.

The paper scores a d by its best lr, so the bracket's failing end may fail only
because its lr was poor: if it misses by less than ``lr_margin`` it gets another
lr, as soon as it becomes the failing end (a better lr found there carries to
every later d). Once the bracket is as narrow as asked, an end whose fitted score
is within ``confidence_z`` standard errors of the threshold may sit on the wrong
side by seed noise alone: it gets another seed at its best lr. Each new result
refits the curve, so a bracket end that flips reopens the search.
"""

from __future__ import annotations

from raydim.search.fit import Fit
from raydim.search.lr import propose_extra_lr
from raydim.search.settings import SearchSettings
from raydim.search.trials import KeyHistory, Point


def near_miss_lr(history: KeyHistory, fit: Fit, settings: SearchSettings, key_id: str) -> list[Point]:
    """Another lr at the bracket's failing end, if it just missed and has lrs to spare (else nothing)."""
    lo = fit.lo
    if lo is None or lo.d in history.running_ds() or fit.threshold - lo.score > settings.lr_margin:
        return []
    if len({req.lr for req in history.tried(lo.d)}) >= settings.lrs_per_d:
        return []
    lr = propose_extra_lr(history, lo.d, lo.best_lr, settings, key_id)
    return [] if lr is None else [Point(lo.d, lr, settings.seed)]


def extra_seeds(history: KeyHistory, fit: Fit, settings: SearchSettings) -> list[Point]:
    """Another seed at each bracket end still within ``confidence_z`` standard errors, least decided first."""
    busy = history.running_ds()
    points = []
    for end in sorted((s for s in (fit.lo, fit.hi) if s is not None), key=lambda s: abs(fit.z_of(s))):
        if end.d in busy or abs(fit.z_of(end)) >= settings.confidence_z:
            continue
        seed = history.next_seed(end.d, end.best_lr, settings.seed)
        if seed - settings.seed < settings.seeds_per_d:
            points.append(Point(end.d, end.best_lr, seed))
    return points

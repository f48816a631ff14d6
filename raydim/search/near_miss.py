"""A near miss gets another learning rate: the paper scores a d by its best lr.

The bracket's failing end may fail only because its lr was poor: if it misses by
less than ``lr_margin`` it gets another lr, as soon as it becomes the failing end
(a better lr found there carries to every later d).
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

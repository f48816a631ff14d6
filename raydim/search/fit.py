"""From measured scores to d90: the monotone fit, the bracket it implies, a point and an interval.

Scores are the per-d best-lr means (:class:`~raydim.search.trials.DScore`). Their
isotonic fit in d decides which d's pass; the bracket is the largest failing and
the smallest passing tested d; d90 is the fit's crossing inside it, and the
interval runs from the largest d that fails *confidently* (by more than z
standard errors) to the smallest that passes confidently, so noisy decisions
near the threshold widen the interval instead of hiding in a point.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from raydim.search.isotonic import block_weights, isotonic_increasing, log_crossing
from raydim.search.results import BELOW_D_MIN, FOUND, INCOMPLETE, NOT_REACHED, UNCONFIRMED, Outcome
from raydim.search.settings import SearchSettings
from raydim.search.trials import DScore


@dataclass(frozen=True)
class Fit:
    scores: tuple[DScore, ...]  # by increasing d
    fitted: tuple[float, ...]  # isotonic fit of the scores
    z: tuple[float, ...]  # (fitted − threshold) / standard error of the fitted value
    threshold: float

    @property
    def lo(self) -> DScore | None:
        """The largest tested d whose fitted score fails the threshold."""
        failing = [s for s, f in zip(self.scores, self.fitted) if f < self.threshold]
        return failing[-1] if failing else None

    @property
    def hi(self) -> DScore | None:
        """The smallest tested d whose fitted score reaches the threshold."""
        return next((s for s, f in zip(self.scores, self.fitted) if f >= self.threshold), None)

    def z_of(self, score: DScore) -> float:
        return self.z[self.scores.index(score)]

    def point(self) -> float | None:
        """d90 interpolated in log d inside the bracket; None while the bracket is open."""
        lo, hi = self.lo, self.hi
        if lo is None or hi is None:
            return None
        i = self.scores.index(lo)
        return log_crossing(lo.d, self.fitted[i], hi.d, self.fitted[i + 1], self.threshold)

    def interval(self, confidence_z: float) -> tuple[int | None, int | None]:
        """(largest confidently failing d, smallest confidently passing d); None where there is none."""
        low = [s.d for s, z in zip(self.scores, self.z) if z < -confidence_z]
        high = [s.d for s, z in zip(self.scores, self.z) if z >= confidence_z]
        return (low[-1] if low else None), (high[0] if high else None)


def fit_scores(scores: list[DScore], threshold: float, noise_sd: float) -> Fit:
    """The monotone fit of ``scores``, each weighted by its number of seeds, against ``threshold``."""
    weights = [float(s.seeds) for s in scores]
    fitted = isotonic_increasing([s.score for s in scores], weights)
    z = [(f - threshold) / (noise_sd / math.sqrt(w)) for f, w in zip(fitted, block_weights(fitted, weights))]
    return Fit(scores=tuple(scores), fitted=tuple(fitted), z=tuple(z), threshold=threshold)


def fit_outcome(fit: Fit, settings: SearchSettings, phase: str, converged: bool) -> Outcome:
    """The status and estimate a fit supports; ``converged`` says whether the bracket is as narrow as asked."""
    lo, hi = fit.lo, fit.hi
    if hi is None:
        status = NOT_REACHED if lo is not None and lo.d >= settings.d_max else INCOMPLETE
    elif lo is None:
        status = BELOW_D_MIN if hi.d <= settings.d_min else INCOMPLETE
    else:
        status = FOUND if converged else INCOMPLETE
    undecided = any(abs(fit.z_of(end)) < settings.confidence_z for end in (lo, hi) if end is not None)
    low, high = fit.interval(settings.confidence_z)
    return Outcome(phase=phase, status=status, d90=fit.point(), d90_low=low, d90_high=high,
                   lo=lo.d if lo else None, hi=hi.d if hi else None, flags=(UNCONFIRMED,) if undecided else ())

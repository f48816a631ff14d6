"""The bracket: which tested d's pass, by a monotone fit of their scores in d.

Scores are the per-d best-lr means (:class:`~raydim.search.trials.DScore`). Their
isotonic fit in d (weighted by seeds) decides which d's pass, so the search never
concludes that d fails while a smaller d passes; the bracket is the largest failing
and the smallest passing tested d. It steers the coarse bracketing and the progress
lines; d90 and its interval come from the crossing fit (:mod:`raydim.search.crossing`),
which weighs every trial at its noise.
"""

from __future__ import annotations

from dataclasses import dataclass

from raydim.search.isotonic import isotonic_increasing
from raydim.search.trials import DScore


@dataclass(frozen=True)
class Fit:
    scores: tuple[DScore, ...]  # by increasing d
    fitted: tuple[float, ...]  # isotonic fit of the scores
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


def fit_scores(scores: list[DScore], threshold: float) -> Fit:
    """The monotone fit of ``scores``, each weighted by its number of seeds, against ``threshold``."""
    fitted = isotonic_increasing([s.score for s in scores], [float(s.seeds) for s in scores])
    return Fit(scores=tuple(scores), fitted=tuple(fitted), threshold=threshold)

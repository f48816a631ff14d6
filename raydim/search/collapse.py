"""Collapsed trials: a run far below every curve its neighbours allow failed on its learning rate, not on d.

A subspace fine-tune whose learning rate is too high can collapse to the trivial
predictor (tried as a new user would on a GLUE regression task: Pearson 0.13 at
d = 600 with the 1/√d rule's lr 0.41, against 0.75 at d = 849). Read as evidence
about d, one such run drags the fit down and the d90 up — or, beside a passing
neighbour, pins a steep rise between them and a narrow interval in the wrong place.

A trial is *collapsed* when either test finds it impossibly low:

* **against the fit's curves**: it lies in the bottom ``FRACTION`` of the way from
  chance to the full fine-tune and more than ``NOISE_MARGIN`` σ below the lowest
  curve the key's other trials admit at its d
  (:func:`raydim.search.crossing.admitted_floor`: sigmoids in log d no steeper than
  ``MAX_STEEPNESS``, within the interval's cutoff of the others' best fit);
* **against a neighbour**: a trial at a d no larger scores more than m above it, or
  one at a larger d within a factor 4 more than ``MAX_RISE · spread · ln(d'/d) + m``,
  m = max(4σ, ``FRACTION`` × spread), ``MAX_RISE`` the fit's own steepest rise.

Both use the fit's curve family, so a trial the fit could only explain by a rise
steeper than it allows is never left to it. The bottom-``FRACTION`` condition and
the margin set a collapse apart from a poorer learning rate, which costs a trial
some of the way up where a collapse costs it all (without them, a trial 9× below the
best lr on a noiseless curve was flagged and rerun at a lower rate still). Another lr
at the same d is not compared (the best-lr score already sets the poorer one aside);
a trial stopped early once it had passed never collapsed.

The neighbour test alone (until 2026-12-03, against a fit allowing curves twice as
steep) missed SST-2 SAID's 0.551 at d = 400 (lr 0.5) beside 0.802 at d = 895 by
0.004; the fit then read the pair as a steep rise, d90 821 [773, 937], where the
rerun at lr 0.167 scored 0.774 and the interval became [275, 673]. The curves the
other three trials admitted at d = 400 reach down to 0.61: the run lies 4.4σ below
them, and the first test flags it. Each test catches collapses the other misses on
the simulator (docs/benchmarks.md).

Both tests read the dev score, and need a collapse to fall far from the curve: where the
threshold sits close to chance they cannot see one. On MRPC (chance 0.684, threshold
0.721, σ ≈ 0.02) DID's trials at d = 51,200 and 100,000 ended at the majority class
with the 1/√d rule's rates (dev 0.699, 0.684, 0.684), a fall of 2σ that both tests
read as a curve still below its threshold, and the key ended ``not_reached``; at a
third of the rate d = 51,200 scored 0.8015, the full fine-tune's accuracy. The third
test reads the train score instead, which says whether a run learned at all:

* **learned nothing**: it misses the threshold, its train score lies in the bottom
  ``TRAIN_FRACTION`` of the way from the trivial predictor's to the full fine-tune's
  (on the same train rows), and a trial at a smaller d got more than twice as far — a
  larger subspace holds at least as good a solution, so the run failed on its rate.
  Those MRPC trials scored 0.684, 0.664, 0.664 on train rows where the trivial
  predictor scores 0.664 and the full fine-tune 0.926, beside 0.730 at d = 3,200.
  A run learning nothing below every d that learned may be d's fault: it counts —
  unless a run at its d or below *diverged after it had learned* (its train score at
  its best epoch, before the rate wrecked it, got more than twice as far): that
  subspace can learn, so a rerun at a lower rate that learns nothing is still too
  fast. MPNet SAID on SST-2 at d = 100: 0.770 train accuracy at lr 1.0 before it
  collapsed (trivial 0.637, full 0.98); its rerun at 0.333 ended at 0.660 (dev 0.564),
  while the same run on two threads had passed (0.858): a rate at the edge.

The policy reruns a collapsed trial at lr ÷ ``lr_step`` (same d and seed) before the
fit counts it, up to ``max_retries`` times; the last attempt counts whatever it scored.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from raydim.search.crossing import MAX_STEEPNESS, Observation, Reference, admitted_floor
from raydim.search.trials import COMPLETED, TrialRecord

NOISE_MARGIN = 4.0  # standard deviations of seed noise a collapse must lie below every admitted curve
FRACTION = 0.3  # ... and at most this fraction of the way from chance to the full fine-tune
MAX_RISE = MAX_STEEPNESS / 4  # the fit's steepest rise, as a fraction of (full − chance) per unit ln d
NEIGHBOURHOOD = math.log(4.0)  # larger d's further than this say nothing about the curve's local rise
TRAIN_FRACTION = 0.1  # a train score this little of the way from trivial to full learned nothing


class TrainScale(NamedTuple):
    """Train-row scores of the trivial predictor and of the full fine-tune (best lr, mean over seeds)."""

    trivial: float
    full: float

    def share(self, score: float) -> float:
        """How far ``score`` got from the trivial predictor's towards the full fine-tune's."""
        return (score - self.trivial) / (self.full - self.trivial)


def collapsed(records: list[TrialRecord], reference: Reference, level: float, d_min: int,
              d_max: int, train: TrainScale | None = None) -> list[TrialRecord]:
    """The completed, uncensored subspace trials among ``records`` that lie impossibly far below the others, or
    (given the ``train`` scale) learned nothing where a smaller d learned."""
    done = [r for r in records if r.metric is not None and r.request.d is not None and r.status == COMPLETED]
    learned_then_diverged = [r for r in records
                             if r.diverged and r.request.d is not None and r.train_metric is not None]
    if len(done) < 2:
        return [r for r in done if _learned_nothing(r, [], learned_then_diverged, reference, train)]
    observations = [Observation(r.request.d, r.metric, r.censored) for r in done]
    others = np.array([[_compares(other, r) for other in done] for r in done])
    floor = admitted_floor(observations, others, reference, level, d_min, d_max)
    sigma, spread = reference.noise_sd, reference.full - reference.chance
    bottom = reference.chance + FRACTION * spread
    return [r for r, lowest in zip(done, floor) if not r.censored and (
        r.metric < min(lowest - NOISE_MARGIN * sigma, bottom) or _below_a_neighbour(r, done, sigma, spread)
        or _learned_nothing(r, done, learned_then_diverged, reference, train))]


def _compares(other: TrialRecord, r: TrialRecord) -> bool:
    """Whether ``other`` speaks about ``r``'s score: not itself, nor another lr at its d (the best-lr score already
    sets the poorer one aside)."""
    return other is not r and not (other.request.d == r.request.d and other.request.lr != r.request.lr)


def _below_a_neighbour(r: TrialRecord, done: list[TrialRecord], sigma: float, spread: float) -> bool:
    """The pairwise test: some trial at a d no larger scores more than m above ``r``, or one at a larger d within
    a factor 4 more than ``MAX_RISE · spread · ln(d'/d) + m``; m = max(4σ, ``FRACTION`` × spread)."""
    margin = max(NOISE_MARGIN * sigma, FRACTION * spread)
    for other in done:
        if not _compares(other, r):
            continue
        rise = math.log(other.request.d / r.request.d)
        allowed = margin if rise <= 0 else MAX_RISE * spread * rise + margin
        if rise <= NEIGHBOURHOOD and other.metric - r.metric > allowed:
            return True
    return False


def _learned_nothing(r: TrialRecord, done: list[TrialRecord], diverged: list[TrialRecord], reference: Reference,
                     train: TrainScale | None) -> bool:
    """The train-score test: ``r`` misses the threshold with a train score in the bottom ``TRAIN_FRACTION`` of
    ``train``'s way, where a trial at a smaller d got more than twice as far, or one at a d no larger did before it
    diverged (``diverged``: learning-rate failures, with their best epoch's train score)."""
    if train is None or train.full <= train.trivial or r.train_metric is None or r.metric >= reference.threshold() \
            or train.share(r.train_metric) > TRAIN_FRACTION:
        return False
    return any(other.train_metric is not None and train.share(other.train_metric) > 2 * TRAIN_FRACTION
               for other in [o for o in done if o.request.d < r.request.d]
               + [o for o in diverged if o.request.d <= r.request.d])

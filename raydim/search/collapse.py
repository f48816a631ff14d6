"""Collapsed trials: a run far below its neighbours in d failed on its learning rate, not on d.

A subspace fine-tune whose learning rate is too high can collapse to the trivial
predictor (tried as a new user would on a GLUE regression task: Pearson 0.13 at
d = 600 with the 1/√d rule's lr 0.41, against 0.75 at d = 849). Read as evidence
about d, one such run drags the fit down and the d90 up. The true curve rises with
d and no faster than ``MAX_RISE`` × ``spread`` (full − chance) per unit ln d (a
sigmoid rising from 10% to 90% of the way within a factor 9 of d, steeper than
any curve in docs/subspace.md), so a trial is *collapsed* when some other trial

* at a d no larger scores more than ``m`` above it, or
* at a larger d, within a factor 4, scores more than ``MAX_RISE · spread · ln(d'/d) + m`` above it,

with the margin m the larger of 4σ and ``FRACTION`` × spread: a poorer learning
rate costs a trial some of the way up, a collapse costs it all.

A collapse right below a d that only just passes cannot be told from a steep rise;
the fit then carries it like any low score.

The policy reruns a collapsed trial at lr ÷ ``lr_step`` (same d and seed) before the
fit counts it, up to ``max_retries`` times; the last attempt counts whatever it scored.
"""

from __future__ import annotations

import math

from raydim.search.trials import COMPLETED, TrialRecord

MAX_RISE = 0.5  # the steepest rise of a real curve, as a fraction of (full − chance) per unit ln d
NOISE_MARGIN = 4.0  # standard deviations of seed noise a collapse must lie beyond
FRACTION = 0.3  # ... and this fraction of the way from chance to full
NEIGHBOURHOOD = math.log(4.0)  # larger d's further than this say nothing about the curve's local rise


def collapsed(records: list[TrialRecord], noise_sd: float, spread: float) -> list[TrialRecord]:
    """The completed, uncensored subspace trials among ``records`` that lie impossibly far below a neighbour."""
    done = [r for r in records if r.metric is not None and r.request.d is not None and r.status == COMPLETED]
    margin = max(NOISE_MARGIN * noise_sd, FRACTION * spread)
    out = []
    for r in done:
        if r.censored:
            continue
        for other in done:
            if other is r or (other.request.d == r.request.d and other.request.lr != r.request.lr):
                continue  # another lr at the same d: the best-lr score already sets the poorer one aside
            rise = math.log(other.request.d / r.request.d)
            allowed = margin if rise <= 0 else MAX_RISE * spread * rise + margin
            if rise <= NEIGHBOURHOOD and other.metric - r.metric > allowed:
                out.append(r)
                break
    return out

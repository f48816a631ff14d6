"""How noisy one trial's score is: a prior from the dev set's size, sharpened by replicated trials of every key.

Two fine-tunes that differ only in their seed score differently, and on a dev set
of a few hundred rows by a lot (MRPC's 408 rows: up to 0.035 accuracy). Before any
seed is repeated, the sampling sd of the metric on the key's n dev rows is the
natural scale: √(p(1−p)/n) for an accuracy (or F1), and for a correlation (Pearson,
Spearman, Matthews) the delta method through Fisher's z, (1−r²)/√(n−3). Repeated
(d, lr) trials then estimate how far off that scale is, as one factor κ pooled over
every key of the search (seed noise is a property of the task and training recipe,
so the keys of one search inform each other), shrunk towards κ = 1 by
``PRIOR_DF`` pseudo-degrees of freedom so one lucky identical pair cannot make every
later decision look certain.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable

from raydim.search.trials import COMPLETED, TrialRecord

PRIOR_DF = 3.0  # the prior sd counts as this many degrees of freedom
MIN_FACTOR = 0.25  # κ's floor: replicates that agree to the last digit (a deterministic run) do not make σ zero
CORRELATIONS = ("pearson", "spearman", "spearmanr", "matthews_correlation", "mcc")


def sampling_sd(metric: str | None, value: float, n: int | None, fallback: float) -> float:
    """The sampling sd of ``metric`` at ``value`` measured on ``n`` rows; ``fallback`` when either is unknown."""
    if metric is None or not n:
        return fallback
    if metric.lower() in CORRELATIONS:
        r = min(abs(value), 0.95)
        return (1 - r * r) / math.sqrt(max(n - 3, 1))
    p = min(max(value, 0.05), 0.95)
    return math.sqrt(p * (1 - p) / n)


def noise_factor(groups: Iterable[tuple[float, list[TrialRecord]]]) -> tuple[float, float]:
    """(κ, its degrees of freedom): the pooled ratio of measured seed-to-seed sd to each group's prior sd,
    shrunk towards 1.

    ``groups`` are (prior sd, replicated trials) pairs, one per (key, d, lr) or
    baseline (group, lr); only completed trials with a final score count (a
    trial stopped early reports a lower bound, not a replicate).
    """
    ss, df = 0.0, 0
    for prior, records in groups:
        values = [r.metric for r in records if r.status == COMPLETED and not r.censored]
        if len(values) < 2:
            continue
        mean = sum(values) / len(values)
        ss += sum((v - mean) ** 2 for v in values) / prior**2
        df += len(values) - 1
    return max(math.sqrt((PRIOR_DF + ss) / (PRIOR_DF + df)), MIN_FACTOR), PRIOR_DF + df


def replicate_groups(records: Iterable[TrialRecord]) -> dict[tuple, list[TrialRecord]]:
    """Trials that differ only by seed: keyed by (key id, d, lr)."""
    groups: dict[tuple, list[TrialRecord]] = defaultdict(list)
    for r in records:
        groups[(r.request.key.id, r.request.d, r.request.lr)].append(r)
    return groups

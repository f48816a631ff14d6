"""Refit the real MRPC trials of docs/subspace.md (2026-11-27) with the interval search's fit.

    python studies/mrpc_refit.py

The ten SAID trials and the full fine-tune of the three quick-profile runs recorded there (MiniLM-L6,
3 epochs, 2-core CPU, ≈1.5 CPU-hours in all) are recorded into a policy with the shipped profile's
settings, as a search that had run them would hold them; it prints the d90 and 90% interval it
gives, from all ten and from the seed-0 run alone.
"""

from __future__ import annotations

from raydim.search import KeyTarget, SearchKey, SearchPolicy, SearchSettings
from raydim.search.trials import TrialRequest
from raydim.table import format_interval
from raydim.tune.spec import QUICK_SEARCH

KEY = SearchKey("mrpc", "minilm-l6", method="said")
MAJORITY = 279 / 408  # MRPC dev: the majority class
FULL = 0.794  # the full fine-tune, lr 1e-4, seed 0
TRIALS = [  # (d, lr, seed, best dev accuracy), docs/subspace.md
    (2400, 0.204, 0, 0.706), (2400, 0.204, 1, 0.743), (3394, 0.172, 0, 0.708), (3394, 0.172, 1, 0.743),
    (3810, 0.162, 0, 0.708), (4800, 0.144, 0, 0.711), (4800, 0.144, 1, 0.738), (6048, 0.129, 0, 0.723),
    (9600, 0.102, 0, 0.743), (19200, 0.072, 0, 0.750),
]


def refit(trials: list[tuple[int, float, int, float]]) -> str:
    settings = SearchSettings(**{**QUICK_SEARCH, "max_trials": 100})
    policy = SearchPolicy([KeyTarget(KEY, chance=MAJORITY, metric="accuracy", eval_size=408)], settings)
    policy.record_finished(TrialRequest("full", KEY.baseline_key, None, 1e-4, 0), FULL)
    for i, (d, lr, seed, accuracy) in enumerate(trials):
        policy.record_finished(TrialRequest(f"t{i}", KEY, d, lr, seed), accuracy)
    r = policy.result(KEY.id)
    d90 = "-" if r.d90 is None else f"{r.d90:,.0f}"
    return (f"{r.status}: d90 {d90}, interval {format_interval(r.d90_low, r.d90_high, r.level)}, "
            f"threshold {r.threshold:.4f}, noise sd {r.noise_sd:.4f}")


if __name__ == "__main__":
    print("all ten trials:   ", refit(TRIALS))
    print("seed-0 run alone: ", refit([t for t in TRIALS if t[2] == 0]))

"""What a search reports: per-key progress while it runs, and one result record per key at the end."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

# Statuses of a key's result.
FOUND = "found"  # d90 with a two-sided interval
NOT_REACHED = "not_reached"  # even d_max fails the threshold
BELOW_D_MIN = "below_d_min"  # d_min already passes
INCOMPLETE = "incomplete"  # an end of the interval still open: trial budget spent, or trials lost to failures
NO_BASELINE = "no_baseline"  # every full fine-tune failed, or it did no better than the trivial predictor
THRESHOLD_IN_NOISE = "threshold_in_noise"  # the threshold is within one trial's noise of the trivial predictor

# Flags a result may carry besides its status.
BUDGET_EXHAUSTED = "budget_exhausted"  # max_trials reached: the key stopped where it stood
INTERRUPTED = "interrupted"  # the search was stopped (Ctrl-C) before this key finished; --resume continues it
BASELINE_SUPPLIED = "baseline_supplied"  # the threshold comes from the user's baseline, not from trials
# rebuilt from stored rows (raydim report): the key's search is not over, so its d90 and interval may still move;
# a trial of it is running now, or its search stopped before its end and --resume (or a rerun) continues it
UNFINISHED = "unfinished"


@dataclass(frozen=True)
class Outcome:
    """What a strategy concludes from one key's history: its phase, bracket and estimate."""

    phase: str  # "bracket", "refine", "done" (d90), "sweep", "done" (grid), "search" (optuna)
    status: str
    d90: float | None = None
    d90_low: int | None = None  # the interval's low end (None: open); for optuna the largest failing d
    d90_high: int | None = None  # the interval's high end (None: open); for optuna the smallest passing d
    lo: int | None = None  # bracket: largest tested d whose fitted score fails
    hi: int | None = None  # bracket: smallest tested d whose fitted score passes
    level: float | None = None  # the interval's confidence level; None where it has none (optuna)
    flags: tuple[str, ...] = ()


@dataclass(frozen=True)
class KeyProgress:
    key: str
    phase: str  # "baseline" until the threshold is known, "finished" at the end, else the strategy's phase
    lo: int | None
    hi: int | None
    trials_done: int  # completed, baseline included
    trials_running: int | None  # None where unknown: a search rebuilt from its stored rows alone
    trials_failed: int  # failed for good (out of retries)
    best_metric: float | None  # best subspace score so far (best lr, mean over seeds)
    threshold: float | None  # None until the baseline is in
    d90: float | None = None  # the estimate so far, and its interval (None: open end or not yet fitted)
    d90_low: int | None = None
    d90_high: int | None = None
    level: float | None = None
    trials_left: int | None = None  # trials that may still start: the budget less those run or running; 0 once done


@dataclass(frozen=True)
class KeyResult:
    """The one record per key a search ends with; every field is a plain value, ready for a data frame."""

    key: str
    task: str
    model: str
    checkpoint: str
    method: str
    strategy: str
    status: str
    baseline: float | None  # full fine-tune metric (best lr, mean over seeds), or the user's
    chance: float  # the trivial predictor's metric
    paper_threshold: float | None  # ratio × baseline
    relative_threshold: float | None  # chance + ratio × (baseline − chance)
    threshold_used: str | None  # "paper" or "relative"
    threshold: float | None  # the value scores were compared with
    d90: float | None  # point estimate: the crossing fit's best d
    d90_low: int | None  # the interval [d90_low, d90_high] at ``level``; None: that end is open
    d90_high: int | None
    trials_used: int  # every trial this key ran or shared (baseline and retries included)
    trials_failed: int
    flags: tuple[str, ...]
    level: float | None  # the interval's confidence level
    noise_sd: float | None  # σ: the seed-to-seed sd of one trial's score the fit assumed

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "flags": list(self.flags)}

"""What a search reports: per-key progress while it runs, and one result record per key at the end."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

# Statuses of a key's result.
FOUND = "found"  # d90 bracketed to the tolerance (or to adjacent integers)
NOT_REACHED = "not_reached"  # even d_max fails the threshold
BELOW_D_MIN = "below_d_min"  # d_min already passes
INCOMPLETE = "incomplete"  # stopped before converging: trial budget spent, or trials lost to failures
NO_BASELINE = "no_baseline"  # every full fine-tune failed, or it did no better than the trivial predictor

# Flags a result may carry besides its status.
BUDGET_EXHAUSTED = "budget_exhausted"  # max_trials reached: the key stopped where it stood
INTERRUPTED = "interrupted"  # the search was stopped (Ctrl-C) before this key finished; --resume continues it
UNCONFIRMED = "unconfirmed"  # a bracket end is still within confidence_z standard errors of the threshold
BASELINE_SUPPLIED = "baseline_supplied"  # the threshold comes from the user's baseline, not from trials


@dataclass(frozen=True)
class Outcome:
    """What a strategy concludes from one key's history: its phase, bracket and estimate."""

    phase: str  # "bracket", "refine", "confirm" (d90), "sweep", "confirm" (grid), "search" (optuna)
    status: str
    d90: float | None = None
    d90_low: int | None = None  # d90 > d90_low: the largest d that fails (confidently, for d90/grid)
    d90_high: int | None = None  # d90 <= d90_high: the smallest d that passes (confidently, for d90/grid)
    lo: int | None = None  # bracket: largest tested d whose fitted score fails
    hi: int | None = None  # bracket: smallest tested d whose fitted score passes
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
    d90: float | None  # point estimate (interpolated in log d)
    d90_low: int | None
    d90_high: int | None
    trials_used: int  # every trial this key ran or shared (baseline and retries included)
    trials_failed: int
    flags: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "flags": list(self.flags)}

"""Every knob of a d90 search, validated once, up front, with all problems reported together."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any

from raydim.errors import RaydimError
from raydim.strategies import STRATEGIES
from raydim.subspace_lr import REFERENCE_D, rescale_lr

THRESHOLD_KINDS = ("paper", "relative")
RETIRED = ("confidence_z",)  # settings an older raydim saved that no longer mean anything: ignored on load


@dataclass(frozen=True)
class SearchSettings:
    """How d90 is searched for every key.

    The threshold is ``ratio`` × the full fine-tune's metric (the paper's d90 at
    0.9), or with ``threshold="relative"`` ``chance + ratio × (full − chance)``;
    the paper-style one falls back to the relative one for a key where it does not
    beat the trivial predictor. ``parallelism`` is k, the trials one key may run at
    once. d90 comes with an interval at ``level`` (default 90%) from every trial of
    the key; a key stops once that interval is two-sided with high / low <= 1 +
    ``tolerance``, or at ``max_trials`` (baseline included), so a noisy key cannot
    run forever. ``early_stop`` lets a trial end as soon as its best epoch clears
    the threshold by one noise sd: it has passed and cannot un-pass.
    """

    strategy: str = "d90"
    ratio: float = 0.9
    threshold: str = "paper"
    d_min: int = 10
    d_max: int = 100_000
    tolerance: float = 0.10  # refine until the interval's high / low <= 1 + tolerance
    level: float = 0.9  # the d90 interval's confidence level
    parallelism: int = 1
    baseline_seeds: int = 1
    baseline_lrs: tuple[float, ...] = (1e-5, 3e-5, 1e-4)  # full fine-tunes: one trial per seed × lr
    lr_low: float = 1e-4  # subspace learning rates are sampled in [lr_low, lr_high], log-uniformly
    lr_high: float = 1.0
    lr_init: float | None = None  # the first subspace lr of a key; None: the geometric middle of the range
    lr_scaling: float = 0.0  # a carried lr is rescaled by (d_from / d_to)^this; lr_init is then the lr at d = 10⁴
    lrs_per_d: int = 3  # at most this many lrs at one d, the extra ones only for a near miss
    lr_step: float = 3.0  # an extra lr at a d is at least this factor away from the ones tried there
    lr_margin: float = 0.02  # "near miss": best score within this of the threshold, below it
    seeds_per_d: int = 3  # at most this many seeds at one (d, lr), the extra ones only where scores straddle
    noise_sd: float = 0.01  # prior seed-to-seed sd of the metric where the dev set's size is unknown
    early_stop: bool = True  # stop a trial once its best epoch clears the threshold by the noise margin
    max_trials: int = 30
    max_retries: int = 1  # a failed trial is rerun this many times, then counted as failed
    seed: int = 0  # first training seed, and the seed of every sampler

    def __post_init__(self) -> None:
        object.__setattr__(self, "baseline_lrs", tuple(float(lr) for lr in self.baseline_lrs))
        errors = self._errors()
        if errors:
            raise RaydimError("invalid search settings: " + "; ".join(errors))

    def _errors(self) -> list[str]:
        errors = []

        def check(ok: bool, field: str, fix: str) -> None:
            if not ok:
                errors.append(f"{field}={getattr(self, field)!r}: {fix}")

        check(self.strategy in STRATEGIES, "strategy", f"use one of {', '.join(STRATEGIES)}")
        check(0 < self.ratio <= 1, "ratio", "must be in (0, 1]; the paper uses 0.9")
        check(self.threshold in THRESHOLD_KINDS, "threshold", f"use one of {', '.join(THRESHOLD_KINDS)}")
        check(self.d_min >= 1, "d_min", "must be a positive integer")
        check(self.d_max > self.d_min, "d_max", f"must exceed d_min={self.d_min}")
        check(self.tolerance > 0, "tolerance", "must be > 0, e.g. 0.1 to stop once hi/lo <= 1.1")
        check(self.parallelism >= 1, "parallelism", "must be at least 1 trial at once")
        check(self.baseline_seeds >= 1, "baseline_seeds", "must be at least 1")
        check(len(self.baseline_lrs) >= 1 and all(lr > 0 for lr in self.baseline_lrs), "baseline_lrs",
              "give at least one positive learning rate, e.g. (1e-5, 3e-5, 1e-4)")
        check(0 < self.lr_low < self.lr_high, "lr_low", f"must be positive and below lr_high={self.lr_high}")
        check(self.lr_init is None or self.lr_low <= self.lr_init <= self.lr_high, "lr_init",
              f"must lie in [lr_low, lr_high] = [{self.lr_low}, {self.lr_high}], or be None")
        check(0 <= self.lr_scaling <= 2, "lr_scaling",
              "must be in [0, 2]: 0 carries lrs unchanged, 0.5 scales them like 1/√d")
        check(self.lrs_per_d >= 1, "lrs_per_d", "must be at least 1")
        check(self.lr_step > 1, "lr_step", "must exceed 1, e.g. 3 for lr × 3 or lr / 3")
        check(self.lr_margin >= 0, "lr_margin", "must be >= 0 (0 never tries a second lr)")
        check(self.seeds_per_d >= 1, "seeds_per_d", "must be at least 1")
        check(self.noise_sd > 0, "noise_sd", "must be > 0, e.g. 0.01 for accuracy")
        check(0.5 <= self.level < 1, "level", "must be in [0.5, 1), e.g. 0.9 for a 90% interval")
        check(isinstance(self.early_stop, bool), "early_stop", "must be true or false")
        check(self.max_trials >= 1, "max_trials", "must be at least 1")
        check(self.max_retries >= 0, "max_retries", "must be >= 0")
        return errors

    @property
    def initial_lr(self) -> float:
        """The first lr of a key, meant at d = ``REFERENCE_D`` where ``lr_scaling`` > 0."""
        return self.lr_init if self.lr_init is not None else math.sqrt(self.lr_low * self.lr_high)

    def carry_lr(self, lr: float, from_d: float, to_d: float) -> float:
        """``lr``, found good at ``from_d``, as a first guess at ``to_d``: rescaled, kept in [lr_low, lr_high]."""
        return min(max(rescale_lr(lr, from_d, to_d, self.lr_scaling), self.lr_low), self.lr_high)

    def first_lr(self, d: float) -> float:
        """A key's first subspace lr, at ``d``: ``initial_lr`` carried there from d = ``REFERENCE_D``."""
        return self.carry_lr(self.initial_lr, REFERENCE_D, d)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (tuples become lists); :meth:`from_dict` reverses it."""
        data = asdict(self)
        data["baseline_lrs"] = list(self.baseline_lrs)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SearchSettings:
        data = {k: v for k, v in data.items() if k not in RETIRED}  # states saved by an older raydim still load
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise RaydimError(f"unknown search settings {unknown}; known: {', '.join(sorted(known))}")
        return cls(**{**data, "baseline_lrs": tuple(data.get("baseline_lrs", cls.baseline_lrs))})

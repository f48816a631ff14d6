"""A cheap stand-in for fine-tuning: metric(d, lr, seed) of a made-up key with a known true d90.

The score rises as a sigmoid in log d from the trivial predictor's level
(``chance``) to the full fine-tune's (``full``), as the paper's curves do. A
subspace learning rate away from its optimum costs ``lr_curvature × log(lr /
lr_opt)²`` on the sigmoid's argument (the same as a smaller d), and the optimum
drifts with d (``log lr_opt`` linear in ``log d``), so the best lr at one d is only
a good guess at the next. Seeds add Gaussian noise, drawn from (d, lr, seed) so a
repeated trial repeats its metric. The true d90 is where the noiseless curve at
the best lr crosses the threshold computed from the noiseless full fine-tune.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from raydim.search.policy import SearchPolicy
from raydim.search.thresholds import thresholds
from raydim.search.trials import TrialRequest

FULL_LR_CURVATURE = 0.01  # metric lost by a full fine-tune per log(lr / full_lr_opt)²


@dataclass(frozen=True)
class SimulatedCurve:
    d90: float  # the true d90 against the threshold the search uses (see module docstring)
    full: float  # the full fine-tune's metric at its best lr
    chance: float
    width: float  # sigmoid scale in log d: the 10%→90% rise spans 2·ln(9)·width ≈ 4.4·width
    noise_sd: float  # seed-to-seed sd of every metric
    lr_opt: float  # best subspace lr at d = d90
    lr_slope: float = 0.0  # d log(lr_opt) / d log(d)
    lr_curvature: float = 0.1
    full_lr_opt: float = 3e-5
    ratio: float = 0.9
    noise_seed: int = 0

    def __post_init__(self) -> None:
        threshold = self.threshold
        if not self.chance < threshold < self.full:
            raise ValueError(f"threshold {threshold} must lie between chance {self.chance} and full {self.full}")

    @property
    def threshold(self) -> float:
        return thresholds(self.full, self.chance, self.ratio).value

    @property
    def _midpoint(self) -> float:
        """log d where the sigmoid is halfway, placed so the best-lr curve crosses the threshold at d90."""
        q = (self.threshold - self.chance) / (self.full - self.chance)
        return math.log(self.d90) - self.width * math.log(q / (1 - q))

    def best_lr(self, d: float) -> float:
        return self.lr_opt * (d / self.d90) ** self.lr_slope

    def mean(self, d: float | None, lr: float) -> float:
        """The noiseless metric; ``d=None`` is the full fine-tune."""
        if d is None:
            return self.full - FULL_LR_CURVATURE * math.log(lr / self.full_lr_opt) ** 2
        z = (math.log(d) - self._midpoint) / self.width - self.lr_curvature * math.log(lr / self.best_lr(d)) ** 2
        return self.chance + (self.full - self.chance) / (1 + math.exp(-z))

    def metric(self, d: int | None, lr: float, seed: int) -> float:
        """One trial's metric: the mean plus seed noise, the same every time for the same (d, lr, seed)."""
        salt = zlib.crc32(f"{self.noise_seed}:{d}:{lr!r}:{seed}".encode())
        return self.mean(d, lr) + self.noise_sd * float(np.random.default_rng(salt).standard_normal())

    def __call__(self, request: TrialRequest) -> float:
        """Run a request: a full fine-tune when ``request.d`` is None (method "full"), else a subspace one."""
        return self.metric(request.d, request.lr, request.seed)


def random_curve(rng: np.random.Generator, *, d90_range: tuple[float, float] = (50, 50_000),
                 noise_sd: tuple[float, float] = (0.005, 0.01), lr_range: tuple[float, float] = (1e-3, 1e-1),
                 ratio: float = 0.9) -> SimulatedCurve:
    """A curve like the paper's: true d90 log-uniform in ``d90_range``, threshold 40–85% of the way up.

    ``q``, the threshold's position between chance and full, fixes chance through
    ``ratio × full = chance + q (full − chance)``: q = 0.59 is MRPC's (0.81 between
    0.68 and 0.90). The rise from 10% to 90% spans 1.5–3 decades of d.
    """
    full = rng.uniform(0.80, 0.95)
    q = rng.uniform(0.40, 0.85)
    chance = full * (ratio - q) / (1 - q)
    decades = rng.uniform(1.5, 3.0)
    return SimulatedCurve(
        d90=float(np.exp(rng.uniform(*np.log(d90_range)))), full=full, chance=chance,
        width=decades * math.log(10) / (2 * math.log(9)), noise_sd=rng.uniform(*noise_sd),
        lr_opt=float(np.exp(rng.uniform(*np.log(lr_range)))), lr_slope=rng.uniform(-0.3, 0.0),
        lr_curvature=rng.uniform(0.05, 0.15), ratio=ratio, noise_seed=int(rng.integers(2**31)),
    )


def run_search(policy: SearchPolicy, metric: Callable[[TrialRequest], float], slots: int,
               max_rounds: int = 10_000) -> int:
    """Drive ``policy`` to the end in synchronous rounds of ``slots`` trials; the number of rounds it took.

    Each round proposes up to ``slots`` trials, runs them all, then records them:
    the slowest possible schedule, so rounds bound the wall-clock of a real run.
    """
    for rounds in range(max_rounds):
        if policy.finished():
            return rounds
        requests = policy.propose(slots)
        if not requests:
            raise RuntimeError("the policy proposed nothing with no trial running and is not finished")
        for request in requests:
            policy.record_result(request.trial_id, metric(request))
    raise RuntimeError(f"the search did not finish within {max_rounds} rounds")

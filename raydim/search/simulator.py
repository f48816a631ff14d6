"""A cheap stand-in for fine-tuning: metric(d, lr, seed) of a made-up key with a known true d90.

The score rises as a sigmoid in log d from the trivial predictor's level
(``chance``) to the full fine-tune's (``full``), as the paper's curves do. A
subspace learning rate away from its optimum costs ``lr_curvature × log(lr /
lr_opt)²`` on the sigmoid's argument (the same as a smaller d), and the optimum
drifts with d (``log lr_opt`` linear in ``log d``), so the best lr at one d is only
a good guess at the next. Seeds add Gaussian noise, drawn from (d, lr, seed) so a
repeated trial repeats its metric. The true d90 is where the noiseless curve at
the best lr crosses the threshold computed from the noiseless full fine-tune.

Trials run in epochs, as real ones do: epoch e of E reaches c + (m − c)·r_e of
the way from chance c to the trial's final metric m (r rising to r_E = 1; with a
slow start, as on MRPC, epoch 1 sits at the majority class), and a trial's score
is its best epoch. A learning rate well above the optimum sometimes *collapses*
the run to the trivial predictor (``collapse_prob`` once lr > ``collapse_ratio`` ×
the best lr, and ``collapse_floor`` at any lr): a learning-rate failure, not
evidence about d, as seen on real GLUE runs.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

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
    epochs: int = 3
    slow_start: float = 0.0  # r_1: how far up epoch 1 gets (0: it sits at chance), r rising linearly to 1
    collapse_ratio: float = 3.0
    collapse_prob: float = 0.0
    collapse_floor: float = 0.0

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

    def outcome(self, d: int | None, lr: float, seed: int) -> tuple[float, bool]:
        """One trial's final metric and whether it collapsed, the same every time for the same (d, lr, seed)."""
        rng = np.random.default_rng(zlib.crc32(f"{self.noise_seed}:{d}:{lr!r}:{seed}".encode()))
        final = self.mean(d, lr) + self.noise_sd * float(rng.standard_normal())
        if d is not None and rng.uniform() < self.collapse_chance(d, lr):
            return self.chance + self.noise_sd * float(rng.standard_normal()), True
        return final, False

    def epoch_metrics(self, d: int | None, lr: float, seed: int) -> list[float]:
        """Every epoch's metric of one trial, rising to its :meth:`outcome`."""
        final, _ = self.outcome(d, lr, seed)
        rises = np.linspace(self.slow_start, 1.0, self.epochs) if self.epochs > 1 else np.ones(1)
        return [self.chance + (final - self.chance) * float(r) for r in rises]

    def collapse_chance(self, d: int, lr: float) -> float:
        too_high = lr > self.collapse_ratio * self.best_lr(d)
        return max(self.collapse_floor, self.collapse_prob if too_high else 0.0)

    def metric(self, d: int | None, lr: float, seed: int) -> float:
        """One trial's score: its best epoch (the mean plus seed noise, unless it collapsed)."""
        return max(self.epoch_metrics(d, lr, seed))

    def __call__(self, request: TrialRequest) -> float:
        """Run a request: a full fine-tune when ``request.d`` is None (method "full"), else a subspace one."""
        return self.metric(request.d, request.lr, request.seed)

    def run(self, request: TrialRequest) -> tuple[float, bool, int]:
        """(score, censored, epochs run): a trial stops after the first epoch whose best so far reaches
        ``request.stop_above``, as the real trainable does; its score is then a lower bound."""
        best = -math.inf
        epochs = self.epoch_metrics(request.d, request.lr, request.seed)
        for epoch, value in enumerate(epochs, start=1):
            best = max(best, value)
            if request.stop_above is not None and best >= request.stop_above and epoch < len(epochs):
                return best, True, epoch
        return best, False, len(epochs)


def random_curve(rng: np.random.Generator, *, d90_range: tuple[float, float] = (50, 50_000),
                 noise_sd: tuple[float, float] = (0.005, 0.01), lr_range: tuple[float, float] = (1e-3, 1e-1),
                 ratio: float = 0.9, collapses: bool = False, decades: tuple[float, float] = (1.5, 3.0),
                 baseline_lr: float = 3e-5, epochs: int = 3) -> SimulatedCurve:
    """A curve like the paper's: true d90 log-uniform in ``d90_range``, threshold 40–85% of the way up.

    ``q``, the threshold's position between chance and full, fixes chance through
    ``ratio × full = chance + q (full − chance)``: q = 0.59 is MRPC's (0.81 between
    0.68 and 0.90). The rise from 10% to 90% spans ``decades`` of d (MRPC's: about
one). The full fine-tune's best lr is ``baseline_lr``. Epoch 1
    reaches 0–60% of the way (0: MRPC's slow start). With ``collapses``, an lr over
    3× the optimum collapses a run with probability 0.5, any lr with 0.02.
    """
    full = rng.uniform(0.80, 0.95)
    q = rng.uniform(0.40, 0.85)
    chance = full * (ratio - q) / (1 - q)
    decades = rng.uniform(*decades)
    return SimulatedCurve(
        d90=float(np.exp(rng.uniform(*np.log(d90_range)))), full=full, chance=chance,
        width=decades * math.log(10) / (2 * math.log(9)), noise_sd=rng.uniform(*noise_sd),
        lr_opt=float(np.exp(rng.uniform(*np.log(lr_range)))), lr_slope=rng.uniform(-0.3, 0.0),
        lr_curvature=rng.uniform(0.05, 0.15), ratio=ratio, noise_seed=int(rng.integers(2**31)),
        full_lr_opt=baseline_lr, epochs=epochs, slow_start=rng.uniform(0.0, 0.6), collapse_prob=0.5 if collapses else 0.0,
        collapse_floor=0.02 if collapses else 0.0,
    )


class SimulatedRun(NamedTuple):
    rounds: int  # synchronous rounds of ``slots`` trials: bounds the wall-clock of a real run
    epochs: int  # trial-epochs run: the compute, which stopping decided trials early saves
    hopeless_epochs: int = 0  # of those, epochs of subspace trials whose best epoch stayed below T − 2σ
    collapses: int = 0  # subspace trials that collapsed more than 2σ below their true mean
    collapses_misleading: int = 0  # of those, the ones the finished fit counts (not set aside)


def run_search(policy: SearchPolicy, curve: SimulatedCurve | Callable[[TrialRequest], float], slots: int,
               max_rounds: int = 10_000) -> SimulatedRun:
    """Drive ``policy`` to the end in synchronous rounds of ``slots`` trials of ``curve``.

    Each round proposes up to ``slots`` trials, runs them all, then records them:
    the slowest possible schedule, so rounds bound the wall-clock of a real run.
    ``curve`` may also be any function of a request to its metric: a one-epoch trial.
    ``hopeless_epochs`` bounds what stopping hopeless trials could save: an oracle
    that stopped every clearly failing trial after its first epoch would save
    (E − 1)/E of them. ``collapses`` counts the collapses that matter (more than 2σ
    below what the trial would have scored: a collapse at a d whose curve sits at
    chance anyway is not one), ``collapses_misleading`` those the finished fit still
    counts (missed by the collapse rule, or out of reruns).
    """
    epochs = hopeless = 0
    collapsed: list[str] = []  # collapses that scored more than 2σ below their trial's true mean
    for rounds in range(max_rounds):
        if policy.finished():
            set_aside = set().union(*(policy.history(key_id).excluded for key_id in policy.targets))
            return SimulatedRun(rounds, epochs, hopeless, len(collapsed),
                                sum(trial_id not in set_aside for trial_id in collapsed))
        requests = policy.propose(slots)
        if not requests:
            raise RuntimeError("the policy proposed nothing with no trial running and is not finished")
        for request in requests:
            score, censored, ran = curve.run(request) if isinstance(curve, SimulatedCurve) else (curve(request), False, 1)
            epochs += ran
            if isinstance(curve, SimulatedCurve) and request.d is not None:
                if curve.metric(request.d, request.lr, request.seed) < curve.threshold - 2 * curve.noise_sd:
                    hopeless += ran
                final, fell = curve.outcome(request.d, request.lr, request.seed)
                if fell and final < curve.mean(request.d, request.lr) - 2 * curve.noise_sd:
                    collapsed.append(request.trial_id)
            policy.record_result(request.trial_id, score, censored=censored)
    raise RuntimeError(f"the search did not finish within {max_rounds} rounds")

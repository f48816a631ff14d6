"""d90 and its interval from every trial of a key at once: a sigmoid in log d, its crossing profiled.

A key's scores rise with d from the trivial predictor's level c towards a plateau u,
as a sigmoid in log d (the paper's curves; the MRPC curve in docs/subspace.md):

    score(d) = c + (u − c) · σ(s · (ln d − m))

and d90 is where that curve reaches the threshold T(F) = 0.9·F (or c + 0.9·(F − c)),
F the full fine-tune's metric:  ln d90 = m + logit((T − c)/(u − c)) / s. F is
measured too, by the baseline's seeds, as F̂ ± sd(F̂), so the baseline's noise
widens the interval as it should.

The interval is the profile-likelihood one, computed exactly over a grid of curves
(161 m × 13 s × 9 u, vectorised: a few ms): every curve whose misfit is within the
cutoff of the best, combined with every F its remaining allowance admits, crosses
its threshold somewhere, and the interval runs from the lowest to the highest of
those crossings. The cutoff is the F(1, ν) quantile at the level — σ is estimated
with ν degrees of freedom (:mod:`raydim.search.noise`); χ²₁ when known — times
``CUTOFF_SCALE``, a small-sample correction: on fixed designs of 6–30 trials with
the true model and σ known the plain χ²₁ cutoff covered 85–89% at a nominal 90%,
1.2× brings it to 88–92% (docs/benchmarks.md).

The steepness s is capped at ``MAX_STEEPNESS``: a 10%→90% rise within a factor 9 of
d, about as steep as MRPC's measured curve (a decade) and steeper than the
simulator's (1.5–3 decades); where the data cannot tell a smooth rise from a jump
the interval falls back to about the gap between failing and passing d's. The cap
used to be twice that (a factor 3), more than the collapse rule
(:mod:`raydim.search.collapse`) called possible, so a collapsed trial the rule
missed read as a steep rise: SST-2 SAID's 0.551 at d = 400 (lr 0.5) beside 0.802 at
d = 895 gave d90 821 [773, 937], and its rerun at lr 0.167 (0.774) moved the interval
to [275, 673]. Now both use one curve family: a trial lower than every curve the
others admit is what the collapse rule looks for. An end
beyond [d_min / 8, 8 · d_max] is *open*: the trials do not bound it. A trial stopped
early once it had clearly passed is *censored*: its final score is only known to be
at least what it had reached, and it enters the likelihood as P(score ≥ y).

Why this and not isotonic regression with a bootstrap: on a fixed design of 10 or
20 trials (σ = 0.02, one baseline seed) a percentile bootstrap of the isotonic
crossing covered 88% with more than half of its intervals unbounded (median width
infinite), where this fit covers as often with a median width of 7–34× — the
sigmoid lets neighbouring d's share evidence about the local slope, and that is
what bounds the ends.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.special import expit, log_ndtr, logit
from scipy.stats import chi2
from scipy.stats import f as f_dist

M_POINTS = 161  # curve locations m (ln d where the rise is halfway)
MAX_STEEPNESS = 2.0  # s per unit ln d: 10%→90% over 2·ln 9 / s = 2.2 units of ln d (a factor 9 of d)
S_GRID = np.geomspace(0.25, MAX_STEEPNESS, 13)  # 10%→90% over 17.6 … 2.2 units of ln d
U_GRID = np.linspace(0.6, 1.4, 9)  # upper asymptote u = c + this × (F̂ − c): levels off below, at or above F
CUTOFF_SCALE = 1.2
X_MARGIN = math.log(8.0)  # an interval end beyond [d_min / 8, 8 · d_max] is reported open


@dataclass(frozen=True)
class Observation:
    """One trial's score at ``d``; ``censored``: stopped early, its final score is at least ``score``."""

    d: int
    score: float
    censored: bool = False


@dataclass(frozen=True)
class Reference:
    """What the threshold is made of, and the noise of one trial."""

    chance: float  # c: the trivial predictor's metric
    full: float  # F̂: the full fine-tune's metric (best lr, mean over seeds)
    full_sd: float  # sd of F̂ (0: a baseline the user supplied)
    ratio: float  # 0.9 for d90
    kind: str  # "paper": T = ratio·F; "relative": T = c + ratio·(F − c)
    noise_sd: float  # σ: seed-to-seed sd of one trial's score
    noise_df: float = math.inf  # degrees of freedom behind σ (prior and replicates): ∞ for a known σ

    def threshold(self, full: float | np.ndarray | None = None) -> float | np.ndarray:
        full = self.full if full is None else full
        return self.ratio * full if self.kind == "paper" else self.chance + self.ratio * (full - self.chance)


@dataclass(frozen=True)
class Crossing:
    """The fitted crossing: d90 (the best curve's), the interval at ``level``; None marks an open end."""

    d90: float | None  # None when the best curve crosses beyond [d_min / 8, 8 · d_max] (or never)
    low: float | None
    high: float | None
    level: float
    mle: tuple[float, float, float]  # (m, s, u) of the best curve

    @property
    def width(self) -> float:
        """high / low, ∞ while an end is open."""
        return math.inf if self.low is None or self.high is None else self.high / self.low


def curve(x, m, s, u, chance: float):
    """The score at ln d = ``x`` of the curve rising from ``chance`` to ``u``, halfway at ``m`` (broadcasts)."""
    return chance + (u - chance) * expit(s * (x - m))


def crossing_x(m, s, u, threshold, chance: float):
    """ln d where the curve reaches ``threshold``: −∞ if it starts above it, +∞ if it never gets there."""
    q = (threshold - chance) / (u - chance)
    with np.errstate(divide="ignore", invalid="ignore"):
        x = m + logit(np.clip(q, 0.0, 1.0)) / s
    return np.where(q <= 0, -np.inf, np.where(q >= 1, np.inf, x))


def fit_crossing(observations: Sequence[Observation], reference: Reference, level: float,
                 d_min: int, d_max: int) -> Crossing:
    """The profile-likelihood d90 and interval of ``observations`` (see the module docstring)."""
    return _fit(tuple(observations), reference, level, d_min, d_max)


@functools.lru_cache(maxsize=4096)
def _fit(observations: tuple[Observation, ...], reference: Reference, level: float, d_min: int,
         d_max: int) -> Crossing:
    if not observations:
        raise ValueError("fit_crossing needs at least one observation")
    c = reference.chance
    edge_low, edge_high = _edges(d_min, d_max)
    m, s, u = _grid(reference, d_min, d_max)
    misfit = _misfit_terms(observations, reference, m, s, u)[1].sum(axis=-1)
    excess = misfit - misfit.min()
    best = np.unravel_index(int(np.argmin(misfit)), misfit.shape)
    m_hat, s_hat, u_hat = float(m[best[0], 0, 0]), float(s[0, best[1], 0]), float(u[0, 0, best[2]])
    # Every curve within the cutoff, with every F its remaining budget allows, crosses its threshold somewhere:
    # the interval is the range of those crossings (a bigger F raises the threshold and the crossing).
    budget = _cutoff(level, reference.noise_df) - excess
    ok = budget >= 0
    spread = reference.full_sd * np.sqrt(np.where(ok, budget, 0.0))
    lowest = crossing_x(m, s, u, reference.threshold(reference.full - spread), c)[ok]
    highest = crossing_x(m, s, u, reference.threshold(reference.full + spread), c)[ok]
    edges = _edge_crossings(m, s, u, budget, reference)  # where along m each (s, u) leaves the cutoff
    low = min(float(lowest.min()), float(edges.min(initial=np.inf)), edge_high)  # beyond 8·d_max: bounded there
    high = max(float(highest.max()), float(edges.max(initial=-np.inf)), edge_low)
    d90 = crossing_x(m_hat, s_hat, u_hat, reference.threshold(), c)
    # no point where the trials cannot speak for one: a best curve crossing at d ≈ 0.3 was printed as "d90 0"
    point = math.exp(d90) if edge_low <= d90 <= edge_high else None
    return Crossing(d90=point,
                    low=math.exp(low) if low > edge_low else None, high=math.exp(high) if high < edge_high else None,
                    level=level, mle=(m_hat, s_hat, u_hat))


def _edges(d_min: int, d_max: int) -> tuple[float, float]:
    """ln d beyond which the trials do not bound an interval's end: [d_min / 8, 8 · d_max]."""
    return math.log(d_min) - X_MARGIN, math.log(d_max) + X_MARGIN


def _grid(reference: Reference, d_min: int, d_max: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The curves (m, s, u) the fit considers, shaped to broadcast to (m, s, u)."""
    edge_low, edge_high = _edges(d_min, d_max)
    c = reference.chance
    m = np.linspace(edge_low - 4.0, edge_high + 4.0, M_POINTS)[:, None, None]
    return m, S_GRID[None, :, None], (c + U_GRID * (reference.full - c))[None, None, :]


def _misfit_terms(observations: Sequence[Observation], reference: Reference, m: np.ndarray, s: np.ndarray,
                  u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every curve's score at each trial and that trial's misfit (−2 log-likelihood), both (m, s, u, trial)."""
    x = np.array([math.log(o.d) for o in observations])
    y = np.array([o.score for o in observations])
    censored = np.array([o.censored for o in observations])
    f = curve(x, m[..., None], s[..., None], u[..., None], reference.chance)
    sigma = reference.noise_sd
    return f, np.where(censored, -2.0 * log_ndtr((f - y) / sigma), ((y - f) / sigma) ** 2)


def admitted_floor(observations: Sequence[Observation], others: Sequence[Sequence[bool]], reference: Reference,
                   level: float, d_min: int, d_max: int) -> np.ndarray:
    """For each observation i, the lowest score at its d among the curves that ``observations[others[i]]`` admit.

    A curve is admitted when its misfit to those trials lies within the interval's
    cutoff of their best curve's: the same curves the interval is made of. ``others``
    is a boolean (trial, trial) matrix; a row with no trial gives −∞. One grid
    evaluation serves every row (each row's misfit is a sum of per-trial terms).
    """
    rows = tuple(tuple(bool(v) for v in row) for row in others)
    return np.array(_admitted_floor(tuple(observations), rows, reference, level, d_min, d_max))


@functools.lru_cache(maxsize=1024)
def _admitted_floor(observations: tuple[Observation, ...], others: tuple[tuple[bool, ...], ...],
                    reference: Reference, level: float, d_min: int, d_max: int) -> tuple[float, ...]:
    mask = np.array(others, dtype=float).reshape(len(observations), len(observations))
    m, s, u = _grid(reference, d_min, d_max)
    f, terms = _misfit_terms(observations, reference, m, s, u)
    misfit = terms @ mask.T  # (m, s, u, i): the misfit to row i's trials
    admitted = misfit - misfit.min(axis=(0, 1, 2)) <= _cutoff(level, reference.noise_df)
    floor = np.where(admitted, f, np.inf).min(axis=(0, 1, 2))
    return tuple(float(v) for v in np.where(mask.any(axis=1), floor, -np.inf))


def _edge_crossings(m: np.ndarray, s: np.ndarray, u: np.ndarray, budget: np.ndarray,
                    reference: Reference) -> np.ndarray:
    """Crossings of the curves exactly on the cutoff, found between neighbouring m's of the grid.

    The grid's m step (≈0.1 in ln d) would otherwise round the interval's ends
    inwards by up to that much wherever the trials pin the curve tightly.
    """
    inside = budget >= 0
    change = inside[1:] != inside[:-1]  # (m − 1, s, u): the cutoff lies between m[i] and m[i + 1]
    t = budget[:-1] / np.where(change, budget[:-1] - budget[1:], 1.0)
    m_edge = m[:-1] + t * (m[1:] - m[:-1])
    x = crossing_x(m_edge, s, u, reference.threshold(), reference.chance)[change]
    return x[np.isfinite(x)]


def _cutoff(level: float, df: float) -> float:
    """How far above the best curve's misfit an admitted curve's may lie: the scaled likelihood-ratio cutoff."""
    return CUTOFF_SCALE * _quantile(level, df)


def _quantile(level: float, df: float) -> float:
    """The likelihood-ratio cutoff: χ²₁ for a known σ, F(1, df) for one estimated with ``df`` degrees of freedom."""
    return float(chi2.ppf(level, 1) if math.isinf(df) else f_dist.ppf(level, 1, df))


class Design:
    """How much a new trial would narrow the interval: var(ln d90) from the Fisher information at the best fit.

    c-optimal design for x* = ln d90 = m + logit(q)/s, q = (T(F) − c)/(u − c): a
    subspace trial at d adds g gᵀ/σ² to the information about the curve (m, ln s,
    u), g the gradient of its mean score; another baseline seed adds 1/σ² to F's.
    Weak priors on ln s and u keep the matrix invertible with few trials; the
    smallest resulting var(x*) (delta method) marks the most useful trial.
    """

    PRIOR_PRECISION = np.array([1e-6, 1.0, 1e2])  # m (flat), ln s (sd 1), u (sd 0.1)

    def __init__(self, crossing: Crossing, reference: Reference, ds: Sequence[float]) -> None:
        self.reference = reference
        m, s, u = crossing.mle
        self.theta = np.array([m, math.log(s), u, reference.full])
        full_precision = 1.0 / reference.full_sd**2 if reference.full_sd > 0 else 1e12
        self.info = np.diag([*self.PRIOR_PRECISION, full_precision])
        for d in ds:
            self.info = self.info + self._trial_info(d)
        self.dx = self._numeric_gradient(self._crossing)

    def _crossing(self, theta: np.ndarray) -> float:
        c = self.reference.chance
        u = max(theta[2], self.reference.threshold(theta[3]) + 1e-4)  # keep the crossing finite near the top
        return float(crossing_x(theta[0], math.exp(theta[1]), u, self.reference.threshold(theta[3]), c))

    def _numeric_gradient(self, fn) -> np.ndarray:
        grad = np.zeros(4)
        for i in range(4):
            step = np.zeros(4)
            step[i] = 1e-5
            grad[i] = (fn(self.theta + step) - fn(self.theta - step)) / 2e-5
        return grad

    def _trial_info(self, d: float) -> np.ndarray:
        x, c = math.log(d), self.reference.chance
        g = self._numeric_gradient(lambda t: float(curve(x, t[0], math.exp(t[1]), t[2], c)))
        return np.outer(g, g) / self.reference.noise_sd**2

    def _baseline_info(self) -> np.ndarray:
        info = np.zeros((4, 4))
        info[3, 3] = 1.0 / self.reference.noise_sd**2
        return info

    def variance(self, extra: np.ndarray | None = None) -> float:
        """var(x*) with the current trials plus ``extra`` information."""
        info = self.info if extra is None else self.info + extra
        return float(self.dx @ np.linalg.solve(info, self.dx))

    def gain(self, candidate: float | None) -> np.ndarray:
        """The information one more trial adds: at d = ``candidate``, or a baseline seed when None."""
        return self._baseline_info() if candidate is None else self._trial_info(candidate)

    def choose(self, candidates: Sequence[float | None], n: int,
               caps: Sequence[int | None] | None = None) -> list[float | None]:
        """Up to ``n`` picks, greedily, each the candidate that most lowers var(x*) given the picks before it.

        A candidate may be picked more than once (more seeds at one d), at most
        ``caps[i]`` times (None: no limit).
        """
        left = list(caps) if caps is not None else [None] * len(candidates)
        picks: list[float | None] = []
        gains = [self.gain(c) for c in candidates]
        added = np.zeros((4, 4))
        for _ in range(n):
            open_ = [i for i in range(len(candidates)) if left[i] is None or left[i] > 0]
            if not open_:
                break
            best = min(open_, key=lambda i: (self.variance(added + gains[i]), i))
            picks.append(candidates[best])
            added = added + gains[best]
            if left[best] is not None:
                left[best] -= 1
        return picks

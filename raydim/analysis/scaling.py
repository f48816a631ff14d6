"""d90 against model size: the paper's finding that larger pre-trained models have smaller intrinsic dimension.

A power law d90 ∝ D^slope is a line in log-log, fitted per (task, method,
checkpoint) over the keys that found a d90. Each d90 comes with an interval, so
the fit weighs each point by it and gives the slope an interval too: a slope
from three noisy d90s means little without one.

Each d90's interval at level L is read as a normal error on log10 d90 with
standard error s = (log10 high − log10 low) / (2·z), z the two-sided normal
quantile of L (one end open: the other end's half-width / z). The slope is then
the weighted least-squares one (weights 1/s²) with standard error 1/√(Σ w (x − x̄)²);
where the points scatter about the line more than their intervals allow (χ² per
degree of freedom above 1, three or more points) that error grows by the ratio's
square root (Birge), so a power law that does not fit cannot look precise. The
slope's interval is ± z of that error at the d90s' own level. On lines drawn with
known errors it covers 90% at 90% (92% with the Birge safeguard at three points:
``tests/analysis/test_scaling.py``).

A d90 interval with an open end bounds the slope on one side only: a point right
of the fit's (weighted) centre whose high end is open lets the slope grow without
bound (its low end open: fall), and the other way round left of it; a point at the
centre tilts nothing; a point with both ends open leaves the slope unbounded on
both sides. Such an end is reported open (None).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import pandas as pd
from scipy.stats import norm

from raydim.store.d90 import latest_per_key, unfinished
from raydim.table import missing

GROUP = ["task", "method", "checkpoint"]
MIN_SE = 1e-3  # decades: a d90 interval of (near) zero width must not take all the weight


class SlopeFit(NamedTuple):
    """log10 d90 = intercept + slope · log10 D; [slope_low, slope_high] at ``level``, None where an end is open."""

    slope: float
    intercept: float
    r2: float
    slope_low: float | None
    slope_high: float | None
    level: float


def slope_fit(params, d90, low, high, level: float = 0.9) -> SlopeFit:
    """The weighted power-law fit of d90s with intervals [low, high] at ``level`` (None or NaN: an open end).

    Points whose interval is open at both ends carry no weight of their own: they are fitted with the mean
    weight of the others (unweighted, when none has an interval) and leave the slope's interval open.
    """
    x, y = np.log10(np.asarray(params, float)), np.log10(np.asarray(d90, float))
    z = float(norm.ppf(0.5 + level / 2))
    ends = [(missing(lo), missing(hi)) for lo, hi in zip(low, high)]
    se = np.array([_log_se(d, lo, hi, z) for d, lo, hi in zip(d90, low, high)])
    known = ~np.isnan(se)
    weights = np.where(known, 1.0 / np.maximum(se, MIN_SE) ** 2, np.nan)
    weights = np.where(known, weights, np.nanmean(weights) if known.any() else 1.0)
    centre = float((weights * x).sum() / weights.sum())
    sxx = float((weights * (x - centre) ** 2).sum())
    slope = float((weights * (x - centre) * y).sum() / sxx)
    intercept = float((weights * y).sum() / weights.sum() - slope * centre)
    error = 1.0 / math.sqrt(sxx)
    if len(x) > 2:
        chi2 = float((weights * (y - intercept - slope * x) ** 2).sum())
        error *= math.sqrt(max(1.0, chi2 / (len(x) - 2)))
    open_low = open_high = not known.all()
    for xi, (lo_open, hi_open) in zip(x, ends):
        if abs(xi - centre) < 1e-9:
            continue  # a point at the centre does not tilt the line
        right = xi > centre
        open_high |= (hi_open and right) or (lo_open and not right)
        open_low |= (lo_open and right) or (hi_open and not right)
    return SlopeFit(slope, intercept, _r2(x, y, slope, intercept), None if open_low else slope - z * error,
                    None if open_high else slope + z * error, level)


def scaling_table(d90s: pd.DataFrame) -> pd.DataFrame:
    """One fit per (task, method, checkpoint) with a d90 at two or more parameter counts, its slope's interval
    at the d90s' level (the lowest, where keys differ).

    A key measured by several experiments (a reused search) counts once: its latest d90 that has a value.
    ``unfinished`` counts the fitted d90s whose search would run more trials (flag ``unfinished``): the fit is
    made all the same, and says so.
    """
    found = latest_per_key(d90s.dropna(subset=["d90", "D"]))
    columns = [*GROUP, "models", "unfinished", "slope", "intercept", "r2", "slope_low", "slope_high", "level"]
    records = []
    for group, rows in found.groupby(GROUP, sort=True):
        if rows["D"].nunique() < 2:
            continue
        levels = rows["level"].dropna()
        fit = slope_fit(rows["D"].to_numpy(), rows["d90"].to_numpy(), rows["d90_low"].to_numpy(),
                        rows["d90_high"].to_numpy(), float(levels.min()) if len(levels) else 0.9)
        records.append({**dict(zip(GROUP, group)), "models": len(rows),
                        "unfinished": int(rows["flags"].map(unfinished).sum()), **fit._asdict()})
    return pd.DataFrame.from_records(records, columns=columns)


def format_slope(fit) -> str:
    """``-0.50 [-0.62, -0.38] (90%)``, an open end as ``–``."""
    def end(value) -> str:
        return "–" if missing(value) else f"{value:.2f}"

    return f"{fit.slope:.2f} [{end(fit.slope_low)}, {end(fit.slope_high)}] ({fit.level:.0%})"


def _log_se(d90: float, low, high, z: float) -> float:
    """The standard error of log10 d90 its interval implies; NaN where both ends are open."""
    if not missing(low) and not missing(high):
        return (math.log10(high) - math.log10(low)) / (2 * z)
    if not missing(low):
        return (math.log10(d90) - math.log10(low)) / z
    if not missing(high):
        return (math.log10(high) - math.log10(d90)) / z
    return math.nan


def _r2(x: np.ndarray, y: np.ndarray, slope: float, intercept: float) -> float:
    residual = y - (intercept + slope * x)
    total = ((y - y.mean()) ** 2).sum()
    return float(1.0 - (residual ** 2).sum() / total) if total > 0 else 1.0

"""d90 against model size: the paper's finding that larger pre-trained models have smaller intrinsic dimension.

A power law d90 ∝ D^slope is a line in log-log; it is fitted by least squares on
log10 d90 against log10 D, per (task, method, checkpoint), over the keys that
found a d90. R² says how well a line fits.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from raydim.store.d90 import latest_per_key

GROUP = ["task", "method", "checkpoint"]


def power_law_fit(params: np.ndarray, d90: np.ndarray) -> tuple[float, float, float]:
    """(slope, intercept, R²) of log10 d90 = intercept + slope · log10 params."""
    x, y = np.log10(np.asarray(params, float)), np.log10(np.asarray(d90, float))
    slope, intercept = np.polyfit(x, y, 1)
    residual = y - (intercept + slope * x)
    total = ((y - y.mean()) ** 2).sum()
    r2 = 1.0 - (residual ** 2).sum() / total if total > 0 else 1.0
    return float(slope), float(intercept), float(r2)


def scaling_table(d90s: pd.DataFrame) -> pd.DataFrame:
    """One fit per (task, method, checkpoint) with a d90 at two or more parameter counts.

    A key measured by several experiments (a reused search) counts once: its latest d90 that has a value.
    """
    found = latest_per_key(d90s.dropna(subset=["d90", "D"]))
    records = []
    for group, rows in found.groupby(GROUP, sort=True):
        if rows["D"].nunique() < 2:
            continue
        slope, intercept, r2 = power_law_fit(rows["D"].to_numpy(), rows["d90"].to_numpy())
        records.append({**dict(zip(GROUP, group)), "models": len(rows), "slope": slope, "intercept": intercept,
                        "r2": r2})
    return pd.DataFrame.from_records(records, columns=[*GROUP, "models", "slope", "intercept", "r2"])

"""The paper's compression bound on the generalization gap (section 6), made concrete, beside the measured gap.

Fine-tuning in a d-dimensional subspace picks θ_d ∈ ℝ^d; with each coordinate
stored in q bits the hypothesis class is finite, |H| = 2^(q·d). Hoeffding plus a
union bound over H gives, with probability 1 − δ over n training rows, for every
f in H and a loss in [0, 1]:

    L₀(f) − L̂₀(f) <= √((q·d·ln 2 + ln(1/δ)) / (2n))

the paper's L₀(f) <= L̂₀(f) + O(√(d/n)). It holds at d = d90 and does not depend
on D, the model's parameter count: a larger model with a smaller d90 gets a
tighter bound. The gap it bounds is measured here as train − eval of the primary
metric (accuracy is 1 − the 0-1 loss; for correlations it is only indicative).
"""

from __future__ import annotations

import math

import pandas as pd

from raydim.errors import RaydimError

DEFAULT_BITS, DEFAULT_DELTA = 8, 0.05


def compression_bound(d: float, n: int, bits: float = DEFAULT_BITS, delta: float = DEFAULT_DELTA) -> float:
    """√((bits·d·ln 2 + ln(1/δ)) / (2n)): the train−eval gap bound of a d-dimensional θ_d at ``bits`` per coordinate."""
    if not d >= 1:
        raise RaydimError(f"d={d!r} must be at least 1 (a subspace dimension)")
    if not (isinstance(n, int | float) and n >= 1):
        raise RaydimError(f"n={n!r} must be at least 1 (the training rows)")
    if not bits > 0:
        raise RaydimError(f"bits={bits!r} must be > 0, e.g. 8 (--bits)")
    if not 0 < delta < 1:
        raise RaydimError(f"delta={delta!r} must be in (0, 1), e.g. 0.05 (--delta)")
    return math.sqrt((bits * d * math.log(2) + math.log(1 / delta)) / (2 * n))


def key_ids(trials: pd.DataFrame) -> pd.Series:
    """The ``task:model@checkpoint:method`` key of each trial row (full fine-tunes under method ``full``)."""
    return trials["task"] + ":" + trials["model"] + "@" + trials["checkpoint"] + ":" + trials["method"]


def measured_gap(trials: pd.DataFrame, key: str, d90: float) -> dict[str, float | None]:
    """Train and eval metric, and their gap, at the smallest tested d >= d90 of ``key``: its best learning
    rate's mean over seeds, as the search scores a d."""
    done = trials[(key_ids(trials) == key) & (trials["status"] == "completed") & trials["d"].notna()
                  & (trials["d"] >= math.ceil(d90)) & trials["train_metric"].notna()]
    if done.empty:
        return {"d_measured": None, "train_metric": None, "eval_metric": None, "gap": None}
    at_d = done[done["d"] == done["d"].min()]
    means = at_d.groupby("lr")[["primary", "train_metric"]].mean()
    best = means.loc[means["primary"].idxmax()]
    return {"d_measured": int(at_d["d"].iloc[0]), "train_metric": float(best["train_metric"]),
            "eval_metric": float(best["primary"]), "gap": float(best["train_metric"] - best["primary"])}


def bound_table(trials: pd.DataFrame, d90s: pd.DataFrame, bits: float = DEFAULT_BITS,
                delta: float = DEFAULT_DELTA) -> pd.DataFrame:
    """Per (experiment, key) with a d90 and a known train-set size: the bound at ⌈d90⌉ and the measured gap."""
    records = []
    for row in d90s.itertuples():
        if pd.isna(row.d90) or pd.isna(row.train_size):
            continue
        mine = trials[trials["experiment"] == row.experiment]
        records.append({"experiment": row.experiment, "key": row.key, "d90": row.d90, "n": int(row.train_size),
                        "bits": bits, "delta": delta,
                        "bound": compression_bound(math.ceil(row.d90), int(row.train_size), bits, delta),
                        **measured_gap(mine, row.key, row.d90)})
    columns = ["experiment", "key", "d90", "n", "bits", "delta", "bound", "d_measured", "train_metric",
               "eval_metric", "gap"]
    return pd.DataFrame.from_records(records, columns=columns)

"""The report's PNG figures. Plotting only: every number comes in as a data frame from the other modules.

Figures are drawn on ``matplotlib.figure.Figure`` (the Agg canvas, no pyplot and
no display needed) and written atomically, so a figure on disk is always whole.
Each function returns the file it wrote, or None when its data has nothing to show.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from raydim.analysis.bounds import key_ids
from raydim.analysis.scaling import GROUP, format_slope
from raydim.store.d90 import latest_per_key, unfinished
from raydim.atomic import write_atomically


def _save(figure: Figure, path: Path) -> Path:
    figure.tight_layout()
    write_atomically(path, lambda tmp: figure.savefig(tmp, format="png", dpi=120))
    return path


def metric_vs_d(trials: pd.DataFrame, d90s: pd.DataFrame, path: Path) -> Path | None:
    """One panel per key: every completed trial's metric against d (log), the threshold, d90 and its interval;
    a trial the fit set aside as collapsed (``trials["set_aside"]``) is a red cross, not a point of the curve."""
    keys = list(d90s.itertuples())
    if not keys:
        return None
    cols = min(3, len(keys))
    rows = math.ceil(len(keys) / cols)
    figure = Figure(figsize=(4.5 * cols, 3.4 * rows))
    for i, key in enumerate(keys):
        ax = figure.add_subplot(rows, cols, i + 1)
        mine = trials[(trials["experiment"] == key.experiment) & (key_ids(trials) == key.key)
                      & (trials["status"] == "completed")]
        aside = mine["set_aside"].astype(bool) if "set_aside" in mine else pd.Series(False, index=mine.index)
        ax.scatter(mine["d"][~aside], mine["primary"][~aside], s=14, alpha=0.7, label="trials")
        if aside.any():
            ax.scatter(mine["d"][aside], mine["primary"][aside], s=18, marker="x", color="tab:red",
                       label="collapsed (set aside)")
        if not pd.isna(key.threshold):
            ax.axhline(key.threshold, color="tab:red", lw=1, label=f"threshold ({key.threshold_used})")
        if not pd.isna(key.baseline):
            ax.axhline(key.baseline, color="grey", ls="--", lw=1, label="full fine-tune")
        ax.axhline(key.chance, color="grey", ls=":", lw=1, label="trivial")
        if not pd.isna(key.d90):
            ax.axvline(key.d90, color="tab:green", lw=1.2, label=f"d90 ≈ {key.d90:,.0f}")
            if not (pd.isna(key.d90_low) or pd.isna(key.d90_high)):
                ax.axvspan(key.d90_low, key.d90_high, color="tab:green", alpha=0.12)
        if (mine["d"] > 0).any():  # a key ended before any subspace trial (no baseline) has no d to log-scale
            ax.set_xscale("log")
            ax.xaxis.set_major_formatter(FuncFormatter(_d_label))
            ax.xaxis.set_minor_formatter(FuncFormatter(_d_label))  # matplotlib's own overlap within a decade
        ax.set_xlabel("d")
        ax.set_ylabel("metric")
        ax.set_title(f"{key.key}\n({key.experiment}, {key.status})", fontsize=8)
        ax.legend(fontsize=6)
    return _save(figure, path)


def _d_label(d: float, _position=None) -> str:
    """A d tick as a plain number (``2,000``), only at 1, 2 and 5 times a power of ten."""
    lead = d / 10 ** math.floor(math.log10(d)) if d > 0 else 0.0
    return f"{d:,.0f}" if any(math.isclose(lead, k) for k in (1, 2, 5)) else ""


def d90_vs_params(d90s: pd.DataFrame, fits: pd.DataFrame, path: Path) -> Path | None:
    """d90 against parameter count, log-log, per (task, method, checkpoint): each d90 with its interval (an open
    end drawn to the plot's edge), the fitted line, its slope with the slope's interval, and R². A d90 whose
    search is not over (flag ``unfinished``) is drawn hollow: it may still move."""
    found = latest_per_key(d90s.dropna(subset=["d90", "D"]))
    if found.empty:
        return None
    figure = Figure(figsize=(6, 4.5))
    ax = figure.add_subplot()
    for group, rows in found.groupby(GROUP, sort=True):
        label = " ".join(group)
        points = ax.scatter(rows["D"], rows["d90"], label=label, zorder=3)
        low = rows["d90_low"].astype(float).fillna(rows["d90"].astype(float) / 100)  # an open end: off the plot
        high = rows["d90_high"].astype(float).fillna(rows["d90"].astype(float) * 100)
        ax.errorbar(rows["D"], rows["d90"], yerr=[rows["d90"] - low, high - rows["d90"]], fmt="none",
                    ecolor=points.get_facecolor()[0], elinewidth=1, capsize=3)
        moving = rows[rows["flags"].map(unfinished)]
        if not moving.empty:
            ax.scatter(moving["D"], moving["d90"], facecolors="white", edgecolors=points.get_facecolor()[0],
                       zorder=4, label=f"{label}: search not over")
        fit = fits[(fits[GROUP] == pd.Series(group, index=GROUP)).all(axis=1)] if not fits.empty else fits
        if not fit.empty:
            f = fit.iloc[0]
            x = np.geomspace(rows["D"].min(), rows["D"].max(), 50)
            ax.plot(x, 10 ** f["intercept"] * x ** f["slope"], color=points.get_facecolor()[0], lw=1,
                    label=f"{label}: slope {format_slope(f)}, R² {f['r2']:.2f}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_ylim(found["d90"].min() / 10, found["d90"].max() * 10)  # open interval ends run off the plot
    ax.set_xlabel("parameters D")
    ax.set_ylabel("d90 (bars: its interval)")
    ax.legend(fontsize=7)
    return _save(figure, path)


def step_positions(steps: pd.Series) -> pd.Series:
    """Where each pre-training step goes on a log axis: the step itself, and random init (step 0), which a
    log axis cannot show, one decade left of the smallest step (at 1 when there is no other)."""
    trained = steps[steps > 0]
    return steps.where(steps > 0, trained.min() / 10 if len(trained) else 1.0).astype(float)


def d90_vs_checkpoint(d90s: pd.DataFrame, path: Path) -> Path | None:
    """d90 against the pre-training step of each checkpoint, log-log, per (task, model, method); random init
    (step 0) is drawn as a hollow square one decade left of the first step, on a tick of its own."""
    found = latest_per_key(d90s.dropna(subset=["d90", "checkpoint_step"]))
    if found.empty:
        return None
    found = found.assign(x=step_positions(found["checkpoint_step"]))
    figure = Figure(figsize=(6, 4.5))
    ax = figure.add_subplot()
    for group, rows in found.groupby(["task", "model", "method"], sort=True):
        rows = rows.sort_values("x")
        [line] = ax.plot(rows["x"], rows["d90"], marker="o", label=" ".join(group))
        init = rows[rows["checkpoint_step"] == 0]
        ax.scatter(init["x"], init["d90"], marker="s", s=70, facecolors="none", edgecolors=line.get_color(), zorder=3)
    ax.set_xscale("log")
    init_x = found.loc[found["checkpoint_step"] == 0, "x"]
    if len(init_x):  # its own tick, and a dotted line between it and the trained steps
        x0, top = init_x.iloc[0], found["x"].max()
        decades = range(math.ceil(math.log10(x0 * 3)), math.floor(math.log10(top)) + 1)
        ax.set_xticks([x0, *(10.0**k for k in decades)], ["random\ninit", *(f"$10^{{{k}}}$" for k in decades)])
        ax.axvline(x0 * 10**0.5, color="grey", ls=":", lw=1)
    ax.set_yscale("log")
    ax.set_xlabel("pre-training step")
    ax.set_ylabel("d90")
    ax.legend(fontsize=7)
    return _save(figure, path)


def bound_vs_gap(bounds: pd.DataFrame, path: Path) -> Path | None:
    """Per key, the compression bound at d90 beside the measured train − eval gap."""
    if bounds.empty:
        return None
    figure = Figure(figsize=(max(5.0, 1.2 * len(bounds) + 2), 4.5))
    ax = figure.add_subplot()
    x = np.arange(len(bounds))
    q, delta = bounds["bits"].iloc[0], bounds["delta"].iloc[0]
    ax.bar(x - 0.2, bounds["bound"], width=0.4, label=f"bound at d90 (q={q:g} bits, δ={delta:g})")
    ax.bar(x + 0.2, bounds["gap"].fillna(0.0), width=0.4, label="measured train − eval gap")
    ax.set_xticks(x, [f"{k}\n{e}" for k, e in zip(bounds["key"], bounds["experiment"])], fontsize=6, rotation=20)
    ax.set_ylabel("generalization gap")
    ax.legend(fontsize=7)
    return _save(figure, path)

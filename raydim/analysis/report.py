"""``raydim report`` as library calls: the store read once, every analysis as a data frame, then text and figures.

``build_report`` validates everything (store, experiment, bound options) before
it computes anything, so a bad input is one error and no file is written.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow.dataset as pads

from raydim.analysis.bounds import DEFAULT_BITS, DEFAULT_DELTA, bound_table
from raydim.analysis.scaling import format_slope, scaling_table
from raydim.errors import RaydimError
from raydim.search.results import UNFINISHED
from raydim.store import ResultsStore, d90_table, set_aside
from raydim.store.d90 import unfinished
from raydim.store.dataset import trial_frame
from raydim.store.running import read_progress
from raydim.store.schema import rows_from_table
from raydim.table import format_compute, format_interval, format_table, missing

FORMATS = ("table", "md", "csv", "json")
FIGURES = {"metric_vs_d": "metric_vs_d.png", "d90_vs_params": "d90_vs_params.png",
           "d90_vs_checkpoint": "d90_vs_checkpoint.png", "bound_vs_gap": "bound_vs_gap.png"}


@dataclass(frozen=True)
class Report:
    """Every table of a report: the trials read, one d90 row per (experiment, key) with the bound and the measured
    gap beside it, the bounds alone, and the scaling fits."""

    trials: pd.DataFrame
    d90: pd.DataFrame
    bounds: pd.DataFrame
    scaling: pd.DataFrame


def build_report(store: ResultsStore, experiment: str | None = None, bits: float = DEFAULT_BITS,
                 delta: float = DEFAULT_DELTA) -> Report:
    errors = []
    if not bits > 0:
        errors.append(f"--bits {bits:g} must be > 0, e.g. 8 bits per coordinate of θ_d")
    if not 0 < delta < 1:
        errors.append(f"--delta {delta:g} must be in (0, 1), e.g. 0.05")
    data = store.arrow() if store.exists() else None  # the one read: every analysis below works from it
    experiments = None if data is None else sorted(set(data.column("experiment").to_pylist()))
    if experiments is None:
        errors.append(f"no results store at {store.uri} (no trials/part-*.parquet); pass --storage the folder "
                      "a search ran with (raydim search --storage), or run one")
    elif not experiments:
        errors.append(f"the results store at {store.uri} holds no readable row: its part files are damaged "
                      "(named in the warning above)")
    elif experiment is not None and experiment not in experiments:
        errors.append(f"no experiment {experiment!r} in {store.uri}; it holds {', '.join(experiments)}")
    if errors:
        raise RaydimError("; ".join(errors))
    if experiment is not None:
        data = data.filter(pads.field("experiment") == experiment)
    rows, trials = rows_from_table(data), trial_frame(data)
    aside = trials["trial_id"].isin(set_aside(rows))
    point = ["experiment", "task", "model", "checkpoint", "method", "d", "seed"]
    lowest_lr = trials.groupby(point, dropna=False)["lr"].transform("min")
    trials = trials.assign(set_aside=aside, rerun=aside & (trials["lr"] > lowest_lr))  # rerun: at a lower lr, stored
    running = {name: read_progress(store, name) for name in ([experiment] if experiment else experiments)}
    d90 = d90_table(rows, running)
    bounds = bound_table(trials, d90, bits, delta)
    merged = d90.merge(bounds[["experiment", "key", "bound", "gap"]], on=["experiment", "key"], how="left")
    return Report(trials=trials, d90=merged, bounds=bounds, scaling=scaling_table(d90))


def write_figures(report: Report, folder: str | Path) -> list[Path]:
    """The report's figures as PNGs in ``folder`` (created); the ones with nothing to show are skipped."""
    folder = Path(folder).expanduser()
    if folder.exists() and not folder.is_dir():
        raise RaydimError(f"--figures {folder} is a file; name a folder for the PNGs")
    folder.mkdir(parents=True, exist_ok=True)
    from raydim.analysis import figures  # matplotlib: only for a report that draws

    written = [figures.metric_vs_d(report.trials, report.d90, folder / FIGURES["metric_vs_d"]),
               figures.d90_vs_params(report.d90, report.scaling, folder / FIGURES["d90_vs_params"]),
               figures.d90_vs_checkpoint(report.d90, folder / FIGURES["d90_vs_checkpoint"]),
               figures.bound_vs_gap(report.bounds, folder / FIGURES["bound_vs_gap"])]
    return [path for path in written if path is not None]


def format_report(report: Report, fmt: str = "table") -> str:
    """The d90 table: a terminal table or Markdown (the main columns), CSV or JSON (every column)."""
    if fmt not in FORMATS:
        raise RaydimError(f"--format {fmt!r}: use one of {', '.join(FORMATS)}")
    if fmt == "csv":
        return report.d90.to_csv(index=False).rstrip("\n")
    if fmt == "json":
        return json.dumps(report.d90.astype(object).where(report.d90.notna(), None).to_dict("records"), indent=2,
                          default=str)
    headers = ("experiment", "key", "status", "d90", "interval", "threshold", "D", "n", "bound", "gap", "trials",
               "compute")
    rows = [(r.experiment, r.key, _status(r), _num(r.d90, ",.0f"),
             format_interval(_int(r.d90_low), _int(r.d90_high), None if missing(r.level) else r.level),
             f"{_num(r.threshold, '.4f')} ({r.threshold_used})" if not missing(r.threshold) else "-",
             _num(r.D, ",.0f"), _num(r.train_size, ".0f"), _num(r.bound, ".3f"), _num(r.gap, ".3f"),
             str(r.trials_used), format_compute(r.cpu_hours, r.gpu_hours)) for r in report.d90.itertuples()]
    if fmt == "table":
        text = format_table(headers, rows)
        fits = [f"d90 ∝ D^slope, slope {format_slope(f)} (R² {f.r2:.2f}, {f.models} models"
                + (f", {f.unfinished} of them unfinished" if f.unfinished else "")
                + f") for {f.task} {f.method} {f.checkpoint}" for f in report.scaling.itertuples()]
        return "\n".join([text, *fits])
    return _markdown(headers, rows)


def format_trials(report: Report, fmt: str = "table") -> str:
    """Every trial the report read, one row each in the order they started per experiment: what a d90 came from.

    A table or Markdown shows what a reader checks a d90 against (d, rate, seed, the best epoch's score, train
    score, epochs, seconds, and whether the trial was stopped once passed, set aside by the fit as collapsed,
    reused from another search or failed);
    CSV and JSON give every column but the search's settings JSON, which each row repeats.
    """
    if fmt not in FORMATS:
        raise RaydimError(f"--format {fmt!r}: use one of {', '.join(FORMATS)}")
    trials = report.trials.sort_values(["experiment", "started_at", "finished_at"], kind="stable")
    if fmt in ("csv", "json"):
        trials = trials.drop(columns=["search"])
        if fmt == "csv":
            return trials.to_csv(index=False).rstrip("\n")
        return json.dumps(trials.astype(object).where(trials.notna(), None).to_dict("records"), indent=2, default=str)
    headers = ("experiment", "key", "d", "lr", "seed", "score", "train", "best epoch", "seconds", "note")
    rows = [(r.experiment, f"{r.task}:{r.model}@{r.checkpoint}:{r.method}", _num(r.d, ",.0f"), f"{r.lr:.3g}",
             str(r.seed), f"{_num(r.primary, '.4f')} {r.primary_metric or ''}".rstrip(), _num(r.train_metric, ".3f"),
             "-" if missing(r.best_epoch) else f"{r.best_epoch:.0f} of {r.epochs:.0f}", _num(r.seconds, ",.0f"),
             _trial_note(r)) for r in trials.itertuples()]
    if fmt == "table":
        return format_table(headers, rows)
    return _markdown(headers, rows)


def _trial_note(trial) -> str:
    notes = []
    if trial.status != "completed":
        notes.append(f"{trial.status}: {trial.error}" if isinstance(trial.error, str) else trial.status)
    if not missing(trial.censored) and bool(trial.censored):  # numpy's bool where the column has no gaps
        notes.append("stopped once passed (score is a lower bound)")
    if trial.set_aside:
        notes.append("collapsed: set aside, rerun at a lower lr" if trial.rerun else "collapsed: set aside, not rerun")
    if isinstance(trial.reused_from, str):
        notes.append(f"reused from {trial.reused_from}")
    return "; ".join(notes)


def _status(row) -> str:
    """The key's status, ``(unfinished)`` beside it where its search is not over: the d90 may still move."""
    return f"{row.status} ({UNFINISHED})" if unfinished(row.flags) else row.status


def _markdown(headers, rows) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows])


def _int(value) -> int | None:
    return None if missing(value) else int(value)


def _num(value, spec: str) -> str:
    return "-" if missing(value) else format(value, spec)

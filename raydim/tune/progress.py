"""Plain-text views of a running and a finished search: what it runs, one line per key, each running trial's
epoch and step with the time left, then the d90 table; and of a search as ``raydim status`` reads it from the
results store. Nothing here imports Ray."""

from __future__ import annotations

import datetime as dt
import sys
import time
from collections.abc import Sequence

from raydim.search import KeyProgress, KeyResult
from raydim.store.manifest import SearchManifest
from raydim.store.running import TrialProgress, time_left
from raydim.store.status import SearchStatus
from raydim.table import format_compute, format_interval, format_table


def _num(value: float | None, spec: str = ".4f") -> str:
    return "-" if value is None else format(value, spec)


def format_progress(rows: Sequence[KeyProgress]) -> str:
    """Each key's phase, bracket, current d90 interval, trials (running ``?`` where unknown) and best score."""
    lines = []
    for r in rows:
        bracket = f"d in ({r.lo or '?'}, {r.hi or '?'}]" if r.lo is not None or r.hi is not None else "no bracket yet"
        interval = format_interval(r.d90_low, r.d90_high, r.level)
        estimate = f", d90 {_num(r.d90, ',.0f')} {interval}" if interval != "-" else ""
        running = "?" if r.trials_running is None else r.trials_running
        lines.append(f"  {r.key}: {r.phase}, {bracket}{estimate}, {r.trials_done} done / {running} running"
                     + (f" / {r.trials_failed} failed" if r.trials_failed else "")
                     + f", best {_num(r.best_metric)} vs threshold {_num(r.threshold)}")
    return "\n".join(lines)


def print_progress(rows: list[KeyProgress]) -> None:
    """The ``on_progress`` the CLI gives :class:`~raydim.tune.searcher.D90Searcher`: prints after every trial."""
    print(f"[raydim {time.strftime('%H:%M:%S')}] search progress\n{format_progress(rows)}", file=sys.stdout,
          flush=True)


def format_d90_table(results: Sequence[KeyResult],
                     compute: dict[str, tuple[float | None, float | None]] | None = None) -> str:
    """The d90 of every key with its interval, the threshold it was measured against and which kind that was;
    with ``compute`` (key → CPU-hours, GPU-hours, as :func:`raydim.store.d90_rows` sums them), what it cost."""
    headers = ("key", "status", "d90", "interval", "baseline", "chance", "threshold", "trials", "flags")
    rows = [(r.key, r.status, _num(r.d90, ",.0f"), format_interval(r.d90_low, r.d90_high, r.level),
             _num(r.baseline), _num(r.chance),
             f"{_num(r.threshold)} ({r.threshold_used})" if r.threshold is not None else "-",
             f"{r.trials_used}" + (f" ({r.trials_failed} failed)" if r.trials_failed else ""),
             ", ".join(r.flags) or "-") for r in results]
    if compute is None:
        return format_table(headers, rows)
    return format_table((*headers, "compute"),
                        [(*row, format_compute(*compute.get(r.key, (None, None)))) for row, r in zip(rows, results)])


def format_launch(manifest: SearchManifest) -> str:
    """What a search runs, printed as it starts: its keys, profile, trial slots, and where to follow it from."""
    epochs, max_trials = manifest.train.get("epochs"), manifest.search.get("max_trials")
    budget = ", ".join(x for x in (f"up to {max_trials} trials per key" if max_trials else "",
                                   f"{epochs} epochs per trial" if epochs else "") if x)
    storage = "" if manifest.storage is None else f" --storage {manifest.storage}"
    return "\n".join([
        f"raydim: search {manifest.experiment!r} of {len(manifest.keys)} key(s) with {manifest.space}"
        + (f" ({budget})" if budget else "") + f", {manifest.slots} trial slot(s) (trials at once)",
        *(f"  {key}" for key in manifest.keys),
        f"  storage {manifest.storage or '~/ray_results'}; follow it from another shell with: "
        f"raydim status --name {manifest.experiment}{storage}",
    ])


def format_running(status: SearchStatus, now: float | None = None) -> str:
    """Each running trial's epoch, step, elapsed time and time left, then the time left per key and overall
    (:func:`~raydim.store.running.time_left`: an estimate from the measured step rates and the trial budget)."""
    if not status.running:  # nothing has measured a rate: no estimate to give
        return ""
    now = time.time() if now is None else now
    lines = [f"  {_trial_line(t, now)}" for t in status.running]
    budget = {p.key: p.trials_left for p in status.progress if p.trials_left is not None}
    if status.progress and len(budget) == len(status.progress) and status.parallelism:
        slots = status.manifest.slots if status.manifest is not None else status.parallelism * len(budget)
        left = time_left(status.running, budget, status.parallelism, slots, now)
        if left.total is None:
            lines.append("  time left unknown until a running trial has measured its step rate")
        else:
            per_key = ", ".join(f"{key} {_left(seconds)}" for key, seconds in left.per_key.items())
            lines.append(f"  time left {_left(left.total)} ({per_key}) if every key uses its whole trial budget")
    return "\n".join(lines)


def _trial_line(trial: TrialProgress, now: float) -> str:
    what = "full fine-tune" if trial.d is None else f"d={trial.d:,}"
    left = trial.seconds_left(now)
    return (f"{trial.key} {what}: epoch {trial.epoch}/{trial.epochs}, step {trial.step:,}/{trial.steps:,}, "
            f"{_duration(now - trial.started_at)} elapsed, "
            + ("time left unknown until it has stepped again" if left is None else f"~{_duration(left)} left"))


def _left(seconds: float | None) -> str:
    return "unknown" if seconds is None else f"≤ ~{_duration(seconds)}"


def _duration(seconds: float) -> str:
    """``45s``, ``12m05s``, ``3h20m``: precise enough for an estimate, short enough for a progress line."""
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def format_status(status: SearchStatus, now: float | None = None) -> str:
    """A search as ``raydim status`` shows it: a header, its keys' progress, its running trials with the time
    left, and its d90 table once it has finished."""
    ended = "no trial ended yet" if status.last_finished is None else (
        f"{status.rows} trials ended, the last at "
        f"{status.last_finished.astimezone(dt.timezone.utc):%Y-%m-%d %H:%M:%S} UTC")
    started = "" if status.manifest is None else (
        f"started {status.manifest.started_at.astimezone(dt.timezone.utc):%Y-%m-%d %H:%M:%S} UTC with "
        f"{status.manifest.slots} trial slot(s); ")
    lines = [f"{status.experiment}: {started}{ended}; {'finished' if status.finished else 'running'}",
             format_progress(status.progress)]
    if not status.finished:
        running = format_running(status, now)
        lines += [running] if running else []
    if status.finished:
        lines.append(format_d90_table(status.results))
    return "\n".join(line for line in lines if line)

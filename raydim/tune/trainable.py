"""Ray Tune function trainables: one trial = one fine-tune at one (key, d, lr, seed).

``fine_tune`` runs the engine (:func:`raydim.train.train`), reporting every epoch
with ``ray.tune.report`` and a tiny ``ray.tune.Checkpoint`` (θ_d, λ, optimiser
and scheduler state — never θ), and resumes from ``ray.tune.get_checkpoint()``
after a failure or a ``Tuner.restore``. ``simulated_trial`` is its cheap stand-in
with a known d90 (:mod:`raydim.search.simulator`), for tests and benchmarks.
Both report ``score``: the best primary metric so far, the number the searcher reads.
"""

from __future__ import annotations

import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import ray
import torch
from ray import tune

from raydim.models import parse_model_ref
from raydim.search.keys import SearchKey
from raydim.search.simulator import SimulatedCurve
from raydim.store.dataset import ResultsStore
from raydim.store.running import PassLevels, ProgressWriter
from raydim.train.fingerprint import data_fingerprint, model_fingerprint
from raydim.train.loop import EpochMetrics, TrainingDiverged, TrainResult, set_threads, train
from raydim.tune.template import PROGRESS, TEMPLATE, TrialTemplate

SCORE = "score"  # reported by every trainable: the best epoch's primary metric so far (the paper's protocol)
CURVES = "curves"  # simulated_trial's param_space entry: key id → SimulatedCurve fields
ERROR = "error"  # reported instead of a finite score by a trial that failed without raising (a diverged loss)
CENSORED = "censored"  # reported true by a trial that stopped early once its score had cleared ``stop_above``
STATE_FILE = "trial_state.pt"


def best_metrics(result: dict[str, Any]) -> dict[str, float]:
    """The best epoch's metrics (``split/metric``) of a reported result; the flat ones of a trainable that
    reports no ``best`` epoch."""
    best = result.get("best") or {}
    return best.get("metrics") or {k: v for k, v in result.items() if "/" in k and _is_number(v)}


def train_score(result: dict[str, Any]) -> float | None:
    """The best epoch's primary metric on the train rows; None where the trial did not measure it."""
    value = best_metrics(result).get(f"train/{result.get('primary_metric')}")
    return None if value is None else float(value)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def cpu_share() -> int | None:
    """Whole CPUs assigned to this trial by Ray (at least 1), or None outside a Ray worker."""
    if not ray.is_initialized():
        return None
    cpus = ray.get_runtime_context().get_assigned_resources().get("CPU")
    return max(1, int(cpus)) if cpus else 1


def drop_stop_in_callbacks(unraisable: Any) -> None:
    """``sys.unraisablehook`` of a trial's worker: drops the ``SystemExit`` of a stop, passes on everything else.

    Ray stops a trial's worker (Ctrl-C, a finished search) with SIGTERM, and the worker's handler raises
    ``SystemExit`` wherever its main thread is. When that is inside a garbage collector's weakref callback,
    Python cannot raise it and prints "Exception ignored in ..." with a traceback, which the driver forwards
    to the user's terminal right beside "interrupted; continue it with ...". It is the stop Ray asked for,
    not an error: the worker ends as before, without the traceback.
    """
    if not isinstance(unraisable.exc_value, SystemExit):
        sys.__unraisablehook__(unraisable)


def fine_tune(config: dict[str, Any]) -> None:
    """The trainable a d90 search runs: ``config`` is a trial request merged with a :class:`TrialTemplate`.

    Each epoch reports ``score`` (the best epoch's primary metric so far), that
    epoch's metrics, the best epoch's under ``best``, and what the run is (``D``,
    ``num_trainable``, ``train_size``, ``device``, ``primary_metric`` and the
    data, model and layout fingerprints of :mod:`raydim.train.fingerprint`) for
    the results store. Torch (and numba) use as many threads as the trial has CPUs,
    so trials packed on one node do not oversubscribe it; a trial given a GPU
    trains on it. A loss gone NaN ends the trial with ``score`` NaN and the reason
    under ``error``, rather than raising: Tune would restart it from its last
    checkpoint, and it would diverge again at the same step. The searcher counts
    it as failed (and reruns it per its retry policy), the store records the error.
    Between epochs it writes its step to the results store every few seconds
    (:func:`progress_writer`), for the search's live lines and ``raydim status``.
    A subspace trial whose best epoch reaches its key's pass level (:func:`pass_level`)
    before the last epoch ends there, its score reported as ``censored``.
    """
    started_at = time.time()
    sys.unraisablehook = drop_stop_in_callbacks
    train_config = TrialTemplate.from_dict(config[TEMPLATE]).train_config(config)
    set_threads(cpu_share())
    data = train_config.data.load()
    fingerprints = {"data_fingerprint": data_fingerprint(data)}

    resume = None
    checkpoint = tune.get_checkpoint()
    if checkpoint is not None:
        with checkpoint.as_directory() as folder:
            resume = torch.load(Path(folder) / STATE_FILE, weights_only=True)
    runs: list[TrainResult] = []  # the run, as train() has built it: history (resumed epochs included), D, ...

    def on_start(run: TrainResult) -> None:
        runs.append(run)
        # after train() loaded the model: a hub model is in the local cache now, so its files can be read
        fingerprints["model_fingerprint"] = model_fingerprint(parse_model_ref(train_config.model))

    def facts(run: TrainResult) -> dict[str, Any]:
        return {**_run_facts(run), **fingerprints}

    def on_epoch(epoch: EpochMetrics, state) -> None:
        run = runs[0]
        best = run.best  # history includes the resumed epochs and this one
        level = pass_level(config) if epoch.epoch < train_config.epochs else None
        decided = level is not None and best.primary >= level
        metrics = {SCORE: best.primary, "primary": epoch.primary, "epoch": epoch.epoch, "step": epoch.step,
                   "train_loss": epoch.train_loss, "epoch_seconds": epoch.seconds, **epoch.metrics,
                   "best": asdict(best), CENSORED: decided, **facts(run)}
        with tempfile.TemporaryDirectory() as folder:
            torch.save(state(), Path(folder) / STATE_FILE)
            tune.report(metrics, checkpoint=tune.Checkpoint.from_directory(folder))
        if decided:
            raise _Decided

    try:
        train(train_config, data=data, on_start=on_start, on_epoch=on_epoch,
              on_step=progress_writer(config, train_config.epochs, started_at), resume=resume, progress=False)
    except _Decided:
        pass  # reported above: the trial has passed
    except TrainingDiverged as e:
        run = runs[0]  # its best epoch, before it diverged: did its subspace learn? (raydim.search.collapse)
        best = {"best": asdict(run.best)} if run.history else {}
        tune.report({SCORE: float("nan"), ERROR: str(e), "epoch": len(run.history), **best, **facts(run)})


def trial_key(config: dict[str, Any]) -> SearchKey:
    """The search key a trial's config belongs to (a full fine-tune's: its baseline key, method ``full``)."""
    return SearchKey(config["task"], config["model"], config["checkpoint"], config["method"])


def pass_level(config: dict[str, Any]) -> float | None:
    """The best-epoch score at which the trial has passed and stops: its key's level as the driver last published
    it (:class:`PassLevels`: the threshold may have been unknown when the trial was proposed, or moved since), else
    the one it was proposed with (``stop_above``). A full fine-tune has none: it runs whole."""
    if config.get("d") is None:
        return None
    if config.get(PROGRESS) is not None:
        published = PassLevels(*config[PROGRESS]).read(trial_key(config).id)
        if published is not None:
            return published
    return config.get("stop_above")


def progress_writer(config: dict[str, Any], epochs: int, started_at: float) -> ProgressWriter | None:
    """The trial's :class:`ProgressWriter` into the results store its search names (``config[PROGRESS]``), so
    ``raydim status`` and the search itself show its epoch and step; None for a Tuner built without one."""
    if config.get(PROGRESS) is None:
        return None
    store_uri, experiment = config[PROGRESS]
    key = trial_key(config)
    return ProgressWriter(ResultsStore(store_uri), experiment, config["trial_id"], key.id, config["d"], epochs,
                          started_at)


class _Decided(Exception):
    """Raised out of ``train`` by the epoch callback of a trial that has passed: the run ends there."""


def _run_facts(run: TrainResult) -> dict[str, Any]:
    """What the run is, reported with every result for the results store's row."""
    return {"D": run.D, "num_trainable": run.num_trainable, "train_size": run.train_size, "device": run.device,
            "primary_metric": run.primary_metric, "layout_fingerprint": run.layout_fingerprint}


def simulated_metric(config: dict[str, Any]) -> float:
    """The metric of a trial request drawn from its key's :class:`SimulatedCurve` (a full fine-tune: ``d`` None)."""
    curve = _simulated_curve(config)
    return curve.metric(config["d"], config["lr"], config["seed"])


def _simulated_curve(config: dict[str, Any]) -> SimulatedCurve:
    """The request's :class:`SimulatedCurve`: ``config[CURVES]`` maps subspace key ids to curve
    fields; a full fine-tune uses the curve of any key of its (task, model, checkpoint), as keys share their
    baseline."""
    key = trial_key(config)
    curves = config[CURVES]
    fields = curves.get(key.id) or next(
        (c for k, c in curves.items() if SearchKey.from_id(k).baseline_key == key.baseline_key), None)
    if fields is None:
        raise KeyError(f"no simulated curve for key {key.id}; curves are given for {', '.join(curves)}")
    return SimulatedCurve(**fields)


def simulated_trial(config: dict[str, Any]) -> None:
    """Report a simulated trial epoch by epoch (:meth:`SimulatedCurve.epoch_metrics`): costs nothing, known d90.

    Stops early like :func:`fine_tune` once its best epoch reaches its pass level (:func:`pass_level`).
    """
    sys.unraisablehook = drop_stop_in_callbacks
    curve = _simulated_curve(config)
    epochs = curve.epoch_metrics(config["d"], config["lr"], config["seed"])
    best = -float("inf")
    for epoch, value in enumerate(epochs, start=1):
        best = max(best, value)
        level = pass_level(config) if epoch < len(epochs) else None
        decided = level is not None and best >= level
        tune.report({SCORE: best, "primary": value, "epoch": epoch, CENSORED: decided})
        if decided:
            return

"""From a :class:`SearchSpec` to a ``ray.tune.Tuner``, and from a finished run to one d90 per key.

``build_tuner`` is the Tuner a researcher could have written by hand: the
``fine_tune`` trainable with per-trial resources, a :class:`D90Searcher` with
``num_samples=-1`` (the searcher ends the run), enough concurrent trials for
every key's k-section, and Tune's own fault tolerance (a crashed trial restarts
from its last epoch checkpoint). ``run_search`` starts or joins Ray, runs or
resumes the Tuner and reads the d90s back from the searcher state Tune saved;
a run stopped early (Ctrl-C) ends with its unfinished keys flagged ``interrupted``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import shlex
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import ray
from ray import tune

from raydim.errors import RaydimError
from raydim.search import KeyProgress, KeyResult, KeyTarget, SearchPolicy
from raydim.search.results import BUDGET_EXHAUSTED, INCOMPLETE, INTERRUPTED
from raydim.store import ResultsStore, storage_folder
from raydim.store.manifest import SearchManifest, read_manifests, write_manifest
from raydim.store.reuse import reuse
from raydim.store.running import PassLevels, clear_progress
from raydim.store.saved_search import read_searcher_state
from raydim.store.schema import search_json
from raydim.tune.cluster import join
from raydim.tune.live import LiveProgress
from raydim.tune.provenance import expected_provenance
from raydim.tune.recorder import StoreCallback
from raydim.tune.searcher import D90Searcher
from raydim.tune.spec import SearchSpec
from raydim.tune.template import PROGRESS, TEMPLATE
from raydim.tune.trainable import fine_tune

Trainable = Callable[[dict[str, Any]], None]
TUNE_LOGGER = "ray.tune.tune"  # where Tune logs the end of an interrupted run
RESTORE_LOGGER = "ray.tune.execution.tune_controller"  # where Tune logs a run state it could not restore
RESTORE_FAILED = "Failed to restore the run state"  # ... and then, unless fail_fast, starts the experiment over
NEW_OUTPUT_ENV = "RAY_AIR_NEW_OUTPUT"  # "0": Tune's legacy output engine, silent at verbose=0


def trial_slots(spec: SearchSpec) -> int:
    """Trials the connected cluster can run at once with the spec's per-trial CPUs and GPUs.

    ``max_concurrent`` overrides it (an autoscaling cluster starts smaller than it
    grows). Ray must be initialised.
    """
    if spec.max_concurrent is not None:
        return spec.max_concurrent
    resources = ray.cluster_resources()
    cpus, gpus = resources.get("CPU", 0.0), resources.get("GPU", 0.0)
    slots = int(cpus // spec.cpus_per_trial)
    if spec.gpus_per_trial:
        slots = min(slots, int(gpus // spec.gpus_per_trial))
    if slots < 1:
        raise RaydimError(
            f"the Ray cluster has {cpus:g} CPUs and {gpus:g} GPUs, too few for one trial of "
            f"{spec.cpus_per_trial:g} CPUs and {spec.gpus_per_trial:g} GPUs; lower --cpus-per-trial/--gpus-per-trial, "
            "or pass --max-concurrent if the cluster autoscales")
    return slots


def build_tuner(spec: SearchSpec, *, targets: list[KeyTarget] | None = None, trainable: Trainable = fine_tune,
                param_space: dict[str, Any] | None = None,
                on_progress: Callable[[list[KeyProgress]], None] | None = None, verbose: int = 1,
                reuse_trials: bool = True, live_every_s: float | None = None) -> tune.Tuner:
    """The Tuner that searches every key of ``spec``; Ray must be initialised (``ray.init``).

    ``trainable`` defaults to :func:`~raydim.tune.trainable.fine_tune`; any
    function trainable that reports ``score`` works (the simulator's does).
    ``param_space`` adds entries every trial sees (the trial template is always there).
    ``targets`` defaults to ``spec.targets()`` (which loads every task's data).
    Every finished trial is written to the results store of ``spec.storage``; with
    ``reuse_trials`` the search first takes over the store's matching finished
    trials (:mod:`raydim.store.reuse`: same settings, engine version, data, weights
    and layout) and prints how many. Every trial writes its step to the store as it
    trains (:mod:`raydim.store.running`); with ``live_every_s`` the driver prints the
    running trials and the time left that often (:class:`~raydim.tune.live.LiveProgress`).
    """
    slots = trial_slots(spec)
    store = ResultsStore.at(spec.storage)
    searcher = D90Searcher(targets or spec.targets(), spec.settings(slots), on_progress=on_progress,
                           pass_levels=PassLevels(store.uri, spec.name))
    space = {TEMPLATE: spec.template().to_dict(), PROGRESS: (store.uri, spec.name), **(param_space or {})}
    if reuse_trials:
        reused, copies = reuse(store.rows(), searcher.policy, expected_provenance(space), spec.name,
                               search_json(searcher.search_config()))
        store.write(copies)
        if reused:
            print(f"raydim: reused {reused} finished trial(s) from {store.uri} (same key, settings, data, "
                  "weights and engine); they will not run again", flush=True)
    searcher.publish_levels()  # replaces any of an earlier search under this name; reused trials may set some
    return tune.Tuner(
        _with_resources(trainable, spec),
        param_space=space,
        tune_config=tune.TuneConfig(search_alg=searcher, num_samples=-1, max_concurrent_trials=slots,
                                    reuse_actors=True,  # keeps each worker's loaded data, tokens and kernels
                                    trial_name_creator=trial_name, trial_dirname_creator=trial_name),
        run_config=tune.RunConfig(
            name=spec.name, storage_path=spec.storage, verbose=verbose,
            failure_config=tune.FailureConfig(max_failures=spec.max_failures),
            checkpoint_config=tune.CheckpointConfig(num_to_keep=1),
            callbacks=[StoreCallback(store, spec.name, searcher.search_config()),
                       *([LiveProgress(spec.storage, spec.name, live_every_s)] if live_every_s else [])],
        ),
    )


def trial_name(trial: Any) -> str:
    """``mrpc_said_d1000_lr0.03_s0_<id>``: what the trial is, readable in Tune's table and the dashboard."""
    c = trial.config
    what = "full" if c.get("d") is None else f"{c.get('method')}_d{c.get('d')}"
    return f"{c.get('task')}_{what}_lr{c.get('lr', 0):.2g}_s{c.get('seed')}_{trial.trial_id}"


def experiment_path(spec: SearchSpec) -> str:
    """Where Tune keeps the run: ``storage/name`` (``~/ray_results/name`` by default)."""
    return storage_folder(spec.storage, spec.name)


def run_search(spec: SearchSpec, *, address: str | None = None, resume: bool = False,
               targets: list[KeyTarget] | None = None, trainable: Trainable = fine_tune,
               param_space: dict[str, Any] | None = None,
               on_progress: Callable[[list[KeyProgress]], None] | None = None, verbose: int = 1,
               space: str | None = None, on_launch: Callable[[SearchManifest], None] | None = None,
               live_every_s: float | None = None) -> list[KeyResult]:
    """Run (or with ``resume``, continue) the search of ``spec``; one d90 result per key.

    Once Ray is up, the search's manifest (:mod:`raydim.store.manifest`: keys,
    settings, trial slots, start; ``space`` names the file the spec came from) is
    written to the results store, so ``raydim status`` lists the search from then
    on, and handed to ``on_launch`` (the CLI prints it). With ``verbose=0`` Tune
    prints nothing of its own (no banner, no table, no ``Tuner.restore`` hint):
    the caller prints raydim's lines (``on_progress``, ``live_every_s``).

    ``address`` joins a running cluster (``"auto"`` on a cluster node); without it
    a Ray already initialised in this process is used, else a local one started.
    A run to resume that is not there, or a new run over an existing one, is
    refused before Ray starts. Resuming reruns only the trials that were in flight
    when the run stopped. See :func:`final_results` for a run stopped early.
    """
    path = experiment_path(spec)
    restorable = tune.Tuner.can_restore(path)
    if resume and not restorable:
        raise RaydimError(f"nothing to resume at {path}: no search named {spec.name!r} was started there; "
                          "drop --resume to start it, or check --name and --storage")
    if not resume and restorable:
        raise RaydimError(f"a search named {spec.name!r} already exists at {path}; pass --resume to continue it, "
                          "or --name to start another")
    # Tune warns on every forced snapshot; with tiny per-epoch checkpoints and num_to_keep=1 that is every epoch.
    os.environ.setdefault("TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S", "0")
    if not ray.is_initialized():
        join(address)
    store = ResultsStore.at(spec.storage)
    clear_progress(store, spec.name)  # nothing of this search runs yet: what a stopped driver left is stale
    manifest = launch_manifest(spec, resume, space)
    if manifest is not None:
        write_manifest(store, manifest)
        if on_launch is not None:
            on_launch(manifest)
    if resume:
        # Only the trials in flight at the stop run again. An errored trial stays errored: the searcher has
        # rerun it already (or counted it failed), and its stored row must keep saying what happened.
        tuner = tune.Tuner.restore(path, trainable=_with_resources(trainable, spec), resume_errored=False)
    else:
        tuner = build_tuner(spec, targets=targets, trainable=trainable, param_space=param_space,
                            on_progress=on_progress, verbose=verbose, live_every_s=live_every_s)
    with _tune_quiet(verbose), _refuse_restart(path) if resume else contextlib.nullcontext():
        grid = tuner.fit()
    return final_results(load_searcher(grid.experiment_path).policy)


def launch_manifest(spec: SearchSpec, resume: bool, space: str | None) -> SearchManifest | None:
    """The manifest of a search launched now; resumed, the one it started with, relaunched now (None for a search
    started before manifests were written: ``raydim status`` shows it from its rows). Ray must be initialised."""
    now = dt.datetime.now(dt.timezone.utc)
    if resume:
        started = read_manifests(ResultsStore.at(spec.storage)).get(spec.name)
        return None if started is None else replace(started, launched_at=now)
    return SearchManifest(spec.name, tuple(k.id for k in spec.keys()), trial_slots(spec),
                          space or "a search spec given in Python", spec.storage, now, now, dict(spec.train),
                          dict(spec.search))


@contextlib.contextmanager
def _tune_quiet(verbose: int) -> Iterator[None]:
    """While Tune runs: no "Tuner.restore(...)" hint after a stop (raydim's :func:`resume_command` replaces it),
    and at ``verbose=0`` none of Tune's own output at all.

    Tune's default output engine (Ray >= 2.5) prints its banner ("Number of trials
    9223372036854775807", "View detailed results here", a TensorBoard hint) at every
    verbosity, 0 included; its legacy engine, chosen by ``RAY_AIR_NEW_OUTPUT=0``,
    prints nothing at verbosity 0. Tune reads the variable when a run starts.
    """
    hint = logging.getLogger(TUNE_LOGGER)
    hint.addFilter(_no_tune_restore_hint)
    saved = os.environ.get(NEW_OUTPUT_ENV)
    if verbose == 0:
        os.environ[NEW_OUTPUT_ENV] = "0"
    try:
        yield
    finally:
        hint.removeFilter(_no_tune_restore_hint)
        if saved is None:
            os.environ.pop(NEW_OUTPUT_ENV, None)
        else:
            os.environ[NEW_OUTPUT_ENV] = saved


@contextlib.contextmanager
def _refuse_restart(path: str) -> Iterator[None]:
    """While Tune resumes the run at ``path``: a run state it cannot restore is an error, not a fresh start.

    Tune logs the failure and starts the experiment over from nothing (``fail_fast``
    would stop it, but would also end the whole search at a trial's first error,
    which raydim's searcher reruns instead). A fresh start has no trials and an
    empty searcher, so the driver ended at once, "interrupted", and left a new,
    empty run state that the next ``--resume`` would pick up: seen when a search
    launched by an older raydim was resumed by a newer one. The filter raises
    where Tune logs, before that state is written.
    """
    def refuse(record: logging.LogRecord) -> bool:
        if record.getMessage().startswith(RESTORE_FAILED):
            cause = record.exc_info[1] if record.exc_info else None
            raise RaydimError(f"cannot resume the search at {path}: Tune could not restore its run state "
                              f"({type(cause).__name__}: {cause}); nothing ran and its run folder is unchanged. "
                              "Resume it with the raydim that started it, or start it again under another --name "
                              "(its finished trials are reused from the results store)")
        return True

    logger = logging.getLogger(RESTORE_LOGGER)
    logger.addFilter(refuse)
    try:
        yield
    finally:
        logger.removeFilter(refuse)


def final_results(policy: SearchPolicy) -> list[KeyResult]:
    """One result per key as the run left it. A key it left unfinished (the search was stopped: Ctrl-C) is
    ``incomplete`` and flagged ``interrupted``, never ``budget_exhausted``: the trials the stop cut short
    count against its budget, but ``--resume`` runs them to the end."""
    results = []
    for result in policy.results():
        if not policy.key_finished(result.key):
            flags = tuple(f for f in result.flags if f != BUDGET_EXHAUSTED) + (INTERRUPTED,)
            result = replace(result, status=INCOMPLETE, flags=flags)
        results.append(result)
    return results


def resume_command(spec: SearchSpec, address: str | None = None) -> str:
    """The command that continues the search of ``spec``: what an interrupted ``raydim search`` prints."""
    options = [f"--name {shlex.quote(spec.name)}"]
    if spec.storage is not None:
        options.append(f"--storage {shlex.quote(spec.storage)}")
    if address is not None:
        options.append(f"--address {shlex.quote(address)}")
    return f"raydim search {' '.join(options)} --resume"


def _no_tune_restore_hint(record: logging.LogRecord) -> bool:
    """Drops Tune's "Resume experiment with: Tuner.restore(...)": a raydim search resumes with
    :func:`resume_command`, which the CLI prints instead."""
    return "Tuner.restore(" not in record.getMessage()


def load_searcher(experiment: str) -> D90Searcher:
    """The searcher as Tune last saved it in an experiment folder (local path or ``s3://``-style URI)."""
    return D90Searcher.from_state(read_searcher_state(experiment))


def _with_resources(trainable: Trainable, spec: SearchSpec) -> Any:
    return tune.with_resources(trainable, {"cpu": spec.cpus_per_trial, "gpu": spec.gpus_per_trial})

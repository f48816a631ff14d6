"""Trials that fail, on a real local Ray: a search whose trials raise or diverge still finishes, each failure
stored with its error beside the rerun that replaced it; the real trainable's diverged loss becomes the trial's
error, not a restart."""

import dataclasses
import sys
from collections import Counter
from pathlib import Path

import pytest
import ray.cloudpickle
from ray import tune

import raydim.train.loop
import raydim.tune.trainable
from raydim.store import ResultsStore
from raydim.tune import SearchSpec, fine_tune, load_searcher, run_search, simulated_trial
from raydim.tune.recorder import StoreCallback
from tests.tune.test_trainable import tiny  # noqa: F401 - the fixture
from tests.tune.test_tuner import CURVE_SPACE, SETTINGS, assert_found_true_d90, targets

ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the workers need not import the tests

CRASHED = "crashed"  # param_space entry: the folder that remembers which keys have had their crash
DIVERGED = "the training loss became nan at step 7 (epoch 1) of said at lr=0.05; lower the learning rate"


def fails_first_time(config):
    """simulated_trial, except that subspace trials fail on their first attempt: each key's first one raises
    (a crash costs Ray a new worker process), and the rest at even d diverge."""
    if config["d"] is not None and config["attempt"] == 0:
        try:
            (Path(config[CRASHED]) / config["task"]).touch(exist_ok=False)  # atomic: one crash per key
        except FileExistsError:
            pass
        else:
            raise RuntimeError(f"simulated crash at d={config['d']}")
        if config["d"] % 2 == 0:
            tune.report({"score": float("nan"), "error": DIVERGED, "epoch": 1})
            return
    simulated_trial(config)


def test_a_search_whose_trials_raise_or_diverge_still_finishes(ray_cluster, tmp_path):
    spec = SearchSpec(tasks=["mrpc", "rte"], models=["m"], name="faults", storage=str(tmp_path), max_concurrent=4,
                      cpus_per_trial=0.5, max_failures=0,
                      search=dataclasses.replace(SETTINGS, max_trials=60).to_dict())
    (tmp_path / CRASHED).mkdir()
    results = run_search(spec, targets=targets(), trainable=fails_first_time, verbose=0,
                         param_space={**CURVE_SPACE, CRASHED: str(tmp_path / CRASHED)})
    assert_found_true_d90(results)  # every failure was rerun, and the reruns found the same d90

    rows = ResultsStore.at(str(tmp_path)).rows("faults")
    trials = load_searcher(str(tmp_path / "faults")).policy.state_dict()["trials"]
    assert len(rows) == len(trials)  # one row per trial: none lost, none twice
    assert max(Counter((r.trial_id, r.attempt) for r in rows).values()) == 1
    failed = [r for r in rows if r.status == "error"]
    assert all(r.d is not None and r.attempt == 0 and r.primary is None for r in failed)
    crashes = [r for r in failed if r.error.startswith("RuntimeError")]
    assert sorted(r.task for r in crashes) == ["mrpc", "rte"] and any(r.error == DIVERGED for r in failed)
    for row in failed:
        assert row.error in (f"RuntimeError: simulated crash at d={row.d}", DIVERGED)
        [rerun] = [r for r in rows if r.retry_of == row.trial_id]
        lr = row.lr / SETTINGS.lr_step if row.error == DIVERGED else row.lr  # a divergence is rerun at a lower rate
        assert (rerun.status, rerun.attempt, rerun.d, rerun.seed) == ("completed", 1, row.d, row.seed)
        assert rerun.lr == pytest.approx(lr)
    assert all(r.trials_failed == 0 for r in results)  # one rerun each was enough


def diverges_at_step_3(config):
    """fine_tune, with a loss that turns NaN at the third step of every attempt (as a too-high lr would)."""
    step = raydim.train.loop.train_step
    calls = []

    def nan_at_3(*args, **kwargs):
        calls.append(1)
        loss = step(*args, **kwargs)
        return float("nan") if len(calls) == 3 else loss

    raydim.train.loop.train_step = nan_at_3
    fine_tune(config)


def test_a_diverged_trial_ends_with_its_error_instead_of_restarting(ray_cluster, tmp_path, tiny):  # noqa: F811
    store = ResultsStore(str(tmp_path / "store"))
    tuner = tune.Tuner(tune.with_resources(diverges_at_step_3, {"cpu": 1}), param_space=tiny,
                       run_config=tune.RunConfig(name="nan", storage_path=str(tmp_path), verbose=0,
                                                 failure_config=tune.FailureConfig(max_failures=2),
                                                 callbacks=[StoreCallback(store, "nan", {})]))
    [result] = tuner.fit()
    assert result.error is None and not (Path(result.path) / "error.txt").exists()  # not restarted to diverge again
    assert result.metrics["training_iteration"] == 1 and result.metrics["score"] != result.metrics["score"]  # NaN
    [row] = store.rows()
    assert (row.status, row.primary, row.d, row.D > 0) == ("error", None, 32, True)
    assert row.error == "the training loss became nan at step 3 (epoch 1) of said at lr=0.3; lower the learning rate"


def diverges_in_epoch_2(config):
    """fine_tune, with a loss that turns NaN once the first epoch has been reported."""
    reported = []
    report, step = raydim.tune.trainable.tune.report, raydim.train.loop.train_step

    def report_and_note(metrics, checkpoint=None):
        reported.append(metrics)
        report(metrics, checkpoint=checkpoint)

    raydim.tune.trainable.tune.report = report_and_note
    raydim.train.loop.train_step = lambda *args, **kwargs: float("nan") if reported else step(*args, **kwargs)
    fine_tune(config)


def test_a_trial_that_diverges_after_it_learned_keeps_its_best_epochs_train_score(ray_cluster, tmp_path,
                                                                                  tiny):  # noqa: F811
    """The train score before the rate wrecked the run says its subspace could learn: the searcher's collapse test
    reads it (raydim.search.collapse), so the diverged report and row carry the best epoch's."""
    store = ResultsStore(str(tmp_path / "store"))
    tuner = tune.Tuner(tune.with_resources(diverges_in_epoch_2, {"cpu": 1}), param_space=tiny,
                       run_config=tune.RunConfig(name="late-nan", storage_path=str(tmp_path), verbose=0,
                                                 callbacks=[StoreCallback(store, "late-nan", {})]))
    [result] = tuner.fit()
    assert result.metrics["best"]["epoch"] == 1 and result.metrics["error"].startswith("the training loss became nan")
    [row] = store.rows()
    assert row.status == "error" and row.diverged()
    assert row.train_metric == result.metrics["best"]["metrics"]["train/accuracy"]

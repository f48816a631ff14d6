"""Every finished trial lands in the results store as it ends, on a real local Ray: simulated searches through
run_search (one rebuilt d90 table, then a second search that reuses every trial, the first rerun under its own
name, then `raydim report`), the real trainable's row, an erroring trial's row."""

import json
import shutil
import sys

import ray.cloudpickle
from ray import tune

from raydim.cli import main
from raydim.search import SearchKey, TrialRequest
from raydim.store import ResultsStore, d90_rows
from raydim.store.reuse import Provenance
from raydim.store.running import ProgressWriter, read_progress
from raydim.train.fingerprint import ENGINE_VERSION
from raydim.tune import SearchSpec, fine_tune, run_search, simulated_trial
from raydim.tune.provenance import expected_provenance
from raydim.tune.recorder import StoreCallback
from raydim.tune.template import trial_settings_hash
from tests.tune.test_trainable import tiny  # noqa: F401 - the fixture
from tests.tune.test_tuner import CURVE_SPACE, SETTINGS, assert_found_true_d90, targets

ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])


def spec(tmp_path, name):
    return SearchSpec(tasks=["mrpc", "rte"], models=["m"], name=name, storage=str(tmp_path), max_concurrent=4,
                      cpus_per_trial=0.5, search=SETTINGS.to_dict())


def test_a_search_fills_the_store_and_the_next_one_reuses_it(ray_cluster, tmp_path, capsys):
    results = run_search(spec(tmp_path, "first"), targets=targets(), trainable=simulated_trial,
                         param_space=CURVE_SPACE, verbose=0)
    store = ResultsStore.at(str(tmp_path))
    rows = store.rows("first")
    assert len(rows) == sum(r.trials_used for r in results) and all(r.status == "completed" for r in rows)
    assert {r.method for r in rows} == {"full", "said"} and all(r.grouping == "layer" for r in rows if r.d)
    assert [dict(vars(r), flags=r.flags) for r in results] == \
        [{k: v for k, v in vars(r).items() if k in vars(results[0])} for r in d90_rows(rows)]
    assert "reused" not in capsys.readouterr().out

    again = run_search(spec(tmp_path, "second"), targets=targets(), trainable=simulated_trial,
                       param_space=CURVE_SPACE, verbose=0)
    assert f"reused {len(rows)} finished trial(s)" in capsys.readouterr().out
    assert_found_true_d90(again)
    second = store.rows("second")
    assert len(second) == len(rows) and all(r.reused_from == "first" for r in second)  # nothing ran again
    assert [r.d90 for r in d90_rows(second)] == [r.d90 for r in results]

    shutil.rmtree(tmp_path / "first")  # Tune's run folder gone (another machine): rerun the space under its name
    # ... and a trial the stopped driver was running left its progress: it must not show as running any more
    ProgressWriter(store, "first", "killed", "mrpc:m@final:said", 100, epochs=3, started_at=0.0)(1, 30, epoch=1)
    rerun = run_search(spec(tmp_path, "first"), targets=targets(), trainable=simulated_trial,
                       param_space=CURVE_SPACE, verbose=0)
    assert f"reused {len(rows)} finished trial(s)" in capsys.readouterr().out
    assert store.rows("first") == rows  # no copy of a trial into its own experiment: none counts twice
    assert read_progress(store, "first") == []
    assert [(r.d90, r.d90_low, r.d90_high) for r in rerun] == [(r.d90, r.d90_low, r.d90_high) for r in results]

    assert main(["report", "--storage", str(tmp_path), "--experiment", "first", "--format", "json"]) == 0
    reported = json.loads(capsys.readouterr().out)
    assert [(r["key"], r["status"], r["d90"]) for r in reported] == [(r.key, r.status, r.d90) for r in results]


def test_real_trainable_row_has_the_runs_facts(ray_cluster, tmp_path, tiny):  # noqa: F811
    store = ResultsStore(str(tmp_path / "store"))
    tuner = tune.Tuner(tune.with_resources(fine_tune, {"cpu": 1}), param_space=tiny,
                       run_config=tune.RunConfig(name="real", storage_path=str(tmp_path), verbose=0,
                                                 callbacks=[StoreCallback(store, "real", {})]))
    [result] = tuner.fit()
    [row] = store.rows()
    assert (row.experiment, row.task, row.method, row.d, row.status) == ("real", "sentiment", "said", 32, "completed")
    assert row.primary == result.metrics["score"] and row.metrics["validation/accuracy"] == row.primary
    assert row.train_metric == row.metrics["train/accuracy"] and row.primary_metric == "accuracy"
    assert row.D > row.num_trainable == 32 and row.train_size == 256 and row.epochs == 2 and row.steps == 32
    assert row.best_epoch in (1, 2) and row.seconds > 0 and row.device.startswith("cpu")
    assert row.settings_hash == trial_settings_hash(tiny) and row.finished_at > row.started_at
    # what the trial reports having trained with is what a new search predicts for it: the trial is reusable
    request = TrialRequest("t", SearchKey(row.task, row.model, row.checkpoint, row.method), row.d, row.lr, row.seed)
    assert Provenance.of(row) == expected_provenance(tiny)(request)
    assert None not in Provenance.of(row) and row.engine_version == ENGINE_VERSION


def crashes(config):
    raise RuntimeError("simulated out of memory")


def test_an_erroring_trial_is_stored_with_its_error(ray_cluster, tmp_path):
    store = ResultsStore(str(tmp_path / "store"))
    config = {"trial_id": "t", "task": "mrpc", "model": "m", "checkpoint": "step1000", "method": "did", "d": 100,
              "lr": 0.1, "seed": 0, "attempt": 1, "retry_of": "t0"}
    tuner = tune.Tuner(crashes, param_space=config,
                       run_config=tune.RunConfig(name="crash", storage_path=str(tmp_path), verbose=0,
                                                 callbacks=[StoreCallback(store, "crash", {})]))
    tuner.fit()
    [row] = store.rows()
    assert (row.status, row.primary, row.attempt, row.retry_of, row.checkpoint_step) == ("error", None, 1, "t0", 1000)
    assert row.error == "RuntimeError: simulated out of memory"

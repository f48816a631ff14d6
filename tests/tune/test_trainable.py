"""The real trainable on a real local Ray: it reports every epoch with a checkpoint, and a trial that
crashes after an epoch resumes from that checkpoint and ends where an uninterrupted one does."""

import subprocess
import sys
from pathlib import Path

import pytest
import ray.cloudpickle
from ray import tune

import raydim.tune.trainable
from raydim.tune import SCORE, TEMPLATE, TrialTemplate, fine_tune
from raydim.store.running import PassLevels
from raydim.tune.template import PROGRESS
from raydim.tune.trainable import CENSORED, pass_level
from raydim.data.spec import DataSpec
from tests.conftest import repo_env
from tests.tiny import write_sentiment_task, write_tiny_model_dir

ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the workers need not import the tests


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny-trainable")
    train_file, eval_file = write_sentiment_task(root / "data")
    model = str(write_tiny_model_dir(root / "model"))
    template = TrialTemplate({"sentiment": DataSpec(task="sentiment", train_file=str(train_file),
                                                    eval_file=str(eval_file), text_columns=("text",))},
                             {"epochs": 2, "batch_size": 16, "max_length": 16, "train_eval_samples": 64})
    request = {"trial_id": "t", "task": "sentiment", "model": model, "checkpoint": "final", "method": "said",
               "d": 32, "lr": 0.3, "seed": 0}
    return {TEMPLATE: template.to_dict(), **request}


def crashes_after_first_epoch(config):
    """fine_tune, except that its first attempt dies right after reporting epoch 1 (checkpoint included)."""
    if tune.get_checkpoint() is None:
        report = raydim.tune.trainable.tune.report

        def report_then_crash(metrics, checkpoint=None):
            report(metrics, checkpoint=checkpoint)
            raise RuntimeError("simulated worker crash after epoch 1")

        raydim.tune.trainable.tune.report = report_then_crash
    fine_tune(config)


def run(trainable, config, tmp_path, name, max_failures=0):
    tuner = tune.Tuner(tune.with_resources(trainable, {"cpu": 1}), param_space=config,
                       run_config=tune.RunConfig(name=name, storage_path=str(tmp_path), verbose=0,
                                                 failure_config=tune.FailureConfig(max_failures=max_failures)))
    [result] = tuner.fit()
    return result


def test_reports_every_epoch_with_a_checkpoint(ray_cluster, tmp_path, tiny):
    result = run(fine_tune, tiny, tmp_path, "plain")
    history = result.metrics_dataframe
    assert list(history["epoch"]) == [1, 2]
    assert list(history[SCORE]) == list(history["primary"].cummax())
    assert {"validation/accuracy", "train/accuracy", "train_loss"} <= set(history.columns)
    assert result.checkpoint is not None and result.metrics[SCORE] > 0.5


def test_crashed_trial_resumes_from_its_checkpoint(ray_cluster, tmp_path, tiny):
    uninterrupted = run(fine_tune, tiny, tmp_path, "uninterrupted")
    resumed = run(crashes_after_first_epoch, tiny, tmp_path, "crashed", max_failures=1)
    assert "simulated worker crash" in (Path(resumed.path) / "error.txt").read_text()  # it did crash once
    assert resumed.error is None
    assert resumed.metrics["epoch"] == 2 and resumed.metrics["training_iteration"] == 2  # epoch 1 not rerun
    assert resumed.metrics["primary"] == pytest.approx(uninterrupted.metrics["primary"], abs=1e-6)
    assert resumed.metrics["train_loss"] == pytest.approx(uninterrupted.metrics["train_loss"], rel=1e-5)


def test_a_trial_that_has_passed_stops_and_says_so(ray_cluster, tmp_path, tiny):
    result = run(fine_tune, {**tiny, "stop_above": 0.0}, tmp_path, "decided")  # any score clears a bar at 0
    assert result.metrics["epoch"] == 1 and result.metrics[CENSORED] is True
    full = run(fine_tune, {**tiny, "stop_above": 2.0}, tmp_path, "undecided")  # no accuracy reaches 2
    assert full.metrics["epoch"] == 2 and full.metrics[CENSORED] is False


def test_a_trial_proposed_before_its_threshold_stops_at_the_level_published_since(ray_cluster, tmp_path, tiny):
    # proposed while its key's full fine-tunes ran: no stop_above of its own; the driver has published one since
    levels = PassLevels(str(tmp_path / "store"), "exp")
    levels.publish({"sentiment:" + tiny["model"] + "@final:said": 0.0})
    result = run(fine_tune, {**tiny, PROGRESS: (levels.store_uri, "exp")}, tmp_path, "published")
    assert result.metrics["epoch"] == 1 and result.metrics[CENSORED] is True


def test_the_published_level_wins_over_the_proposed_one_and_a_full_fine_tune_has_none(tmp_path, tiny):
    levels = PassLevels(str(tmp_path / "store"), "exp")
    key = "sentiment:" + tiny["model"] + "@final:said"
    config = {**tiny, PROGRESS: (levels.store_uri, "exp"), "stop_above": 0.9}
    assert pass_level(config) == 0.9  # nothing published yet: the level it was proposed with
    levels.publish({key: 0.8, "other:m@final:did": 0.5})
    assert pass_level(config) == 0.8  # the threshold moved since it was proposed
    assert pass_level({**config, "method": "did"}) == 0.9  # another key's level is not its own
    assert pass_level({**config, "d": None, "method": "full"}) is None
    levels.clear()
    assert pass_level(config) == 0.9


STOP_IN_CALLBACK = """
import sys, weakref
from raydim.tune.trainable import drop_stop_in_callbacks
if sys.argv[1] == "hook":
    sys.unraisablehook = drop_stop_in_callbacks
class Thing: pass
def stop(ref): raise SystemExit(1)  # what Ray's SIGTERM handler raises wherever the main thread is
def fail(ref): raise ValueError("a real error")
for callback in (stop, fail):
    thing = Thing(); ref = weakref.ref(thing, callback); del thing
print("ended", flush=True)
"""


@pytest.mark.parametrize("hook", ["hook", "default"])
def test_a_stop_inside_a_weakref_callback_prints_no_traceback_and_other_errors_still_show(hook):
    """Seen in CI after a Ctrl-C: a trial worker's SIGTERM landed in a weakref callback, and its "Exception
    ignored" traceback reached the user's terminal. With the trial's hook only the real error is printed."""
    env = repo_env()
    run = subprocess.run([sys.executable, "-c", STOP_IN_CALLBACK, hook], env=env, capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 0 and run.stdout == "ended\n", run.stderr
    assert "ValueError: a real error" in run.stderr
    assert ("SystemExit" in run.stderr) == (hook == "default")

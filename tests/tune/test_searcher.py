"""D90Searcher the way Tune drives it (after Ray's own searcher tests): suggest / wait / complete / fail /
save → restore into a blank searcher / FINISHED, all without starting Ray."""

import pickle

import pytest
from ray.tune.search import Searcher

from raydim.errors import RaydimError
from raydim.search import KeyTarget, SearchKey, SearchPolicy, SearchSettings, SimulatedCurve
from raydim.search.trials import TrialRequest
from raydim.store.running import PassLevels
from raydim.tune import SCORE, D90Searcher
from raydim.tune.trainable import CENSORED, ERROR

KEY = SearchKey("mrpc", "minilm-l6", method="said")
CURVE = SimulatedCurve(d90=700, full=0.9, chance=0.5, width=1.0, noise_sd=0.0, lr_opt=0.05)


def searcher(parallelism=1, **settings):
    values = {"d_min": 10, "d_max": 20_000, "lr_init": 0.05, "parallelism": parallelism, **settings}
    return D90Searcher([KeyTarget(KEY, chance=0.5, baseline=0.9)], SearchSettings(**values))


def metric(config: dict) -> float:
    return CURVE(TrialRequest.from_dict({**config, "attempt": 0, "retry_of": None}))


def drive(s: D90Searcher, max_trials: int = 200) -> int:
    """Suggest and complete one trial at a time until FINISHED; the trials it took."""
    for n in range(max_trials):
        config = s.suggest(f"trial_{n}")
        if config == Searcher.FINISHED:
            return n
        assert config is not None, "a searcher with nothing running must suggest or finish"
        s.on_trial_complete(f"trial_{n}", {SCORE: metric(config)})
    raise AssertionError("the searcher never finished")


def test_suggestion_names_key_d_lr_and_seed():
    config = searcher().suggest("t1")
    assert {k: config[k] for k in ("task", "model", "checkpoint", "method")} == KEY.to_dict()
    assert config["trial_id"] == "t1" and config["d"] >= 10 and config["lr"] == 0.05 and config["seed"] == 0


def test_waits_with_none_while_its_trials_run():
    s = searcher(parallelism=1)
    config = s.suggest("t1")
    assert s.suggest("t2") is None and s.suggest("t3") is None
    s.on_trial_complete("t1", {SCORE: metric(config)})
    assert isinstance(s.suggest("t4"), dict)


def test_finishes_with_d90_near_the_truth():
    s = searcher()
    trials = drive(s)
    [result] = s.results()
    assert result.status == "found" and trials == result.trials_used
    assert result.d90_low < CURVE.d90 <= result.d90_high


def test_errored_trial_is_retried_then_counted_failed_and_never_hangs():
    s = searcher(max_retries=1)
    first = s.suggest("t1")
    s.on_trial_complete("t1", error=True)
    rerun = s.suggest("t2")
    assert (rerun["d"], rerun["lr"], rerun["seed"]) == (first["d"], first["lr"], first["seed"])
    s.on_trial_complete("t2", error=True)
    drive(s)  # the rest of the search goes on and ends
    assert s.results()[0].trials_failed == 1


def test_result_without_a_finite_metric_counts_as_failure():
    s = searcher(max_retries=0)
    s.suggest("t1")
    s.on_trial_complete("t1", {"epoch": 1})
    s.suggest("t2")
    s.on_trial_complete("t2", {"score": float("nan"), "error": "the training loss became nan at step 3"})
    assert s.policy.history(KEY.id).failed_count() == 2


def test_a_diverged_trial_is_rerun_at_a_lower_rate_a_crashed_one_unchanged():
    s = searcher(max_retries=1, lr_step=3.0)
    first = s.suggest("t1")
    s.on_trial_complete("t1", {SCORE: float("nan"), ERROR: "the training loss became nan at step 3"})
    rerun = s.suggest("t2")
    assert (rerun["d"], rerun["seed"], rerun["retry_of"]) == (first["d"], first["seed"], "t1")
    assert rerun["lr"] == pytest.approx(first["lr"] / 3)


def test_a_diverged_trial_keeps_the_train_score_it_reached_before_and_the_store_rebuild_too():
    """Its best epoch's train score, before the rate wrecked it, says its subspace could learn
    (raydim.search.collapse); a crashed trial's says nothing."""
    s = searcher(max_retries=1, lr_step=3.0)
    s.suggest("t1")
    s.on_trial_complete("t1", {SCORE: float("nan"), ERROR: "the training loss became 0.6930 at epoch 2, no better "
                               "than predicting the label prior", "primary_metric": "accuracy",
                               "best": {"epoch": 1, "metrics": {"train/accuracy": 0.77}}})
    s.suggest("t2")
    s.on_trial_complete("t2", {"best": {"metrics": {"train/accuracy": 0.9}}, "primary_metric": "accuracy"},
                        error=True)
    diverged, crashed = s.policy.history(KEY.id).subspace()
    assert (diverged.diverged, diverged.train_metric) == (True, 0.77)
    assert (crashed.diverged, crashed.train_metric) == (False, None)
    rebuilt = SearchPolicy(list(s.policy.targets.values()), s.policy.settings)
    rebuilt.record_finished(diverged.request, None, diverged=True, train_metric=0.77)
    assert rebuilt.history(KEY.id).subspace()[0].train_metric == 0.77


def test_a_trial_that_stopped_early_is_recorded_as_a_lower_bound():
    s = searcher()
    config = s.suggest("t1")
    assert config["stop_above"] == pytest.approx(0.81 + s.policy.noise_sd(KEY.id, 0.81))
    s.on_trial_complete("t1", {SCORE: 0.86, CENSORED: True})
    [record] = s.policy.history(KEY.id).subspace()
    assert record.censored and record.metric == 0.86


def test_pass_levels_are_published_once_the_threshold_is_known_and_again_on_restore(tmp_path):
    # a subspace trial proposed beside its key's full fine-tune has no level of its own: the one published when
    # the full fine-tune ends is what it stops at (raydim.tune.trainable.pass_level)
    levels = PassLevels(str(tmp_path / "store"), "exp")
    target = KeyTarget(KEY, chance=0.5)  # no baseline given: the search runs the full fine-tune
    settings = SearchSettings(d_min=10, d_max=20_000, lr_init=0.05, baseline_lrs=(1e-4,), parallelism=2)
    s = D90Searcher([target], settings, pass_levels=levels)
    full, subspace = s.suggest("t1"), s.suggest("t2")
    assert full["d"] is None and subspace["d"] is not None and subspace["stop_above"] is None
    s.on_trial_complete("t1", {SCORE: 0.9})
    level = levels.read(KEY.id)
    assert level == pytest.approx(0.81 + s.policy.noise_sd(KEY.id, 0.81)) == s.policy.pass_level(KEY.id)
    s.save(str(tmp_path / "state.json"))
    levels.clear()  # as a restarted driver does before it resumes
    blank = D90Searcher([target], settings, pass_levels=levels)
    blank.restore(str(tmp_path / "state.json"))
    assert levels.read(KEY.id) == pytest.approx(level)


def test_a_searcher_pickled_before_pass_levels_existed_restores_and_publishes_nothing(tmp_path):
    # seen resuming a search launched by the raydim before: Tune unpickles the searcher as launched, then restores it;
    # an AttributeError there makes Tune give up the restore and start the experiment afresh
    s = searcher()
    config = s.suggest("t1")
    s.on_trial_complete("t1", {SCORE: metric(config)})
    s.save(str(tmp_path / "state.json"))
    old = pickle.loads(pickle.dumps(searcher()))
    del old.__dict__["pass_levels"]  # what unpickling a searcher of the earlier class gives
    old.restore(str(tmp_path / "state.json"))
    assert old.pass_levels is None and [x.score for x in old.policy.history(KEY.id).scores()] == [metric(config)]


def test_without_early_stopping_no_level_is_published(tmp_path):
    levels = PassLevels(str(tmp_path / "store"), "exp")
    s = D90Searcher([KeyTarget(KEY, chance=0.5, baseline=0.9)], SearchSettings(d_min=10, d_max=20_000,
                                                                                early_stop=False), pass_levels=levels)
    config = s.suggest("t1")
    s.on_trial_complete("t1", {SCORE: metric(config)})
    assert config["stop_above"] is None and s.policy.pass_levels() == {} and levels.read(KEY.id) is None


def test_same_trial_completing_twice_after_restore_counts_once(tmp_path):
    s = searcher()
    config = s.suggest("t1")
    s.on_trial_complete("t1", {SCORE: metric(config)})
    s.save(str(tmp_path / "state.pkl"))
    blank = searcher()
    blank.restore(str(tmp_path / "state.pkl"))
    with pytest.warns(UserWarning, match="already completed"):
        blank.on_trial_complete("t1", {SCORE: 0.0})
    assert [x.score for x in blank.policy.history(KEY.id).scores()] == [metric(config)]


def test_the_best_epochs_train_score_is_recorded_and_survives_a_restore(tmp_path):
    """The collapse rule reads it (a run no better than the trivial predictor on train rows learned nothing)."""
    s = searcher()
    s.suggest("t1")
    s.on_trial_complete("t1", {SCORE: 0.71, "primary_metric": "accuracy", "train/accuracy": 0.99,
                               "best": {"epoch": 2, "metrics": {"validation/accuracy": 0.71, "train/accuracy": 0.664}}})
    s.save(str(tmp_path / "state.pkl"))
    blank = searcher()
    blank.restore(str(tmp_path / "state.pkl"))
    [record] = blank.policy.history(KEY.id).subspace()
    assert (record.metric, record.train_metric) == (0.71, 0.664)


def test_save_then_restore_into_blank_searcher_continues_identically(tmp_path):
    original = searcher(parallelism=2)
    for n in range(5):
        config = original.suggest(f"t{n}")
        if config:
            original.on_trial_complete(f"t{n}", {SCORE: metric(config)})
    running = original.suggest("t_running")  # in flight when Tune checkpoints the experiment
    original.save(str(tmp_path / "state.pkl"))
    blank = D90Searcher([KeyTarget(SearchKey("x", "y"), chance=0.1)])  # whatever it was built with
    blank.restore(str(tmp_path / "state.pkl"))
    for s in (original, blank):
        s.on_trial_complete("t_running", {SCORE: metric(running)})
    following = blank.suggest("next")
    assert following == original.suggest("next")
    for s in (original, blank):
        s.on_trial_complete("next", {SCORE: metric(following)})
    assert drive(blank) == drive(original)
    assert blank.results() == original.results()


def test_survives_pickling_mid_search():
    s = searcher()
    config = s.suggest("t1")
    copy = pickle.loads(pickle.dumps(s))
    copy.on_trial_complete("t1", {SCORE: metric(config)})
    drive(copy)
    assert copy.results()[0].status == "found"


def test_progress_is_reported_after_each_completion():
    seen = []
    s = D90Searcher([KeyTarget(KEY, chance=0.5, baseline=0.9)], SearchSettings(d_min=10, d_max=20_000),
                    on_progress=seen.append)
    config = s.suggest("t1")
    s.on_trial_complete("t1", {SCORE: metric(config)})
    [[row]] = seen
    assert row.key == KEY.id and row.trials_done == 1 and row.threshold == pytest.approx(0.81)


def test_conflicting_tune_metric_is_a_clear_error():
    s = searcher()
    assert s.set_search_properties(None, None, {})
    assert s.set_search_properties(SCORE, "max", {})
    with pytest.raises(RaydimError, match="D90Searcher maximises 'score'.*drop metric and mode"):
        s.set_search_properties("loss", "min", {})

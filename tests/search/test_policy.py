"""The policy's lifecycle, the way Ray Tune drives a searcher: propose, wait, record, fail, finish, restore."""

import dataclasses
import json
import pickle

import numpy as np
import pytest

from raydim.errors import RaydimError
from raydim.search import KeyTarget, SearchKey, SearchPolicy, SearchSettings, SimulatedCurve, random_curve
from raydim.strategies import STRATEGIES, get_strategy
from raydim.search.simulator import run_search
from raydim.search.trials import TrialRequest

KEY_A, KEY_B, KEY_C = (SearchKey("sst2", "minilm-l6", method=m) for m in ("did", "said", "x"))
CURVE = SimulatedCurve(d90=700, full=0.9, chance=0.5, width=1.0, noise_sd=0.0, lr_opt=0.01)


def settings(**overrides):
    return SearchSettings(**{"d_min": 10, "d_max": 20_000, "lr_init": 0.01, **overrides})


def supplied(*keys):
    """Targets with a known baseline, so the first trials are already subspace ones."""
    return [KeyTarget(key, chance=0.5, baseline=0.9) for key in keys]


def test_proposes_nothing_while_waiting_then_continues():
    policy = SearchPolicy(supplied(KEY_A), settings(parallelism=1))
    [first] = policy.propose(5)
    assert policy.propose(5) == []
    assert not policy.finished()
    policy.record_result(first.trial_id, CURVE(first))
    [second] = policy.propose(5)
    assert second.d != first.d


def test_stalled_key_does_not_block_others():
    policy = SearchPolicy(supplied(KEY_A, KEY_B), settings(parallelism=1))
    a, b = sorted(policy.propose(2), key=lambda r: r.key.method)
    assert (a.key, b.key) == (KEY_A, KEY_B)
    policy.record_result(b.trial_id, CURVE(b))  # a never returns
    for _ in range(3):
        [request] = policy.propose(2)
        assert request.key == KEY_B
        policy.record_result(request.trial_id, CURVE(request))


def test_free_slots_are_shared_fairly_across_keys():
    policy = SearchPolicy(supplied(KEY_A, KEY_B, KEY_C), settings(parallelism=3))
    assert sorted(r.key.method for r in policy.propose(3)) == ["did", "said", "x"]
    assert len(policy.propose(100)) == 6  # then each key up to its parallelism


def test_a_key_with_nothing_to_run_leaves_its_slot_to_the_others():
    """Two keys, one slot each (the study's SAID and DID): when one key has nothing to run (here its full
    fine-tune is within the noise of chance, so it is flagged, not searched; on the SST-2 study SAID had finished)
    the other runs two trials at once rather than leave a CPU idle (seen on that study: DID went on alone, one
    trial at a time on two CPUs)."""
    targets = [KeyTarget(KEY_A, chance=0.5, baseline=0.9), KeyTarget(KEY_B, chance=0.5, baseline=0.51, eval_size=100)]
    policy = SearchPolicy(targets, settings(parallelism=1))
    pair = policy.propose(2)
    assert [r.key for r in pair] == [KEY_A, KEY_A] and len({r.d for r in pair}) == 2
    assert policy.propose(2) == []  # both slots busy


def test_keys_sharing_a_baseline_fill_every_slot_while_it_runs():
    """SAID and DID of one model with one slot each: the shared full fine-tune holds half a slot of each, so two
    start at once (two baseline runs, then a grid cut beside the last one), never one trial on two CPUs."""
    targets = [KeyTarget(key, chance=0.5) for key in (KEY_A, KEY_B)]
    policy = SearchPolicy(targets, settings(parallelism=1, baseline_seeds=2, baseline_lrs=(3e-5, 1e-4)))
    first = policy.propose(2)
    assert [r.d for r in first] == [None, None] and len({(r.lr, r.seed) for r in first}) == 2
    for request in first:
        policy.record_result(request.trial_id, CURVE(request))
    second = policy.propose(2)
    assert [r.d for r in second] == [None, None]  # the other two of 2 rates × 2 seeds
    policy.record_result(second[0].trial_id, CURVE(second[0]))
    [beside] = policy.propose(2)  # one baseline still runs: one more trial fills the free slot
    assert beside.d is not None


def test_duplicate_completion_is_counted_once():
    policy = SearchPolicy(supplied(KEY_A), settings())
    [request] = policy.propose(1)
    policy.record_result(request.trial_id, 0.7)
    state = policy.state_dict()
    with pytest.warns(UserWarning, match=f"trial {request.trial_id} ignored: it already completed"):
        policy.record_result(request.trial_id, 0.95)
    assert policy.state_dict() == state
    assert policy.progress()[0].trials_done == 1


def test_result_for_an_unknown_trial_is_a_warning():
    policy = SearchPolicy(supplied(KEY_A), settings())
    with pytest.warns(UserWarning, match="unknown trial 'nope'"):
        policy.record_result("nope", 0.5)


def test_failed_trial_is_retried_then_counted_failed():
    policy = SearchPolicy(supplied(KEY_A), settings(max_retries=1))
    [first] = policy.propose(1)
    policy.record_failure(first.trial_id)
    [retry] = policy.propose(1)
    assert (retry.d, retry.lr, retry.seed, retry.attempt, retry.retry_of) == (
        first.d, first.lr, first.seed, 1, first.trial_id)
    policy.record_failure(retry.trial_id)
    [moved_on] = policy.propose(1)
    assert moved_on.d != first.d and moved_on.attempt == 0
    assert policy.results()[0].trials_failed == 1


def test_trials_that_always_fail_never_hang_the_search():
    policy = SearchPolicy(supplied(KEY_A), settings(max_retries=2, max_trials=12))
    for _ in range(100):
        if policy.finished():
            break
        for request in policy.propose(4):
            policy.record_failure(request.trial_id)
    assert policy.finished()
    result = policy.results()[0]
    assert (result.status, result.trials_used, result.d90) == ("incomplete", 12, None)


def test_non_finite_metric_is_a_failure():
    policy = SearchPolicy(supplied(KEY_A), settings(max_retries=0))
    [request] = policy.propose(1)
    with pytest.warns(UserWarning, match="recorded as a failure"):
        policy.record_result(request.trial_id, float("nan"))
    assert policy.results()[0].trials_failed == 1


def test_failed_baseline_ends_the_key_with_no_threshold():
    policy = SearchPolicy([KeyTarget(KEY_A, chance=0.5)], settings(max_retries=0, baseline_lrs=(1e-5, 3e-5)))
    for _ in range(10):
        for request in policy.propose(8):
            if request.d is None:
                policy.record_failure(request.trial_id)
            else:
                policy.record_result(request.trial_id, 0.6)
    assert policy.finished()
    result = policy.results()[0]
    assert (result.status, result.threshold) == ("no_baseline", None)
    assert "baseline_failed" in result.flags


def test_methods_of_one_model_share_their_full_fine_tunes():
    targets = [KeyTarget(KEY_A, chance=0.5), KeyTarget(KEY_B, chance=0.5)]
    policy = SearchPolicy(targets, settings(parallelism=4, baseline_lrs=(1e-5, 3e-5, 1e-4)))
    run_search(policy, CURVE, slots=8)
    full = [r for r in policy.state_dict()["trials"] if r["request"]["method"] == "full"]
    assert {r["request"]["lr"] for r in full} == {1e-5, 3e-5, 1e-4}  # one set of rates, not one per method
    assert len({(r["request"]["lr"], r["request"]["seed"]) for r in full}) == len(full)  # no full fine-tune twice
    assert all(len(policy.history(k.id).baseline()) == len(full) for k in (KEY_A, KEY_B))
    assert [r.baseline for r in policy.results()] == [pytest.approx(CURVE.full)] * 2


def test_supplied_baseline_runs_no_full_fine_tune():
    policy = SearchPolicy(supplied(KEY_A), settings())
    run_search(policy, CURVE, slots=1)
    assert all(r["request"]["method"] != "full" for r in policy.state_dict()["trials"])
    assert "baseline_supplied" in policy.results()[0].flags


def test_grid_cuts_start_while_the_baseline_runs():
    policy = SearchPolicy([KeyTarget(KEY_A, chance=0.5)], settings(parallelism=4, baseline_lrs=(1e-5, 3e-5, 1e-4)))
    first = policy.propose(4)
    assert [r.d for r in first[:3]] == [None] * 3 and first[3].d is not None
    assert policy.progress()[0].phase == "baseline"


def test_progress_reports_phase_bracket_and_counts():
    policy = SearchPolicy(supplied(KEY_A), settings(parallelism=2))
    for _ in range(3):
        for request in policy.propose(2):
            policy.record_result(request.trial_id, CURVE(request))
    policy.propose(1)
    [row] = policy.progress()
    assert row.phase in ("bracket", "refine") and row.trials_done == 6 and row.trials_running >= 1
    assert row.lo < CURVE.d90 <= row.hi
    assert row.threshold == pytest.approx(0.81) and row.best_metric > 0.81


def _drive(policy, curve, rounds, slots):
    """Run ``rounds`` synchronous rounds; what was proposed, as plain dicts."""
    seen = []
    for _ in range(rounds):
        requests = policy.propose(slots)
        seen += [r.to_dict() for r in requests]
        for request in requests:
            policy.record_result(request.trial_id, curve(request))
    return seen


@pytest.mark.parametrize("strategy", ["d90", "optuna"])
@pytest.mark.parametrize("restore", ["state_dict", "pickle"])
def test_restored_policy_continues_identically(strategy, restore):
    curve = random_curve(np.random.default_rng(3))  # noisy, lr far from lr_init: extra lrs via Optuna
    targets = [KeyTarget(KEY_A, chance=curve.chance), KeyTarget(KEY_B, chance=curve.chance)]
    original = SearchPolicy(targets, settings(strategy=strategy, parallelism=2, lr_init=None, lr_low=1e-4))
    _drive(original, curve, rounds=5, slots=3)
    if restore == "state_dict":
        restored = SearchPolicy.from_state_dict(json.loads(json.dumps(original.state_dict())))
    else:
        restored = pickle.loads(pickle.dumps(original))
    assert _drive(restored, curve, rounds=30, slots=3) == _drive(original, curve, rounds=30, slots=3)
    assert restored.results() == original.results() and original.finished()


def test_unknown_state_version_is_refused():
    state = SearchPolicy(supplied(KEY_A), settings()).state_dict()
    with pytest.raises(RaydimError, match="version 99 is not one this raydim reads"):
        SearchPolicy.from_state_dict({**state, "version": 99})


def test_each_key_once():
    with pytest.raises(RaydimError, match="given twice"):
        SearchPolicy(supplied(KEY_A, KEY_A))
    with pytest.raises(RaydimError, match="at least one KeyTarget"):
        SearchPolicy([])


def test_trials_can_carry_the_callers_ids():
    policy = SearchPolicy(supplied(KEY_A, KEY_B), settings())
    requests = policy.propose(2, trial_ids=["tune_a", "tune_b"])
    assert [r.trial_id for r in requests] == ["tune_a", "tune_b"]
    policy.record_result("tune_b", 0.7)
    with pytest.raises(ValueError, match="already proposed"):
        policy.propose(1, trial_ids=["tune_a"])
    with pytest.raises(ValueError, match="needs 2 distinct trial ids"):
        policy.propose(2, trial_ids=["x"])


@pytest.mark.parametrize("name", list(STRATEGIES))
def test_every_registered_strategy_loads_under_its_own_name(name):
    """The settings check and the CLI accept exactly the registry's names; each must load and run a search."""
    assert get_strategy(name).name == name
    policy = SearchPolicy([KeyTarget(KEY_A, chance=0.5)], settings(strategy=name, max_trials=6))
    run_search(policy, CURVE, slots=2)
    assert policy.finished()


def test_an_unknown_strategy_lists_the_registered_ones():
    with pytest.raises(RaydimError, match="strategy='bayes': use one of d90, grid, optuna"):
        settings(strategy="bayes")


def test_result_record_is_plain_data():
    policy = SearchPolicy([KeyTarget(KEY_A, chance=0.5)], settings(baseline_lrs=(3e-5,)))
    run_search(policy, CURVE, slots=2)
    [row] = json.loads(json.dumps([r.to_dict() for r in policy.results()]))
    assert row["key"] == KEY_A.id and row["status"] == "found" and row["threshold_used"] == "paper"
    assert row["baseline"] == pytest.approx(0.9) and row["paper_threshold"] == pytest.approx(0.81)
    assert row["d90_low"] < 700 <= row["d90_high"] and row["d90"] == pytest.approx(700, rel=0.05)


def test_trials_finished_elsewhere_are_recorded_as_its_own():
    policy = SearchPolicy(supplied(KEY_A), settings(parallelism=1))
    [first] = SearchPolicy(supplied(KEY_A), settings(parallelism=1)).propose(1)
    policy.record_finished(first, CURVE(first))
    [proposed] = policy.propose(1)
    assert proposed.d != first.d  # never proposes a trial it already holds
    policy.record_finished(dataclasses.replace(first, trial_id="lost", seed=1), None)
    assert [r.status for r in policy.history(KEY_A.id).records] == ["completed", "running", "failed"]
    with pytest.raises(ValueError, match="trial id 't00000' is already recorded"):
        policy.record_finished(first, 0.5)


def test_a_diverged_trial_is_rerun_at_a_lower_rate():
    policy = SearchPolicy(supplied(KEY_A), settings(max_retries=1, lr_step=3.0))
    [first] = policy.propose(1)
    with pytest.warns(UserWarning, match="recorded as a failure"):
        policy.record_result(first.trial_id, float("nan"))
    [retry] = policy.propose(1)
    assert (retry.d, retry.seed, retry.retry_of) == (first.d, first.seed, first.trial_id)
    assert retry.lr == pytest.approx(first.lr / 3)
    policy.record_result(retry.trial_id, 0.6)
    [crashed] = policy.propose(1)
    policy.record_failure(crashed.trial_id)  # a crash, not a divergence: rerun unchanged
    [again] = policy.propose(1)
    assert (again.d, again.lr, again.retry_of) == (crashed.d, crashed.lr, crashed.trial_id)


def test_a_collapsed_trial_is_rerun_at_a_lower_rate_before_it_counts():
    target = KeyTarget(KEY_A, chance=0.5, baseline=0.9)
    policy = SearchPolicy([target], settings(max_retries=1, lr_step=3.0, d_min=100, d_max=10_000))
    [good] = policy.propose(1)
    policy.record_result(good.trial_id, 0.86)  # d passes well above the threshold (0.81)
    collapsed = dataclasses.replace(good, trial_id="t-collapsed", d=int(good.d * 1.4), lr=good.lr)
    policy.record_finished(collapsed, 0.5)  # a larger d at chance: a learning-rate failure, not evidence about d
    assert collapsed.trial_id in policy.history(KEY_A.id).excluded
    assert collapsed.d not in {s.d for s in policy.history(KEY_A.id).scores()}
    [rerun] = policy.propose(1)
    assert (rerun.d, rerun.seed, rerun.retry_of) == (collapsed.d, collapsed.seed, collapsed.trial_id)
    assert rerun.lr == pytest.approx(collapsed.lr / 3)
    policy.record_result(rerun.trial_id, 0.5)  # collapses again: out of reruns, so now it counts
    history = policy.history(KEY_A.id)
    assert rerun.trial_id not in history.excluded and collapsed.d in {s.d for s in history.scores()}


def test_a_collapse_whose_rerun_was_reused_from_another_search_is_not_rerun_again():
    """Reused rows lose retry_of: the SST-2 study's rerun at lr 0.167 ran a second time, scoring the same."""
    target = KeyTarget(KEY_A, chance=0.5, baseline=0.9)
    policy = SearchPolicy([target], settings(max_retries=1, lr_step=3.0, d_min=100, d_max=10_000))
    [good] = policy.propose(1)
    policy.record_result(good.trial_id, 0.86)
    collapsed = dataclasses.replace(good, trial_id="old/collapsed", d=int(good.d * 1.4))
    policy.record_finished(collapsed, 0.5)
    policy.record_finished(dataclasses.replace(collapsed, trial_id="old/rerun", lr=collapsed.lr / 3), 0.85)
    assert collapsed.trial_id in policy.history(KEY_A.id).excluded
    assert all((r.d, r.seed) != (collapsed.d, collapsed.seed) for r in policy.propose(4))


def test_a_threshold_within_the_noise_of_chance_is_flagged_not_searched():
    # RTE tried as a new user would: 128 dev rows, majority class 0.477, full fine-tune 0.539
    target = KeyTarget(SearchKey("rte", "minilm-l6", method="said"), chance=0.477, metric="accuracy", eval_size=128)
    policy = SearchPolicy([target], settings(baseline_lrs=(1e-4,)))
    [baseline] = policy.propose(4)
    policy.record_result(baseline.trial_id, 0.539)
    assert policy.propose(4) == [] and policy.finished()
    result = policy.results()[0]
    assert result.status == "threshold_in_noise" and result.d90 is None


def test_decided_trials_may_stop_early_and_count_as_lower_bounds():
    policy = SearchPolicy(supplied(KEY_A), settings(parallelism=1))
    [request] = policy.propose(1)
    assert request.stop_above == pytest.approx(0.9 * 0.9 + policy.noise_sd(KEY_A.id, 0.81))
    policy.record_result(request.trial_id, 0.83, censored=True)
    [record] = policy.history(KEY_A.id).subspace()
    assert record.censored and SearchPolicy.from_state_dict(json.loads(json.dumps(policy.state_dict()))).history(
        KEY_A.id).subspace()[0].censored
    off = SearchPolicy(supplied(KEY_A), settings(early_stop=False)).propose(1)[0]
    assert off.stop_above is None


def test_replicates_of_every_key_pool_into_one_noise_estimate():
    targets = [KeyTarget(k, chance=0.5, baseline=0.9, metric="accuracy", eval_size=400) for k in (KEY_A, KEY_B)]
    policy = SearchPolicy(targets, settings())
    prior = policy.prior_sd(KEY_A.id, 0.81)
    assert prior == pytest.approx((0.81 * 0.19 / 400) ** 0.5)
    for key, scores in ((KEY_A, (0.70, 0.80)), (KEY_B, (0.72, 0.80))):  # seeds far apart: κ well above 1
        for seed, score in enumerate(scores):
            policy.record_finished(TrialRequest(f"{key.method}{seed}", key, 1000, 0.01, seed), score)
    kappa, df = policy.noise_factor()
    assert kappa > 2 and df == 3 + 2
    assert policy.noise_sd(KEY_B.id, 0.81) == pytest.approx(kappa * prior)


def test_a_collapse_beside_its_twin_seed_is_not_counted_as_seed_noise():
    """One seed at chance beside its twin near the plateau would make σ five times too big and hide itself."""
    targets = [KeyTarget(KEY_A, chance=0.5, baseline=0.9, metric="accuracy", eval_size=400)]
    policy = SearchPolicy(targets, settings())
    for i, (d, seed, score) in enumerate(((500, 0, 0.84), (1000, 0, 0.86), (1000, 1, 0.87), (2000, 0, 0.88),
                                          (2000, 1, 0.52))):
        policy.record_finished(TrialRequest(f"t{i}", KEY_A, d, 0.01, seed), score)
    kappa, df = policy.noise_factor()
    assert kappa < 1 and df == 3 + 1  # the (0.86, 0.87) pair alone
    history = policy.history(KEY_A.id)
    assert history.excluded == {"t4"}
    assert policy.propose(1)[0].retry_of == "t4"


def test_a_train_score_is_kept_through_the_saved_state_and_a_non_finite_one_dropped():
    policy = SearchPolicy(supplied(KEY_A), settings(parallelism=2))
    first, second = policy.propose(2)
    policy.record_result(first.trial_id, 0.7, train_metric=0.66)
    policy.record_result(second.trial_id, 0.8, train_metric=float("nan"))
    restored = SearchPolicy.from_state_dict(json.loads(json.dumps(policy.state_dict())))
    assert [r.train_metric for r in restored.history(KEY_A.id).records] == [0.66, None]


def test_a_version_1_state_still_loads():
    state = SearchPolicy(supplied(KEY_A), settings()).state_dict()
    state["version"] = 1
    state["settings"]["confidence_z"] = 1.0  # a setting of the old interval, retired
    for trial in state["trials"]:
        trial.pop("censored"), trial.pop("diverged"), trial["request"].pop("stop_above")
    assert SearchPolicy.from_state_dict(state).settings.level == 0.9


def test_a_trial_repeated_at_the_same_point_and_seed_counts_once():
    """A repeat of a finished trial (a reused search's rerun of a collapse it already held; a row copied twice)
    scores what the first did: the policy's d90, interval and noise are those of the trials without it, not those
    of a second seed — which would narrow the interval and, agreeing to the last digit, shrink the noise."""
    curve = SimulatedCurve(d90=700, full=0.9, chance=0.5, width=1.0, noise_sd=0.02, lr_opt=0.01, noise_seed=5)
    policy = SearchPolicy([KeyTarget(KEY_B, chance=0.5)], settings(max_trials=16))
    run_search(policy, curve, slots=2)
    trials = [t for t in policy.state_dict()["trials"] if t["status"] == "completed"]
    repeated = SearchPolicy([KeyTarget(KEY_B, chance=0.5)], settings(max_trials=16))
    for copy, t in enumerate(trials + trials):  # every trial twice, the second time under another id
        request = TrialRequest.from_dict({**t["request"], "trial_id": f"{t['request']['trial_id']}/{copy}"})
        repeated.record_finished(request, t["metric"], censored=t["censored"])
    [once], [twice] = policy.results(), repeated.results()
    assert once.status == "found" and len(trials) > 8
    assert (twice.d90, twice.d90_low, twice.d90_high) == (once.d90, once.d90_low, once.d90_high)
    assert repeated.noise_factor() == policy.noise_factor()

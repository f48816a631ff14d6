"""Bracket, allocation and the d90 interval on simulated curves whose d90 is known."""

import dataclasses
import math

import numpy as np
import pytest

from raydim.search import KeyTarget, SearchKey, SearchPolicy, SearchSettings, SimulatedCurve, random_curve
from raydim.search.ksection import coarse_grid
from raydim.search.simulator import run_search
from raydim.search.trials import TrialRequest
from raydim.tune.spec import QUICK_SEARCH

KEY = SearchKey("qnli", "roberta-base")


def search(curve, **overrides):
    settings = SearchSettings(**{"d_min": 10, "d_max": 100_000, "lr_init": curve.lr_opt, **overrides})
    policy = SearchPolicy([KeyTarget(KEY, chance=curve.chance)], settings)
    rounds = run_search(policy, curve, slots=settings.parallelism).rounds
    return policy, policy.results()[0], rounds


@pytest.mark.parametrize("k", [1, 3])
@pytest.mark.parametrize("d90", [37.0, 640.0, 23_456.0])
def test_noiseless_search_brackets_d90_in_a_two_sided_interval(d90, k):
    curve = SimulatedCurve(d90=d90, full=0.9, chance=0.55, width=1.2, noise_sd=0.0, lr_opt=0.02)
    policy, result, _ = search(curve, parallelism=k, tolerance=0.5)
    assert result.status == "found" and result.level == 0.9
    assert result.d90_low <= d90 <= result.d90_high
    assert abs(math.log(result.d90 / d90)) <= math.log(1.25)
    progress = policy.progress()[0]
    assert progress.phase == "finished" and progress.lo < d90 <= progress.hi


def test_more_slots_mean_fewer_rounds():
    curve = SimulatedCurve(d90=640.0, full=0.9, chance=0.55, width=1.2, noise_sd=0.0, lr_opt=0.02)
    rounds = {k: search(curve, parallelism=k, baseline_lrs=(3e-5,))[2] for k in (1, 4)}
    assert rounds[4] <= rounds[1] / 2


def test_first_batch_k_sects_the_coarse_grid():
    curve = SimulatedCurve(d90=640.0, full=0.9, chance=0.55, width=1.2, noise_sd=0.0, lr_opt=0.02)
    settings = SearchSettings(d_min=10, d_max=10_240, parallelism=3)
    policy = SearchPolicy([KeyTarget(KEY, chance=curve.chance, baseline=0.9)], settings)
    grid = coarse_grid(10, 10_240)  # 11 points: indices 2, 5, 8 cut (−1, 11) into four equal parts
    assert sorted(r.d for r in policy.propose(3)) == [grid[2], grid[5], grid[8]]


def test_d90_beyond_d_max_is_not_reached():
    curve = SimulatedCurve(d90=500_000.0, full=0.9, chance=0.55, width=1.0, noise_sd=0.0, lr_opt=0.02)
    _, result, _ = search(curve)
    assert (result.status, result.d90) == ("not_reached", None) and result.d90_low >= 100_000


def test_d90_under_d_min_is_below_d_min():
    curve = SimulatedCurve(d90=4.0, full=0.9, chance=0.55, width=1.0, noise_sd=0.0, lr_opt=0.02)
    _, result, _ = search(curve)
    assert (result.status, result.d90) == ("below_d_min", None) and result.d90_high <= 10


def test_near_miss_gets_another_lr_and_the_winner_carries_over():
    # lr_init is 9× too small: near misses try lr × 3, and the better lr becomes the next d's first guess
    curve = SimulatedCurve(d90=640.0, full=0.9, chance=0.55, width=1.2, noise_sd=0.0, lr_opt=0.09)
    policy, result, _ = search(curve, lr_init=0.01)
    trials = [t["request"] for t in policy.state_dict()["trials"] if t["request"]["d"] is not None]
    lrs_at = {}
    for t in trials:
        lrs_at.setdefault(t["d"], []).append(t["lr"])
    stepped = [sorted(set(lrs)) for lrs in lrs_at.values() if len(set(lrs)) > 1]
    assert stepped and all(math.isclose(b / a, 3.0) or math.isclose(a / b, 3.0) for a, b, *_ in stepped)
    assert trials[-1]["lr"] > 0.01  # later d's start from a better lr than lr_init
    # d's scored only at the poor first lr pull d90 up (the crossing fit sees each d at its best lr so far)
    assert abs(math.log(result.d90 / 640)) <= math.log(1.6)


def test_replicates_go_near_d90():
    replicated = []
    for i in range(10):
        curve = dataclasses.replace(random_curve(np.random.default_rng(i)), noise_sd=0.01)
        policy, _, _ = search(curve, seeds_per_d=3)
        seeds_at = {}
        for t in policy.state_dict()["trials"]:
            r = t["request"]
            if r["d"] is not None:
                seeds_at.setdefault((r["d"], r["lr"]), set()).add(r["seed"])
        assert max(len(s) for s in seeds_at.values()) <= 3
        replicated += [d / curve.d90 for (d, _), s in seeds_at.items() if len(s) > 1]
    assert replicated and sorted(replicated)[len(replicated) // 2] == pytest.approx(1, rel=1.0)


def test_trial_budget_is_respected():
    curve = random_curve(np.random.default_rng(11))
    _, result, _ = search(curve, max_trials=9, lr_init=None, lr_low=1e-4, lr_high=1.0)
    assert result.trials_used == 9 and "budget_exhausted" in result.flags


@pytest.mark.parametrize("slots", [2, 5])
def test_allocation_never_idles_a_free_slot_while_the_key_has_budget(slots):
    curve = SimulatedCurve(d90=3000.0, full=0.81, chance=0.684, width=0.6, noise_sd=0.02, lr_opt=0.1)
    settings = SearchSettings(d_min=300, d_max=30_000, tolerance=0.01, max_trials=30, parallelism=slots,
                              baseline_lrs=(3e-5,), lr_init=0.1, seeds_per_d=5)
    policy = SearchPolicy([KeyTarget(KEY, chance=curve.chance, metric="accuracy", eval_size=408)], settings)
    while not policy.finished():
        refining = policy.progress()[0].phase == "refine"
        requests = policy.propose(slots)
        left = settings.max_trials - len(policy.history(KEY.id).records) + len(requests)
        if refining:  # past the bracket (whose coarse grid may hold fewer points than slots)
            assert len(requests) == min(slots, left)
        for r in requests:
            policy.record_result(r.trial_id, curve(r))
    assert len(policy.history(KEY.id).records) == settings.max_trials


def mrpc_seed0_policy() -> SearchPolicy:
    """The real MRPC run of 2026-12-03 (docs/subspace.md: MiniLM-L6, seed 0, three full fine-tunes): 2400 fails
    by 0.7σ, every later d passes, and its interval ended open below, [–, 44,225]."""
    key = SearchKey("mrpc", "minilm-l6", method="said")
    settings = SearchSettings(**{**QUICK_SEARCH, "max_trials": 16, "parallelism": 2})
    policy = SearchPolicy([KeyTarget(key, chance=279 / 408, metric="accuracy", eval_size=408)], settings)
    for seed, accuracy in enumerate([0.7941, 0.8113, 0.7966]):
        policy.record_finished(TrialRequest(f"full{seed}", key.baseline_key, None, 1e-4, seed), accuracy)
    trials = [(2400, 0.7059), (9600, 0.7426), (19200, 0.7500), (3442, 0.7328), (3329, 0.7255), (3151, 0.7255),
              (3094, 0.7377)]
    for i, (d, accuracy) in enumerate(trials):
        policy.record_finished(TrialRequest(f"t{i}", key, d, 0.1 * math.sqrt(1e4 / d), 0), accuracy)
    result = policy.results()[0]
    assert result.d90_low is None and result.d90_high is not None
    return policy


def test_open_low_end_gets_a_probe_below_the_smallest_tested_d():
    policy = mrpc_seed0_policy()
    ds = [r.d for r in policy.propose(2)]
    assert 1200 in ds  # half the smallest tested d; the design fills the other slot
    assert len(ds) == 2


def test_a_running_probe_is_not_repeated():
    policy = mrpc_seed0_policy()
    (probe,) = policy.propose(1)
    assert probe.d == 1200
    assert all(r.d is None or r.d >= 2400 for r in policy.propose(1))

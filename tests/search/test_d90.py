"""Bracket, k-section and confirmation on simulated curves whose d90 is known."""

import dataclasses
import math

import numpy as np
import pytest

from raydim.search import KeyTarget, SearchKey, SearchPolicy, SearchSettings, SimulatedCurve, random_curve
from raydim.search.ksection import coarse_grid
from raydim.search.simulator import run_search

KEY = SearchKey("qnli", "roberta-base")


def search(curve, **overrides):
    settings = SearchSettings(**{"d_min": 10, "d_max": 100_000, "lr_init": curve.lr_opt, **overrides})
    policy = SearchPolicy([KeyTarget(KEY, chance=curve.chance)], settings)
    rounds = run_search(policy, curve, slots=settings.parallelism)
    return policy, policy.results()[0], rounds


@pytest.mark.parametrize("k", [1, 3])
@pytest.mark.parametrize("d90", [37.0, 640.0, 23_456.0])
def test_noiseless_search_finds_d90_within_tolerance(d90, k):
    curve = SimulatedCurve(d90=d90, full=0.9, chance=0.55, width=1.2, noise_sd=0.0, lr_opt=0.02)
    policy, result, _ = search(curve, parallelism=k)
    assert result.status == "found"
    assert abs(result.d90 / d90 - 1) <= 0.10 / 2
    assert result.d90_low < d90 <= result.d90_high
    progress = policy.progress()[0]
    assert progress.phase == "finished" and progress.hi <= progress.lo * 1.1


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
    assert (result.status, result.d90, result.d90_low) == ("not_reached", None, 100_000)


def test_d90_under_d_min_is_below_d_min():
    curve = SimulatedCurve(d90=4.0, full=0.9, chance=0.55, width=1.0, noise_sd=0.0, lr_opt=0.02)
    _, result, _ = search(curve)
    assert (result.status, result.d90, result.d90_high) == ("below_d_min", None, 10)


def test_near_miss_gets_another_lr_and_the_winner_carries_over():
    # lr_init is 9× too small: near misses try lr × 3, and the better lr becomes the next d's first guess
    curve = SimulatedCurve(d90=640.0, full=0.9, chance=0.55, width=1.2, noise_sd=0.0, lr_opt=0.09)
    policy, result, _ = search(curve, lr_init=0.01)
    trials = [t["request"] for t in policy.state_dict()["trials"] if t["request"]["d"] is not None]
    lrs_at = {}
    for t in trials:
        lrs_at.setdefault(t["d"], []).append(t["lr"])
    stepped = [lrs for lrs in lrs_at.values() if len(lrs) > 1]
    assert stepped and all(math.isclose(b / a, 3.0) or math.isclose(a / b, 3.0) for a, b, *_ in stepped)
    assert trials[-1]["lr"] > 0.01  # later d's start from a better lr than lr_init
    assert abs(result.d90 / 640 - 1) <= 0.25


def test_seeds_are_added_only_where_results_straddle():
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
    assert replicated and all(0.5 < ratio < 2 for ratio in replicated)


def test_trial_budget_is_respected():
    curve = random_curve(np.random.default_rng(11))
    _, result, _ = search(curve, max_trials=9, lr_init=None, lr_low=1e-4, lr_high=1.0)
    assert result.trials_used == 9 and "budget_exhausted" in result.flags


@pytest.mark.parametrize(("seeds_per_d", "expected"), [(1, 1), (3, 0)])
def test_small_budget_keeps_both_slots_busy_when_nothing_is_left_to_confirm(seeds_per_d, expected):
    # The quick CPU profile's shape (8 trials, one lr and one seed per d): the baseline and a failing
    # d are in, one d runs. With nothing to confirm, no trials are held back and the free slot is used;
    # with extra seeds possible, two are kept for them and the k-section narrows to bisection.
    settings = SearchSettings(d_min=300, d_max=30_000, tolerance=1.0, max_trials=8, parallelism=2,
                              baseline_lrs=(1e-4,), lrs_per_d=1, seeds_per_d=seeds_per_d, lr_init=0.1)
    policy = SearchPolicy([KeyTarget(KEY, chance=0.684)], settings)
    baseline, first = sorted(policy.propose(2), key=lambda r: r.d is not None)
    policy.record_result(first.trial_id, 0.70)
    [second] = policy.propose(1)
    policy.record_result(baseline.trial_id, 0.794)
    assert len(policy.propose(1)) == expected
    assert second.d > first.d

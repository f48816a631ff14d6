import dataclasses

import numpy as np
import pytest

from raydim.search import SimulatedCurve, random_curve

CURVE = SimulatedCurve(d90=1000.0, full=0.9, chance=0.6, width=1.0, noise_sd=0.01, lr_opt=0.01, lr_slope=-0.2)


def test_best_lr_curve_crosses_the_threshold_at_d90():
    assert CURVE.threshold == pytest.approx(0.81)
    assert CURVE.mean(1000, CURVE.best_lr(1000)) == pytest.approx(0.81)
    assert CURVE.mean(900, CURVE.best_lr(900)) < 0.81 < CURVE.mean(1100, CURVE.best_lr(1100))


def test_curve_runs_from_chance_to_full():
    assert CURVE.mean(1, 0.01) == pytest.approx(0.6, abs=0.01)
    assert CURVE.mean(10**9, CURVE.best_lr(10**9)) == pytest.approx(0.9, abs=0.001)
    assert CURVE.mean(None, CURVE.full_lr_opt) == pytest.approx(0.9)
    assert CURVE.mean(None, 10 * CURVE.full_lr_opt) < 0.9


def test_lr_optimum_drifts_with_d():
    assert CURVE.best_lr(10_000) == pytest.approx(0.01 * 10**-0.2)
    for d in (100, 10_000):
        best = CURVE.best_lr(d)
        assert CURVE.mean(d, best) > max(CURVE.mean(d, best * 2), CURVE.mean(d, best / 2))


def test_seed_noise_is_repeatable_and_of_the_stated_size():
    assert CURVE.metric(500, 0.01, 3) == CURVE.metric(500, 0.01, 3) != CURVE.metric(500, 0.01, 4)
    samples = [CURVE.metric(500, 0.01, seed) - CURVE.mean(500, 0.01) for seed in range(2000)]
    assert np.std(samples) == pytest.approx(0.01, rel=0.1)


def test_random_curves_stay_in_their_ranges():
    rng = np.random.default_rng(0)
    for _ in range(100):
        curve = random_curve(rng)
        assert 50 <= curve.d90 <= 50_000 and 0.005 <= curve.noise_sd <= 0.01
        assert curve.chance < curve.threshold < curve.full


def test_threshold_outside_the_curve_is_refused():
    with pytest.raises(ValueError, match="must lie between chance"):
        SimulatedCurve(d90=100.0, full=0.7, chance=0.69, width=1.0, noise_sd=0.0, lr_opt=0.01, ratio=1.0)


def test_epochs_rise_from_chance_and_the_score_is_the_best_epoch():
    curve = dataclasses.replace(CURVE, epochs=3, slow_start=0.0)
    epochs = curve.epoch_metrics(2000, 0.01, 0)
    assert epochs[0] == pytest.approx(curve.chance) and epochs[0] < epochs[1] < epochs[2]
    assert curve.metric(2000, 0.01, 0) == max(epochs)


def test_a_run_stops_after_the_epoch_that_clears_its_bar_and_says_so():
    from raydim.search.keys import SearchKey
    from raydim.search.trials import TrialRequest

    curve = dataclasses.replace(CURVE, epochs=4, slow_start=0.5)
    request = TrialRequest("t", SearchKey("t", "m"), 10**6, 0.01, 0)
    assert curve.run(request) == (max(curve.epoch_metrics(10**6, 0.01, 0)), False, 4)
    score, censored, epochs = curve.run(dataclasses.replace(request, stop_above=0.7))
    assert censored and epochs < 4 and 0.7 <= score < curve.metric(10**6, 0.01, 0)


def test_too_high_a_rate_collapses_runs_to_chance():
    curve = dataclasses.replace(CURVE, collapse_prob=1.0)
    assert curve.metric(5000, curve.best_lr(5000) * 10, 0) == pytest.approx(curve.chance, abs=0.05)
    assert curve.metric(5000, curve.best_lr(5000), 0) > 0.85


def test_the_collapses_a_search_meets_are_counted_and_its_rule_sets_most_of_them_aside(monkeypatch):
    """A first rate 10× too high collapses half the runs: the finished fit counts fewer of them than one whose
    collapse rule is switched off, which counts every one."""
    from raydim.search import KeyTarget, SearchKey, SearchPolicy, SearchSettings
    from raydim.search import policy as policy_module
    from raydim.search.simulator import run_search

    def search(curve):
        settings = SearchSettings(d_min=10, d_max=100_000, lr_init=0.1, lr_scaling=0.0, parallelism=2)
        policy = SearchPolicy([KeyTarget(SearchKey("t", "m"), chance=curve.chance, metric="accuracy",
                                         eval_size=872)], settings)
        return run_search(policy, curve, slots=2)

    curves = [dataclasses.replace(CURVE, collapse_prob=0.5, lr_slope=0.0, noise_seed=i) for i in range(6)]
    runs = [search(c) for c in curves]
    assert sum(r.collapses for r in runs) >= 6
    assert sum(r.collapses_misleading for r in runs) < sum(r.collapses for r in runs) / 2
    monkeypatch.setattr(policy_module, "collapsed", lambda *args: [])
    blind = [search(c) for c in curves]
    assert all(r.collapses_misleading == r.collapses for r in blind) and sum(r.collapses for r in blind) >= 6

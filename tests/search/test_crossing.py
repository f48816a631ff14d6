"""The crossing fit: calibrated, honest about open ends, censored trials as lower bounds, and the design."""

import math

import numpy as np

import raydim.search.crossing as crossing_module
from raydim.search.crossing import Design, Observation, Reference, curve, fit_crossing

C, F, D90, S = 0.68, 0.85, 3000.0, 0.5
M_TRUE = math.log(D90) - math.log((0.9 * F - C) / (F - 0.9 * F)) / S  # the curve reaching 0.9·F at D90


def reference(full=F, full_sd=0.01, noise_sd=0.02):
    return Reference(chance=C, full=full, full_sd=full_sd, ratio=0.9, kind="paper", noise_sd=noise_sd)


def observations(ds, rng, sigma=0.02):
    return [Observation(int(d), float(curve(math.log(d), M_TRUE, S, F, C)) + sigma * float(rng.standard_normal()))
            for d in ds]


def coverage(shrink: float = 1.0, reps: int = 150) -> float:
    """How often the 90% interval (shrunk towards its centre by ``shrink`` in log d) holds the true d90."""
    rng = np.random.default_rng(7)
    ds = np.geomspace(300, 30_000, 10)
    hits = 0
    for _ in range(reps):
        ref = reference(full=F + 0.01 * float(rng.standard_normal()))
        fit = fit_crossing(observations(ds, rng), ref, 0.9, 300, 30_000)
        low, high = math.log(fit.low or 1e-9), math.log(fit.high or 1e12)
        centre, half = (low + high) / 2, (high - low) / 2 * shrink
        hits += centre - half <= math.log(D90) <= centre + half
    return hits / reps


def test_interval_covers_the_true_d90_as_often_as_it_claims():
    assert 0.84 <= coverage() <= 0.99


def test_an_interval_narrower_than_the_data_allow_loses_its_calibration():
    assert coverage(shrink=0.5) < 0.75


def test_ends_the_trials_do_not_bound_are_open():
    rng = np.random.default_rng(0)
    passing = [Observation(d, 0.84 + 0.005 * float(rng.standard_normal())) for d in (3000, 6000, 12000)]
    fit = fit_crossing(passing, reference(), 0.9, 300, 30_000)
    assert fit.low is None and fit.high is not None and fit.high <= 3000 * 1.5
    failing = [Observation(d, 0.69) for d in (300, 600, 1200)]
    fit = fit_crossing(failing, reference(), 0.9, 300, 30_000)
    assert fit.high is None and fit.low is not None and fit.low >= 1200 / 1.5


def test_both_ends_bounded_once_trials_straddle_the_crossing():
    fit = fit_crossing(observations(np.geomspace(300, 30_000, 12), np.random.default_rng(1), sigma=0.005),
                       reference(full_sd=0.002, noise_sd=0.005), 0.9, 300, 30_000)
    assert fit.low < D90 < fit.high and fit.width < 2.0


def test_a_censored_trial_is_a_lower_bound_not_a_score():
    rng = np.random.default_rng(3)
    trials = observations(np.geomspace(300, 30_000, 8), rng)
    # the trial at the largest d stopped early just above the threshold: as a final score it would
    # drag the curve's plateau down and d90 up; as a lower bound it does not
    stopped = Observation(trials[-1].d, 0.9 * F + 0.02, censored=True)
    as_score = fit_crossing([*trials[:-1], Observation(stopped.d, stopped.score)], reference(), 0.9, 300, 30_000)
    as_bound = fit_crossing([*trials[:-1], stopped], reference(), 0.9, 300, 30_000)
    assert as_bound.d90 <= as_score.d90


def test_a_known_baseline_gives_a_narrower_interval_than_a_noisy_one():
    trials = observations(np.geomspace(300, 30_000, 10), np.random.default_rng(4))
    known = fit_crossing(trials, reference(full_sd=0.0), 0.9, 300, 30_000)
    noisy = fit_crossing(trials, reference(full_sd=0.02), 0.9, 300, 30_000)
    assert noisy.low <= known.low and (noisy.high is None or noisy.high >= known.high)


def test_fewer_degrees_of_freedom_behind_sigma_widen_the_interval():
    trials = observations(np.geomspace(300, 30_000, 10), np.random.default_rng(5))
    known = fit_crossing(trials, reference(), 0.9, 300, 30_000)
    guessed = fit_crossing(trials, Reference(C, F, 0.01, 0.9, "paper", 0.02, noise_df=3), 0.9, 300, 30_000)
    assert guessed.width > known.width


def test_design_skips_the_flat_start_and_asks_for_baseline_seeds_when_the_threshold_dominates():
    trials = observations(np.geomspace(300, 30_000, 10), np.random.default_rng(6))
    fit = fit_crossing(trials, reference(full_sd=0.001), 0.9, 300, 30_000)
    design = Design(fit, reference(full_sd=0.001), [o.d for o in trials])
    assert design.choose([3.0, fit.d90], 1) == [fit.d90]  # at d = 3 the curve sits at chance: nothing to learn
    noisy = reference(full_sd=0.05)
    assert Design(fit, noisy, [o.d for o in trials]).choose([fit.d90, None], 1) == [None]


def test_design_respects_per_candidate_caps():
    trials = observations(np.geomspace(300, 30_000, 6), np.random.default_rng(8))
    fit = fit_crossing(trials, reference(), 0.9, 300, 30_000)
    picks = Design(fit, reference(), [o.d for o in trials]).choose([fit.d90, 300.0], 4, caps=[1, 1])
    assert sorted(picks) == [300.0, fit.d90]


def test_the_cutoff_scale_is_what_calibrates_it(monkeypatch):
    monkeypatch.setattr(crossing_module, "CUTOFF_SCALE", 0.3)
    crossing_module._fit.cache_clear()
    try:
        assert coverage() < 0.75
    finally:
        crossing_module._fit.cache_clear()


def test_no_point_estimate_beyond_the_range_the_trials_speak_for():
    """SST-2's first SAID trial (2026-12-03, docs/results.md) stopped after epoch 1 at d = 3,200, already 2σ above
    the threshold: the best curve crosses far below d_min / 8 and the low end is open, so d90 is None rather than
    a number like 0.3 (printed "d90 0")."""
    reference = Reference(chance=0.5092, full=0.8716, full_sd=0.0063, ratio=0.9, kind="paper", noise_sd=0.0109,
                          noise_df=5.0)
    crossing = fit_crossing([Observation(3200, 0.8073, censored=True)], reference, 0.9, 100, 100_000)
    assert crossing.low is None and crossing.high is not None and crossing.d90 is None

"""d90 ∝ D^slope: the fit recovers a known power law, from points and from a store of simulated searches, and its
slope interval covers the true slope as often as it says."""

import dataclasses
import datetime as dt

import numpy as np
import pytest

from raydim.analysis import scaling_table, slope_fit
from raydim.search import KeyTarget, SearchKey, SearchPolicy, SimulatedCurve
from raydim.store import d90_table
from tests.analysis.stores import SETTINGS, scaling_store
from tests.store.rows import simulated_rows


def test_exact_power_law_is_recovered():
    params = np.array([1e6, 1e7, 1e8])
    d90 = 5e5 * params ** -0.5
    fit = slope_fit(params, d90, d90 / 2, d90 * 2)
    assert fit.slope == pytest.approx(-0.5) and 10 ** fit.intercept == pytest.approx(5e5) and fit.r2 == 1.0
    assert fit.slope_low < -0.5 < fit.slope_high and fit.level == 0.9


def _coverage(scale: float, draws: int = 3000) -> float:
    """How often the slope interval (its half-width × ``scale``) holds the true slope, on three model sizes whose
    d90s scatter about the power law with known errors and come with matching 90% intervals."""
    rng = np.random.default_rng(0)
    params = np.array([1.7e7, 2.3e7, 1.1e8])  # the study's three encoders
    z = 1.6448536269514722
    hits = 0
    for _ in range(draws):
        se = rng.uniform(0.05, 0.3, 3)  # decades: intervals from 1.5x to 10x wide
        log_d90 = 3.0 - 0.5 * np.log10(params) + rng.normal(0, se)
        d90 = 10 ** log_d90
        fit = slope_fit(params, d90, 10 ** (log_d90 - z * se), 10 ** (log_d90 + z * se))
        half = (fit.slope_high - fit.slope_low) / 2 * scale
        hits += abs(fit.slope + 0.5) <= half
    return hits / draws


def test_slope_interval_covers_the_true_slope_at_its_level_and_not_when_halved():
    assert 0.88 <= _coverage(1.0) <= 0.95  # 90% nominal; the Birge safeguard adds about two points at three models
    assert _coverage(0.5) < 0.70


def test_points_far_off_the_line_widen_the_interval():
    params = np.array([1e6, 1e7, 1e8])
    on_line = 5e5 * params ** -0.5
    off_line = on_line * np.array([1.0, 3.0, 1.0])  # the middle model 3x above, its interval ±10%
    tight = slope_fit(params, on_line, on_line / 1.1, on_line * 1.1)
    scattered = slope_fit(params, off_line, off_line / 1.1, off_line * 1.1)
    assert scattered.slope_high - scattered.slope_low > 5 * (tight.slope_high - tight.slope_low)


@pytest.mark.parametrize("low, high, open_ends", [
    ([500, 50, 5], [2000, 200, None], (False, True)),   # right of centre, high end open: the slope may rise
    ([500, 50, None], [2000, 200, 20], (True, False)),  # right of centre, low end open: the slope may fall
    ([None, 50, 5], [2000, 200, 20], (False, True)),    # left of centre, low end open: the slope may rise
    ([500, 50, 5], [2000, None, 20], (False, False)),   # at the centre (equal weights): tilts nothing
    ([500, 50, 5], [2000, 200, 20], (False, False)),
    ([None, 50, 5], [None, 200, 20], (True, True)),     # a point with no interval at all
])
def test_an_open_d90_end_opens_the_slope_on_its_side(low, high, open_ends):
    fit = slope_fit(np.array([1e6, 1e7, 1e8]), np.array([1000.0, 100.0, 10.0]), np.array(low, dtype=object),
                    np.array(high, dtype=object))
    assert (fit.slope_low is None, fit.slope_high is None) == open_ends
    assert fit.slope == pytest.approx(-1.0)


def test_slope_of_a_store_with_d90_proportional_to_params_to_the_minus_half(tmp_path):
    d90s = d90_table(scaling_store(tmp_path).rows())
    assert list(d90s["status"]) == ["found"] * 4
    [fit] = scaling_table(d90s).itertuples()
    assert (fit.task, fit.method, fit.checkpoint, fit.models) == ("mrpc", "said", "final", 4)
    assert fit.slope == pytest.approx(-0.5, abs=0.03) and fit.r2 > 0.99
    assert fit.slope_low < -0.5 < fit.slope_high and fit.level == 0.9


def test_a_single_model_size_gives_no_fit(tmp_path):
    d90s = d90_table(scaling_store(tmp_path).rows())
    assert scaling_table(d90s[d90s["D"] == 10**7]).empty


def test_a_key_measured_twice_counts_with_its_latest_d90_by_time_not_by_experiment_name(tmp_path):
    """An older search of the small model ("z-old", ten times the d90) sorts after "scaling-small" by name; the fit
    must take the newer one, by when its trials finished."""
    store = scaling_store(tmp_path)
    key = SearchKey("mrpc", "small", method="said")
    curve = SimulatedCurve(d90=3e4, full=0.88, chance=0.68, width=0.8, noise_sd=0.003, lr_opt=0.05)
    old = simulated_rows(SearchPolicy([KeyTarget(key, 0.68)], SETTINGS), {key.id: curve}, experiment="z-old",
                         D=10**6, train_size=3668)
    store.write([dataclasses.replace(r, started_at=r.started_at - dt.timedelta(days=1),
                                     finished_at=r.finished_at - dt.timedelta(days=1)) for r in old])
    d90s = d90_table(store.rows())
    assert sorted(d90s["experiment"])[-1] == "z-old" and len(d90s) == 5
    [fit] = scaling_table(d90s).itertuples()
    assert fit.models == 4 and fit.slope == pytest.approx(-0.5, abs=0.03)

"""d90 ∝ D^slope: the fit recovers a known power law, from points and from a store of simulated searches."""

import dataclasses
import datetime as dt

import numpy as np
import pytest

from raydim.analysis import power_law_fit, scaling_table
from raydim.search import KeyTarget, SearchKey, SearchPolicy, SimulatedCurve
from raydim.store import d90_table
from tests.analysis.stores import SETTINGS, scaling_store
from tests.store.rows import simulated_rows


def test_exact_power_law_is_recovered():
    params = np.array([1e6, 1e7, 1e8])
    slope, intercept, r2 = power_law_fit(params, 5e5 * params ** -0.5)
    assert slope == pytest.approx(-0.5) and 10 ** intercept == pytest.approx(5e5) and r2 == pytest.approx(1.0)


def test_slope_of_a_store_with_d90_proportional_to_params_to_the_minus_half(tmp_path):
    d90s = d90_table(scaling_store(tmp_path).rows())
    assert list(d90s["status"]) == ["found"] * 4
    [fit] = scaling_table(d90s).itertuples()
    assert (fit.task, fit.method, fit.checkpoint, fit.models) == ("mrpc", "said", "final", 4)
    assert fit.slope == pytest.approx(-0.5, abs=0.03) and fit.r2 > 0.99


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
